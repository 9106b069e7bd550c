/**
 * A small baseline JPEG encoder (pure, no I/O) for the virtual iPhone's decodable pictures: thumbnail-store
 * JPEGs and test images with an EXIF thumbnail. YCbCr 4:4:4, 8×8 float DCT, quality-scaled Annex K
 * quantisation tables, one fixed Huffman table pair per component class (written in DHT, so any complete
 * canonical code decodes), byte stuffing after 0xFF. Output is deterministic for the same pixels.
 *
 * Segments: SOI, [APP1 "Exif\0\0" + TIFF], DQT ×2, SOF0 (3 components, 1×1 sampling), DHT ×4, SOS, scan, EOI.
 */

const LUMA_Q = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
  18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_Q = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, ...Array<number>(32).fill(99)];

/** Zigzag scan order: natural index of the k-th coefficient. */
const ZIGZAG: Int32Array = Int32Array.from((() => {
  const out: number[] = [];
  for (let s = 0; s < 15; s++) {
    const cells: number[] = [];
    for (let y = 0; y < 8; y++) {
      const x = s - y;
      if (x >= 0 && x < 8) cells.push(y * 8 + x);
    }
    out.push(...(s % 2 === 0 ? cells.reverse() : cells)); // even diagonals run bottom-left → top-right
  }
  return out;
})());

/** A Huffman table: DHT counts (code lengths 1–16) + symbols, and the code and length of each symbol. */
interface Huff {
  bits: number[];
  vals: number[];
  code: Int32Array;
  size: Int32Array;
}

/** Canonical codes for `vals` given `bits` counts (JPEG Annex C). */
function huff(bits: number[], vals: number[]): Huff {
  const code = new Int32Array(256);
  const size = new Int32Array(256);
  let c = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < bits[len - 1]!; i++) {
      code[vals[k]!] = c++;
      size[vals[k++]!] = len;
    }
    c <<= 1;
  }
  return { bits, vals, code, size };
}

/**
 * Every AC symbol: EOB first, then run (0–15) × size (1–10) cheapest-looking first, ZRL last; with the Annex K
 * length counts below the frequent symbols (short runs of small values) get the short codes.
 */
const AC_SYMBOLS = [
  0x00,
  ...Array.from({ length: 160 }, (_, i) => ({ run: i % 16, size: 1 + Math.floor(i / 16) }))
    .sort((a, b) => a.size + 1.5 * a.run - (b.size + 1.5 * b.run) || a.run - b.run)
    .map((x) => (x.run << 4) | x.size),
  0xf0,
];
const AC_BITS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 125];
const DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_TABLE = huff(DC_BITS, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
const AC_TABLE = huff(AC_BITS, AC_SYMBOLS);

class BitWriter {
  #out = new Uint8Array(4096);
  #len = 0;
  #acc = 0;
  #n = 0;
  /** Appends the low `len` bits of `code` (len ≤ 16). */
  put(code: number, len: number): void {
    this.#acc = ((this.#acc << len) | (code & ((1 << len) - 1))) >>> 0;
    this.#n += len;
    while (this.#n >= 8) {
      this.#n -= 8;
      const b = (this.#acc >>> this.#n) & 0xff;
      this.#byte(b);
      if (b === 0xff) this.#byte(0x00); // byte stuffing
    }
    this.#acc &= (1 << this.#n) - 1;
  }
  #byte(b: number): void {
    if (this.#len === this.#out.length) {
      const bigger = new Uint8Array(this.#out.length * 2);
      bigger.set(this.#out);
      this.#out = bigger;
    }
    this.#out[this.#len++] = b;
  }
  finish(): Buffer {
    if (this.#n > 0) this.put((1 << (8 - this.#n)) - 1, 8 - this.#n); // pad with 1-bits
    return Buffer.from(this.#out.subarray(0, this.#len));
  }
}

function scaled(table: number[], quality: number): number[] {
  const q = Math.min(100, Math.max(1, quality));
  const f = q < 50 ? 5000 / q : 200 - q * 2;
  return table.map((v) => Math.min(255, Math.max(1, Math.floor((v * f + 50) / 100))));
}

const COS = Float64Array.from({ length: 64 }, (_, i) => Math.cos(((2 * (i % 8) + 1) * Math.floor(i / 8) * Math.PI) / 16));

const FDCT_TMP = new Float64Array(64);
const FDCT_OUT = new Float64Array(64);

/** Forward DCT of one 8×8 block (level-shifted samples), natural order; the result is reused by the next call. */
function fdct(b: Float64Array): Float64Array {
  const tmp = FDCT_TMP;
  const out = FDCT_OUT;
  for (let y = 0; y < 8; y++) {
    const row = y * 8;
    for (let u = 0; u < 8; u++) {
      const cu = u * 8;
      let s = 0;
      for (let x = 0; x < 8; x++) s += b[row + x]! * COS[cu + x]!;
      tmp[row + u] = u === 0 ? s * Math.SQRT1_2 * 0.5 : s * 0.5;
    }
  }
  for (let u = 0; u < 8; u++) {
    for (let v = 0; v < 8; v++) {
      const cv = v * 8;
      let s = 0;
      for (let y = 0; y < 8; y++) s += tmp[y * 8 + u]! * COS[cv + y]!;
      out[cv + u] = v === 0 ? s * Math.SQRT1_2 * 0.5 : s * 0.5;
    }
  }
  return out;
}

function category(v: number): number {
  let a = Math.abs(v);
  let n = 0;
  while (a > 0) {
    n++;
    a >>= 1;
  }
  return n;
}

function encodeBlock(w: BitWriter, block: Float64Array, q: number[], prevDc: number): number {
  const coef = fdct(block);
  const zz = new Int32Array(64);
  for (let k = 0; k < 64; k++) zz[k] = Math.round(coef[ZIGZAG[k]!]! / q[ZIGZAG[k]!]!);
  const dc = zz[0]!;
  const diff = dc - prevDc;
  const dcat = category(diff);
  w.put(DC_TABLE.code[dcat]!, DC_TABLE.size[dcat]!);
  if (dcat > 0) w.put(diff > 0 ? diff : diff + (1 << dcat) - 1, dcat);
  let run = 0;
  for (let k = 1; k < 64; k++) {
    const v = Math.max(-1023, Math.min(1023, zz[k]!));
    if (v === 0) {
      run++;
      continue;
    }
    while (run > 15) {
      w.put(AC_TABLE.code[0xf0]!, AC_TABLE.size[0xf0]!);
      run -= 16;
    }
    const cat = category(v);
    const sym = (run << 4) | cat;
    w.put(AC_TABLE.code[sym]!, AC_TABLE.size[sym]!);
    w.put(v > 0 ? v : v + (1 << cat) - 1, cat);
    run = 0;
  }
  if (run > 0) w.put(AC_TABLE.code[0x00]!, AC_TABLE.size[0x00]!);
  return dc;
}

function segment(marker: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(marker, 0);
  h.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([h, payload]);
}

function dht(tableClass: number, id: number, t: Huff): Buffer {
  return segment(0xffc4, Buffer.from([(tableClass << 4) | id, ...t.bits, ...t.vals]));
}

/** Options of {@link encodeJpeg}. */
export interface JpegEncodeOptions {
  /** 1–100 (default 85). */
  quality?: number;
  /** A TIFF block to embed as APP1 "Exif\0\0" (e.g. with an IFD1 thumbnail). */
  exifTiff?: Buffer;
}

/**
 * Encodes `rgb` (width × height × 3 bytes, row-major) as a baseline JPEG.
 * @throws RangeError when the pixel buffer does not match the size (a caller bug)
 */
export function encodeJpeg(rgb: Uint8Array, width: number, height: number, o: JpegEncodeOptions = {}): Buffer {
  if (!(width >= 1 && height >= 1 && width <= 65535 && height <= 65535) || rgb.length !== width * height * 3) {
    throw new RangeError(`encodeJpeg: ${rgb.length} bytes for ${width}×${height}`);
  }
  const ql = scaled(LUMA_Q, o.quality ?? 85);
  const qc = scaled(CHROMA_Q, o.quality ?? 85);
  const w = new BitWriter();
  const prev = [0, 0, 0];
  const blocks = [new Float64Array(64), new Float64Array(64), new Float64Array(64)];
  for (let by = 0; by < height; by += 8) {
    for (let bx = 0; bx < width; bx += 8) {
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) {
          const px = Math.min(width - 1, bx + x);
          const py = Math.min(height - 1, by + y);
          const i = (py * width + px) * 3;
          const r = rgb[i]!, g = rgb[i + 1]!, b = rgb[i + 2]!;
          blocks[0]![y * 8 + x] = 0.299 * r + 0.587 * g + 0.114 * b - 128;
          blocks[1]![y * 8 + x] = -0.168736 * r - 0.331264 * g + 0.5 * b;
          blocks[2]![y * 8 + x] = 0.5 * r - 0.418688 * g - 0.081312 * b;
        }
      }
      for (let c = 0; c < 3; c++) prev[c] = encodeBlock(w, blocks[c]!, c === 0 ? ql : qc, prev[c]!);
    }
  }
  const zigzag = (t: number[]): number[] => Array.from(ZIGZAG, (i) => t[i]!); // DQT lists the table in zigzag order
  const sof = Buffer.from([8, height >> 8, height & 255, width >> 8, width & 255, 3, 1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1]);
  const parts: Buffer[] = [Buffer.from([0xff, 0xd8])];
  if (o.exifTiff) parts.push(segment(0xffe1, Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), o.exifTiff])));
  parts.push(
    segment(0xffdb, Buffer.from([0x00, ...zigzag(ql)])),
    segment(0xffdb, Buffer.from([0x01, ...zigzag(qc)])),
    segment(0xffc0, sof),
    dht(0, 0, DC_TABLE), dht(1, 0, AC_TABLE), dht(0, 1, DC_TABLE), dht(1, 1, AC_TABLE),
    segment(0xffda, Buffer.from([3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0])),
    w.finish(),
    Buffer.from([0xff, 0xd9]),
  );
  return Buffer.concat(parts);
}
