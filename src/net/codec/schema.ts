/**
 * One declarative schema per hashicorp/raft message: the Go field names, in
 * the byte order go-msgpack writes them, with their kinds and where each
 * lives in our TypeScript objects. It is the single place a field is named:
 * scripts/codegen.ts generates the unrolled encoder (src/net/codec/gen/) from
 * it, the decoder builds its key tables from it, and the message names in
 * errors come from it. Change a field here, run `npm run codegen`, commit both.
 */
import { RpcType } from '../../commands.ts';

/**
 * How a field is written:
 * - `uint`: a Go unsigned integer (smallest msgpack width);
 * - `int`: a Go signed integer (go-msgpack v2's signed widths with fields
 *   'latest', the unsigned rule with 'v1.1');
 * - `uint8`: Log.Type, checked to fit Go's uint8;
 * - `bool`, `bytes` (Go []byte: nil or an old-spec raw string);
 * - `entries`: []Log, `time`: Log.AppendedAt (binary or msgpack Go time).
 */
export type FieldKind = 'uint' | 'int' | 'uint8' | 'bool' | 'bytes' | 'entries' | 'time';

/** One struct field as it appears on the wire. */
export interface FieldSchema {
  /** The Go field name: the msgpack map key. */
  readonly go: string;
  /** The property in the TypeScript object; `rpcHeader.x` for the embedded RPCHeader. */
  readonly ts: string;
  readonly kind: FieldKind;
  /** Only sent with fields 'latest' (raft >= 1.3: the header's ID and Addr, Log.AppendedAt). */
  readonly latestOnly?: boolean;
}

/** A struct: its Go name and its fields in wire (byte-sorted) order. */
export interface MessageSchema {
  readonly name: string;
  readonly fields: readonly FieldSchema[];
}

const f = (go: string, ts: string, kind: FieldKind, latestOnly = false): FieldSchema =>
  latestOnly ? { go, ts, kind, latestOnly } : { go, ts, kind };
const ADDR = f('Addr', 'rpcHeader.addr', 'bytes', true);
const ID = f('ID', 'rpcHeader.id', 'bytes', true);
const PROTOCOL_VERSION = f('ProtocolVersion', 'rpcHeader.protocolVersion', 'int');

/** Byte order of the keys, as Go's encoder sorts struct fields. */
function sorted(name: string, fields: FieldSchema[]): MessageSchema {
  const bytes = (s: string): string => s; // field names are ASCII: code-unit order is byte order
  return { name, fields: [...fields].sort((a, b) => (bytes(a.go) < bytes(b.go) ? -1 : 1)) };
}

export const LOG_SCHEMA: MessageSchema = sorted('Log', [
  f('Index', 'index', 'uint'),
  f('Term', 'term', 'uint'),
  f('Type', 'type', 'uint8'),
  f('Data', 'data', 'bytes'),
  f('Extensions', 'extensions', 'bytes'),
  f('AppendedAt', 'appendedAt', 'time', true),
]);

/** Requests by RpcType. */
export const REQUEST_SCHEMAS: readonly MessageSchema[] = [];
/** Responses by RpcType. */
export const RESPONSE_SCHEMAS: readonly MessageSchema[] = [];

function define(type: RpcType, request: MessageSchema, response: MessageSchema): void {
  (REQUEST_SCHEMAS as MessageSchema[])[type] = request;
  (RESPONSE_SCHEMAS as MessageSchema[])[type] = response;
}

define(
  RpcType.AppendEntries,
  sorted('AppendEntriesRequest', [
    ADDR,
    ID,
    PROTOCOL_VERSION,
    f('Term', 'term', 'uint'),
    f('Leader', 'leader', 'bytes'),
    f('PrevLogEntry', 'prevLogEntry', 'uint'),
    f('PrevLogTerm', 'prevLogTerm', 'uint'),
    f('Entries', 'entries', 'entries'),
    f('LeaderCommitIndex', 'leaderCommitIndex', 'uint'),
  ]),
  sorted('AppendEntriesResponse', [
    ADDR,
    ID,
    PROTOCOL_VERSION,
    f('Term', 'term', 'uint'),
    f('LastLog', 'lastLog', 'uint'),
    f('Success', 'success', 'bool'),
    f('NoRetryBackoff', 'noRetryBackoff', 'bool'),
  ]),
);

define(
  RpcType.RequestVote,
  sorted('RequestVoteRequest', [
    ADDR,
    ID,
    PROTOCOL_VERSION,
    f('Term', 'term', 'uint'),
    f('Candidate', 'candidate', 'bytes'),
    f('LastLogIndex', 'lastLogIndex', 'uint'),
    f('LastLogTerm', 'lastLogTerm', 'uint'),
    f('LeadershipTransfer', 'leadershipTransfer', 'bool'),
  ]),
  sorted('RequestVoteResponse', [
    ADDR,
    ID,
    PROTOCOL_VERSION,
    f('Term', 'term', 'uint'),
    f('Peers', 'peers', 'bytes'),
    f('Granted', 'granted', 'bool'),
  ]),
);

define(
  RpcType.InstallSnapshot,
  sorted('InstallSnapshotRequest', [
    ADDR,
    ID,
    PROTOCOL_VERSION,
    f('SnapshotVersion', 'snapshotVersion', 'int'),
    f('Term', 'term', 'uint'),
    f('Leader', 'leader', 'bytes'),
    f('LastLogIndex', 'lastLogIndex', 'uint'),
    f('LastLogTerm', 'lastLogTerm', 'uint'),
    f('Peers', 'peers', 'bytes'),
    f('Configuration', 'configuration', 'bytes'),
    f('ConfigurationIndex', 'configurationIndex', 'uint'),
    f('Size', 'size', 'int'),
  ]),
  sorted('InstallSnapshotResponse', [ADDR, ID, PROTOCOL_VERSION, f('Term', 'term', 'uint'), f('Success', 'success', 'bool')]),
);

define(
  RpcType.TimeoutNow,
  sorted('TimeoutNowRequest', [ADDR, ID, PROTOCOL_VERSION]),
  sorted('TimeoutNowResponse', [ADDR, ID, PROTOCOL_VERSION]),
);

define(
  RpcType.RequestPreVote,
  sorted('RequestPreVoteRequest', [
    ADDR,
    ID,
    PROTOCOL_VERSION,
    f('Term', 'term', 'uint'),
    f('LastLogIndex', 'lastLogIndex', 'uint'),
    f('LastLogTerm', 'lastLogTerm', 'uint'),
  ]),
  sorted('RequestPreVoteResponse', [ADDR, ID, PROTOCOL_VERSION, f('Term', 'term', 'uint'), f('Granted', 'granted', 'bool')]),
);

/** Request struct names by RpcType, for error messages. */
export const REQUEST_NAMES: readonly string[] = REQUEST_SCHEMAS.map((s) => s.name);
/** Response struct names by RpcType, for error messages. */
export const RESPONSE_NAMES: readonly string[] = RESPONSE_SCHEMAS.map((s) => s.name);

/** The map keys of a struct in wire order: what the decoder matches against. */
export function keyNames(s: MessageSchema): string[] {
  return s.fields.map((x) => x.go);
}
