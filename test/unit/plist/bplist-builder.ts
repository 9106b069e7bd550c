/** Test helper: assembles a bplist00 from hand-written object bytes (offset table and trailer computed). */
export function bplist(objects: number[][], opts: { top?: number; refSize?: number; offsetSize?: number } = {}): Buffer {
  const offsetSize = opts.offsetSize ?? 1;
  const refSize = opts.refSize ?? 1;
  const parts: number[] = [...Buffer.from('bplist00', 'latin1')];
  const offsets: number[] = [];
  for (const o of objects) {
    offsets.push(parts.length);
    parts.push(...o);
  }
  const tableOffset = parts.length;
  const table = Buffer.alloc(offsets.length * offsetSize);
  offsets.forEach((o, i) => table.writeUIntBE(o, i * offsetSize, offsetSize));
  const trailer = Buffer.alloc(32);
  trailer[6] = offsetSize; // offset int size
  trailer[7] = refSize; // object ref size
  trailer.writeBigUInt64BE(BigInt(objects.length), 8); // num objects
  trailer.writeBigUInt64BE(BigInt(opts.top ?? 0), 16); // top object
  trailer.writeBigUInt64BE(BigInt(tableOffset), 24); // offset table offset
  return Buffer.concat([Buffer.from(parts), table, trailer]);
}

/** ASCII bytes of a string, for hand vectors. */
export const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];
