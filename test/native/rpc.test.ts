/**
 * The WebSocket frame codec, decoded by an independent reader written here from the format's
 * description (u32 header length, JSON header, 8-byte aligned buffers), and the dispatcher.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame } from '../../native/rpc/codec.js';
import { dispatch } from '../../native/rpc/dispatch.js';
import type { SieveApi } from '../../native/api.js';

function decode(frame: Uint8Array): { header: Record<string, unknown>; buffers: Uint8Array[] } {
  const len = frame[0] | (frame[1] << 8) | (frame[2] << 16) | (frame[3] << 24);
  const header = JSON.parse(Buffer.from(frame.subarray(4, 4 + len)).toString('utf8')) as Record<string, unknown>;
  const buffers = (header.buffers as [number, number][]).map(([off, n]) => {
    assert.equal(off % 8, 0, 'buffers start 8-byte aligned');
    assert.ok(off >= 4 + len, 'buffers lie after the header');
    return frame.subarray(off, off + n);
  });
  return { header, buffers };
}

test('encodeFrame: binary values become placeholders with their bytes after the header', () => {
  const positions = new Float32Array([1.5, -2, 3.25, 4]);
  const clusters = new Uint16Array([7, 0xffff, 3]);
  const thumb = new Uint8Array([0xff, 0xd8, 0xff]).buffer;
  const frame = encodeFrame({ id: 42, ok: true, result: { rows: 2, positions: positions.buffer, clusters, nested: [{ thumb }] } });
  const { header, buffers } = decode(frame);
  assert.equal(header.id, 42);
  const result = header.result as Record<string, unknown>;
  assert.equal(result.rows, 2);
  assert.deepEqual(result.positions, { $buf: 0 });
  assert.deepEqual(result.clusters, { $buf: 1 });
  assert.deepEqual(result.nested, [{ thumb: { $buf: 2 } }]);
  const p = buffers[0];
  assert.deepEqual(Array.from(new Float32Array(p.buffer.slice(p.byteOffset, p.byteOffset + p.byteLength))), [1.5, -2, 3.25, 4]);
  const c = buffers[1];
  assert.deepEqual(Array.from(new Uint16Array(c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength))), [7, 0xffff, 3]);
  assert.deepEqual(Array.from(buffers[2]), [0xff, 0xd8, 0xff]);
});

test('encodeFrame: many buffers (offsets with more digits) still lay out after the header', () => {
  const many = Array.from({ length: 300 }, (_, i) => new Uint8Array(i % 13).fill(i & 0xff));
  const { buffers } = decode(encodeFrame({ event: 'x', data: many }));
  buffers.forEach((b, i) => assert.deepEqual(Array.from(b), Array.from(many[i])));
});

test('encodeFrame without binaries, and errors', () => {
  const { header, buffers } = decode(encodeFrame({ id: 1, ok: false, error: { code: 'bad_input', message: 'x.parquet: truncated' } }));
  assert.deepEqual(header.error, { code: 'bad_input', message: 'x.parquet: truncated' });
  assert.equal(buffers.length, 0);
});

test('dispatch calls API methods by name and refuses others', async () => {
  const calls: unknown[][] = [];
  const api = {
    getSample: async (row: number) => {
      calls.push(['getSample', row]);
      return { row };
    },
  } as unknown as SieveApi;
  assert.deepEqual(await dispatch(api, 'getSample', [7]), { row: 7 });
  assert.deepEqual(calls, [['getSample', 7]]);
  await assert.rejects(dispatch(api, 'constructor', []), /unknown API method "constructor"/);
  await assert.rejects(dispatch(api, '__proto__', []), /unknown API method/);
});
