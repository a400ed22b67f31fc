/**
 * Writes hashicorp/raft messages byte-for-byte as Go's go-msgpack does.
 *
 * Hand-written rather than built on @msgpack/msgpack because Go sends `[]byte`
 * as the old-spec raw string (a0-bf, da, db) — never str8 (d9) nor bin
 * (c4-c6), which that library always picks for bytes — and because this is the
 * transport's hot path: each message is written straight into a slab with no
 * intermediate objects.
 *
 * Structs are maps whose keys are the Go field names in byte order, with the
 * embedded RPCHeader's fields (Addr, ID, ProtocolVersion) at the top level.
 */
import {
  RpcType,
  type AnyRequest,
  type AnyResponse,
  type AppendEntriesRequest,
  type AppendEntriesResponse,
  type InstallSnapshotRequest,
  type InstallSnapshotResponse,
  type Log,
  type RPCHeader,
  type RequestPreVoteRequest,
  type RequestPreVoteResponse,
  type RequestVoteRequest,
  type RequestVoteResponse,
  type TimeoutNowRequest,
  type TimeoutNowResponse,
} from '../../commands.ts';
import { InvalidValueError } from '../../errors.ts';
import { TIME_BINARY_LENGTH, writeTimeBinary, writeTimestamp } from './go-time.ts';
import type { WireFormat } from './wire-format.ts';

/** Default slab size: holds a few hundred small messages, or a few 64 KiB batches, so allocation is rare. */
const SLAB_SIZE = 256 * 1024;
/** Released slabs kept for reuse per writer. */
const SPARE_SLABS = 4;

/**
 * A slab and how many of its taken regions are still out. Once the writer
 * has moved past it and every region came back (`release`), its memory is
 * reused instead of left to the garbage collector: at hundreds of MB/s,
 * fresh buffers would make V8 run full collections every few dozen
 * milliseconds, stalling the event loop (and heartbeats) for milliseconds.
 */
class Slab {
  readonly buf: Buffer;
  out = 0;
  retired = false;
  /** Bound once per slab, so handing it to socket.write allocates nothing. */
  readonly release: () => void;

  constructor(buf: Buffer, spares: Slab[]) {
    this.buf = buf;
    this.release = () => {
      if (--this.out === 0 && this.retired) recycle(this, spares);
    };
  }
}

function recycle(slab: Slab, spares: Slab[]): void {
  if (slab.buf.length !== SLAB_SIZE || spares.length >= SPARE_SLABS) return;
  slab.retired = false;
  spares.push(slab);
}
/** Below this, a byte loop beats the native call behind TypedArray#set. */
const SMALL_COPY = 48;
const TWO_32 = 4_294_967_296;

/** A map key as go-msgpack writes it: fixstr header + ASCII name. */
function key(name: string): Uint8Array {
  const k = new Uint8Array(name.length + 1);
  k[0] = 0xa0 | name.length;
  for (let i = 0; i < name.length; i++) k[i + 1] = name.charCodeAt(i);
  return k;
}

const K_Addr = key('Addr');
const K_AppendedAt = key('AppendedAt');
const K_Candidate = key('Candidate');
const K_Configuration = key('Configuration');
const K_ConfigurationIndex = key('ConfigurationIndex');
const K_Data = key('Data');
const K_Entries = key('Entries');
const K_Extensions = key('Extensions');
const K_Granted = key('Granted');
const K_ID = key('ID');
const K_Index = key('Index');
const K_LastLog = key('LastLog');
const K_LastLogIndex = key('LastLogIndex');
const K_LastLogTerm = key('LastLogTerm');
const K_Leader = key('Leader');
const K_LeaderCommitIndex = key('LeaderCommitIndex');
const K_LeadershipTransfer = key('LeadershipTransfer');
const K_NoRetryBackoff = key('NoRetryBackoff');
const K_Peers = key('Peers');
const K_PrevLogEntry = key('PrevLogEntry');
const K_PrevLogTerm = key('PrevLogTerm');
const K_ProtocolVersion = key('ProtocolVersion');
const K_Size = key('Size');
const K_SnapshotVersion = key('SnapshotVersion');
const K_Success = key('Success');
const K_Term = key('Term');
const K_Type = key('Type');

/**
 * Upper bound of a struct's bytes besides its byte fields and entries: every
 * key (the longest Go struct has 12 fields, names <= 18 chars), every integer
 * at 9 bytes, every byte-field header at 5. Generous on purpose.
 */
const STRUCT_OVERHEAD = 12 * (19 + 9) + 16;
/** Upper bound of one Log besides its Data and Extensions (6 keys, 3 ints, 2 headers, a 16-byte time). */
const LOG_OVERHEAD = 6 * 11 + 3 * 9 + 2 * 5 + 17 + 8;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  if (typeof v === 'object') return v.constructor?.name ?? 'object';
  return typeof v;
}

function invalid(struct: string, field: string, expected: string, v: unknown): InvalidValueError {
  return new InvalidValueError(`${struct}.${field}: expected ${expected}, got ${describe(v)}`);
}

function byteLength(v: unknown): number {
  return v instanceof Uint8Array ? v.length : 0;
}

function putKey(b: Uint8Array, p: number, k: Uint8Array): number {
  const n = k.length;
  for (let i = 0; i < n; i++) b[p + i] = k[i]!;
  return p + n;
}

/** Unsigned rule (go-msgpack EncodeUint, and 0.5.5's EncodeInt for v >= 0): smallest width. */
function putUint(b: Uint8Array, p: number, v: number, struct: string, field: string): number {
  if (typeof v === 'number' && v >>> 0 === v) {
    if (v < 0x80) {
      b[p] = v;
      return p + 1;
    }
    if (v < 0x100) {
      b[p] = 0xcc;
      b[p + 1] = v;
      return p + 2;
    }
    if (v < 0x10000) {
      b[p] = 0xcd;
      b[p + 1] = v >>> 8;
      b[p + 2] = v;
      return p + 3;
    }
    b[p] = 0xce;
    b[p + 1] = v >>> 24;
    b[p + 2] = v >>> 16;
    b[p + 3] = v >>> 8;
    b[p + 4] = v;
    return p + 5;
  }
  if (!Number.isSafeInteger(v) || v < 0) throw invalid(struct, field, 'a non-negative safe integer', v);
  b[p] = 0xcf;
  return put64(b, p + 1, v);
}

/** Signed rule of go-msgpack v2 (EncodeInt): fixint up to 127, then the smallest signed width. */
function putInt(b: Uint8Array, p: number, v: number, latest: boolean, struct: string, field: string): number {
  if (!latest || typeof v !== 'number' || (v >= 0 && v < 0x80)) return putUint(b, p, v, struct, field);
  if (!Number.isSafeInteger(v) || v < 0) throw invalid(struct, field, 'a non-negative safe integer', v);
  if (v < 0x8000) {
    b[p] = 0xd1;
    b[p + 1] = v >>> 8;
    b[p + 2] = v;
    return p + 3;
  }
  if (v < 0x80000000) {
    b[p] = 0xd2;
    b[p + 1] = v >>> 24;
    b[p + 2] = v >>> 16;
    b[p + 3] = v >>> 8;
    b[p + 4] = v;
    return p + 5;
  }
  b[p] = 0xd3;
  return put64(b, p + 1, v);
}

function put64(b: Uint8Array, p: number, v: number): number {
  const hi = Math.floor(v / TWO_32);
  const lo = v - hi * TWO_32;
  b[p] = hi >>> 24;
  b[p + 1] = hi >>> 16;
  b[p + 2] = hi >>> 8;
  b[p + 3] = hi;
  b[p + 4] = lo >>> 24;
  b[p + 5] = lo >>> 16;
  b[p + 6] = lo >>> 8;
  b[p + 7] = lo;
  return p + 8;
}

function putBool(b: Uint8Array, p: number, v: boolean, struct: string, field: string): number {
  if (v === true) b[p] = 0xc3;
  else if (v === false) b[p] = 0xc2;
  else throw invalid(struct, field, 'a boolean', v);
  return p + 1;
}

/** Raw-string header for `n` bytes: fixstr, str16 or str32 — go-msgpack never writes str8. */
function putRawHeader(b: Uint8Array, p: number, n: number): number {
  if (n < 32) {
    b[p] = 0xa0 | n;
    return p + 1;
  }
  if (n < 0x10000) {
    b[p] = 0xda;
    b[p + 1] = n >>> 8;
    b[p + 2] = n;
    return p + 3;
  }
  b[p] = 0xdb;
  b[p + 1] = n >>> 24;
  b[p + 2] = n >>> 16;
  b[p + 3] = n >>> 8;
  b[p + 4] = n;
  return p + 5;
}

/** A Go []byte: nil → c0, otherwise a raw string (empty → a0). */
function putBytes(b: Uint8Array, p: number, v: Uint8Array | null | undefined, struct: string, field: string): number {
  if (v === null || v === undefined) {
    b[p] = 0xc0;
    return p + 1;
  }
  if (!(v instanceof Uint8Array)) throw invalid(struct, field, 'a Uint8Array or null', v);
  const n = v.length;
  if (n > 0xffffffff) throw invalid(struct, field, 'at most 4 GiB - 1 bytes', v);
  p = putRawHeader(b, p, n);
  if (n < SMALL_COPY) {
    for (let i = 0; i < n; i++) b[p + i] = v[i]!;
  } else {
    b.set(v, p);
  }
  return p + n;
}

function headerOf(r: { rpcHeader: RPCHeader }, struct: string): RPCHeader {
  const h = r?.rpcHeader;
  if (h === null || typeof h !== 'object') throw invalid(struct, 'rpcHeader', 'an RPCHeader object', h);
  return h;
}

function headerSize(h: RPCHeader, latest: boolean): number {
  return latest ? byteLength(h.addr) + byteLength(h.id) : 0;
}

// ---- Structs. Each writes keys in byte-sorted order, as Go does. ----

function putLog(b: Uint8Array, p: number, e: Log, latest: boolean, msgpackTime: boolean): number {
  const S = 'Log';
  if (e === null || typeof e !== 'object') throw invalid('AppendEntriesRequest', 'Entries[]', 'a Log object', e);
  b[p++] = latest ? 0x86 : 0x85;
  if (latest) {
    p = putKey(b, p, K_AppendedAt);
    if (msgpackTime) {
      const n = writeTimestamp(e.appendedAt, b, p + 1, 'Log.AppendedAt');
      b[p] = n === 0 ? 0xc0 : 0xa0 | n;
      p += 1 + n;
    } else {
      b[p] = 0xa0 | TIME_BINARY_LENGTH;
      writeTimeBinary(e.appendedAt, b, p + 1, 'Log.AppendedAt');
      p += 1 + TIME_BINARY_LENGTH;
    }
  }
  p = putKey(b, p, K_Data);
  p = putBytes(b, p, e.data, S, 'Data');
  p = putKey(b, p, K_Extensions);
  p = putBytes(b, p, e.extensions, S, 'Extensions');
  p = putKey(b, p, K_Index);
  p = putUint(b, p, e.index, S, 'Index');
  p = putKey(b, p, K_Term);
  p = putUint(b, p, e.term, S, 'Term');
  p = putKey(b, p, K_Type);
  const t = e.type;
  if (!(typeof t === 'number' && t >>> 0 === t && t < 0x100)) throw invalid(S, 'Type', 'an integer in 0..255', t);
  return putUint(b, p, t, S, 'Type');
}

function sizeAppendEntriesRequest(r: AppendEntriesRequest, latest: boolean): number {
  const S = 'AppendEntriesRequest';
  let n = STRUCT_OVERHEAD + headerSize(headerOf(r, S), latest) + byteLength(r.leader);
  const entries = r.entries;
  if (Array.isArray(entries)) {
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e !== null && typeof e === 'object') n += LOG_OVERHEAD + byteLength(e.data) + byteLength(e.extensions);
    }
  }
  return n;
}

function putAppendEntriesRequest(
  b: Uint8Array,
  p: number,
  r: AppendEntriesRequest,
  latest: boolean,
  msgpackTime: boolean,
): number {
  const S = 'AppendEntriesRequest';
  const h = r.rpcHeader;
  b[p++] = latest ? 0x89 : 0x87;
  if (latest) {
    p = putKey(b, p, K_Addr);
    p = putBytes(b, p, h.addr, S, 'Addr');
  }
  p = putKey(b, p, K_Entries);
  const entries = r.entries;
  if (entries === null || entries === undefined) {
    b[p++] = 0xc0;
  } else if (Array.isArray(entries)) {
    const n = entries.length;
    if (n < 16) {
      b[p++] = 0x90 | n;
    } else if (n < 0x10000) {
      b[p] = 0xdc;
      b[p + 1] = n >>> 8;
      b[p + 2] = n;
      p += 3;
    } else {
      b[p] = 0xdd;
      b[p + 1] = n >>> 24;
      b[p + 2] = n >>> 16;
      b[p + 3] = n >>> 8;
      b[p + 4] = n;
      p += 5;
    }
    for (let i = 0; i < n; i++) p = putLog(b, p, entries[i]!, latest, msgpackTime);
  } else {
    throw invalid(S, 'Entries', 'an array of Log or null', entries);
  }
  if (latest) {
    p = putKey(b, p, K_ID);
    p = putBytes(b, p, h.id, S, 'ID');
  }
  p = putKey(b, p, K_Leader);
  p = putBytes(b, p, r.leader, S, 'Leader');
  p = putKey(b, p, K_LeaderCommitIndex);
  p = putUint(b, p, r.leaderCommitIndex, S, 'LeaderCommitIndex');
  p = putKey(b, p, K_PrevLogEntry);
  p = putUint(b, p, r.prevLogEntry, S, 'PrevLogEntry');
  p = putKey(b, p, K_PrevLogTerm);
  p = putUint(b, p, r.prevLogTerm, S, 'PrevLogTerm');
  p = putKey(b, p, K_ProtocolVersion);
  p = putInt(b, p, h.protocolVersion, latest, S, 'ProtocolVersion');
  p = putKey(b, p, K_Term);
  return putUint(b, p, r.term, S, 'Term');
}

function putAppendEntriesResponse(b: Uint8Array, p: number, r: AppendEntriesResponse, latest: boolean): number {
  const S = 'AppendEntriesResponse';
  const h = r.rpcHeader;
  b[p++] = latest ? 0x87 : 0x85;
  if (latest) {
    p = putKey(b, p, K_Addr);
    p = putBytes(b, p, h.addr, S, 'Addr');
    p = putKey(b, p, K_ID);
    p = putBytes(b, p, h.id, S, 'ID');
  }
  p = putKey(b, p, K_LastLog);
  p = putUint(b, p, r.lastLog, S, 'LastLog');
  p = putKey(b, p, K_NoRetryBackoff);
  p = putBool(b, p, r.noRetryBackoff, S, 'NoRetryBackoff');
  p = putKey(b, p, K_ProtocolVersion);
  p = putInt(b, p, h.protocolVersion, latest, S, 'ProtocolVersion');
  p = putKey(b, p, K_Success);
  p = putBool(b, p, r.success, S, 'Success');
  p = putKey(b, p, K_Term);
  return putUint(b, p, r.term, S, 'Term');
}

function putRequestVoteRequest(b: Uint8Array, p: number, r: RequestVoteRequest, latest: boolean): number {
  const S = 'RequestVoteRequest';
  const h = r.rpcHeader;
  b[p++] = latest ? 0x88 : 0x86;
  if (latest) {
    p = putKey(b, p, K_Addr);
    p = putBytes(b, p, h.addr, S, 'Addr');
  }
  p = putKey(b, p, K_Candidate);
  p = putBytes(b, p, r.candidate, S, 'Candidate');
  if (latest) {
    p = putKey(b, p, K_ID);
    p = putBytes(b, p, h.id, S, 'ID');
  }
  p = putKey(b, p, K_LastLogIndex);
  p = putUint(b, p, r.lastLogIndex, S, 'LastLogIndex');
  p = putKey(b, p, K_LastLogTerm);
  p = putUint(b, p, r.lastLogTerm, S, 'LastLogTerm');
  p = putKey(b, p, K_LeadershipTransfer);
  p = putBool(b, p, r.leadershipTransfer, S, 'LeadershipTransfer');
  p = putKey(b, p, K_ProtocolVersion);
  p = putInt(b, p, h.protocolVersion, latest, S, 'ProtocolVersion');
  p = putKey(b, p, K_Term);
  return putUint(b, p, r.term, S, 'Term');
}

function putRequestVoteResponse(b: Uint8Array, p: number, r: RequestVoteResponse, latest: boolean): number {
  const S = 'RequestVoteResponse';
  const h = r.rpcHeader;
  b[p++] = latest ? 0x86 : 0x84;
  if (latest) {
    p = putKey(b, p, K_Addr);
    p = putBytes(b, p, h.addr, S, 'Addr');
  }
  p = putKey(b, p, K_Granted);
  p = putBool(b, p, r.granted, S, 'Granted');
  if (latest) {
    p = putKey(b, p, K_ID);
    p = putBytes(b, p, h.id, S, 'ID');
  }
  p = putKey(b, p, K_Peers);
  p = putBytes(b, p, r.peers, S, 'Peers');
  p = putKey(b, p, K_ProtocolVersion);
  p = putInt(b, p, h.protocolVersion, latest, S, 'ProtocolVersion');
  p = putKey(b, p, K_Term);
  return putUint(b, p, r.term, S, 'Term');
}

function putInstallSnapshotRequest(b: Uint8Array, p: number, r: InstallSnapshotRequest, latest: boolean): number {
  const S = 'InstallSnapshotRequest';
  const h = r.rpcHeader;
  b[p++] = latest ? 0x8c : 0x8a;
  if (latest) {
    p = putKey(b, p, K_Addr);
    p = putBytes(b, p, h.addr, S, 'Addr');
  }
  p = putKey(b, p, K_Configuration);
  p = putBytes(b, p, r.configuration, S, 'Configuration');
  p = putKey(b, p, K_ConfigurationIndex);
  p = putUint(b, p, r.configurationIndex, S, 'ConfigurationIndex');
  if (latest) {
    p = putKey(b, p, K_ID);
    p = putBytes(b, p, h.id, S, 'ID');
  }
  p = putKey(b, p, K_LastLogIndex);
  p = putUint(b, p, r.lastLogIndex, S, 'LastLogIndex');
  p = putKey(b, p, K_LastLogTerm);
  p = putUint(b, p, r.lastLogTerm, S, 'LastLogTerm');
  p = putKey(b, p, K_Leader);
  p = putBytes(b, p, r.leader, S, 'Leader');
  p = putKey(b, p, K_Peers);
  p = putBytes(b, p, r.peers, S, 'Peers');
  p = putKey(b, p, K_ProtocolVersion);
  p = putInt(b, p, h.protocolVersion, latest, S, 'ProtocolVersion');
  p = putKey(b, p, K_Size);
  p = putInt(b, p, r.size, latest, S, 'Size');
  p = putKey(b, p, K_SnapshotVersion);
  p = putInt(b, p, r.snapshotVersion, latest, S, 'SnapshotVersion');
  p = putKey(b, p, K_Term);
  return putUint(b, p, r.term, S, 'Term');
}

function putInstallSnapshotResponse(b: Uint8Array, p: number, r: InstallSnapshotResponse, latest: boolean): number {
  const S = 'InstallSnapshotResponse';
  const h = r.rpcHeader;
  b[p++] = latest ? 0x85 : 0x83;
  if (latest) {
    p = putKey(b, p, K_Addr);
    p = putBytes(b, p, h.addr, S, 'Addr');
    p = putKey(b, p, K_ID);
    p = putBytes(b, p, h.id, S, 'ID');
  }
  p = putKey(b, p, K_ProtocolVersion);
  p = putInt(b, p, h.protocolVersion, latest, S, 'ProtocolVersion');
  p = putKey(b, p, K_Success);
  p = putBool(b, p, r.success, S, 'Success');
  p = putKey(b, p, K_Term);
  return putUint(b, p, r.term, S, 'Term');
}

/** TimeoutNow request and response are both just the header. */
function putHeaderOnly(b: Uint8Array, p: number, r: TimeoutNowRequest | TimeoutNowResponse, latest: boolean, S: string): number {
  const h = r.rpcHeader;
  b[p++] = latest ? 0x83 : 0x81;
  if (latest) {
    p = putKey(b, p, K_Addr);
    p = putBytes(b, p, h.addr, S, 'Addr');
    p = putKey(b, p, K_ID);
    p = putBytes(b, p, h.id, S, 'ID');
  }
  p = putKey(b, p, K_ProtocolVersion);
  return putInt(b, p, h.protocolVersion, latest, S, 'ProtocolVersion');
}

/** RequestPreVote only exists in raft 1.7; with fields 'v1.1' it still carries its own fields, minus ID/Addr. */
function putRequestPreVoteRequest(b: Uint8Array, p: number, r: RequestPreVoteRequest, latest: boolean): number {
  const S = 'RequestPreVoteRequest';
  const h = r.rpcHeader;
  b[p++] = latest ? 0x86 : 0x84;
  if (latest) {
    p = putKey(b, p, K_Addr);
    p = putBytes(b, p, h.addr, S, 'Addr');
    p = putKey(b, p, K_ID);
    p = putBytes(b, p, h.id, S, 'ID');
  }
  p = putKey(b, p, K_LastLogIndex);
  p = putUint(b, p, r.lastLogIndex, S, 'LastLogIndex');
  p = putKey(b, p, K_LastLogTerm);
  p = putUint(b, p, r.lastLogTerm, S, 'LastLogTerm');
  p = putKey(b, p, K_ProtocolVersion);
  p = putInt(b, p, h.protocolVersion, latest, S, 'ProtocolVersion');
  p = putKey(b, p, K_Term);
  return putUint(b, p, r.term, S, 'Term');
}

function putRequestPreVoteResponse(b: Uint8Array, p: number, r: RequestPreVoteResponse, latest: boolean): number {
  const S = 'RequestPreVoteResponse';
  const h = r.rpcHeader;
  b[p++] = latest ? 0x85 : 0x83;
  if (latest) {
    p = putKey(b, p, K_Addr);
    p = putBytes(b, p, h.addr, S, 'Addr');
  }
  p = putKey(b, p, K_Granted);
  p = putBool(b, p, r.granted, S, 'Granted');
  if (latest) {
    p = putKey(b, p, K_ID);
    p = putBytes(b, p, h.id, S, 'ID');
  }
  p = putKey(b, p, K_ProtocolVersion);
  p = putInt(b, p, h.protocolVersion, latest, S, 'ProtocolVersion');
  p = putKey(b, p, K_Term);
  return putUint(b, p, r.term, S, 'Term');
}

const ZERO_HEADER: RPCHeader = Object.freeze({ protocolVersion: 0, id: null, addr: null });

/** Go's zero value of each response, sent when a handler answers with only an error. */
const ZERO_RESPONSES: { readonly [T in RpcType]: AnyResponse } = {
  [RpcType.AppendEntries]: { rpcHeader: ZERO_HEADER, term: 0, lastLog: 0, success: false, noRetryBackoff: false },
  [RpcType.RequestVote]: { rpcHeader: ZERO_HEADER, term: 0, peers: null, granted: false },
  [RpcType.InstallSnapshot]: { rpcHeader: ZERO_HEADER, term: 0, success: false },
  [RpcType.TimeoutNow]: { rpcHeader: ZERO_HEADER },
  [RpcType.RequestPreVote]: { rpcHeader: ZERO_HEADER, term: 0, granted: false },
};

const RESPONSE_NAMES = [
  'AppendEntriesResponse',
  'RequestVoteResponse',
  'InstallSnapshotResponse',
  'TimeoutNowResponse',
  'RequestPreVoteResponse',
];

function unknownType(type: number): InvalidValueError {
  return new InvalidValueError(`unknown RPC type ${String(type)}`);
}

/**
 * Batches encoded messages into one buffer per flush. Messages are appended
 * to a slab and handed out with take(); a slab region is never written again
 * once taken, so callers may pass it to `socket.write` without copying, and
 * many messages coalesce into a single write.
 */
export class MessageWriter {
  readonly #latest: boolean;
  readonly #msgpackTime: boolean;
  readonly #spares: Slab[] = [];
  #current: Slab = new Slab(Buffer.alloc(0), this.#spares);
  #slab: Buffer = this.#current.buf;
  #start = 0;
  #pos = 0;

  constructor(format?: WireFormat) {
    const fields = format?.fields ?? 'latest';
    const timeFormat = format?.timeFormat ?? 'binary';
    if (fields !== 'latest' && fields !== 'v1.1') throw new RangeError(`unknown WireFormat.fields: ${String(fields)}`);
    if (timeFormat !== 'binary' && timeFormat !== 'msgpack') {
      throw new RangeError(`unknown WireFormat.timeFormat: ${String(timeFormat)}`);
    }
    this.#latest = fields === 'latest';
    this.#msgpackTime = timeFormat === 'msgpack';
  }

  /** Bytes appended since the last take(). */
  get pending(): number {
    return this.#pos - this.#start;
  }

  /**
   * Returns the pending bytes as one Buffer and starts a new batch. The
   * returned Buffer is a subarray of an internal slab that is not written
   * again until its region is released (slab pattern, like Node's Buffer
   * pool), so it is safe to hand to socket.write without copying. Never
   * released, it is never written again.
   */
  take(): Buffer {
    const out = this.#slab.subarray(this.#start, this.#pos);
    this.#start = this.#pos;
    this.#current.out++;
    return out;
  }

  /**
   * The release function of the slab the last take() came from: call it once
   * nobody reads that Buffer any more, and the slab can be reused. Only a
   * socket that copies on write (net.Socket: see BatchWriter) is done with it
   * when write's callback runs; an in-process Duplex may have handed the very
   * Buffer to its reader. Regions never released just keep their slab out of
   * reuse, so forgetting is safe.
   */
  releaser(): () => void {
    return this.#current.release;
  }

  /** Appends type byte + request map. */
  writeRequest(type: RpcType, req: AnyRequest): void {
    const latest = this.#latest;
    let b: Buffer;
    let p: number;
    switch (type) {
      case RpcType.AppendEntries: {
        const r = req as AppendEntriesRequest;
        b = this.#reserve(1 + sizeAppendEntriesRequest(r, latest));
        p = this.#pos;
        b[p] = type;
        p = putAppendEntriesRequest(b, p + 1, r, latest, this.#msgpackTime);
        break;
      }
      case RpcType.RequestVote: {
        const r = req as RequestVoteRequest;
        const S = 'RequestVoteRequest';
        b = this.#reserve(1 + STRUCT_OVERHEAD + headerSize(headerOf(r, S), latest) + byteLength(r.candidate));
        p = this.#pos;
        b[p] = type;
        p = putRequestVoteRequest(b, p + 1, r, latest);
        break;
      }
      case RpcType.InstallSnapshot: {
        const r = req as InstallSnapshotRequest;
        const S = 'InstallSnapshotRequest';
        b = this.#reserve(
          1 +
            STRUCT_OVERHEAD +
            headerSize(headerOf(r, S), latest) +
            byteLength(r.configuration) +
            byteLength(r.leader) +
            byteLength(r.peers),
        );
        p = this.#pos;
        b[p] = type;
        p = putInstallSnapshotRequest(b, p + 1, r, latest);
        break;
      }
      case RpcType.TimeoutNow: {
        const r = req as TimeoutNowRequest;
        const S = 'TimeoutNowRequest';
        b = this.#reserve(1 + STRUCT_OVERHEAD + headerSize(headerOf(r, S), latest));
        p = this.#pos;
        b[p] = type;
        p = putHeaderOnly(b, p + 1, r, latest, S);
        break;
      }
      case RpcType.RequestPreVote: {
        const r = req as RequestPreVoteRequest;
        const S = 'RequestPreVoteRequest';
        b = this.#reserve(1 + STRUCT_OVERHEAD + headerSize(headerOf(r, S), latest));
        p = this.#pos;
        b[p] = type;
        p = putRequestPreVoteRequest(b, p + 1, r, latest);
        break;
      }
      default:
        throw unknownType(type);
    }
    // Only now does the message become pending: a throw above leaves #pos untouched.
    this.#pos = p;
  }

  /**
   * Appends error string (a0 when none; UTF-8 as raw str) + response map. A
   * null response with an error writes the zero-valued response map of that
   * type (Go clients decode it fine).
   */
  writeResponse(type: RpcType, resp: AnyResponse | null, error?: string): void {
    const latest = this.#latest;
    const r = resp ?? ZERO_RESPONSES[type];
    if (r === undefined) throw unknownType(type);
    let errBytes = 0;
    if (error !== undefined && error !== '') {
      if (typeof error !== 'string') throw new InvalidValueError(`response error: expected a string, got ${describe(error)}`);
      errBytes = Buffer.byteLength(error, 'utf8');
    }
    let extra = errBytes + headerSize(headerOf(r, RESPONSE_NAMES[type] ?? 'response'), latest);
    if (type === RpcType.RequestVote) extra += byteLength((r as RequestVoteResponse).peers);
    const b = this.#reserve(5 + STRUCT_OVERHEAD + extra);
    let p = putRawHeader(b, this.#pos, errBytes);
    if (errBytes > 0) p += b.write(error!, p, errBytes, 'utf8');
    switch (type) {
      case RpcType.AppendEntries:
        p = putAppendEntriesResponse(b, p, r as AppendEntriesResponse, latest);
        break;
      case RpcType.RequestVote:
        p = putRequestVoteResponse(b, p, r as RequestVoteResponse, latest);
        break;
      case RpcType.InstallSnapshot:
        p = putInstallSnapshotResponse(b, p, r as InstallSnapshotResponse, latest);
        break;
      case RpcType.TimeoutNow:
        p = putHeaderOnly(b, p, r as TimeoutNowResponse, latest, 'TimeoutNowResponse');
        break;
      case RpcType.RequestPreVote:
        p = putRequestPreVoteResponse(b, p, r as RequestPreVoteResponse, latest);
        break;
      default:
        throw unknownType(type);
    }
    this.#pos = p;
  }

  /**
   * Makes room for `need` more bytes and returns the slab to write into at
   * #pos. Pending (untaken) bytes move to the new slab; taken ones stay where
   * they are, untouched.
   */
  #reserve(need: number): Buffer {
    const slab = this.#slab;
    if (slab.length - this.#pos >= need) return slab;
    const pending = this.#pos - this.#start;
    const size = Math.max(SLAB_SIZE, pending * 2 + need);
    const spare = size === SLAB_SIZE ? this.#spares.pop() : undefined;
    const next = spare ?? new Slab(Buffer.allocUnsafeSlow(size), this.#spares);
    if (pending > 0) slab.copy(next.buf, 0, this.#start, this.#pos);
    const old = this.#current;
    old.retired = true;
    if (old.out === 0) recycle(old, this.#spares);
    this.#current = next;
    this.#slab = next.buf;
    this.#start = 0;
    this.#pos = pending;
    return next.buf;
  }
}
