/**
 * The keep mask as getDecisionMask sends it (bit-packed, LSB first: row r is bit r & 7 of byte
 * r >> 3) turned into what the map and the masks' users index: one byte per row, 1 kept, 0 dropped.
 * Pure (no imports): test/native/keep-bits.test.ts loads it as it is.
 */

/** One byte per row from the packed bits of `rows` rows, and how many are kept, in one pass. */
export function unpackKeep(bits: Uint8Array, rows: number): { keep: Uint8Array; kept: number } {
  if (bits.length !== (rows + 7) >> 3) throw new Error(`keep mask: ${bits.length} bytes of bits for ${rows} rows (expected ${(rows + 7) >> 3})`);
  const keep = new Uint8Array(rows);
  let kept = 0;
  for (let i = 0; i < rows; i++) {
    const k = (bits[i >> 3] >> (i & 7)) & 1;
    keep[i] = k;
    kept += k;
  }
  return { keep, kept };
}
