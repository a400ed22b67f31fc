/**
 * The contract between a Raft implementation and its network: what a Raft
 * node calls to reach its peers, and how it receives their calls. Interfaces
 * only; `InmemTransport` and `NetworkTransport` implement them.
 */
import type { Readable } from 'node:stream';
import type {
  AppendEntriesRequest,
  AppendEntriesResponse,
  InstallSnapshotRequest,
  InstallSnapshotResponse,
  RequestPreVoteRequest,
  RequestPreVoteResponse,
  RequestVoteRequest,
  RequestVoteResponse,
  RpcType,
  RequestOf,
  ResponseOf,
  ServerAddress,
  ServerID,
  TimeoutNowRequest,
  TimeoutNowResponse,
} from './commands.ts';
import type { TransportStats } from './net/peer-stats.ts';

/** Per-call controls: every call that waits can be bounded and cancelled. */
export interface CallOptions {
  /** Cancels the call; it rejects with `ERR_ABORTED`. */
  signal?: AbortSignal;
  /** Milliseconds before the call rejects with `ERR_RPC_TIMEOUT`; defaults to the transport's timeout. */
  timeout?: number;
}

/** Controls of `Transport.consumer()`. */
export interface ConsumerOptions {
  /**
   * Ends this iteration (the loop exits as if the transport closed) when it
   * aborts, even while it waits; the RPC it would have taken stays queued for
   * the next reader. The transport itself stays open.
   */
  signal?: AbortSignal;
}

/** Controls of `Transport.receive()`: the two other cases of a Go `select` on the RPC channel. */
export interface ReceiveOptions {
  /** Stops waiting; `receive` rejects with `ERR_ABORTED` and takes no RPC. */
  signal?: AbortSignal;
  /** Milliseconds to wait before `receive` resolves `undefined`, taking no RPC; 0 or absent waits indefinitely. */
  timeout?: number;
}

/** Snapshot bytes to send. A Node `Readable` qualifies. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** The shape every incoming RPC shares, specialised per RPC type. */
export interface RPCOf<T extends RpcType> {
  /** Discriminant: `switch (rpc.type)` narrows `command` and `respond`. */
  readonly type: T;
  readonly command: RequestOf<T>;
  /**
   * Who sent it, so a server can log, rate-limit or authorise by caller
   * without trusting the request's own fields: over a network, the remote
   * address of the connection it arrived on as the StreamLayer reports it
   * (`host:port` for TCP, the same string `rpc:receive` diagnostics carry);
   * in memory, the caller's `localAddr()`. It names the connection, not a
   * ServerID: use `command.rpcHeader.id` for that.
   */
  readonly remote: string;
  /**
   * Answers the caller, the same way in every transport:
   * - `respond(response)`: the call resolves with `response`;
   * - `respond(response | null, error)`: the call fails with `ERR_REMOTE`
   *   carrying the error's text (a string, or an Error's message);
   * - `respond(null)`: the call fails with `ERR_REMOTE`, "the peer answered
   *   with neither a response nor an error" — never a zero-valued response
   *   a Raft could take for a real answer.
   * Call exactly once: a second call throws `ERR_ALREADY_RESPONDED`;
   * answering after the transport closed is a silent no-op.
   */
  respond(response: ResponseOf<T> | null, error?: Error | string | null): void;
}

export type AppendEntriesRPC = RPCOf<typeof RpcType.AppendEntries>;
export type RequestVoteRPC = RPCOf<typeof RpcType.RequestVote>;
export type RequestPreVoteRPC = RPCOf<typeof RpcType.RequestPreVote>;
export type TimeoutNowRPC = RPCOf<typeof RpcType.TimeoutNow>;
export interface InstallSnapshotRPC extends RPCOf<typeof RpcType.InstallSnapshot> {
  /**
   * Exactly `command.size` bytes of snapshot data. Read it to the end before
   * responding; an unread remainder is discarded. The reader always
   * finishes: it ends, or errors once the data can no longer arrive (the
   * RPC was answered first, the connection broke, the transport closed).
   * That error reaches whoever reads; an unread reader never crashes the
   * process.
   */
  readonly reader: Readable;
}

/** An incoming call, to be answered through `respond`. */
export type RPC = AppendEntriesRPC | RequestVoteRPC | RequestPreVoteRPC | TimeoutNowRPC | InstallSnapshotRPC;

/** Receives heartbeats outside the consumer queue, so disk-bound work can't delay them. */
export type HeartbeatHandler = (rpc: AppendEntriesRPC) => void;

/**
 * One pipelined AppendEntries. Futures settle in request order; a pipeline
 * that breaks settles every pending future with an error.
 */
export interface AppendFuture {
  /**
   * When the request was handed to the transport, in ms since the epoch:
   * `performance.timeOrigin + performance.now()`, so differences between
   * futures are monotonic; it drifts from `Date.now()` after a wall-clock step.
   */
  readonly start: number;
  readonly request: AppendEntriesRequest;
  /** Set once the peer answered successfully. */
  readonly response: AppendEntriesResponse | undefined;
  /** Set once the call failed. */
  readonly error: Error | undefined;
  /** Resolves with the response or rejects with the error. Created on demand, so an unobserved failure is never an unhandled rejection. */
  wait(): Promise<AppendEntriesResponse>;
}

/**
 * Many AppendEntries in flight to one peer, answered in order. Used by a
 * leader to replicate without a round trip per batch.
 */
export interface AppendPipeline {
  /**
   * Sends a request and resolves with its future once it is on its way.
   * Waits while `maxInFlight` futures are neither answered-and-consumed nor
   * failed (back-pressure); `opts` bounds that wait.
   */
  appendEntries(req: AppendEntriesRequest, opts?: CallOptions): Promise<AppendFuture>;
  /** Settled futures, in request order. Ends after the pipeline closes and every future was yielded. */
  consumer(): AsyncIterable<AppendFuture>;
  /** Stops the pipeline; pending futures fail with `ERR_PIPELINE_SHUTDOWN`. */
  close(): Promise<void>;
}

/**
 * What a Raft node uses to talk to its peers (hashicorp/raft's `Transport`).
 * Every outgoing call resolves with the peer's response or rejects with a
 * `TransportError`; none waits forever.
 */
export interface Transport {
  /**
   * Incoming RPCs. There is a single queue: every iteration draws from it.
   * Iteration ends when the transport closes, or when `opts.signal` aborts.
   *
   * Never race an iterator's `next()` against a timer with `Promise.race`:
   * the losing `next()` still takes the following RPC and nobody answers it.
   * Pass a signal here, or call `receive()`, whose waits give up cleanly.
   */
  consumer(opts?: ConsumerOptions): AsyncIterable<RPC>;
  /**
   * The next incoming RPC, for `select`-style loops (Go's `select { case rpc
   * := <-rpcCh: … case <-timer: … }`). Resolves `undefined` once
   * `opts.timeout` passes; rejects with `ERR_ABORTED` when `opts.signal`
   * aborts and with `ERR_TRANSPORT_SHUTDOWN` once the transport closed and
   * no RPC is left. An RPC is taken only when it is the resolved value, so a
   * wait that gives up never loses one.
   */
  receive(opts?: ReceiveOptions): Promise<RPC | undefined>;
  /** The address peers use to reach this transport. */
  localAddr(): ServerAddress;

  /** Replicates entries to (or heartbeats) one follower, one round trip at a time. */
  appendEntries(
    id: ServerID,
    target: ServerAddress,
    req: AppendEntriesRequest,
    opts?: CallOptions,
  ): Promise<AppendEntriesResponse>;
  /** Asks a peer for its vote in an election. */
  requestVote(id: ServerID, target: ServerAddress, req: RequestVoteRequest, opts?: CallOptions): Promise<RequestVoteResponse>;
  /**
   * Asks whether a vote would be granted, without bumping anyone's term
   * (raft 1.7+ peers only). An older peer makes the network transport reject
   * with PreVoteNotSupportedError (ERR_NOT_SUPPORTED): fall back to a normal election.
   */
  requestPreVote(
    id: ServerID,
    target: ServerAddress,
    req: RequestPreVoteRequest,
    opts?: CallOptions,
  ): Promise<RequestPreVoteResponse>;
  /**
   * Streams `req.size` bytes from `data` after the request; the data is never
   * held whole in memory. The transport owns `data` from the call on: it reads
   * it, and once the call settles, however it ends (answered, failed before or
   * while streaming, timed out, aborted, transport closed), it finishes what
   * is left: a stream is destroyed, an iterator is returned. So a file stream
   * never stays open; don't reuse `data` after the call. Errors the data
   * itself raises reject the call with `ERR_SNAPSHOT_SOURCE`.
   */
  installSnapshot(
    id: ServerID,
    target: ServerAddress,
    req: InstallSnapshotRequest,
    data: ByteSource,
    opts?: CallOptions,
  ): Promise<InstallSnapshotResponse>;
  /** Tells a peer to start an election now, to hand leadership over. */
  timeoutNow(id: ServerID, target: ServerAddress, req: TimeoutNowRequest, opts?: CallOptions): Promise<TimeoutNowResponse>;
  /** Opens a pipeline to `target`; rejects with `ERR_NOT_SUPPORTED` where pipelining is off. */
  appendEntriesPipeline(id: ServerID, target: ServerAddress, opts?: CallOptions): Promise<AppendPipeline>;

  /** Serialises a peer for a Raft configuration entry. */
  encodePeer(id: ServerID, addr: ServerAddress): Uint8Array;
  /** Inverse of `encodePeer`. */
  decodePeer(buf: Uint8Array): ServerAddress;

  /** Routes heartbeats to `handler` instead of the consumer queue; `null` restores the queue. */
  setHeartbeatHandler(handler: HeartbeatHandler | null): void;

  /**
   * Counters per peer and inbound, for dashboards and tests; the same shape
   * on every transport (an in-memory one reports no bytes or connections).
   */
  stats(): TransportStats;

  /**
   * Stops the transport: no new calls, every pending call and RPC settles,
   * and no sockets or timers remain once the promise resolves.
   */
  close(): Promise<void>;
}

/** Optional capability of transports that can simulate a network (hashicorp's `WithPeers`). */
export interface WithPeers {
  /** Adds a one-way route from this transport to `peer`. */
  connect(peer: ServerAddress, transport: Transport): void;
  /** Removes the route to `peer` and closes pipelines to it. */
  disconnect(peer: ServerAddress): void;
  /** Removes every route and closes every pipeline. */
  disconnectAll(): void;
}
