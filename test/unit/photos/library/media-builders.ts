/** Small media files for the library parser tests, built with the virtual iPhone's own byte layouts. */
import { heicParts, jpegParts, movParts, type FilePart, type MovOptions } from '../../../../src/virtual-iphone/media/formats.ts';
import type { RandomReader } from '../../../../src/photos/library/bytes.ts';

export const CID = 'FFCBAC24-E547-4BBC-AF47-38B1A3D845E3';
const when = new Date(Date.UTC(2023, 4, 6, 12, 0, 0));

/** Materialises a part list (filler bytes are a repeating pattern). */
export function materialise(parts: FilePart[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.alloc(p, 0x5a) : p)));
}

export const jpegWithId = (id = CID, size = 3000): Buffer => materialise(jpegParts(size, { captureDate: when, contentId: id }));
export const heicWithId = (id = CID, size = 3000): Buffer => materialise(heicParts(size, { captureDate: when, contentId: id }));
export const movWithId = (o: MovOptions = { contentId: CID }, size = 4000): Buffer => materialise(movParts(size, when, o));

/** A RandomReader over a buffer (reads past the end return fewer bytes, as a file does). */
export function reader(buf: Buffer): RandomReader {
  return async (off, len) => buf.subarray(Math.min(off, buf.length), Math.min(buf.length, off + len));
}
