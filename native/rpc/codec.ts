/**
 * The WebSocket frame format of SieveApi (the renderer's client in renderer/src/client decodes it).
 *
 * Client -> server: a text frame, JSON `{"id": n, "method": name, "params": [args...]}`.
 * Server -> client: a binary frame
 *   u32 LE  header length L
 *   L bytes UTF-8 JSON header: `{"id": n, "ok": true, "result": R, "buffers": [[offset, length], ...]}`
 *           or `{"id": n, "ok": false, "error": {code, message}}` or `{"event": name, "data": D}`
 *   then the buffers, each starting at a multiple of 8 bytes from the frame's start.
 * Inside R (or D) every ArrayBuffer / typed array is replaced by `{"$buf": i}` pointing into
 * `buffers`, so binary columns are never turned into JSON arrays.
 */

export type Placeholder = { $buf: number };

function isBinary(v: unknown): v is ArrayBuffer | ArrayBufferView {
  return v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

/** Replace binary values by placeholders, collecting their bytes. */
function extract(value: unknown, out: Uint8Array[]): unknown {
  if (isBinary(value)) {
    const bytes =
      value instanceof ArrayBuffer
        ? new Uint8Array(value)
        : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    out.push(bytes);
    return { $buf: out.length - 1 } satisfies Placeholder;
  }
  if (Array.isArray(value)) return value.map((v) => extract(v, out));
  if (value && typeof value === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) o[k] = extract(v, out);
    return o;
  }
  return value;
}

const align8 = (n: number) => (n + 7) & ~7;

/** Encode a header object whose `result` or `data` field may hold binary values. */
export function encodeFrame(header: Record<string, unknown>): Uint8Array {
  const buffers: Uint8Array[] = [];
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(header)) body[k] = k === 'result' || k === 'data' ? extract(v, buffers) : v;
  // Offsets depend on the header's length, which depends on the offsets' digits: lay the buffers
  // out after a header with placeholder offsets, then grow until the layout is stable.
  let headerBytes = new Uint8Array(0);
  let offsets: [number, number][] = [];
  let start = 0;
  for (let guess = 0; ; ) {
    offsets = [];
    let at = align8(4 + guess);
    for (const b of buffers) {
      offsets.push([at, b.byteLength]);
      at = align8(at + b.byteLength);
    }
    headerBytes = new TextEncoder().encode(JSON.stringify({ ...body, buffers: offsets }));
    if (align8(4 + headerBytes.byteLength) <= align8(4 + guess)) {
      start = at;
      break;
    }
    guess = headerBytes.byteLength;
  }
  const frame = new Uint8Array(Math.max(start, 4 + headerBytes.byteLength));
  new DataView(frame.buffer).setUint32(0, headerBytes.byteLength, true);
  frame.set(headerBytes, 4);
  buffers.forEach((b, i) => frame.set(b, offsets[i][0]));
  return frame;
}
