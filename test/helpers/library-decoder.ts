/**
 * The wire decoder rebuilt on @msgpack/msgpack's generic Decoder, with the
 * same contract as src/net/decoder.ts. The transport doesn't use it: it is
 * the independent oracle the property tests check the hand-written decoder
 * against, and the baseline bench/codec.ts measures it against (the
 * hand-written decoder is several times faster on AppendEntries, the
 * follower's hot path, which is why it exists).
 */
import { DecodeError, Decoder } from '@msgpack/msgpack';
import {
  type AnyRequest,
  type AnyResponse,
  type Bytes,
  type Log,
  type LogType,
  type RPCHeader,
  RpcType,
} from '../../src/commands.ts';
import { InvalidValueError, LimitExceededError, ProtocolError, TransportError } from '../../src/errors.ts';
import { REQUEST_NAMES, RESPONSE_NAMES, unknownType } from '../../src/net/codec/decoder.ts';
import { decodeGoTime } from '../../src/net/codec/go-time.ts';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../../src/net/codec/wire-format.ts';

const utf8Decoder = new TextDecoder('utf-8');

type GoMap = Record<string, unknown>;

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

function makeLibDecoder(limits: DecodeLimits): Decoder {
  return new Decoder({
    rawStrings: true,
    useBigInt64: true,
    maxStrLength: limits.maxFrameSize,
    maxBinLength: limits.maxFrameSize,
    maxArrayLength: limits.maxEntries,
    maxMapLength: limits.maxEntries,
    maxExtLength: limits.maxFrameSize,
  });
}

const defaultLibDecoder = makeLibDecoder(DEFAULT_DECODE_LIMITS);
/** One Decoder per limits object, so callers that reuse their limits reuse the decoder. */
const libDecoders = new WeakMap<DecodeLimits, Decoder>();

function libParse(bytes: Uint8Array, limits: DecodeLimits | undefined, what: string): unknown {
  let d = defaultLibDecoder;
  if (limits !== undefined && limits !== DEFAULT_DECODE_LIMITS) {
    d = libDecoders.get(limits) ?? makeLibDecoder(limits);
    libDecoders.set(limits, d);
  }
  try {
    return d.decode(bytes);
  } catch (err) {
    if (err instanceof TransportError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof DecodeError && message.startsWith('Max length exceeded')) {
      throw new LimitExceededError(`${what}: ${message}`);
    }
    throw new ProtocolError(`${what}: invalid msgpack: ${message}`, { cause: err });
  }
}

function isMap(v: unknown): v is GoMap {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

function kindOf(v: unknown): string {
  if (v === null) return 'nil';
  if (v instanceof Uint8Array) return 'string';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'float';
  if (typeof v === 'bigint') return 'integer';
  if (typeof v === 'object') return isMap(v) ? 'map' : 'extension';
  return typeof v;
}

function libWrong(s: string, f: string, expected: string, v: unknown): ProtocolError {
  return new ProtocolError(`${s}.${f}: expected ${expected}, got ${kindOf(v)}`);
}

const EMPTY_MAP: GoMap = Object.freeze(Object.create(null) as GoMap);

function libStruct(v: unknown, s: string): GoMap {
  if (isMap(v)) return v;
  if (v === null) return EMPTY_MAP;
  throw new ProtocolError(`${s}: expected a map, got ${kindOf(v)}`);
}

function libUint(v: unknown, s: string, f: string): number {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) {
      if (v < 0) throw new ProtocolError(`${s}.${f}: negative integer ${v}`);
      if (v > Number.MAX_SAFE_INTEGER) throw new InvalidValueError(`${s}.${f}: ${v} is above 2^53 - 1`);
      return v;
    }
    throw libWrong(s, f, 'an integer', v);
  }
  if (typeof v === 'bigint') {
    if (v < 0n) throw new ProtocolError(`${s}.${f}: negative integer ${v}`);
    if (v > MAX_SAFE_BIG) throw new InvalidValueError(`${s}.${f}: ${v} is above 2^53 - 1`);
    return Number(v);
  }
  if (v === undefined || v === null) return 0;
  throw libWrong(s, f, 'an integer', v);
}

function libBytes(v: unknown, s: string, f: string): Bytes {
  if (v instanceof Uint8Array) return v;
  if (v === undefined || v === null) return null;
  throw libWrong(s, f, 'a string (Go []byte)', v);
}

function libBool(v: unknown, s: string, f: string): boolean {
  if (v === true || v === 1) return true;
  if (v === false || v === 0 || v === undefined || v === null) return false;
  throw libWrong(s, f, 'a boolean', v);
}

function libHeader(m: GoMap, s: string): RPCHeader {
  return {
    protocolVersion: libUint(m.ProtocolVersion, s, 'ProtocolVersion'),
    id: libBytes(m.ID, s, 'ID'),
    addr: libBytes(m.Addr, s, 'Addr'),
  };
}

function libLog(v: unknown): Log {
  const S = 'Log';
  if (!isMap(v)) throw new ProtocolError(`AppendEntriesRequest.Entries: expected a map per entry, got ${kindOf(v)}`);
  const type = libUint(v.Type, S, 'Type');
  if (type > 0xff) throw new ProtocolError(`${S}.Type: ${type} overflows Go's uint8 LogType`);
  const at = v.AppendedAt;
  let appendedAt: Date | null;
  if (at instanceof Uint8Array) appendedAt = decodeGoTime(at, 'Log.AppendedAt');
  else if (at === undefined || at === null) appendedAt = null;
  else throw libWrong(S, 'AppendedAt', 'a string (Go time)', at);
  return {
    index: libUint(v.Index, S, 'Index'),
    term: libUint(v.Term, S, 'Term'),
    type: type as LogType,
    data: libBytes(v.Data, S, 'Data'),
    extensions: libBytes(v.Extensions, S, 'Extensions'),
    appendedAt,
  };
}

function libRequest(type: RpcType, m: GoMap, S: string): AnyRequest {
  switch (type) {
    case RpcType.AppendEntries: {
      const raw = m.Entries;
      let entries: Log[] | null = null;
      if (Array.isArray(raw)) entries = raw.map(libLog);
      else if (raw !== undefined && raw !== null) throw libWrong(S, 'Entries', 'an array', raw);
      return {
        rpcHeader: libHeader(m, S),
        term: libUint(m.Term, S, 'Term'),
        leader: libBytes(m.Leader, S, 'Leader'),
        prevLogEntry: libUint(m.PrevLogEntry, S, 'PrevLogEntry'),
        prevLogTerm: libUint(m.PrevLogTerm, S, 'PrevLogTerm'),
        entries,
        leaderCommitIndex: libUint(m.LeaderCommitIndex, S, 'LeaderCommitIndex'),
      };
    }
    case RpcType.RequestVote:
      return {
        rpcHeader: libHeader(m, S),
        term: libUint(m.Term, S, 'Term'),
        candidate: libBytes(m.Candidate, S, 'Candidate'),
        lastLogIndex: libUint(m.LastLogIndex, S, 'LastLogIndex'),
        lastLogTerm: libUint(m.LastLogTerm, S, 'LastLogTerm'),
        leadershipTransfer: libBool(m.LeadershipTransfer, S, 'LeadershipTransfer'),
      };
    case RpcType.InstallSnapshot:
      return {
        rpcHeader: libHeader(m, S),
        snapshotVersion: libUint(m.SnapshotVersion, S, 'SnapshotVersion'),
        term: libUint(m.Term, S, 'Term'),
        leader: libBytes(m.Leader, S, 'Leader'),
        lastLogIndex: libUint(m.LastLogIndex, S, 'LastLogIndex'),
        lastLogTerm: libUint(m.LastLogTerm, S, 'LastLogTerm'),
        peers: libBytes(m.Peers, S, 'Peers'),
        configuration: libBytes(m.Configuration, S, 'Configuration'),
        configurationIndex: libUint(m.ConfigurationIndex, S, 'ConfigurationIndex'),
        size: libUint(m.Size, S, 'Size'),
      };
    case RpcType.TimeoutNow:
      return { rpcHeader: libHeader(m, S) };
    default:
      return {
        rpcHeader: libHeader(m, S),
        term: libUint(m.Term, S, 'Term'),
        lastLogIndex: libUint(m.LastLogIndex, S, 'LastLogIndex'),
        lastLogTerm: libUint(m.LastLogTerm, S, 'LastLogTerm'),
      };
  }
}

function libResponse(type: RpcType, m: GoMap, S: string): AnyResponse {
  switch (type) {
    case RpcType.AppendEntries:
      return {
        rpcHeader: libHeader(m, S),
        term: libUint(m.Term, S, 'Term'),
        lastLog: libUint(m.LastLog, S, 'LastLog'),
        success: libBool(m.Success, S, 'Success'),
        noRetryBackoff: libBool(m.NoRetryBackoff, S, 'NoRetryBackoff'),
      };
    case RpcType.RequestVote:
      return {
        rpcHeader: libHeader(m, S),
        term: libUint(m.Term, S, 'Term'),
        peers: libBytes(m.Peers, S, 'Peers'),
        granted: libBool(m.Granted, S, 'Granted'),
      };
    case RpcType.InstallSnapshot:
      return { rpcHeader: libHeader(m, S), term: libUint(m.Term, S, 'Term'), success: libBool(m.Success, S, 'Success') };
    case RpcType.TimeoutNow:
      return { rpcHeader: libHeader(m, S) };
    default:
      return { rpcHeader: libHeader(m, S), term: libUint(m.Term, S, 'Term'), granted: libBool(m.Granted, S, 'Granted') };
  }
}

/**
 * The decoder built on @msgpack/msgpack instead of by hand: same contract,
 * same results on valid input (it is laxer on some malformed input, e.g. it
 * takes floats with integral values as integers). Not used by the transport;
 * it is the baseline bench/codec.ts measures the hand-written decoder
 * against, and an independent oracle for the property tests.
 */
export const libraryDecoder = {
  decodeRequest(type: RpcType, bytes: Uint8Array, limits?: DecodeLimits): AnyRequest {
    const name = REQUEST_NAMES[type];
    if (name === undefined) throw unknownType(type);
    return libRequest(type, libStruct(libParse(bytes, limits, name), name), name);
  },
  decodeResponse(type: RpcType, bytes: Uint8Array, limits?: DecodeLimits): AnyResponse {
    const name = RESPONSE_NAMES[type];
    if (name === undefined) throw unknownType(type);
    return libResponse(type, libStruct(libParse(bytes, limits, name), name), name);
  },
  decodeErrorString(bytes: Uint8Array): string {
    const v = libParse(bytes, undefined, 'response error');
    if (v === null) return '';
    if (v instanceof Uint8Array) return v.length === 0 ? '' : utf8Decoder.decode(v);
    throw new ProtocolError(`response error: expected a string, got ${kindOf(v)}`);
  },
};
