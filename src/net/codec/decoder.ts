/**
 * Turns one complete msgpack value (as FrameReader returns it) into a typed
 * hashicorp/raft command, validating as Go's decoder would: unknown keys are
 * skipped, missing keys (and nil) are Go's zero value, a wrong type for a
 * known field is a ProtocolError naming the field, an integer above 2^53 - 1
 * is an InvalidValueError rather than a silently rounded number.
 *
 * Decoded objects are canonical: every field is present, optional ones as
 * null when absent, in the order the interfaces declare them. Byte fields
 * are views into the input (no copies), so the input must not be reused:
 * FrameReader gives each value memory of its own for this reason.
 *
 * The input is one buffer, or the parts of a value split across socket
 * reads in order (FrameReader.readValueParts): a value that spans two
 * 64 KiB read chunks is then decoded where it lies instead of being copied
 * whole into one buffer first. Only an item that straddles two parts (a
 * header, an integer, a byte field) is copied, into a buffer of its own.
 *
 * The decoder is hand-written and schema-driven: it matches keys against the
 * expected field table and writes straight into the typed object. The same
 * mapping on top of @msgpack/msgpack's generic Decoder lives in
 * test/helpers/library-decoder.ts; bench/codec.ts compares the two (the
 * hand-written one is several times faster, and decoding AppendEntries is on
 * the follower's hot path) and the property tests use it as an independent
 * oracle.
 */
import {
  RpcType,
  type AnyRequest,
  type AnyResponse,
  type AppendEntriesRequest,
  type AppendEntriesResponse,
  type Bytes,
  type InstallSnapshotRequest,
  type InstallSnapshotResponse,
  type Log,
  type LogType,
  type RPCHeader,
  type RequestPreVoteRequest,
  type RequestPreVoteResponse,
  type RequestVoteRequest,
  type RequestVoteResponse,
  type TimeoutNowRequest,
  type TimeoutNowResponse,
} from '../../commands.ts';
import { InvalidValueError, LimitExceededError, ProtocolError } from '../../errors.ts';
import { decodeGoTimeAt } from './go-time.ts';
import {
  keyNames,
  LOG_SCHEMA,
  REQUEST_NAMES,
  REQUEST_SCHEMAS,
  RESPONSE_NAMES,
  RESPONSE_SCHEMAS,
  type MessageSchema,
} from './schema.ts';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './wire-format.ts';

const EMPTY = new Uint8Array(0);
const TWO_32 = 4_294_967_296;
const utf8Decoder = new TextDecoder('utf-8');

// ---------------------------------------------------------------------------
// Hand-written decoder. One decode runs synchronously start to finish, so the
// cursor lives in module state instead of being threaded through every call.
// ---------------------------------------------------------------------------

let buf: Uint8Array = EMPTY;
let pos = 0;
let end = 0;
/** The parts of a split input still to come: parts[partIdx] from byte partOff on, `rest` bytes in all. */
let parts: readonly Uint8Array[] = [];
let partIdx = 0;
let partOff = 0;
let rest = 0;
let maxEntries = 0;
let maxDepth = 0;
/** The struct being decoded, for error messages. */
let struct = '';

/** Views of a plain Uint8Array are cheaper to make than Buffer views. */
function plain(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.length);
}

function begin(input: Uint8Array | readonly Uint8Array[], limits: DecodeLimits | undefined, what: string): void {
  const l = limits ?? DEFAULT_DECODE_LIMITS;
  let size: number;
  if (input instanceof Uint8Array) {
    size = input.length;
    buf = plain(input);
    end = size;
    rest = 0;
  } else {
    size = 0;
    for (const p of input) size += p.length;
    parts = input;
    partIdx = 0;
    partOff = 0;
    buf = EMPTY;
    end = 0;
    rest = size;
  }
  pos = 0;
  if (size > l.maxFrameSize) {
    release();
    throw new LimitExceededError(`${what}: ${size} bytes exceed maxFrameSize (${l.maxFrameSize})`);
  }
  maxEntries = l.maxEntries;
  maxDepth = l.maxDepth;
  struct = what;
}

/** Drops every reference to the input, so the module pins none of the caller's memory. */
function release(): void {
  buf = EMPTY;
  end = pos = rest = 0;
  if (parts.length !== 0) parts = [];
}

function finish(): void {
  const trailing = remaining();
  release();
  if (trailing !== 0) throw new ProtocolError(`${struct}: ${trailing} unexpected bytes after the value`);
}

/** Bytes of the input not yet read. */
function remaining(): number {
  return end - pos + rest;
}

/** Moves to the next part of a split input (only once the current buffer is used up). */
function nextPart(): void {
  const p = parts[partIdx++]!;
  buf = plain(p);
  pos = partOff;
  end = p.length;
  rest -= end - pos;
  partOff = 0;
}

/**
 * Makes the next `n` bytes contiguous at buf[pos], where they straddle parts
 * (the caller has checked n > end - pos): moves on to the next part, or
 * copies the straddling bytes into a buffer of their own and carries on in
 * the next part after them. Throws if fewer than `n` bytes are left.
 */
function fill(n: number): void {
  if (n > remaining()) throw truncated();
  while (pos === end) nextPart();
  const have = end - pos;
  if (n <= have) return;
  const carry = new Uint8Array(n);
  carry.set(buf.subarray(pos, end), 0);
  let at = have;
  while (at < n) {
    const p = parts[partIdx]!;
    const take = Math.min(n - at, p.length - partOff);
    carry.set(p.subarray(partOff, partOff + take), at);
    at += take;
    partOff += take;
    rest -= take;
    if (partOff === p.length) {
      partIdx++;
      partOff = 0;
    }
  }
  buf = carry;
  pos = 0;
  end = n;
}

/** Passes over `n` bytes without making them contiguous. */
function pass(n: number): void {
  if (n <= end - pos) {
    pos += n;
    return;
  }
  if (n > remaining()) throw truncated();
  n -= end - pos;
  pos = end;
  while (n > 0) {
    nextPart();
    const take = Math.min(n, end - pos);
    pos += take;
    n -= take;
  }
}

function truncated(): ProtocolError {
  return new ProtocolError(`${struct}: truncated msgpack value`);
}

function describeByte(h: number): string {
  if (h < 0x80 || h >= 0xe0 || (h >= 0xcc && h <= 0xd3)) return 'integer';
  if (h <= 0x8f || h === 0xde || h === 0xdf) return 'map';
  if (h <= 0x9f || h === 0xdc || h === 0xdd) return 'array';
  if (h <= 0xbf || h === 0xd9 || h === 0xda || h === 0xdb) return 'string';
  if (h === 0xc0) return 'nil';
  if (h === 0xc2 || h === 0xc3) return 'boolean';
  if (h >= 0xc4 && h <= 0xc6) return 'binary';
  if (h === 0xca || h === 0xcb) return 'float';
  if (h === 0xc1) return 'the never-used byte 0xc1';
  return 'extension';
}

function wrongType(field: string, expected: string, h: number): ProtocolError {
  return new ProtocolError(`${struct}.${field}: expected ${expected}, got ${describeByte(h)}`);
}

function tooDeep(): LimitExceededError {
  return new LimitExceededError(`${struct}: msgpack value nested deeper than maxDepth (${maxDepth})`);
}

/** Ensures the next `n` bytes are at buf[pos], contiguous; throws if the input ends first. */
function need(n: number): void {
  if (n > end - pos) fill(n);
}

function readU32(): number {
  const b = buf;
  const p = pos;
  pos = p + 4;
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

/** Length field of a str/bin/array/map header whose type byte was just read. */
function readLength(width: number): number {
  need(width);
  const b = buf;
  const p = pos;
  if (width === 1) {
    pos = p + 1;
    return b[p]!;
  }
  if (width === 2) {
    pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }
  return readU32();
}

/**
 * A Go unsigned (or non-negative signed) integer in any msgpack integer form,
 * as go-msgpack accepts it; nil is zero.
 */
function readUint(field: string): number {
  if (pos >= end) fill(1);
  const h = buf[pos++]!;
  if (h < 0x80) return h;
  let v: number;
  switch (h) {
    case 0xcc:
      need(1);
      return buf[pos++]!;
    case 0xcd:
      return readLength(2);
    case 0xce:
      need(4);
      return readU32();
    case 0xcf: {
      need(8);
      const hi = readU32();
      const lo = readU32();
      if (hi > 0x1fffff) throw tooLarge(field, BigInt(hi) * 4_294_967_296n + BigInt(lo));
      return hi * TWO_32 + lo;
    }
    case 0xd0:
      need(1);
      v = (buf[pos++]! << 24) >> 24;
      break;
    case 0xd1:
      need(2);
      v = (((buf[pos]! << 8) | buf[pos + 1]!) << 16) >> 16;
      pos += 2;
      break;
    case 0xd2:
      need(4);
      v = readU32() | 0;
      break;
    case 0xd3: {
      need(8);
      const hi = readU32() | 0;
      const lo = readU32();
      if (hi > 0x1fffff) throw tooLarge(field, BigInt(hi) * 4_294_967_296n + BigInt(lo));
      v = hi * TWO_32 + lo;
      break;
    }
    case 0xc0:
      return 0;
    default:
      if (h >= 0xe0) v = h - 0x100;
      else throw wrongType(field, 'an integer', h);
  }
  if (v < 0) throw new ProtocolError(`${struct}.${field}: negative integer ${v}`);
  return v;
}

function tooLarge(field: string, v: bigint): InvalidValueError {
  return new InvalidValueError(`${struct}.${field}: ${v} is above 2^53 - 1 and can't be represented exactly`);
}

/** Length of a str or bin value whose type byte `h` was just read, or -1 if `h` is neither. */
function stringLength(h: number): number {
  if ((h & 0xe0) === 0xa0) return h & 0x1f;
  switch (h) {
    case 0xd9:
    case 0xc4:
      return readLength(1);
    case 0xda:
    case 0xc5:
      return readLength(2);
    case 0xdb:
    case 0xc6:
      return readLength(4);
    default:
      return -1;
  }
}

/** A Go []byte: raw string (or bin) → view of the input; nil → null. */
function readBytes(field: string): Bytes {
  if (pos >= end) fill(1);
  const h = buf[pos++]!;
  if (h === 0xc0) return null;
  const len = stringLength(h);
  if (len < 0) throw wrongType(field, 'a string (Go []byte)', h);
  need(len);
  const p = pos;
  pos = p + len;
  return buf.subarray(p, p + len);
}

/** Go's msgpack decoder also takes the integers 0 and 1 as booleans; nil is false. */
function readBool(field: string): boolean {
  if (pos >= end) fill(1);
  const h = buf[pos++]!;
  if (h === 0xc3 || h === 0x01) return true;
  if (h === 0xc2 || h === 0x00 || h === 0xc0) return false;
  throw wrongType(field, 'a boolean', h);
}

/** Number of pairs of the struct map that starts here (nil counts as an empty map). */
function readMapHeader(depth: number, what: string): number {
  if (pos >= end) fill(1);
  const h = buf[pos++]!;
  let n: number;
  if (h >= 0x80 && h <= 0x8f) n = h & 0x0f;
  else if (h === 0xde) n = readLength(2);
  else if (h === 0xdf) n = readLength(4);
  else if (h === 0xc0) return 0;
  else throw new ProtocolError(`${what}: expected a map, got ${describeByte(h)}`);
  if (n > maxEntries) throw new LimitExceededError(`${what}: map of ${n} entries exceeds maxEntries (${maxEntries})`);
  if (n > 0 && depth > maxDepth) throw tooDeep();
  return n;
}

/**
 * Map keys of a struct from its schema, as go-msgpack writes them: each is the
 * field name without its header. The readers below switch on the index into
 * this table, i.e. on the schema's field order.
 */
function keyTable(s: MessageSchema): readonly Uint8Array[] {
  return keyNames(s).map((n) => Uint8Array.from(n, (c) => c.charCodeAt(0)));
}

/**
 * Reads a map key and returns its index in `keys`, or -1 for an unknown key.
 * Go writes keys in table order, so the search starts at `hint` (the field
 * after the previous one) and usually matches at once.
 */
function readKey(keys: readonly Uint8Array[], hint: number): number {
  if (pos >= end) fill(1);
  const h = buf[pos++]!;
  const len = stringLength(h);
  if (len < 0) throw new ProtocolError(`${struct}: map key must be a string, got ${describeByte(h)}`);
  need(len);
  const start = pos;
  pos = start + len;
  const b = buf;
  const count = keys.length;
  for (let k = 0; k < count; k++) {
    let i = hint + k;
    if (i >= count) i -= count;
    const key = keys[i]!;
    if (key.length !== len) continue;
    let j = 0;
    while (j < len && b[start + j] === key[j]) j++;
    if (j === len) return i;
  }
  return -1;
}

/** Passes over a value of an unknown key; `depth` is the level a container here would occupy. */
function skip(depth: number): void {
  if (pos >= end) fill(1);
  const h = buf[pos++]!;
  if (h < 0x80 || h >= 0xe0 || h === 0xc0 || h === 0xc2 || h === 0xc3) return;
  let n: number;
  if (h <= 0x8f) {
    n = (h & 0x0f) * 2;
  } else if (h <= 0x9f) {
    n = h & 0x0f;
  } else {
    const len = stringLength(h);
    if (len >= 0) {
      pass(len);
      return;
    }
    switch (h) {
      case 0xcc:
      case 0xd0:
        pass(1);
        return;
      case 0xcd:
      case 0xd1:
        pass(2);
        return;
      case 0xce:
      case 0xd2:
      case 0xca:
        pass(4);
        return;
      case 0xcf:
      case 0xd3:
      case 0xcb:
        pass(8);
        return;
      case 0xdc:
        n = readLength(2);
        break;
      case 0xdd:
        n = readLength(4);
        break;
      case 0xde:
        n = readLength(2) * 2;
        break;
      case 0xdf:
        n = readLength(4) * 2;
        break;
      case 0xc1:
        throw new ProtocolError(`${struct}: invalid msgpack: byte 0xc1 is never used`);
      default:
        throw new ProtocolError(`${struct}: unexpected msgpack extension type: hashicorp/raft never sends one`);
    }
    const elements = h >= 0xde ? n / 2 : n;
    if (elements > maxEntries) {
      throw new LimitExceededError(`${struct}: msgpack container of ${elements} elements exceeds maxEntries (${maxEntries})`);
    }
  }
  if (n === 0) return;
  if (depth > maxDepth) throw tooDeep();
  if (n > remaining()) throw truncated(); // every element takes at least a byte
  for (let i = 0; i < n; i++) skip(depth + 1);
}

const K_LOG = keyTable(LOG_SCHEMA);

function readLog(): Log {
  const outer = struct;
  if (pos >= end) fill(1);
  if (buf[pos] === 0xc0) throw new ProtocolError('AppendEntriesRequest.Entries: nil entry');
  const n = readMapHeader(3, 'AppendEntriesRequest.Entries[]');
  struct = 'Log';
  const e: Log = { index: 0, term: 0, type: 0, data: null, extensions: null, appendedAt: null };
  let hint = 0;
  for (let i = 0; i < n; i++) {
    const f = readKey(K_LOG, hint);
    hint = f + 1;
    switch (f) {
      case 0:
        e.appendedAt = readTime();
        break;
      case 1:
        e.data = readBytes('Data');
        break;
      case 2:
        e.extensions = readBytes('Extensions');
        break;
      case 3:
        e.index = readUint('Index');
        break;
      case 4:
        e.term = readUint('Term');
        break;
      case 5: {
        const t = readUint('Type');
        if (t > 0xff) throw new ProtocolError(`Log.Type: ${t} overflows Go's uint8 LogType`);
        e.type = t as LogType;
        break;
      }
      default:
        skip(4);
    }
  }
  struct = outer;
  return e;
}

/** Log.AppendedAt in either Go time encoding; nil and the zero time are null. */
function readTime(): Date | null {
  if (pos >= end) fill(1);
  const h = buf[pos++]!;
  if (h === 0xc0) return null;
  const len = stringLength(h);
  if (len < 0) throw wrongType('AppendedAt', 'a string (Go time)', h);
  need(len);
  const at = pos;
  pos += len;
  return decodeGoTimeAt(buf, at, len, 'Log.AppendedAt');
}

function readEntries(): Log[] | null {
  if (pos >= end) fill(1);
  const h = buf[pos++]!;
  let n: number;
  if (h >= 0x90 && h <= 0x9f) n = h & 0x0f;
  else if (h === 0xdc) n = readLength(2);
  else if (h === 0xdd) n = readLength(4);
  else if (h === 0xc0) return null;
  else throw wrongType('Entries', 'an array', h);
  if (n > maxEntries) throw new LimitExceededError(`${struct}.Entries: ${n} entries exceed maxEntries (${maxEntries})`);
  if (n > 0 && maxDepth < 2) throw tooDeep();
  if (n > remaining()) throw truncated(); // every entry takes at least a byte
  const out = new Array<Log>(n);
  for (let i = 0; i < n; i++) out[i] = readLog();
  return out;
}

const K_AER = keyTable(REQUEST_SCHEMAS[RpcType.AppendEntries]!);

function appendEntriesRequest(): AppendEntriesRequest {
  const h: RPCHeader = { protocolVersion: 0, id: null, addr: null };
  const r: AppendEntriesRequest = {
    rpcHeader: h,
    term: 0,
    leader: null,
    prevLogEntry: 0,
    prevLogTerm: 0,
    entries: null,
    leaderCommitIndex: 0,
  };
  const n = readMapHeader(1, struct);
  let hint = 0;
  for (let i = 0; i < n; i++) {
    const f = readKey(K_AER, hint);
    hint = f + 1;
    switch (f) {
      case 0:
        h.addr = readBytes('Addr');
        break;
      case 1:
        r.entries = readEntries();
        break;
      case 2:
        h.id = readBytes('ID');
        break;
      case 3:
        r.leader = readBytes('Leader');
        break;
      case 4:
        r.leaderCommitIndex = readUint('LeaderCommitIndex');
        break;
      case 5:
        r.prevLogEntry = readUint('PrevLogEntry');
        break;
      case 6:
        r.prevLogTerm = readUint('PrevLogTerm');
        break;
      case 7:
        h.protocolVersion = readUint('ProtocolVersion');
        break;
      case 8:
        r.term = readUint('Term');
        break;
      default:
        skip(2);
    }
  }
  return r;
}

const K_AERESP = keyTable(RESPONSE_SCHEMAS[RpcType.AppendEntries]!);

function appendEntriesResponse(): AppendEntriesResponse {
  const h: RPCHeader = { protocolVersion: 0, id: null, addr: null };
  const r: AppendEntriesResponse = { rpcHeader: h, term: 0, lastLog: 0, success: false, noRetryBackoff: false };
  const n = readMapHeader(1, struct);
  let hint = 0;
  for (let i = 0; i < n; i++) {
    const f = readKey(K_AERESP, hint);
    hint = f + 1;
    switch (f) {
      case 0:
        h.addr = readBytes('Addr');
        break;
      case 1:
        h.id = readBytes('ID');
        break;
      case 2:
        r.lastLog = readUint('LastLog');
        break;
      case 3:
        r.noRetryBackoff = readBool('NoRetryBackoff');
        break;
      case 4:
        h.protocolVersion = readUint('ProtocolVersion');
        break;
      case 5:
        r.success = readBool('Success');
        break;
      case 6:
        r.term = readUint('Term');
        break;
      default:
        skip(2);
    }
  }
  return r;
}

const K_RVREQ = keyTable(REQUEST_SCHEMAS[RpcType.RequestVote]!);

function requestVoteRequest(): RequestVoteRequest {
  const h: RPCHeader = { protocolVersion: 0, id: null, addr: null };
  const r: RequestVoteRequest = {
    rpcHeader: h,
    term: 0,
    candidate: null,
    lastLogIndex: 0,
    lastLogTerm: 0,
    leadershipTransfer: false,
  };
  const n = readMapHeader(1, struct);
  let hint = 0;
  for (let i = 0; i < n; i++) {
    const f = readKey(K_RVREQ, hint);
    hint = f + 1;
    switch (f) {
      case 0:
        h.addr = readBytes('Addr');
        break;
      case 1:
        r.candidate = readBytes('Candidate');
        break;
      case 2:
        h.id = readBytes('ID');
        break;
      case 3:
        r.lastLogIndex = readUint('LastLogIndex');
        break;
      case 4:
        r.lastLogTerm = readUint('LastLogTerm');
        break;
      case 5:
        r.leadershipTransfer = readBool('LeadershipTransfer');
        break;
      case 6:
        h.protocolVersion = readUint('ProtocolVersion');
        break;
      case 7:
        r.term = readUint('Term');
        break;
      default:
        skip(2);
    }
  }
  return r;
}

const K_RVRESP = keyTable(RESPONSE_SCHEMAS[RpcType.RequestVote]!);

function requestVoteResponse(): RequestVoteResponse {
  const h: RPCHeader = { protocolVersion: 0, id: null, addr: null };
  const r: RequestVoteResponse = { rpcHeader: h, term: 0, peers: null, granted: false };
  const n = readMapHeader(1, struct);
  let hint = 0;
  for (let i = 0; i < n; i++) {
    const f = readKey(K_RVRESP, hint);
    hint = f + 1;
    switch (f) {
      case 0:
        h.addr = readBytes('Addr');
        break;
      case 1:
        r.granted = readBool('Granted');
        break;
      case 2:
        h.id = readBytes('ID');
        break;
      case 3:
        r.peers = readBytes('Peers');
        break;
      case 4:
        h.protocolVersion = readUint('ProtocolVersion');
        break;
      case 5:
        r.term = readUint('Term');
        break;
      default:
        skip(2);
    }
  }
  return r;
}

const K_ISREQ = keyTable(REQUEST_SCHEMAS[RpcType.InstallSnapshot]!);

function installSnapshotRequest(): InstallSnapshotRequest {
  const h: RPCHeader = { protocolVersion: 0, id: null, addr: null };
  const r: InstallSnapshotRequest = {
    rpcHeader: h,
    snapshotVersion: 0,
    term: 0,
    leader: null,
    lastLogIndex: 0,
    lastLogTerm: 0,
    peers: null,
    configuration: null,
    configurationIndex: 0,
    size: 0,
  };
  const n = readMapHeader(1, struct);
  let hint = 0;
  for (let i = 0; i < n; i++) {
    const f = readKey(K_ISREQ, hint);
    hint = f + 1;
    switch (f) {
      case 0:
        h.addr = readBytes('Addr');
        break;
      case 1:
        r.configuration = readBytes('Configuration');
        break;
      case 2:
        r.configurationIndex = readUint('ConfigurationIndex');
        break;
      case 3:
        h.id = readBytes('ID');
        break;
      case 4:
        r.lastLogIndex = readUint('LastLogIndex');
        break;
      case 5:
        r.lastLogTerm = readUint('LastLogTerm');
        break;
      case 6:
        r.leader = readBytes('Leader');
        break;
      case 7:
        r.peers = readBytes('Peers');
        break;
      case 8:
        h.protocolVersion = readUint('ProtocolVersion');
        break;
      case 9:
        r.size = readUint('Size');
        break;
      case 10:
        r.snapshotVersion = readUint('SnapshotVersion');
        break;
      case 11:
        r.term = readUint('Term');
        break;
      default:
        skip(2);
    }
  }
  return r;
}

const K_ISRESP = keyTable(RESPONSE_SCHEMAS[RpcType.InstallSnapshot]!);

function installSnapshotResponse(): InstallSnapshotResponse {
  const h: RPCHeader = { protocolVersion: 0, id: null, addr: null };
  const r: InstallSnapshotResponse = { rpcHeader: h, term: 0, success: false };
  const n = readMapHeader(1, struct);
  let hint = 0;
  for (let i = 0; i < n; i++) {
    const f = readKey(K_ISRESP, hint);
    hint = f + 1;
    switch (f) {
      case 0:
        h.addr = readBytes('Addr');
        break;
      case 1:
        h.id = readBytes('ID');
        break;
      case 2:
        h.protocolVersion = readUint('ProtocolVersion');
        break;
      case 3:
        r.success = readBool('Success');
        break;
      case 4:
        r.term = readUint('Term');
        break;
      default:
        skip(2);
    }
  }
  return r;
}

const K_HEADER = keyTable(REQUEST_SCHEMAS[RpcType.TimeoutNow]!);

/** TimeoutNow request and response: just the header. */
function headerOnly(): TimeoutNowRequest | TimeoutNowResponse {
  const h: RPCHeader = { protocolVersion: 0, id: null, addr: null };
  const n = readMapHeader(1, struct);
  let hint = 0;
  for (let i = 0; i < n; i++) {
    const f = readKey(K_HEADER, hint);
    hint = f + 1;
    switch (f) {
      case 0:
        h.addr = readBytes('Addr');
        break;
      case 1:
        h.id = readBytes('ID');
        break;
      case 2:
        h.protocolVersion = readUint('ProtocolVersion');
        break;
      default:
        skip(2);
    }
  }
  return { rpcHeader: h };
}

const K_PVREQ = keyTable(REQUEST_SCHEMAS[RpcType.RequestPreVote]!);

function requestPreVoteRequest(): RequestPreVoteRequest {
  const h: RPCHeader = { protocolVersion: 0, id: null, addr: null };
  const r: RequestPreVoteRequest = { rpcHeader: h, term: 0, lastLogIndex: 0, lastLogTerm: 0 };
  const n = readMapHeader(1, struct);
  let hint = 0;
  for (let i = 0; i < n; i++) {
    const f = readKey(K_PVREQ, hint);
    hint = f + 1;
    switch (f) {
      case 0:
        h.addr = readBytes('Addr');
        break;
      case 1:
        h.id = readBytes('ID');
        break;
      case 2:
        r.lastLogIndex = readUint('LastLogIndex');
        break;
      case 3:
        r.lastLogTerm = readUint('LastLogTerm');
        break;
      case 4:
        h.protocolVersion = readUint('ProtocolVersion');
        break;
      case 5:
        r.term = readUint('Term');
        break;
      default:
        skip(2);
    }
  }
  return r;
}

const K_PVRESP = keyTable(RESPONSE_SCHEMAS[RpcType.RequestPreVote]!);

function requestPreVoteResponse(): RequestPreVoteResponse {
  const h: RPCHeader = { protocolVersion: 0, id: null, addr: null };
  const r: RequestPreVoteResponse = { rpcHeader: h, term: 0, granted: false };
  const n = readMapHeader(1, struct);
  let hint = 0;
  for (let i = 0; i < n; i++) {
    const f = readKey(K_PVRESP, hint);
    hint = f + 1;
    switch (f) {
      case 0:
        h.addr = readBytes('Addr');
        break;
      case 1:
        r.granted = readBool('Granted');
        break;
      case 2:
        h.id = readBytes('ID');
        break;
      case 3:
        h.protocolVersion = readUint('ProtocolVersion');
        break;
      case 4:
        r.term = readUint('Term');
        break;
      default:
        skip(2);
    }
  }
  return r;
}

export { REQUEST_NAMES, RESPONSE_NAMES };

export function unknownType(type: number): ProtocolError {
  return new ProtocolError(`unknown rpc type ${String(type)}`);
}

/**
 * Decodes a request map (the bytes after the RPC type byte). Throws
 * ProtocolError for an unknown type or a malformed map, InvalidValueError for
 * integers JavaScript can't hold exactly, LimitExceededError past `limits`.
 */
export function decodeRequest(type: RpcType, bytes: Uint8Array | readonly Uint8Array[], limits?: DecodeLimits): AnyRequest {
  const name = REQUEST_NAMES[type];
  if (name === undefined) throw unknownType(type);
  begin(bytes, limits, name);
  try {
    let r: AnyRequest;
    switch (type) {
      case RpcType.AppendEntries:
        r = appendEntriesRequest();
        break;
      case RpcType.RequestVote:
        r = requestVoteRequest();
        break;
      case RpcType.InstallSnapshot:
        r = installSnapshotRequest();
        break;
      case RpcType.TimeoutNow:
        r = headerOnly();
        break;
      default:
        r = requestPreVoteRequest();
    }
    finish();
    return r;
  } finally {
    release();
  }
}

/** Decodes a response map (the value after the error string); errors as for decodeRequest. */
export function decodeResponse(type: RpcType, bytes: Uint8Array | readonly Uint8Array[], limits?: DecodeLimits): AnyResponse {
  const name = RESPONSE_NAMES[type];
  if (name === undefined) throw unknownType(type);
  begin(bytes, limits, name);
  try {
    let r: AnyResponse;
    switch (type) {
      case RpcType.AppendEntries:
        r = appendEntriesResponse();
        break;
      case RpcType.RequestVote:
        r = requestVoteResponse();
        break;
      case RpcType.InstallSnapshot:
        r = installSnapshotResponse();
        break;
      case RpcType.TimeoutNow:
        r = headerOnly();
        break;
      default:
        r = requestPreVoteResponse();
    }
    finish();
    return r;
  } finally {
    release();
  }
}

/**
 * Decodes the error string that precedes every response: '' for none (Go
 * sends an empty string; nil is accepted too). Invalid UTF-8 becomes U+FFFD,
 * since the text is only ever shown to humans.
 */
export function decodeErrorString(bytes: Uint8Array): string {
  begin(bytes, undefined, 'response error');
  try {
    if (pos >= end) fill(1);
    const h = buf[pos++]!;
    let s = '';
    if (h !== 0xc0) {
      const len = stringLength(h);
      if (len < 0) throw new ProtocolError(`response error: expected a string, got ${describeByte(h)}`);
      need(len);
      if (len > 0) s = utf8Decoder.decode(buf.subarray(pos, pos + len));
      pos += len;
    }
    finish();
    return s;
  } finally {
    release();
  }
}
