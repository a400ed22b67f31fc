/**
 * The hashicorp/raft command set: the requests and responses a Raft node
 * exchanges through a transport, and the log entries they carry.
 *
 * Field names are the Go names in camelCase. Every Go `[]byte` is a
 * `Uint8Array | null`: `null` is Go's nil slice and an empty array is an empty
 * slice; they are different bytes on the wire, so both are kept. Integers are
 * JavaScript numbers; a value above `Number.MAX_SAFE_INTEGER` is refused with
 * `ERR_INVALID_VALUE` rather than silently rounded.
 */

/** Byte strings as Raft sees them; `null` is Go's nil slice. */
export type Bytes = Uint8Array | null;

/** Names a server in a Raft configuration (hashicorp's `ServerID`). */
export type ServerID = string;

/** How a transport reaches a server, e.g. `"10.0.0.1:8300"` (hashicorp's `ServerAddress`). */
export type ServerAddress = string;

/** The RPC type byte that precedes each request on the wire. */
export const RpcType = {
  AppendEntries: 0,
  RequestVote: 1,
  InstallSnapshot: 2,
  TimeoutNow: 3,
  /** Added in hashicorp/raft 1.7; older peers drop the connection on it. */
  RequestPreVote: 4,
} as const;
export type RpcType = (typeof RpcType)[keyof typeof RpcType];

/** What a log entry means to the Raft state machine. */
export const LogType = {
  /** Applied to the user's FSM. */
  Command: 0,
  /** Asserts leadership; nothing to apply. */
  Noop: 1,
  /** Obsolete membership change, kept so old logs decode. */
  AddPeerDeprecated: 2,
  /** Obsolete membership change, kept so old logs decode. */
  RemovePeerDeprecated: 3,
  /** Waits until every preceding entry is applied. */
  Barrier: 4,
  /** A membership configuration. */
  Configuration: 5,
} as const;
export type LogType = (typeof LogType)[keyof typeof LogType];

/**
 * Sent with every request and response so peers can negotiate behaviour;
 * `id` and `addr` (raft 1.7+) identify the sender without a separate lookup.
 */
export interface RPCHeader {
  protocolVersion: number;
  /** The sender's ServerID as bytes; absent or null before raft 1.7. */
  id?: Bytes;
  /** The sender's ServerAddress as bytes; absent or null before raft 1.7. */
  addr?: Bytes;
}

/** A replicated log entry. */
export interface Log {
  index: number;
  term: number;
  type: LogType;
  data: Bytes;
  /** Opaque to Raft; carried along for the application. */
  extensions?: Bytes;
  /**
   * When the leader appended the entry (raft 1.3+). `null` or absent is Go's
   * zero time. Decoded values are `PreciseDate`s that keep Go's nanoseconds.
   */
  appendedAt?: Date | null;
}

/** Replicates entries and, with no entries, serves as the leader's heartbeat. */
export interface AppendEntriesRequest {
  rpcHeader: RPCHeader;
  term: number;
  /** Deprecated by raft 1.7 in favour of `rpcHeader.addr`, but still sent for old peers. */
  leader: Bytes;
  prevLogEntry: number;
  prevLogTerm: number;
  entries: Log[] | null;
  leaderCommitIndex: number;
}

export interface AppendEntriesResponse {
  rpcHeader: RPCHeader;
  term: number;
  lastLog: number;
  success: boolean;
  /** Tells the leader not to back off after a failure it can fix at once. */
  noRetryBackoff: boolean;
}

/** A candidate asks for a vote. */
export interface RequestVoteRequest {
  rpcHeader: RPCHeader;
  term: number;
  /** Deprecated by raft 1.7 in favour of `rpcHeader.addr`. */
  candidate: Bytes;
  lastLogIndex: number;
  lastLogTerm: number;
  /** Lets the voter grant a vote despite having a known leader. */
  leadershipTransfer: boolean;
}

export interface RequestVoteResponse {
  rpcHeader: RPCHeader;
  term: number;
  /** Deprecated; only protocol version 0 peers fill it. */
  peers?: Bytes;
  granted: boolean;
}

/** Asks whether a vote would be granted, without disrupting the cluster (raft 1.7+). */
export interface RequestPreVoteRequest {
  rpcHeader: RPCHeader;
  term: number;
  lastLogIndex: number;
  lastLogTerm: number;
}

export interface RequestPreVoteResponse {
  rpcHeader: RPCHeader;
  term: number;
  granted: boolean;
}

/**
 * Announces a snapshot; exactly `size` bytes of snapshot data follow it on the
 * stream.
 */
export interface InstallSnapshotRequest {
  rpcHeader: RPCHeader;
  snapshotVersion: number;
  term: number;
  leader: Bytes;
  lastLogIndex: number;
  lastLogTerm: number;
  /** Deprecated; only protocol version 0 peers fill it. */
  peers?: Bytes;
  configuration: Bytes;
  configurationIndex: number;
  size: number;
}

export interface InstallSnapshotResponse {
  rpcHeader: RPCHeader;
  term: number;
  success: boolean;
}

/** Tells the target to start an election at once (leadership transfer). */
export interface TimeoutNowRequest {
  rpcHeader: RPCHeader;
}

export interface TimeoutNowResponse {
  rpcHeader: RPCHeader;
}

/** Maps each RPC type to its request and response, so code can be generic over them. */
export interface RpcTypes {
  [RpcType.AppendEntries]: { request: AppendEntriesRequest; response: AppendEntriesResponse };
  [RpcType.RequestVote]: { request: RequestVoteRequest; response: RequestVoteResponse };
  [RpcType.InstallSnapshot]: { request: InstallSnapshotRequest; response: InstallSnapshotResponse };
  [RpcType.TimeoutNow]: { request: TimeoutNowRequest; response: TimeoutNowResponse };
  [RpcType.RequestPreVote]: { request: RequestPreVoteRequest; response: RequestPreVoteResponse };
}

export type RequestOf<T extends RpcType> = RpcTypes[T]['request'];
export type ResponseOf<T extends RpcType> = RpcTypes[T]['response'];
export type AnyRequest = RequestOf<RpcType>;
export type AnyResponse = ResponseOf<RpcType>;

/** A readable name for an RPC type byte, for logs and errors. */
export function rpcTypeName(type: number): string {
  switch (type) {
    case RpcType.AppendEntries:
      return 'AppendEntries';
    case RpcType.RequestVote:
      return 'RequestVote';
    case RpcType.InstallSnapshot:
      return 'InstallSnapshot';
    case RpcType.TimeoutNow:
      return 'TimeoutNow';
    case RpcType.RequestPreVote:
      return 'RequestPreVote';
    default:
      return `unknown(${type})`;
  }
}

/**
 * True when an AppendEntries is a pure heartbeat in hashicorp's sense: a term,
 * a leader address, and nothing else. Transports hand these to the heartbeat
 * handler, skipping the consumer queue, so a busy consumer can't starve them.
 */
export function isHeartbeat(req: AppendEntriesRequest): boolean {
  // As in Go: a non-empty header address wins, else the legacy Leader field;
  // a nil address disqualifies, an empty non-nil one does not.
  const addr = req.rpcHeader.addr;
  const leaderAddr = addr != null && addr.length > 0 ? addr : req.leader;
  return (
    req.term !== 0 &&
    leaderAddr != null &&
    req.prevLogEntry === 0 &&
    req.prevLogTerm === 0 &&
    (req.entries === null || req.entries.length === 0) &&
    req.leaderCommitIndex === 0
  );
}
