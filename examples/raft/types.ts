/**
 * The interfaces a Raft is built from, in hashicorp's shape: the user's state
 * machine (FSM), where the log and the vote live (LogStore, StableStore), where
 * snapshots go (SnapshotStore), and the knobs (RaftConfig). Stores here are
 * synchronous: a write returns once it is durable, which keeps the Raft's
 * ordering arguments simple (nothing interleaves with a half-done write).
 */
import type { ByteSource, Log, ServerID } from '../../src/index.ts';
import type { Configuration } from './configuration.ts';

/** The replicated state machine. `apply` must be deterministic. */
export interface FSM {
  /** Applies one committed `LogCommand` entry; the result resolves the leader's `apply()`. */
  apply(log: Log): unknown;
  /** The whole state, as bytes, at the moment of the call (the last applied entry). */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot's bytes. */
  restore(data: Uint8Array): void;
}

/** The Raft log. Indexes are contiguous from `firstIndex()` to `lastIndex()` (both 0 when empty). */
export interface LogStore {
  firstIndex(): number;
  lastIndex(): number;
  getLog(index: number): Log | undefined;
  /** Appends (or overwrites from the first given index on) durably. */
  storeLogs(logs: Log[]): void;
  /** Removes entries `min..max` inclusive (a prefix after a snapshot, or a suffix on conflict). */
  deleteRange(min: number, max: number): void;
}

/** Small durable values: the current term and the vote. */
export interface StableStore {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
}

/** What a snapshot covers. */
export interface SnapshotMeta {
  id: string;
  index: number;
  term: number;
  configuration: Configuration;
  configurationIndex: number;
  size: number;
}

/** Where snapshots live; only the latest matters to this Raft. */
export interface SnapshotStore {
  /** Stores a complete snapshot durably; older ones may be dropped. */
  save(meta: Omit<SnapshotMeta, 'id' | 'size'>, data: Uint8Array): SnapshotMeta;
  /** The newest snapshot's metadata, if any. */
  latest(): SnapshotMeta | undefined;
  /** The bytes of snapshot `id`. */
  read(id: string): Uint8Array;
  /** The bytes of snapshot `id` as a stream of chunks, for InstallSnapshot. */
  stream(id: string): ByteSource;
}

/** Timing and sizing; the defaults suit a LAN (and match hashicorp's where they exist). */
export interface RaftConfig {
  localID: ServerID;
  /** Follower: start an election after this long without a leader (randomised up to 2x). */
  heartbeatTimeout: number;
  /** Candidate: give up on an election after this long (randomised up to 2x). */
  electionTimeout: number;
  /** Leader: step down without contact from a quorum for this long. */
  leaderLeaseTimeout: number;
  /** Upper bound on waiting for more entries before replicating them. */
  commitTimeout: number;
  /** Entries per AppendEntries. */
  maxAppendEntries: number;
  /** Use `appendEntriesPipeline` when the transport offers it. */
  pipeline: boolean;
  /** Ask for pre-votes before a real election (so a partitioned node does not disrupt the cluster). */
  preVote: boolean;
  /** Take a snapshot once this many entries accumulated since the last one. */
  snapshotThreshold: number;
  /** How often to check `snapshotThreshold`. */
  snapshotInterval: number;
  /** Entries kept in the log after a snapshot, so a slightly lagging follower needs no snapshot. */
  trailingLogs: number;
  /** Timeout of one AppendEntries/vote RPC. */
  rpcTimeout: number;
  /** Timeout of one InstallSnapshot RPC. */
  snapshotTimeout: number;
  /** Optional trace of state changes, for tests and the CLI's --verbose. */
  log?: (msg: string) => void;
}

export const DEFAULT_CONFIG: Omit<RaftConfig, 'localID'> = {
  heartbeatTimeout: 1000,
  electionTimeout: 1000,
  leaderLeaseTimeout: 500,
  commitTimeout: 50,
  maxAppendEntries: 64,
  pipeline: true,
  preVote: true,
  snapshotThreshold: 8192,
  snapshotInterval: 120_000,
  trailingLogs: 10_240,
  rpcTimeout: 2000,
  snapshotTimeout: 30_000,
};

/** The role a node plays now. String values are Go's `RaftState.String()`. */
export type RaftState = 'Follower' | 'Candidate' | 'Leader' | 'Shutdown';
