/** Feeding helpers for the usbmux codec tests: whole, every 2-way split (or a sample), byte by byte. */

/** Deterministic split offsets: every offset up to `everyUpTo` bytes, else `samples` spread offsets (+ edges). */
export function splitOffsets(len: number, everyUpTo = 4096, samples = 48): number[] {
  if (len <= everyUpTo) return Array.from({ length: len + 1 }, (_, i) => i);
  const out = new Set<number>([0, 1, 15, 16, 17, len - 1, len]);
  let x = 0x9e3779b9;
  for (let i = 0; i < samples; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out.add(x % (len + 1));
  }
  return [...out].filter((o) => o >= 0 && o <= len).sort((a, b) => a - b);
}

/** The buffer cut in two at `at` (empty pieces dropped). */
export function splitAt(buf: Buffer, at: number): Buffer[] {
  return [buf.subarray(0, at), buf.subarray(at)].filter((b) => b.length > 0);
}

/** One-byte chunks. */
export function bytes(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) out.push(buf.subarray(i, i + 1));
  return out;
}
