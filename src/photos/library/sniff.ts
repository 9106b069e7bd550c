/**
 * File type by content, not by name and not only by `ftyp`: iPhone Live Photo videos read over AFC can start
 * with `wide` + `mdat` and keep `moov` at the end, with no `ftyp` at all (metadata-extractor issue #737 and
 * metadata-extractor-dotnet PR #426, which fall back to the first top-level atom), and some ".HEIC" files are
 * JPEGs (libheif #111).
 *
 * | type | signature (offsets from 0) |
 * |---|---|
 * | jpeg | FF D8 FF |
 * | png | 89 50 4E 47 0D 0A 1A 0A |
 * | gif | "GIF87a" / "GIF89a" |
 * | heic / avif | [4,8) = "ftyp", major or a compatible brand in heic heix hevc hevx heim heis mif1 msf1 (avif avis → avif) |
 * | mov | "ftyp" with brand "qt  "; or no ftyp and a first atom in wide mdat moov free skip pnot with a sane size |
 * | mp4 | "ftyp" with isom iso2 iso4 iso5 mp41 mp42 M4V  M4A  avc1 3gp4 3gp5 |
 * | dng / tiff | "II*\0" or "MM\0*"; dng when IFD0 has tag 50706 (0xC612, DNGVersion) |
 * | aae | XML plist ("<?xml" … "<plist") or "bplist00" |
 */
import { Bytes } from './bytes.ts';

export type MediaType = 'jpeg' | 'png' | 'gif' | 'heic' | 'avif' | 'mov' | 'mp4' | 'dng' | 'tiff' | 'plist' | 'unknown';

/** Bytes of the file's head that {@link sniffType} looks at; more is ignored. */
export const SNIFF_BYTES = 4096;

const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);
const AVIF_BRANDS = new Set(['avif', 'avis']);
const MP4_BRANDS = new Set(['isom', 'iso2', 'iso4', 'iso5', 'iso6', 'mp41', 'mp42', 'M4V ', 'M4A ', 'avc1', '3gp4', '3gp5', 'dash']);
const MOV_FIRST_ATOMS = new Set(['wide', 'mdat', 'moov', 'free', 'skip', 'pnot']);
const TAG_DNG_VERSION = 0xc612;

function brands(v: Bytes, size: number): string[] {
  const end = Math.min(size, v.buf.length);
  const out = [v.latin1(8, 4)];
  for (let p = 16; p + 4 <= end; p += 4) out.push(v.latin1(p, 4));
  return out;
}

function ftypType(v: Bytes): MediaType {
  const size = v.u32(0);
  if (size < 16) return 'unknown';
  const b = brands(v, size);
  if (b[0] === 'qt  ') return 'mov';
  if (AVIF_BRANDS.has(b[0]!)) return 'avif';
  if (HEIF_BRANDS.has(b[0]!)) return 'heic';
  if (MP4_BRANDS.has(b[0]!)) return 'mp4';
  if (b.some((x) => HEIF_BRANDS.has(x))) return 'heic';
  if (b.some((x) => AVIF_BRANDS.has(x))) return 'avif';
  if (b.includes('qt  ')) return 'mov';
  if (b.some((x) => MP4_BRANDS.has(x))) return 'mp4';
  return 'unknown';
}

/** A first atom that only a QuickTime movie starts with, with a size that fits the file (or 0 = to the end, 1 = 64-bit). */
function movWithoutFtyp(v: Bytes, fileSize: number): boolean {
  const type = v.latin1(4, 4);
  if (!MOV_FIRST_ATOMS.has(type)) return false;
  const size = v.u32(0);
  if (size === 0) return true;
  if (size === 1) return v.buf.length >= 16 && v.uN(8, 8) >= 16 && v.uN(8, 8) <= fileSize;
  if (size < 8 || size > fileSize) return false;
  // a tiny leading atom (wide/free/skip) must be followed by another movie atom
  if (size + 8 <= v.buf.length && (type === 'wide' || type === 'free' || type === 'skip')) {
    return MOV_FIRST_ATOMS.has(v.latin1(size + 4, 4)) || v.latin1(size + 4, 4) === 'ftyp';
  }
  return true;
}

function tiffType(v: Bytes): MediaType {
  const le = v.latin1(0, 2) === 'II';
  const t = new Bytes(v.buf, 'tiff', le);
  const ifd = t.u32(4);
  if (ifd + 2 > t.buf.length) return 'tiff';
  const n = Math.min(t.u16(ifd), 1000);
  for (let i = 0; i < n && ifd + 2 + i * 12 + 2 <= t.buf.length; i++) {
    if (t.u16(ifd + 2 + i * 12) === TAG_DNG_VERSION) return 'dng';
  }
  return 'tiff';
}

/**
 * The media type of a file from its first bytes (give at least {@link SNIFF_BYTES} when the file is that
 * long) and its total size. Never throws: anything unrecognised is 'unknown'.
 */
export function sniffType(head: Buffer, fileSize: number): MediaType {
  const v = new Bytes(head, 'sniff');
  try {
    if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
    if (head.length >= 8 && v.latin1(0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
    if (head.length >= 6 && (v.latin1(0, 6) === 'GIF87a' || v.latin1(0, 6) === 'GIF89a')) return 'gif';
    if (head.length >= 8 && v.latin1(0, 8) === 'bplist00') return 'plist';
    if (head.length >= 8 && (v.latin1(0, 4) === 'II*\0' || v.latin1(0, 4) === 'MM\0*')) return tiffType(v);
    if (head.length >= 12 && v.latin1(4, 4) === 'ftyp') return ftypType(v);
    if (head.length >= 8 && movWithoutFtyp(v, fileSize)) return 'mov';
    const text = head.toString('latin1', 0, Math.min(head.length, 512)).replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
    if (text.startsWith('<?xml') && text.includes('<plist')) return 'plist';
    if (text.startsWith('<plist')) return 'plist';
  } catch {
    return 'unknown'; // a header cut short: not enough to tell
  }
  return 'unknown';
}

/** The usual upper-case extension for a type ('.HEIC', '.MOV', …), or undefined for unknown/plist. */
export function extensionFor(t: MediaType): string | undefined {
  const map: Partial<Record<MediaType, string>> = { jpeg: '.JPG', png: '.PNG', gif: '.GIF', heic: '.HEIC', avif: '.AVIF', mov: '.MOV', mp4: '.MP4', dng: '.DNG', tiff: '.TIF' };
  return map[t];
}

/** True for the video types. */
export function isVideoType(t: MediaType): boolean {
  return t === 'mov' || t === 'mp4';
}

/** True for the still-image types. */
export function isStillType(t: MediaType): boolean {
  return t === 'jpeg' || t === 'png' || t === 'gif' || t === 'heic' || t === 'avif' || t === 'dng' || t === 'tiff';
}
