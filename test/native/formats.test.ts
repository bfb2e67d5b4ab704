/**
 * native/formats: float16, .npy, .npz and tar, checked against files numpy and Python's tarfile
 * wrote (test/fixtures/formats, made by make_fixtures.py), against bytes written out by hand from
 * the format specs, and against independent reference computations.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SieveError } from '../../native/errors.js';
import { f16ToF32, f32ToF16 } from '../../native/formats/float16.js';
import { dtypeSize, encodeNpyHeader, parseNpyHeader, readNpyFileHeader, writeNpy } from '../../native/formats/npy.js';
import { listNpz, npzRowChunks, readNpzRows, readNpzRowsSync, writeNpz } from '../../native/formats/npz.js';
import { readTarMember, scanTar, TarWriter } from '../../native/formats/tar.js';
import { halfToNumber } from './fixtures/half.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/formats/', import.meta.url));
const fix = (name: string) => join(FIX, name);
const tmp = mkdtempSync(join(tmpdir(), 'sieve-formats-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function isBadInput(pathPart: string, messagePart?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof SieveError, `expected a SieveError, got ${String(e)}`);
    assert.equal(e.code, 'bad_input');
    assert.ok(e.message.includes(pathPart), `message should name ${pathPart}: ${e.message}`);
    if (messagePart) assert.match(e.message, messagePart);
    return true;
  };
}

/** The data bytes of a .npy file written by numpy (its header parsed independently of ours: v1.0). */
function npyData(path: string): Buffer {
  const b = readFileSync(path);
  assert.equal(b[6], 1);
  return b.subarray(10 + b.readUInt16LE(8));
}

// ---------------------------------------------------------------------------------------------
describe('float16', () => {
  /** Half bits -> value, from the IEEE 754 definition, in float64. */
  const refDecode = halfToNumber;

  /** Value -> the value of the nearest half (ties to even), computed in float64 arithmetic. */
  function refRound(x: number): number {
    if (Number.isNaN(x)) return NaN;
    const a = Math.abs(x);
    if (a >= 65520) return Math.sign(x) * Infinity; // 65520 = max + half an ulp: ties to even -> Inf
    const e = Math.max(-14, Math.floor(Math.log2(a || 1)));
    // guard against log2 rounding at powers of two
    const exp = a >= 2 ** (e + 1) ? e + 1 : a < 2 ** e && e > -14 ? e - 1 : e;
    const ulp = 2 ** (exp - 10);
    const q = a / ulp; // exact: division by a power of two
    const f = Math.floor(q);
    const d = q - f;
    const r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
    const v = r * ulp;
    return x < 0 || Object.is(x, -0) ? -v : v;
  }

  test('f16ToF32 decodes all 65536 patterns as the IEEE definition says', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const out = f16ToF32(all);
    for (let h = 0; h < 65536; h++) {
      const want = refDecode(h);
      if (Number.isNaN(want)) assert.ok(Number.isNaN(out[h]), `0x${h.toString(16)}`);
      else assert.ok(Object.is(out[h], want), `0x${h.toString(16)}: ${out[h]} != ${want}`);
    }
    // dst is reused
    const dst = new Float32Array(4);
    assert.equal(f16ToF32(new Uint16Array([0x3c00, 0xc000]), dst), dst);
    assert.deepEqual(Array.from(dst.subarray(0, 2)), [1, -2]);
  });

  test('f32ToF16 round-trips every half and maps NaN to 0x7e00 with its sign', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = f32ToF16(f16ToF32(all));
    for (let h = 0; h < 65536; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      assert.equal(back[h], isNaN ? (h & 0x8000) | 0x7e00 : h, `0x${h.toString(16)}`);
    }
    assert.deepEqual(Array.from(f32ToF16(new Float32Array([NaN, -NaN]))).map((v) => v & 0x7fff), [0x7e00, 0x7e00]);
  });

  test('f32ToF16 rounds to nearest, ties to even, at every midpoint between halves', () => {
    const t = f16ToF32(new Uint16Array(65536).map((_, i) => i));
    const probe = new Float32Array(3);
    for (let h = 0; h < 0x7bff; h++) {
      for (const sign of [0, 0x8000]) {
        const lo = t[h | sign];
        const hi = t[(h + 1) | sign];
        const mid = (lo + hi) / 2; // exactly a float32: halves carry 11 significant bits
        probe[0] = mid;
        assert.equal(probe[0], mid);
        probe[1] = mid;
        probe[2] = mid;
        // one float32 ulp toward lo and toward hi
        const u = new Uint32Array(probe.buffer);
        u[1] -= 1;
        u[2] += 1;
        const got = f32ToF16(probe);
        const even = (h & 1) === 0 ? h : h + 1;
        assert.equal(got[0], even | sign, `tie between 0x${h.toString(16)} and next (sign ${sign})`);
        assert.equal(got[1], h | sign);
        assert.equal(got[2], (h + 1) | sign);
      }
    }
  });

  test('f32ToF16 agrees with an independent float64 reference on random float32 bit patterns', () => {
    let s = 12345;
    const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s);
    const n = 200_000;
    const bits = new Uint32Array(n);
    for (let i = 0; i < n; i++) bits[i] = rnd();
    // bias half of them into the half range (|x| < 2^17) so rounding paths are all exercised
    for (let i = 0; i < n; i += 2) bits[i] = (bits[i] & 0x807fffff) | (((rnd() % 45) + 100) << 23);
    const x = new Float32Array(bits.buffer);
    const back = f16ToF32(f32ToF16(x));
    for (let i = 0; i < n; i++) {
      const want = refRound(x[i]);
      if (Number.isNaN(want)) assert.ok(Number.isNaN(back[i]));
      else assert.ok(Object.is(back[i], want), `${x[i]}: got ${back[i]}, want ${want}`);
    }
  });

  test('f32ToF16 equals numpy astype(float16) on the fixture values', () => {
    const input = npyData(fix('f16_input_f4.npy'));
    const expected = npyData(fix('f16_expected_f2.npy'));
    const x = new Float32Array(input.buffer.slice(input.byteOffset, input.byteOffset + input.length));
    const want = new Uint16Array(expected.buffer.slice(expected.byteOffset, expected.byteOffset + expected.length));
    assert.ok(x.length > 700);
    assert.deepEqual(Array.from(f32ToF16(x)), Array.from(want));
  });
});

// ---------------------------------------------------------------------------------------------
describe('npy', () => {
  interface Case {
    file: string;
    descr: string | [string, string][];
    shape: number[];
    dataOffset: number;
  }
  const manifest = JSON.parse(readFileSync(fix('npyhdr_manifest.json'), 'utf8')) as Case[];

  test('parses and re-encodes, byte for byte, the headers np.save wrote', () => {
    assert.ok(manifest.length >= 10);
    for (const c of manifest) {
      const bytes = readFileSync(fix(c.file));
      const h = parseNpyHeader(bytes, c.file);
      assert.deepEqual(h.descr, c.descr, c.file);
      assert.deepEqual(h.shape, c.shape, c.file);
      assert.equal(h.fortranOrder, false);
      assert.equal(h.version, '1.0');
      assert.equal(h.dataOffset, c.dataOffset);
      assert.deepEqual(Buffer.from(encodeNpyHeader(c.descr, c.shape)), bytes, `encode ${c.file}`);
    }
    const names = manifest.map((c) => c.file);
    for (const f of ['npyhdr_uid_0.bin', 'npyhdr_uid_3.bin', 'npyhdr_f2_1000x512.bin', 'npyhdr_f8_0d.bin', 'npyhdr_f4_5.bin']) {
      assert.ok(names.includes(f), f);
    }
  });

  test('encodes the header of a (3, 4) <f2 array exactly as the format spec lays it out', () => {
    // Written out by hand: magic \x93NUMPY, version 1.0, header length 118 = 0x0076 (LE), then the
    // dict text (59 chars), 58 spaces (21 - len("3") = 20 of them numpy's growth room), '\n'.
    // 10 + 59 + 58 + 1 = 128 = 2 * 64.
    const expected = Buffer.concat([
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00]),
      Buffer.from("{'descr': '<f2', 'fortran_order': False, 'shape': (3, 4), }", 'latin1'),
      Buffer.alloc(58, 0x20),
      Buffer.from([0x0a]),
    ]);
    assert.equal(expected.length, 128);
    assert.deepEqual(Buffer.from(encodeNpyHeader('<f2', [3, 4])), expected);
    // and the subset dtype: "{'descr': [('f0', '<u8'), ('f1', '<u8')], 'fortran_order': False, 'shape': (3,), }"
    // is 82 chars; 10 + 82 + 1 = 93 -> padded to 128 with 35 spaces.
    const uid = Buffer.concat([
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00]),
      Buffer.from("{'descr': [('f0', '<u8'), ('f1', '<u8')], 'fortran_order': False, 'shape': (3,), }", 'latin1'),
      Buffer.alloc(35, 0x20),
      Buffer.from([0x0a]),
    ]);
    assert.deepEqual(Buffer.from(encodeNpyHeader([['f0', '<u8'], ['f1', '<u8']], [3])), uid);
  });

  test('reads a uid subset file written by numpy', () => {
    const path = fix('uids_3.npy');
    const h = readNpyFileHeader(path);
    assert.deepEqual(h.descr, [['f0', '<u8'], ['f1', '<u8']]);
    assert.deepEqual(h.shape, [3]);
    assert.equal(dtypeSize(h.descr), 16);
    const data = readFileSync(path).subarray(h.dataOffset);
    assert.equal(data.length, 48);
    const uids = [0, 1, 2].map(
      (i) => data.readBigUInt64LE(i * 16).toString(16).padStart(16, '0') + data.readBigUInt64LE(i * 16 + 8).toString(16).padStart(16, '0'),
    );
    assert.deepEqual(uids, ['00000000000000000000000000000001', '0123456789abcdef0123456789abcdef', 'ffffffffffffffff0000000000000000']);
    // writeNpy gives numpy's bytes back
    const out = join(tmp, 'uids.npy');
    writeNpy(out, h.descr, h.shape, data);
    assert.deepEqual(readFileSync(out), readFileSync(path));
  });

  test('parses header text robustly: spaces, quotes, trailing commas, versions 2.0 and 3.0', () => {
    const make = (text: string, major = 1) => {
      const body = Buffer.from(text + '\n', major === 3 ? 'utf8' : 'latin1');
      const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
      const len = Buffer.alloc(major === 1 ? 2 : 4);
      if (major === 1) len.writeUInt16LE(body.length);
      else len.writeUInt32LE(body.length);
      return Buffer.concat([pre, len, body]);
    };
    let h = parseNpyHeader(make(`{ "descr" : "<f4" , "fortran_order":False,"shape":( 5 , ) ,}`), 'a.npy');
    assert.deepEqual([h.descr, h.shape, h.fortranOrder], ['<f4', [5], false]);
    h = parseNpyHeader(make(`{'shape': (), 'fortran_order': False, 'descr': '<f8'}`), 'a.npy');
    assert.deepEqual(h.shape, []);
    h = parseNpyHeader(make(`{'descr': [('f0', '<u8'), ('f1', '<u8'),], 'fortran_order': False, 'shape': (2, 3L), }`, 2), 'a.npy');
    assert.deepEqual(h.descr, [['f0', '<u8'], ['f1', '<u8']]);
    assert.deepEqual(h.shape, [2, 3]);
    assert.equal(h.version, '2.0');
    assert.equal(h.dataOffset, 12 + Buffer.byteLength(`{'descr': [('f0', '<u8'), ('f1', '<u8'),], 'fortran_order': False, 'shape': (2, 3L), }\n`));
    h = parseNpyHeader(make(`{'descr': [('näme', '<f2')], 'fortran_order': False, 'shape': (1,)}`, 3), 'a.npy');
    assert.deepEqual(h.descr, [['näme', '<f2']]);
    assert.equal(h.version, '3.0');
    // fortran order is harmless for 1-D arrays
    h = parseNpyHeader(make(`{'descr': '<f2', 'fortran_order': True, 'shape': (4,)}`), 'a.npy');
    assert.equal(h.fortranOrder, true);
  });

  test('refuses, by name, what it cannot read', () => {
    const good = Buffer.from(encodeNpyHeader('<f2', [2, 2]));
    const bad = Buffer.from(good);
    bad[1] = 0x4f;
    assert.throws(() => parseNpyHeader(bad, 'x.npy'), isBadInput('x.npy', /magic/));
    const text = (t: string) => {
      const body = Buffer.from(t + '\n', 'latin1');
      const len = Buffer.alloc(2);
      len.writeUInt16LE(body.length);
      return Buffer.concat([good.subarray(0, 8), len, body]);
    };
    assert.throws(() => parseNpyHeader(text(`{'descr': '>f4', 'fortran_order': False, 'shape': (2,)}`), 'y.npy'), isBadInput('y.npy', /unsupported dtype ">f4"/));
    assert.throws(() => parseNpyHeader(text(`{'descr': '|O', 'fortran_order': False, 'shape': (2,)}`), 'y.npy'), isBadInput('y.npy', /unsupported dtype/));
    assert.throws(() => parseNpyHeader(text(`{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)}`), 'z.npy'), isBadInput('z.npy', /fortran order/));
    assert.throws(() => parseNpyHeader(text(`{'descr': '<f4', 'shape': (2, 3)}`), 'z.npy'), isBadInput('z.npy', /fortran_order/));
    assert.throws(() => parseNpyHeader(good.subarray(0, 40), 't.npy'), isBadInput('t.npy', /truncated header/));
    assert.throws(() => parseNpyHeader(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 9, 0, 0, 0]), 'v.npy'), isBadInput('v.npy', /version 9\.0/));
    assert.equal(dtypeSize('<U3'), 12);
    assert.equal(dtypeSize('|S7'), 7);
    assert.equal(dtypeSize('<f2'), 2);
  });
});

// ---------------------------------------------------------------------------------------------
describe('npz', () => {
  interface Expect {
    descr: string;
    shape: number[];
    hex: string;
  }
  const expected = JSON.parse(readFileSync(fix('npz_expected.json'), 'utf8')) as Record<string, Expect>;

  for (const [file, method] of [['savez.npz', 0], ['savez_compressed.npz', 8]] as const) {
    test(`lists and reads ${file} (np.${file.replace('.npz', '')})`, async () => {
      const path = fix(file);
      const entries = listNpz(path);
      assert.deepEqual(entries.map((e) => e.name).sort(), ['feat_f16', 'feat_f32', 'scalar']);
      for (const e of entries) {
        const want = expected[e.name];
        assert.equal(e.method, method);
        assert.equal(e.header.descr, want.descr);
        assert.deepEqual(e.header.shape, want.shape);
        if (method === 0) {
          assert.equal(typeof e.dataOffset, 'number');
          // the stored data really starts there
          const raw = readFileSync(path).subarray(e.dataOffset!, e.dataOffset! + want.hex.length / 2);
          assert.equal(raw.toString('hex'), want.hex);
        } else assert.equal(e.dataOffset, null);
        const rows = want.shape.length ? want.shape[0] : 1;
        const all = await readNpzRows(path, e, 0, rows);
        assert.equal(all.toString('hex'), want.hex, e.name);
        assert.equal(readNpzRowsSync(path, e, 0, rows).toString('hex'), want.hex);
        if (want.shape.length === 2) {
          const rb = (want.hex.length / 2 / rows) * 2; // hex chars per row
          const part = await readNpzRows(path, e, 5, 3);
          assert.equal(part.toString('hex'), want.hex.slice(5 * rb, 8 * rb));
          assert.equal(readNpzRowsSync(path, e, 5, 3).toString('hex'), want.hex.slice(5 * rb, 8 * rb));
          assert.equal((await readNpzRows(path, e, rows - 1, 1)).toString('hex'), want.hex.slice((rows - 1) * rb));
          assert.equal((await readNpzRows(path, e, 2, 0)).length, 0);
          const chunks: Buffer[] = [];
          let next = 0;
          for await (const c of npzRowChunks(path, e, 5)) {
            assert.equal(c.rowStart, next);
            next += c.rowCount;
            chunks.push(Buffer.from(c.bytes));
          }
          assert.equal(next, rows);
          assert.equal(Buffer.concat(chunks).toString('hex'), want.hex);
          await assert.rejects(readNpzRows(path, e, rows - 1, 2), isBadInput(path, /out of range/));
        }
      }
      // the f16 values decode to finite numbers of the expected scale
      const f16 = entries.find((e) => e.name === 'feat_f16')!;
      const bytes = await readNpzRows(path, f16, 0, 1);
      const vals = f16ToF32(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2));
      assert.ok(vals.every((v) => Number.isFinite(v) && Math.abs(v) < 1));
    });
  }

  test('a deflated member with corrupt or cut data is bad input naming the file and member', async () => {
    const good = readFileSync(fix('savez_compressed.npz'));
    const e = listNpz(fix('savez_compressed.npz')).find((x) => x.name === 'feat_f32')!;
    // Overwrite the middle of the member's deflate stream: the central directory still lists it.
    const bad = Buffer.from(good);
    const mid = e.memberOffset + Math.floor(e.compressedSize / 2);
    bad.fill(0xff, mid, mid + 64);
    const path = join(tmp, 'corrupt.npz');
    writeFileSync(path, bad);
    const entry = listNpz(path).find((x) => x.name === 'feat_f32')!;
    const rows = entry.header.shape[0];
    await assert.rejects(readNpzRows(path, entry, 0, rows), isBadInput(`${path}:${entry.member}`, /corrupt or truncated deflate data|truncated member/));
    await assert.rejects(
      (async () => {
        for await (const _ of npzRowChunks(path, entry, 4)) void _;
      })(),
      isBadInput(`${path}:${entry.member}`, /corrupt or truncated deflate data|truncated member/),
    );
  });

  test('writeNpz writes what numpy reads (fixture checked by make_fixtures.py)', async () => {
    const half = f32ToF16(Float32Array.from({ length: 12 }, (_, i) => i / 4 - 1));
    const uids = Buffer.alloc(32);
    uids.writeBigUInt64LE(1n, 0);
    uids.writeBigUInt64LE(2n, 8);
    uids.writeBigUInt64LE(2n ** 64n - 1n, 16);
    uids.writeBigUInt64LE(0n, 24);
    const arrays = [
      { name: 'half', descr: '<f2', shape: [3, 4], data: new Uint8Array(half.buffer) },
      { name: 'uids', descr: [['f0', '<u8'], ['f1', '<u8']] as [string, string][], shape: [2], data: uids },
      { name: 'zero', descr: '<f4', shape: [0, 8], data: new Uint8Array(0) },
    ];
    const out = join(tmp, 'w.npz');
    writeNpz(out, arrays);
    if (process.env.SIEVE_WRITE_FIXTURES === '1') copyFileSync(out, fix('sieve_written.npz'));
    assert.deepEqual(readFileSync(out), readFileSync(fix('sieve_written.npz')), 'writeNpz output changed: regenerate and re-verify with numpy');
    const entries = listNpz(out);
    assert.deepEqual(entries.map((e) => [e.name, e.method, e.header.shape]), [['half', 0, [3, 4]], ['uids', 0, [2]], ['zero', 0, [0, 8]]]);
    assert.deepEqual(await readNpzRows(out, entries[0], 0, 3), Buffer.from(half.buffer));
    assert.deepEqual(await readNpzRows(out, entries[1], 1, 1), uids.subarray(16));
    // every data start is where numpy would put it: local header + name + npy header
    assert.equal(entries[0].dataOffset, 30 + 'half.npy'.length + 128);

    // the same arrays with every zip64 record (local and central extras, zip64 end records)
    const out64 = join(tmp, 'w64.npz');
    writeNpz(out64, arrays, { zip64: true });
    if (process.env.SIEVE_WRITE_FIXTURES === '1') copyFileSync(out64, fix('sieve_written_zip64.npz'));
    assert.deepEqual(readFileSync(out64), readFileSync(fix('sieve_written_zip64.npz')));
    const e64 = listNpz(out64);
    assert.deepEqual(e64.map((e) => [e.name, e.header.shape]), entries.map((e) => [e.name, e.header.shape]));
    assert.equal(e64[0].dataOffset, 30 + 'half.npy'.length + 20 + 128);
    for (let k = 0; k < 3; k++) {
      const rows = e64[k].header.shape[0];
      assert.deepEqual(await readNpzRows(out64, e64[k], 0, rows), await readNpzRows(out, entries[k], 0, rows));
    }
  });

  test('a truncated npz, a non-zip and a missing central directory are bad input naming the file', () => {
    const src = readFileSync(fix('savez.npz'));
    const cut = join(tmp, 'cut.npz');
    writeFileSync(cut, src.subarray(0, Math.floor(src.length / 2)));
    assert.throws(() => listNpz(cut), isBadInput(cut, /truncated/));
    const notZip = join(tmp, 'notzip.npz');
    writeFileSync(notZip, 'this is not a zip file at all, just some text that is long enough');
    assert.throws(() => listNpz(notZip), isBadInput(notZip, /not a zip/));
    // the end record survives but points past the end: the central directory is missing
    const holed = join(tmp, 'holed.npz');
    const eocdAt = src.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    writeFileSync(holed, Buffer.concat([src.subarray(0, 100), src.subarray(eocdAt)]));
    assert.throws(() => listNpz(holed), isBadInput(holed));
    const tiny = join(tmp, 'tiny.npz');
    writeFileSync(tiny, 'PK');
    assert.throws(() => listNpz(tiny), isBadInput(tiny));
  });
});

// ---------------------------------------------------------------------------------------------
describe('tar', () => {
  const expected = JSON.parse(readFileSync(fix('tar_expected.json'), 'utf8')) as { name: string; body: string }[];

  for (const file of ['gnu.tar', 'pax.tar']) {
    test(`scans ${file} (Python tarfile): ustar prefix, long names, non-ASCII`, () => {
      const path = fix(file);
      const members = scanTar(path);
      assert.deepEqual(members.map((m) => m.name), expected.map((e) => e.name));
      for (let i = 0; i < members.length; i++) {
        assert.equal(members[i].dataOffset % 512, 0);
        assert.equal(readTarMember(path, members[i]).toString('latin1'), expected[i].body);
      }
    });
  }

  function writeSample(path: string) {
    const { tar, close } = TarWriter.create(path, 1_700_000_000);
    const members: [string, Buffer][] = [
      ['000000000000.jpg', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])],
      ['000000000000.txt', Buffer.from('a caption\nwith a newline')],
      ['000000000000.json', Buffer.from('{"key": "000000000000"}')],
      ['empty.txt', Buffer.alloc(0)],
      ['exact512.bin', Buffer.alloc(512, 7)],
      ['big.bin', Buffer.alloc(3 * 1024 * 1024 + 5, 9)], // larger than the write buffer
      ['dir-' + 'a'.repeat(120) + '/inner/file-with-a-long-name.txt', Buffer.from('prefix split')],
      ['n'.repeat(130) + '.txt', Buffer.from('pax path')],
      ['dossier/été.txt', Buffer.from('utf-8 name')],
    ];
    for (const [n, d] of members) tar.add(n, d);
    close();
    return members;
  }

  test('TarWriter output is deterministic ustar that scanTar reads back', () => {
    const a = join(tmp, 'a.tar');
    const b = join(tmp, 'b.tar');
    const members = writeSample(a);
    writeSample(b);
    const bytes = readFileSync(a);
    assert.deepEqual(bytes, readFileSync(b));
    assert.equal(bytes.length % 512, 0);
    assert.ok(bytes.subarray(bytes.length - 1024).every((x) => x === 0));
    // the first header, field by field (ustar, POSIX.1-1988)
    const h = bytes.subarray(0, 512);
    assert.equal(h.toString('latin1', 0, 16), '000000000000.jpg');
    assert.equal(h.toString('latin1', 100, 108), '0000644\0');
    assert.equal(h.toString('latin1', 108, 124), '0000000\x000000000\0');
    assert.equal(h.toString('latin1', 124, 136), '00000000007\0');
    assert.equal(h.toString('latin1', 136, 148), (1_700_000_000).toString(8).padStart(11, '0') + '\0');
    assert.equal(h.toString('latin1', 156, 157), '0');
    assert.equal(h.toString('latin1', 257, 265), 'ustar\x0000');
    assert.ok(h.subarray(265, 329).every((x) => x === 0), 'empty uname/gname');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    assert.equal(parseInt(h.toString('latin1', 148, 154), 8), sum);
    assert.equal(h.toString('latin1', 154, 156), '\0 ');
    const got = scanTar(a);
    assert.deepEqual(got.map((m) => m.name), members.map((m) => m[0]));
    for (let i = 0; i < got.length; i++) {
      assert.equal(got[i].size, members[i][1].length);
      assert.deepEqual(readTarMember(a, got[i]), members[i][1]);
    }
  });

  test('TarWriter.add(name, data, start, end) writes exactly that slice', () => {
    const whole = Buffer.from(Array.from({ length: 3000 }, (_, i) => i & 255));
    const a = join(tmp, 'slices.tar');
    const { tar, close } = TarWriter.create(a, 1_700_000_000);
    tar.add('mid.bin', whole, 100, 1100);
    tar.add('empty.bin', whole, 7, 7);
    tar.add('tail.bin', new Uint8Array(whole), 2990); // a Uint8Array, not a Buffer
    close();
    const got = scanTar(a);
    assert.deepEqual(got.map((m) => [m.name, m.size, m.dataOffset]), [['mid.bin', 1000, 512], ['empty.bin', 0, 2048], ['tail.bin', 10, 2560]]);
    assert.deepEqual(readTarMember(a, got[0]), whole.subarray(100, 1100));
    assert.deepEqual(readTarMember(a, got[2]), whole.subarray(2990));
    assert.equal(statSync(a).size, 2560 + 512 + 1024);
    assert.ok(readFileSync(a).subarray(1512, 1536).every((x) => x === 0), 'padding is zero');
  });

  test('the system tar lists what TarWriter wrote', (t) => {
    const a = join(tmp, 'sys.tar');
    const members = writeSample(a);
    let listing: string;
    try {
      listing = execFileSync('tar', ['-tvf', a], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' } });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        t.skip('no tar on this machine');
        return;
      }
      throw e;
    }
    const lines = listing.trim().split('\n');
    assert.equal(lines.length, members.length);
    for (let i = 0; i < lines.length; i++) {
      assert.match(lines[i], /^-rw-r--r-- /);
      assert.ok(lines[i].endsWith(' ' + members[i][0]), lines[i]);
      assert.ok(lines[i].includes(` ${members[i][1].length} `), lines[i]);
    }
    assert.match(lines[0], /2023-11-14 22:13/);
  });

  test('a truncated tar is bad input naming the file and the offset', () => {
    const a = join(tmp, 'full.tar');
    writeSample(a);
    const size = statSync(a).size;
    const cut = join(tmp, 'cut.tar');
    // inside big.bin's data (headers at 0, 1024, 2048, 3072, 3584, 4608)
    copyFileSync(a, cut);
    truncateSync(cut, 512 * 9 + 1000); // big.bin header at 4608
    assert.throws(() => scanTar(cut), isBadInput(cut, /truncated tar: member at offset \d+ needs/));
    // in the middle of a header
    copyFileSync(a, cut);
    truncateSync(cut, 1024 + 100);
    assert.throws(() => scanTar(cut), isBadInput(cut, /partial header at offset 1024 \(100 of 512/));
    // exactly at a header boundary, without the end-of-archive blocks
    copyFileSync(a, cut);
    truncateSync(cut, size - 1024);
    assert.throws(() => scanTar(cut), isBadInput(cut, new RegExp(`ends at offset ${size - 1024} without the end-of-archive`)));
    // a corrupt header
    const bad = readFileSync(a);
    bad[20] ^= 0xff;
    writeFileSync(cut, bad);
    assert.throws(() => scanTar(cut), isBadInput(cut, /checksum at offset 0/));
    // readTarMember of a member the file no longer holds
    const members = scanTar(a);
    const fd = openSync(cut, 'w');
    closeSync(fd);
    assert.throws(() => readTarMember(cut, members[0]), isBadInput(cut, /truncated tar/));
  });
});
