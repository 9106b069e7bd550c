/**
 * Property lists: XML and binary (`bplist00`) codecs over the {@link PlistValue} model (./types.ts).
 * Pure functions, no I/O. Errors are {@link PlistError} with the codes listed in ./errors.ts.
 */
import { InvalidArgumentError } from '../core/errors.ts';
import { type PlistValue } from './types.ts';
import { PlistError, type PlistParseOptions, resolveLimits } from './errors.ts';
import { decodeXmlPlist } from './xml-decode.ts';
import { decodeBinaryPlist } from './binary-decode.ts';

export * from './types.ts';
export { PlistError, type PlistErrorCode, type PlistParseOptions, DEFAULT_MAX_BYTES, DEFAULT_MAX_OBJECTS, DEFAULT_MAX_DEPTH, MAX_DEPTH_LIMIT } from './errors.ts';
export { encodeXmlPlist } from './xml-encode.ts';
export { encodeBinaryPlist } from './binary-encode.ts';

const XML_STARTS = ['<?xml', '<plist', '<!DOCTYPE', '<!--'];

/**
 * Detects the plist format: `'binary'` for a `bplist00` prefix, `'xml'` when, after an optional UTF-8 BOM and
 * whitespace, the text starts with `<?xml`, `<plist`, `<!DOCTYPE` or a comment; otherwise `undefined`.
 */
export function detectPlistFormat(buf: Buffer): 'xml' | 'binary' | undefined {
  if (buf.length >= 8 && buf.toString('latin1', 0, 8) === 'bplist00') return 'binary';
  let i = 0;
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) i = 3;
  while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0a || buf[i] === 0x0d)) i++;
  const head = buf.toString('latin1', i, i + 9);
  return XML_STARTS.some((s) => head.startsWith(s)) ? 'xml' : undefined;
}

/**
 * Parses an XML or binary plist (auto-detected, see {@link detectPlistFormat}).
 * Defaults: maxBytes 64 MiB (input and total decoded data), maxObjects 1,000,000 values, maxDepth 512 (≤ 1000).
 * @throws PlistError ERR_PLIST_FORMAT (neither format), ERR_PLIST_SYNTAX, ERR_PLIST_TOO_LARGE, ERR_PLIST_CYCLE,
 *   ERR_PLIST_UNSUPPORTED (see ./errors.ts); InvalidArgumentError ERR_INVALID_ARG for a non-Buffer or bad limits
 */
export function parsePlist(input: Buffer | Uint8Array, opts?: PlistParseOptions): PlistValue {
  if (!(input instanceof Uint8Array)) throw new InvalidArgumentError('plist: parsePlist expects a Buffer');
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const limits = resolveLimits(opts);
  if (buf.length > limits.maxBytes) throw new PlistError('ERR_PLIST_TOO_LARGE', `input of ${buf.length} bytes exceeds ${limits.maxBytes}`);
  const fmt = detectPlistFormat(buf);
  if (fmt === 'binary') return decodeBinaryPlist(buf, limits);
  if (fmt === 'xml') return decodeXmlPlist(buf, limits);
  if (buf.length >= 6 && buf.toString('latin1', 0, 6) === 'bplist') return decodeBinaryPlist(buf, limits);
  throw new PlistError('ERR_PLIST_FORMAT', 'neither an XML nor a binary plist', 0);
}
