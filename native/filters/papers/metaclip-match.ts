/**
 * MetaCLIP's sub-string matching (facebookresearch/MetaCLIP, `metaclip/substr_matching.py`):
 *
 *     def spacing(text):
 *         puncts_to_wrap = [",", ".", ";", ":", "?", "!", "`"]
 *         chars_to_space = ["\t", "\n", "\r"]
 *         spaced_text = f" {text} "
 *         for punct_to_wrap in puncts_to_wrap:
 *             spaced_text = spaced_text.replace(punct_to_wrap, f" {punct_to_wrap} ")
 *         for char_to_space in chars_to_space:
 *             spaced_text = spaced_text.replace(char_to_space, " ")
 *         return spaced_text
 *
 *     spaced_metadata = [f" {entry} " for entry in metadata]
 *     automaton.add_word(key, (idx, key)) for each spaced entry; automaton.iter(spacing(text))
 *     -> the set of matched entry ids
 *
 * Case-sensitive, no other normalisation. The replacements only insert spaces around the seven
 * characters and turn \t \n \r into spaces, and none of them creates a character another one
 * replaces, so one left-to-right pass that feeds ' ', c, ' ' for a wrapped character c and ' ' for
 * \t \n \r gives the same spaced text; the automaton below runs on that stream without building it.
 *
 * Python works on code points, this on UTF-16 code units: for well-formed text the two agree, since
 * every spaced entry starts and ends with a space (a match cannot begin or end inside a surrogate
 * pair). DuckDB's VARCHAR is valid UTF-8, so captions are well-formed.
 *
 * The automaton is Aho-Corasick over the spaced entries, kept in flat typed arrays (backed by
 * SharedArrayBuffers, so worker threads share one copy): code units are mapped to dense classes
 * (class 0 = a code unit that no entry contains, which always returns to the root); children are
 * sorted class lists per node (CSR), with a direct table for nodes with many children (the root and
 * the first levels); failure links, and for each node the entry that ends there and the nearest
 * node on its failure chain where another entry ends.
 */

export const PUNCTS_TO_WRAP = [',', '.', ';', ':', '?', '!', '`'] as const;
export const CHARS_TO_SPACE = ['\t', '\n', '\r'] as const;

/** MetaCLIP's `spacing`, literally (the reference for tests). */
export function spacing(text: string): string {
  let s = ` ${text} `;
  for (const p of PUNCTS_TO_WRAP) s = s.replaceAll(p, ` ${p} `);
  for (const c of CHARS_TO_SPACE) s = s.replaceAll(c, ' ');
  return s;
}

/** Naive reference: ids of the entries whose spaced form occurs in the spaced caption, ascending. */
export function naiveMatch(entries: readonly string[], text: string): number[] {
  const s = spacing(text);
  const out: number[] = [];
  for (let i = 0; i < entries.length; i++) if (s.includes(` ${entries[i]} `)) out.push(i);
  return out;
}

/** The automaton's tables; plain data, so it can be posted to workers (the buffers are shared). */
export interface Automaton {
  entries: number;
  nodes: number;
  /** number of classes + 1 (class 0 is "no entry has this code unit") */
  stride: number;
  classOf: Uint16Array;
  childStart: Int32Array;
  childClass: Uint16Array;
  childNode: Int32Array;
  fail: Int32Array;
  /** entry id that ends at the node, or -1 */
  outEntry: Int32Array;
  /** nearest node on the failure chain (not the node itself) where an entry ends, or -1 */
  outLink: Int32Array;
  /** row of `denseNext` for nodes with many children, else -1 */
  denseRow: Int32Array;
  /** rows x stride: child node by class, or -1 */
  denseNext: Int32Array;
}

function shared<T extends Int32Array | Uint16Array>(make: new (b: ArrayBufferLike) => T, src: T): T {
  const out = new make(new SharedArrayBuffer(src.byteLength));
  out.set(src as never);
  return out;
}

const DENSE_MIN_CHILDREN = 8;
const DENSE_MAX_BYTES = 64 << 20;

/**
 * Build the automaton over `entries` (already without repeats; ids are their indices). Each entry is
 * matched in its spaced form `" " + entry + " "`.
 */
export function buildAutomaton(entries: readonly string[]): Automaton {
  const spaced = entries.map((e) => ` ${e} `);
  // classes: the distinct code units of the spaced entries, in code-unit order
  const present = new Uint8Array(65536);
  let totalChars = 0;
  for (const s of spaced) {
    totalChars += s.length;
    for (let i = 0; i < s.length; i++) present[s.charCodeAt(i)] = 1;
  }
  const classOf = new Uint16Array(65536);
  let classes = 0;
  for (let c = 0; c < 65536; c++) {
    if (!present[c]) continue;
    if (classes === 65534) throw new Error('metaclip: the entries use too many distinct characters');
    classOf[c] = ++classes;
  }
  const stride = classes + 1;

  // trie from the entries in code-unit order: the children of a node are created in class order
  const order = Int32Array.from(spaced.keys()).sort((a, b) => (spaced[a] < spaced[b] ? -1 : spaced[a] > spaced[b] ? 1 : 0));
  const parent = new Int32Array(totalChars + 1);
  const edgeClass = new Uint16Array(totalChars + 1);
  const outEntryBig = new Int32Array(totalChars + 1).fill(-1);
  let nodes = 1;
  let longest = 1;
  for (const s of spaced) longest = Math.max(longest, s.length);
  const path = new Int32Array(longest + 1);
  let prev = '';
  for (const id of order) {
    const s = spaced[id];
    let lcp = 0;
    while (lcp < s.length && lcp < prev.length && s.charCodeAt(lcp) === prev.charCodeAt(lcp)) lcp++;
    for (let j = lcp; j < s.length; j++) {
      const v = nodes++;
      parent[v] = path[j];
      edgeClass[v] = classOf[s.charCodeAt(j)];
      path[j + 1] = v;
    }
    if (s === prev) continue; // repeats were removed by the caller; keep the first id if not
    outEntryBig[path[s.length]] = id;
    prev = s;
  }

  // CSR children: counting sort of nodes 1..nodes-1 by parent, stable (so classes stay sorted)
  const childStart = new Int32Array(nodes + 1);
  for (let v = 1; v < nodes; v++) childStart[parent[v] + 1]++;
  for (let u = 0; u < nodes; u++) childStart[u + 1] += childStart[u];
  const fillAt = childStart.slice(0, nodes);
  const childNode = new Int32Array(Math.max(0, nodes - 1));
  const childClass = new Uint16Array(Math.max(0, nodes - 1));
  for (let v = 1; v < nodes; v++) {
    const at = fillAt[parent[v]]++;
    childNode[at] = v;
    childClass[at] = edgeClass[v];
  }

  // dense rows for nodes with many children (always the root)
  const denseRow = new Int32Array(nodes).fill(-1);
  let rows = 0;
  const maxRows = Math.max(1, Math.floor(DENSE_MAX_BYTES / (4 * stride)));
  denseRow[0] = rows++;
  for (let u = 1; u < nodes && rows < maxRows; u++) if (childStart[u + 1] - childStart[u] >= DENSE_MIN_CHILDREN) denseRow[u] = rows++;
  const denseNext = new Int32Array(rows * stride).fill(-1);
  for (let u = 0; u < nodes; u++) {
    const r = denseRow[u];
    if (r < 0) continue;
    for (let e = childStart[u]; e < childStart[u + 1]; e++) denseNext[r * stride + childClass[e]] = childNode[e];
  }

  const outEntry = outEntryBig.slice(0, nodes);
  const ac: Automaton = {
    entries: entries.length,
    nodes,
    stride,
    classOf: shared(Uint16Array, classOf),
    childStart: shared(Int32Array, childStart),
    childClass: shared(Uint16Array, childClass),
    childNode: shared(Int32Array, childNode),
    fail: new Int32Array(new SharedArrayBuffer(4 * nodes)),
    outEntry: shared(Int32Array, outEntry),
    outLink: new Int32Array(new SharedArrayBuffer(4 * nodes)).fill(-1),
    denseRow: shared(Int32Array, denseRow),
    denseNext: shared(Int32Array, denseNext),
  };

  // failure links in breadth-first order
  const queue = new Int32Array(nodes);
  let head = 0;
  let tail = 0;
  for (let e = childStart[0]; e < childStart[1]; e++) {
    const v = childNode[e];
    ac.fail[v] = 0;
    queue[tail++] = v;
  }
  while (head < tail) {
    const u = queue[head++];
    for (let e = childStart[u]; e < childStart[u + 1]; e++) {
      const v = childNode[e];
      const c = childClass[e];
      let f = ac.fail[u];
      let g = child(ac, f, c);
      while (g < 0 && f !== 0) {
        f = ac.fail[f];
        g = child(ac, f, c);
      }
      const fv = g >= 0 ? g : 0;
      ac.fail[v] = fv;
      ac.outLink[v] = outEntry[fv] >= 0 ? fv : ac.outLink[fv];
      queue[tail++] = v;
    }
  }
  return ac;
}

/** The child of node `u` by class `c`, or -1. */
function child(ac: Automaton, u: number, c: number): number {
  const r = ac.denseRow[u];
  if (r >= 0) return ac.denseNext[r * ac.stride + c];
  let lo = ac.childStart[u];
  let hi = ac.childStart[u + 1] - 1;
  const cls = ac.childClass;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = cls[mid];
    if (m === c) return ac.childNode[mid];
    if (m < c) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** 0: an ordinary code unit; 1: wrapped in spaces; 2: becomes a space. */
const KIND = new Uint8Array(128);
for (const p of PUNCTS_TO_WRAP) KIND[p.charCodeAt(0)] = 1;
for (const c of CHARS_TO_SPACE) KIND[c.charCodeAt(0)] = 2;

/** Matched entry ids of a batch of captions (NULL read as ''): CSR, ids ascending per caption. */
export interface BatchMatches {
  offsets: Int32Array;
  ids: Int32Array;
}

/** Separator of captions joined into one string (`matchJoined`). */
export const JOIN_SEPARATOR = '\u0001';

/**
 * A matcher over one automaton: the distinct matched entry ids of each caption. Not thread-safe (it
 * keeps scratch arrays); make one per worker.
 */
export class Matcher {
  private readonly seen: Int32Array;
  private stamp = 0;
  private ids = new Int32Array(1 << 16);
  private n = 0;
  // the automaton's tables as fields (one closure-free hot path)
  private readonly classOf: Uint16Array;
  private readonly childStart: Int32Array;
  private readonly childClass: Uint16Array;
  private readonly childNode: Int32Array;
  private readonly fail: Int32Array;
  private readonly outEntry: Int32Array;
  private readonly outLink: Int32Array;
  private readonly denseRow: Int32Array;
  private readonly denseNext: Int32Array;
  private readonly stride: number;
  private readonly space: number;

  constructor(ac: Automaton) {
    this.seen = new Int32Array(ac.entries).fill(-1);
    this.classOf = ac.classOf;
    this.childStart = ac.childStart;
    this.childClass = ac.childClass;
    this.childNode = ac.childNode;
    this.fail = ac.fail;
    this.outEntry = ac.outEntry;
    this.outLink = ac.outLink;
    this.denseRow = ac.denseRow;
    this.denseNext = ac.denseNext;
    this.stride = ac.stride;
    this.space = ac.classOf[32];
  }

  /** Captions given one by one. */
  match(texts: readonly (string | null)[]): BatchMatches {
    const offsets = new Int32Array(texts.length + 1);
    this.n = 0;
    for (let t = 0; t < texts.length; t++) {
      const text = texts[t] ?? '';
      this.matchRange(text, 0, text.length);
      offsets[t + 1] = this.n;
    }
    return { offsets, ids: this.ids.slice(0, this.n) };
  }

  /**
   * `count` captions joined by JOIN_SEPARATOR into one string (cheap to send to a worker). Null when
   * the string does not hold exactly `count` captions (a caption contained the separator).
   */
  matchJoined(text: string, count: number): BatchMatches | null {
    const offsets = new Int32Array(count + 1);
    this.n = 0;
    let from = 0;
    for (let t = 0; t < count; t++) {
      let to = text.indexOf(JOIN_SEPARATOR, from);
      if (t === count - 1) {
        if (to >= 0) return null;
        to = text.length;
      } else if (to < 0) return null;
      this.matchRange(text, from, to);
      offsets[t + 1] = this.n;
      from = to + 1;
    }
    return { offsets, ids: this.ids.slice(0, this.n) };
  }

  /** Append the distinct entry ids matched by text[from, to) (one caption), ascending. */
  private matchRange(text: string, from: number, to: number): void {
    const classOf = this.classOf;
    const SPACE = this.space;
    if (++this.stamp === 0x7fffffff) {
      this.seen.fill(-1);
      this.stamp = 1;
    }
    const start = this.n;
    let state = this.step(0, SPACE);
    for (let i = from; i < to; i++) {
      const ch = text.charCodeAt(i);
      const kind = ch < 128 ? KIND[ch] : 0;
      if (kind === 0) state = this.step(state, classOf[ch]);
      else if (kind === 1) state = this.step(this.step(this.step(state, SPACE), classOf[ch]), SPACE);
      else state = this.step(state, SPACE);
    }
    this.step(state, SPACE);
    if (this.n - start > 1) this.ids.subarray(start, this.n).sort();
  }

  /** One automaton step from s by class c, reporting every entry that ends there. */
  private step(s: number, c: number): number {
    if (c === 0) return 0; // no entry has this code unit: back to the root
    const denseRow = this.denseRow;
    const childStart = this.childStart;
    const childClass = this.childClass;
    for (;;) {
      const r = denseRow[s];
      let g = -1;
      if (r >= 0) g = this.denseNext[r * this.stride + c];
      else {
        let lo = childStart[s];
        let hi = childStart[s + 1] - 1;
        while (lo <= hi) {
          const mid = (lo + hi) >> 1;
          const m = childClass[mid];
          if (m === c) {
            g = this.childNode[mid];
            break;
          }
          if (m < c) lo = mid + 1;
          else hi = mid - 1;
        }
      }
      if (g >= 0) {
        s = g;
        break;
      }
      if (s === 0) break;
      s = this.fail[s];
    }
    const outEntry = this.outEntry;
    let o = outEntry[s] >= 0 ? s : this.outLink[s];
    while (o >= 0) {
      this.emit(outEntry[o]);
      o = this.outLink[o];
    }
    return s;
  }

  private emit(e: number): void {
    if (this.seen[e] === this.stamp) return;
    this.seen[e] = this.stamp;
    if (this.n === this.ids.length) {
      const grown = new Int32Array(this.ids.length * 2);
      grown.set(this.ids);
      this.ids = grown;
    }
    this.ids[this.n++] = e;
  }
}
