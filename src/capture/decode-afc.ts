/** AFC decoding for captures: both directions of one AFC connection → {@link AfcEvent}s, replies matched by packet_num. */
import { AfcDecoder, parseKeyValues, parseNulList } from '../afc/codec.ts';
import { AfcOpcode, AfcStatus, opcodeName } from '../afc/protocol.ts';
import type { AfcEvent, Dir, NoteEvent } from './events.ts';

/** Leading u64 arguments per request opcode (the rest of the header payload is NUL-terminated strings). */
const U64_ARGS: Partial<Record<number, number>> = {
  [AfcOpcode.TruncateFile]: 1,
  [AfcOpcode.FileRefOpen]: 1,
  [AfcOpcode.FileRefRead]: 2,
  [AfcOpcode.FileRefWrite]: 1,
  [AfcOpcode.FileRefSeek]: 3,
  [AfcOpcode.FileRefTell]: 1,
  [AfcOpcode.FileRefClose]: 1,
  [AfcOpcode.FileRefSetFileSize]: 2,
  [AfcOpcode.FileRefLock]: 2,
  [AfcOpcode.MakeLink]: 1,
  [AfcOpcode.SetModTime]: 1,
  [AfcOpcode.GetDeviceInfo]: 0,
};

/** Ops whose header payload holds no strings. */
const NO_STRINGS = new Set<number>([
  AfcOpcode.FileRefRead, AfcOpcode.FileRefWrite, AfcOpcode.FileRefSeek, AfcOpcode.FileRefTell, AfcOpcode.FileRefClose,
  AfcOpcode.FileRefSetFileSize, AfcOpcode.FileRefLock, AfcOpcode.GetDeviceInfo,
]);

const STATUS_NAMES = new Map<number, string>(Object.entries(AfcStatus).map(([k, v]) => [v, k]));

/** Name of an AFC status value (the number as text when unknown). */
export function afcStatusName(s: number): string {
  return STATUS_NAMES.get(s) ?? String(s);
}

/** Data kept per reply to decode listings (bytes). */
const MAX_KEPT_DATA = 1024 * 1024;

interface Packet {
  offset: number;
  packetNum: number;
  operation: number;
  headerPayload: Buffer;
  dataLength: number;
  data: Buffer[];
  kept: number;
}

function packets(buf: Buffer, from: number, dir: Dir, stream: number, notes: NoteEvent[]): Packet[] {
  const out: Packet[] = [];
  const dec = new AfcDecoder({ maxData: 256 * 1024 * 1024 });
  dec.push(buf.subarray(from));
  let pos = from;
  let cur: Packet | undefined;
  try {
    for (;;) {
      const e = dec.next();
      if (!e) break;
      if (e.kind === 'header') {
        cur = { offset: pos, packetNum: e.header.packetNum, operation: e.header.operation, headerPayload: e.headerPayload, dataLength: 0, data: [], kept: 0 };
      } else if (e.kind === 'data' && cur) {
        cur.dataLength += e.chunk.length;
        if (cur.kept < MAX_KEPT_DATA) {
          cur.data.push(e.chunk);
          cur.kept += e.chunk.length;
        }
      } else if (e.kind === 'end' && cur) {
        out.push(cur);
        pos += e.header.entireLength;
        cur = undefined;
      }
    }
    if (dec.midPacket) notes.push({ layer: 'note', kind: 'truncated', stream, dir, offset: pos, length: buf.length - pos, note: `AFC packet cut off (${buf.length - pos} bytes)` });
  } catch (err) {
    const code = (err as { code?: string }).code;
    notes.push({ layer: 'note', kind: 'error', stream, dir, offset: pos, length: buf.length - pos, note: `AFC: ${(err as Error).message}`, ...(code ? { code } : {}) });
  }
  return out;
}

function requestEvent(p: Packet, stream: number, buf: Buffer): AfcEvent {
  const nArgs = U64_ARGS[p.operation] ?? 0;
  const args: number[] = [];
  const hp = p.headerPayload;
  for (let i = 0; i < nArgs && hp.length >= (i + 1) * 8; i++) {
    args.push(p.operation === AfcOpcode.FileRefSeek && i === 2 ? Number(hp.readBigInt64LE(i * 8)) : Number(hp.readBigUInt64LE(i * 8)));
  }
  const ev: AfcEvent = {
    layer: 'afc', stream, dir: 'c2s', offset: p.offset, length: 40 + hp.length + p.dataLength,
    packetNum: p.packetNum, operation: p.operation, opName: opcodeName(p.operation), dataLength: p.dataLength,
    raw: buf.subarray(p.offset, p.offset + 40 + hp.length + p.dataLength),
  };
  if (args.length) ev.args = args;
  if (!NO_STRINGS.has(p.operation) && hp.length > nArgs * 8) ev.paths = parseNulList(hp.subarray(nArgs * 8)).filter((s) => s !== '');
  return ev;
}

function replyEvent(p: Packet, stream: number, req: AfcEvent | undefined, buf: Buffer): AfcEvent {
  const hp = p.headerPayload;
  const ev: AfcEvent = {
    layer: 'afc', stream, dir: 's2c', offset: p.offset, length: 40 + hp.length + p.dataLength,
    packetNum: p.packetNum, operation: p.operation, opName: opcodeName(p.operation), dataLength: p.dataLength,
    raw: buf.subarray(p.offset, p.offset + 40 + hp.length + p.dataLength),
  };
  if (req) ev.inReplyTo = req.opName;
  const body = Buffer.concat([hp, ...p.data]);
  if (p.operation === AfcOpcode.Status || p.operation === AfcOpcode.FileRefOpenResult || p.operation === AfcOpcode.FileRefTellResult) {
    if (body.length >= 8) ev.status = Number(body.readBigUInt64LE(0));
    if (p.operation === AfcOpcode.Status && ev.status !== undefined) ev.statusName = afcStatusName(ev.status);
  } else if (p.operation === AfcOpcode.Data && req && p.kept >= p.dataLength) {
    try {
      if (req.operation === AfcOpcode.ReadDir) ev.names = parseNulList(body);
      else if (req.operation === AfcOpcode.GetFileInfo || req.operation === AfcOpcode.GetDeviceInfo) ev.info = { ...parseKeyValues(body) };
    } catch {
      // an odd key/value list stays undecoded; the event still carries its size
    }
  }
  return ev;
}

/**
 * Decodes an AFC connection: requests from `c2s[c2sFrom..]`, replies from `s2c[s2cFrom..]`.
 * Errors and truncation become notes (never thrown).
 */
export function decodeAfc(stream: number, c2s: Buffer, c2sFrom: number, s2c: Buffer, s2cFrom: number): (AfcEvent | NoteEvent)[] {
  const notes: NoteEvent[] = [];
  const reqs = packets(c2s, c2sFrom, 'c2s', stream, notes).map((p) => requestEvent(p, stream, c2s));
  // packet numbers may repeat: match replies in order (a read index per number, O(1) per reply)
  const byNum = new Map<number, { reqs: AfcEvent[]; next: number }>();
  for (const r of reqs) {
    const q = byNum.get(r.packetNum);
    if (q) q.reqs.push(r);
    else byNum.set(r.packetNum, { reqs: [r], next: 0 });
  }
  const matching = (num: number): AfcEvent | undefined => {
    const q = byNum.get(num);
    return q && q.next < q.reqs.length ? q.reqs[q.next++] : undefined;
  };
  const reps = packets(s2c, s2cFrom, 's2c', stream, notes).map((p) => replyEvent(p, stream, matching(p.packetNum), s2c));
  return [...reqs, ...reps, ...notes];
}
