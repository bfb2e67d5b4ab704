/**
 * Decoder of the WebSocket frames of `sieve serve` (the encoder and the format's description are in
 * native/rpc/codec.ts):
 *   u32 LE header length L | L bytes of UTF-8 JSON header | buffers, each at a multiple of 8 bytes.
 * The header is `{id, ok: true, result, buffers: [[offset, length], ...]}`, `{id, ok: false, error}`
 * or `{event, data, buffers}`; every `{"$buf": i}` inside `result` / `data` stands for buffers[i].
 */
import type { SieveErrorInfo } from '../../../native/api.js';

export type Frame =
  | { kind: 'result'; id: number; result: unknown }
  | { kind: 'error'; id: number; error: SieveErrorInfo }
  | { kind: 'event'; event: string; data: unknown };

const utf8 = new TextDecoder();

function isPlaceholder(v: unknown): v is { $buf: number } {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && keys[0] === '$buf' && typeof (v as { $buf: unknown }).$buf === 'number';
}

/** Put the buffers back where their placeholders are. */
export function revive(value: unknown, buffers: ArrayBuffer[]): unknown {
  if (isPlaceholder(value)) {
    const b = buffers[value.$buf];
    if (!b) throw new Error(`frame: placeholder $buf ${value.$buf} has no buffer`);
    return b;
  }
  if (Array.isArray(value)) return value.map((v) => revive(v, buffers));
  if (value && typeof value === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) o[k] = revive(v, buffers);
    return o;
  }
  return value;
}

function classify(header: Record<string, unknown>, buffers: ArrayBuffer[]): Frame {
  if (typeof header.event === 'string') {
    return { kind: 'event', event: header.event, data: revive(header.data, buffers) };
  }
  const id = Number(header.id);
  if (header.ok === false) {
    const e = (header.error ?? {}) as Partial<SieveErrorInfo>;
    return {
      kind: 'error',
      id,
      error: { code: e.code ?? 'internal', message: e.message ?? 'the engine reported an error without a message' },
    };
  }
  return { kind: 'result', id, result: revive(header.result, buffers) };
}

/** Decode one binary frame. Each buffer is copied out into its own ArrayBuffer (SieveApi's types). */
export function decodeFrame(frame: ArrayBuffer): Frame {
  if (frame.byteLength < 4) throw new Error(`frame: ${frame.byteLength} bytes, too short for a header`);
  const headerLength = new DataView(frame).getUint32(0, true);
  if (4 + headerLength > frame.byteLength) {
    throw new Error(`frame: header of ${headerLength} bytes overruns a frame of ${frame.byteLength}`);
  }
  const header = JSON.parse(utf8.decode(new Uint8Array(frame, 4, headerLength))) as Record<string, unknown>;
  const spans = (header.buffers ?? []) as [number, number][];
  const buffers = spans.map(([offset, length], i) => {
    if (offset + length > frame.byteLength) throw new Error(`frame: buffer ${i} overruns the frame`);
    return frame.slice(offset, offset + length);
  });
  return classify(header, buffers);
}

/** A text frame: the same header, without buffers (tolerated, though the server sends binary). */
export function decodeTextFrame(text: string): Frame {
  return classify(JSON.parse(text) as Record<string, unknown>, []);
}
