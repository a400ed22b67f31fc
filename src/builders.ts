/**
 * Small builders for the requests and responses of src/commands.ts, so Raft
 * code states what a message means (`heartbeat({ term, leader })`) and the
 * flags it does not care about get hashicorp's defaults. They only produce
 * the public types: the literal form (`{ rpcHeader: { protocolVersion: 3 }, … }`)
 * stays equivalent and works everywhere a builder's result does.
 *
 * Addresses and IDs may be given as strings (encoded as UTF-8 bytes, as Go's
 * `[]byte(string)` does) or as bytes (`null` is Go's nil slice).
 */
import type {
  AppendEntriesRequest,
  AppendEntriesResponse,
  Bytes,
  InstallSnapshotRequest,
  InstallSnapshotResponse,
  Log,
  RequestPreVoteRequest,
  RequestPreVoteResponse,
  RequestVoteRequest,
  RequestVoteResponse,
  RPCHeader,
  ServerAddress,
  ServerID,
  TimeoutNowRequest,
  TimeoutNowResponse,
} from './commands.ts';

/**
 * The Raft protocol version every message's `rpcHeader.protocolVersion`
 * carries: hashicorp/raft's `ProtocolVersionMax`, 3, the default of its
 * `Config` since 1.0. Version 3 means servers are named by their ServerID,
 * not their address; 0–2 exist only to migrate clusters from raft 0.x, and a
 * Go node refuses any RPC whose version is above 3 (`ErrUnsupportedProtocol`).
 * Use another value only when talking to such a migrating cluster.
 */
export const PROTOCOL_VERSION = 3;

/** A ServerID or ServerAddress as a string, or already as bytes. */
export type IdOrBytes = string | Bytes;

const textEncoder = new TextEncoder();

function toBytes(v: IdOrBytes): Bytes {
  return typeof v === 'string' ? textEncoder.encode(v) : v;
}

/** Who sends a message: fills `rpcHeader.id` and `rpcHeader.addr` (raft 1.7+), which say so without a lookup. */
export interface Sender {
  /** The sender's ServerID; left out, a transport with `localID` set fills it in. */
  id?: ServerID | Bytes;
  /** The sender's address; left out, a transport with `localID` set fills in its own. */
  addr?: ServerAddress | Bytes;
}

/**
 * An RPCHeader with the current protocol version; `id` and `addr` are set
 * only when given, so a transport's `localID` can fill them.
 */
export function rpcHeader(sender: Sender = {}): RPCHeader {
  const h: RPCHeader = { protocolVersion: PROTOCOL_VERSION };
  if (sender.id !== undefined) h.id = toBytes(sender.id);
  if (sender.addr !== undefined) h.addr = toBytes(sender.addr);
  return h;
}

/** Fields of an AppendEntries request; the log position defaults to the start of the log. */
export interface AppendEntriesInit {
  term: number;
  /** The leader's address; also becomes `rpcHeader.addr` unless `from.addr` says otherwise (as Go fills both). */
  leader: IdOrBytes;
  prevLogEntry?: number;
  prevLogTerm?: number;
  entries?: Log[] | null;
  leaderCommitIndex?: number;
  /** The leader's ServerID (`rpcHeader.id`). */
  id?: ServerID | Bytes;
}

/** An AppendEntries request (replication, or a heartbeat when it carries nothing but term and leader). */
export function appendEntriesRequest(init: AppendEntriesInit): AppendEntriesRequest {
  const leader = toBytes(init.leader);
  return {
    rpcHeader: rpcHeader({ id: init.id, addr: leader }),
    term: init.term,
    leader,
    prevLogEntry: init.prevLogEntry ?? 0,
    prevLogTerm: init.prevLogTerm ?? 0,
    entries: init.entries ?? null,
    leaderCommitIndex: init.leaderCommitIndex ?? 0,
  };
}

/**
 * A heartbeat: an AppendEntries with a term and a leader and nothing else,
 * which `isHeartbeat` recognises and transports route to the heartbeat handler.
 */
export function heartbeat(init: { term: number; leader: IdOrBytes; id?: ServerID | Bytes }): AppendEntriesRequest {
  return appendEntriesRequest(init);
}

/** A follower's answer to AppendEntries; `noRetryBackoff` defaults to false. */
export function appendEntriesResponse(
  init: { term: number; lastLog: number; success: boolean; noRetryBackoff?: boolean } & Sender,
): AppendEntriesResponse {
  return {
    rpcHeader: rpcHeader(init),
    term: init.term,
    lastLog: init.lastLog,
    success: init.success,
    noRetryBackoff: init.noRetryBackoff ?? false,
  };
}

/** A candidate's vote request; `leadershipTransfer` defaults to false. */
export function voteRequest(init: {
  term: number;
  /** The candidate's address; also becomes `rpcHeader.addr`. */
  candidate: IdOrBytes;
  lastLogIndex: number;
  lastLogTerm: number;
  leadershipTransfer?: boolean;
  /** The candidate's ServerID (`rpcHeader.id`), which a voter needs to check it is a voter. */
  id?: ServerID | Bytes;
}): RequestVoteRequest {
  const candidate = toBytes(init.candidate);
  return {
    rpcHeader: rpcHeader({ id: init.id, addr: candidate }),
    term: init.term,
    candidate,
    lastLogIndex: init.lastLogIndex,
    lastLogTerm: init.lastLogTerm,
    leadershipTransfer: init.leadershipTransfer ?? false,
  };
}

/** A voter's answer. */
export function voteResponse(init: { term: number; granted: boolean } & Sender): RequestVoteResponse {
  return { rpcHeader: rpcHeader(init), term: init.term, granted: init.granted };
}

/** A pre-vote request (raft 1.7+ peers only). */
export function preVoteRequest(
  init: { term: number; lastLogIndex: number; lastLogTerm: number } & Sender,
): RequestPreVoteRequest {
  return { rpcHeader: rpcHeader(init), term: init.term, lastLogIndex: init.lastLogIndex, lastLogTerm: init.lastLogTerm };
}

/** The answer to a pre-vote. */
export function preVoteResponse(init: { term: number; granted: boolean } & Sender): RequestPreVoteResponse {
  return { rpcHeader: rpcHeader(init), term: init.term, granted: init.granted };
}

/** An InstallSnapshot request; `snapshotVersion` defaults to 1 (hashicorp's `SnapshotVersionMax`). */
export function installSnapshotRequest(init: {
  term: number;
  leader: IdOrBytes;
  lastLogIndex: number;
  lastLogTerm: number;
  configuration: Bytes;
  configurationIndex: number;
  size: number;
  snapshotVersion?: number;
  id?: ServerID | Bytes;
}): InstallSnapshotRequest {
  const leader = toBytes(init.leader);
  return {
    rpcHeader: rpcHeader({ id: init.id, addr: leader }),
    snapshotVersion: init.snapshotVersion ?? 1,
    term: init.term,
    leader,
    lastLogIndex: init.lastLogIndex,
    lastLogTerm: init.lastLogTerm,
    configuration: init.configuration,
    configurationIndex: init.configurationIndex,
    size: init.size,
  };
}

/** The answer to InstallSnapshot. */
export function installSnapshotResponse(init: { term: number; success: boolean } & Sender): InstallSnapshotResponse {
  return { rpcHeader: rpcHeader(init), term: init.term, success: init.success };
}

/** A TimeoutNow request (leadership transfer). */
export function timeoutNowRequest(sender: Sender = {}): TimeoutNowRequest {
  return { rpcHeader: rpcHeader(sender) };
}

/** The answer to TimeoutNow. */
export function timeoutNowResponse(sender: Sender = {}): TimeoutNowResponse {
  return { rpcHeader: rpcHeader(sender) };
}
