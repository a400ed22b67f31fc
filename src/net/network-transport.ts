import type { Duplex } from 'node:stream';
import {
  type AnyRequest,
  type AnyResponse,
  type AppendEntriesRequest,
  type AppendEntriesResponse,
  type InstallSnapshotRequest,
  type InstallSnapshotResponse,
  type RequestPreVoteRequest,
  type RequestPreVoteResponse,
  type RequestVoteRequest,
  type RequestVoteResponse,
  RpcType,
  type ServerAddress,
  type ServerID,
  type TimeoutNowRequest,
  type TimeoutNowResponse,
  rpcTypeName,
} from '../commands.ts';
import {
  ConnectionClosedError,
  ErrorCode,
  isTransportError,
  NotSupportedError,
  RemoteError,
  TransportShutdownError,
} from '../errors.ts';
import { AsyncQueue } from '../internal/async-queue.ts';
import { handlesReleased } from '../internal/handles-released.ts';
import { type Identity, identityOf } from '../internal/identity.ts';
import { channels } from '../diagnostics.ts';
import { type CallObserver, PendingCall } from '../internal/pending-call.ts';
import { defaultLogger, type Logger } from '../logger.ts';
import type {
  AppendPipeline,
  ByteSource,
  CallOptions,
  ConsumerOptions,
  HeartbeatHandler,
  ReceiveOptions,
  RPC,
  Transport,
} from '../transport.ts';
import { ClientConn, type ResponseWaiter } from './conn/client-conn.ts';
import { ConnPool } from './conn/conn-pool.ts';
import { DialBackoff, type DialBackoffOptions } from './conn/dial-backoff.ts';
import { MessageWriter } from './codec/encoder.ts';
import { FrameReader } from './codec/frame-reader.ts';
import { NetPipeline } from './conn/net-pipeline.ts';
import { PeerStats, type TransportStats } from './peer-stats.ts';
import { type ServerHost, ServerConn, type ServerRPC } from './conn/server-conn.ts';
import type { StreamLayer } from './layers/stream-layer.ts';
import { type DecodeLimits, resolveDecodeLimits, type WireFormat } from './codec/wire-format.ts';

/** Maps a server ID to the address to dial, overriding the target Raft passes (hashicorp's ServerAddressProvider). */
export type ServerAddressProvider = (id: ServerID) => ServerAddress | undefined;

/** Everything tunable on a NetworkTransport; every field has a production default. */
export interface NetworkTransportOptions {
  /** Idle connections kept per peer (hashicorp's maxPool; default 3). */
  maxPool?: number;
  /** Default per-call deadline in ms, covering dial, send and response (default 10 s). */
  timeout?: number;
  /** InstallSnapshot deadline grows by `timeout` per this many bytes (default 256 KiB, as in Go). */
  timeoutScale?: number;
  /**
   * AppendEntries outstanding per pipeline. Below 2 pipelining is refused
   * with ERR_NOT_SUPPORTED, as in hashicorp. Default 64 (see README: the
   * benchmark sweep flattens out there).
   */
  maxRPCsInFlight?: number;
  /** Resolves server IDs to addresses; when it returns undefined or throws, the target is used. */
  serverAddressProvider?: ServerAddressProvider;
  /** Which Go generation our bytes imitate (default: the latest field set, Go's default time format). */
  wireFormat?: WireFormat;
  /** Bounds on what a peer can make us buffer or allocate (see DecodeLimits). */
  limits?: Partial<DecodeLimits>;
  /** Largest InstallSnapshot accepted, in bytes (default 64 GiB). Streamed, never buffered. */
  maxSnapshotSize?: number;
  /**
   * Inbound connections that stall mid-request (or mid-snapshot) this long are
   * closed, in ms; 0 disables (default 60 s).
   */
  idleTimeout?: number;
  /** Pauses between dials to a peer that keeps refusing (exponential, jittered). */
  dialBackoff?: DialBackoffOptions;
  /** Where diagnostics go; pino-compatible. Silent unless NODE_DEBUG=raft-transport. */
  logger?: Logger;
  /**
   * This node's ServerID. When set, every outgoing request that leaves
   * `rpcHeader.id` or `rpcHeader.addr` out (`undefined`, not `null`) gets
   * this ID and `localAddr()` (the advertised address), as Go's raft fills
   * them; such a request is sent as a shallow copy, the caller's object is
   * not modified.
   */
  localID?: ServerID;
}

interface Resolved {
  maxPool: number;
  timeout: number;
  timeoutScale: number;
  maxRPCsInFlight: number;
  wireFormat: WireFormat;
  limits: DecodeLimits;
  maxSnapshotSize: number;
  idleTimeout: number;
  logger: Logger;
  serverAddressProvider: ServerAddressProvider | undefined;
  localID: ServerID | undefined;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * A Transport over any StreamLayer, speaking hashicorp/raft's
 * NetworkTransport protocol byte for byte: a Go raft node and this transport
 * can call each other.
 *
 * Connection use follows hashicorp: ordinary RPCs borrow a pooled
 * connection, one RPC at a time; each pipeline owns a connection; a snapshot
 * takes a connection and closes it afterwards. So a heartbeat never waits
 * behind a pipeline's backlog or a snapshot's bytes.
 */
export class NetworkTransport implements Transport, ServerHost {
  /** @internal */
  readonly logger: Logger;
  /** @internal */
  readonly limits: DecodeLimits;
  /** @internal */
  readonly maxSnapshotSize: number;
  /** @internal */
  readonly idleTimeout: number;
  private readonly opts: Resolved;
  private readonly layer: StreamLayer;
  private readonly queue = new AsyncQueue<ServerRPC>((rpc) => rpc.live);
  private readonly pool: ConnPool;
  private readonly clientConns = new Set<ClientConn>();
  private readonly serverConns = new Set<ServerConn>();
  private readonly serverSockets = new Set<Promise<void>>();
  private readonly pipelines = new Set<NetPipeline>();
  private readonly shutdown = new AbortController();
  private readonly backoff: DialBackoff;
  private readonly peerStats = new Map<ServerAddress, PeerStats>();
  /**
   * Inbound counters; ServerConns update them directly.
   * @internal
   */
  readonly inbound = { rpcsReceived: 0, protocolErrors: 0, bytesReceived: 0 };
  private hbHandler: HeartbeatHandler | null = null;
  private closing: Promise<void> | undefined;
  private acceptLoop: Promise<void>;
  private backoffTimer: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  /** `localID` and `localAddr()` as bytes, made on the first dial. */
  private identity: Identity | undefined;

  constructor(layer: StreamLayer, options: NetworkTransportOptions = {}) {
    const maxRPCsInFlight = options.maxRPCsInFlight ?? 64;
    this.opts = {
      maxPool: options.maxPool ?? 3,
      timeout: options.timeout ?? 10_000,
      timeoutScale: options.timeoutScale ?? 256 * 1024,
      maxRPCsInFlight,
      wireFormat: options.wireFormat ?? {},
      limits: resolveDecodeLimits(options.limits),
      maxSnapshotSize: options.maxSnapshotSize ?? 64 * 1024 ** 3,
      idleTimeout: options.idleTimeout ?? 60_000,
      logger: options.logger ?? defaultLogger,
      serverAddressProvider: options.serverAddressProvider,
      localID: options.localID,
    };
    this.layer = layer;
    this.logger = this.opts.logger;
    this.limits = this.opts.limits;
    this.maxSnapshotSize = this.opts.maxSnapshotSize;
    this.idleTimeout = this.opts.idleTimeout;
    this.pool = new ConnPool(this.opts.maxPool);
    this.backoff = new DialBackoff(options.dialBackoff);
    this.acceptLoop = this.runAcceptLoop();
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  consumer(opts?: ConsumerOptions): AsyncIterable<RPC> {
    // ServerRPC carries exactly the fields of the RPC union member named by its `type`.
    return this.queue.iterate(opts?.signal) as unknown as AsyncIterable<RPC>;
  }

  receive(opts?: ReceiveOptions): Promise<RPC | undefined> {
    return this.queue.receive(opts?.signal, opts?.timeout) as Promise<RPC | undefined>;
  }

  localAddr(): ServerAddress {
    return this.layer.addr();
  }

  appendEntries(
    id: ServerID,
    target: ServerAddress,
    req: AppendEntriesRequest,
    opts?: CallOptions,
  ): Promise<AppendEntriesResponse> {
    return this.call(RpcType.AppendEntries, id, target, req, opts) as Promise<AppendEntriesResponse>;
  }

  requestVote(id: ServerID, target: ServerAddress, req: RequestVoteRequest, opts?: CallOptions): Promise<RequestVoteResponse> {
    return this.call(RpcType.RequestVote, id, target, req, opts) as Promise<RequestVoteResponse>;
  }

  requestPreVote(
    id: ServerID,
    target: ServerAddress,
    req: RequestPreVoteRequest,
    opts?: CallOptions,
  ): Promise<RequestPreVoteResponse> {
    return this.call(RpcType.RequestPreVote, id, target, req, opts) as Promise<RequestPreVoteResponse>;
  }

  timeoutNow(id: ServerID, target: ServerAddress, req: TimeoutNowRequest, opts?: CallOptions): Promise<TimeoutNowResponse> {
    return this.call(RpcType.TimeoutNow, id, target, req, opts) as Promise<TimeoutNowResponse>;
  }

  installSnapshot(
    id: ServerID,
    target: ServerAddress,
    req: InstallSnapshotRequest,
    data: ByteSource,
    opts?: CallOptions,
  ): Promise<InstallSnapshotResponse> {
    if (this.closing !== undefined) return Promise.reject(new TransportShutdownError());
    // As in Go: the deadline grows with the snapshot, never below the base timeout.
    const timeout = opts?.timeout ?? this.opts.timeout * Math.max(1, Math.floor(req.size / this.opts.timeoutScale));
    const addr = this.resolve(id, target);
    const tracked = new TrackedCall(this, RpcType.InstallSnapshot, addr, req, false);
    const call = tracked.call;
    call.arm(timeout, opts?.signal);
    if (call.settled) return call.promise as Promise<InstallSnapshotResponse>;
    const start = (conn: ClientConn | undefined): void => {
      if (conn === undefined) return;
      // A snapshot leaves the connection in an unknown state: it is never pooled.
      tracked.attach(conn);
      conn.sendSnapshot(req, data, tracked).catch((err: unknown) => conn.fail(asError(err)));
      const release = (): Promise<void> => conn.close();
      call.promise.then(release, release);
    };
    const pooled = this.pool.take(addr);
    if (pooled !== undefined) start(pooled);
    else this.raceDial(addr, call).then(start, (err: Error) => call.reject(err));
    return call.promise as Promise<InstallSnapshotResponse>;
  }

  async appendEntriesPipeline(id: ServerID, target: ServerAddress, opts?: CallOptions): Promise<AppendPipeline> {
    if (this.closing !== undefined) throw new TransportShutdownError();
    if (this.opts.maxRPCsInFlight < 2) {
      throw new NotSupportedError('pipelining is disabled (maxRPCsInFlight < 2)');
    }
    const addr = this.resolve(id, target);
    const conn = this.pool.take(addr) ?? (await this.dial(addr, opts?.timeout ?? this.opts.timeout, opts?.signal));
    const pipeline = new NetPipeline(
      conn,
      this.opts.maxRPCsInFlight,
      this.opts.timeout,
      this.statsFor(addr),
      this.localAddr(),
      (p) => this.pipelines.delete(p),
    );
    if (this.closing !== undefined) {
      await pipeline.close();
      throw new TransportShutdownError();
    }
    this.pipelines.add(pipeline);
    return pipeline;
  }

  encodePeer(_id: ServerID, addr: ServerAddress): Uint8Array {
    return textEncoder.encode(addr);
  }

  decodePeer(buf: Uint8Array): ServerAddress {
    return textDecoder.decode(buf);
  }

  setHeartbeatHandler(handler: HeartbeatHandler | null): void {
    this.hbHandler = handler;
  }

  /**
   * ServerHost: the heartbeat fast path, read per request so it can change at any time.
   * @internal
   */
  heartbeatHandler(): HeartbeatHandler | null {
    return this.hbHandler;
  }

  /**
   * ServerHost: queue an inbound RPC for the consumer.
   * @internal
   */
  dispatch(rpc: ServerRPC): void {
    if (!this.queue.push(rpc)) rpc.respond(null, 'transport shutdown');
  }

  /**
   * ServerHost: forget a closed inbound connection.
   * @internal
   */
  connectionClosed(conn: ServerConn): void {
    this.serverConns.delete(conn);
  }

  /**
   * Closes every pooled outbound connection and every inbound connection,
   * without closing the transport (hashicorp's CloseStreams): Raft calls it to
   * abandon streams whose state it no longer trusts.
   */
  async closeStreams(): Promise<void> {
    for (const conn of [...this.serverConns]) conn.destroy(new ConnectionClosedError('streams closed'));
    await this.pool.closeAll();
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.shutdown.abort(new TransportShutdownError());
    if (this.backoffTimer !== undefined) {
      clearTimeout(this.backoffTimer.timer);
      this.backoffTimer.wake();
    }
    // Server.close() waits for open connections, so cut those first.
    const layerClosed = this.layer.close();
    const err = new TransportShutdownError();
    for (const conn of [...this.serverConns]) conn.destroy(err);
    await layerClosed;
    await this.acceptLoop;
    for (const p of [...this.pipelines]) p.shutdown(err);
    const closing: Array<Promise<void>> = [];
    for (const conn of [...this.clientConns]) {
      conn.fail(err);
      closing.push(conn.close());
    }
    for (const conn of [...this.serverConns]) conn.destroy(err);
    this.queue.close(true);
    await Promise.all([...closing, ...this.serverSockets]);
    await handlesReleased();
  }

  /** Resolves which address to dial for a server. */
  private resolve(id: ServerID, target: ServerAddress): ServerAddress {
    const provider = this.opts.serverAddressProvider;
    if (provider === undefined) return target;
    try {
      return provider(id) ?? target;
    } catch (err) {
      this.logger.warn({ err, id }, 'raft-net: serverAddressProvider failed; using the target address');
      return target;
    }
  }

  /**
   * The common path of every RPC but snapshots: borrow (or dial) a
   * connection, send, and hand the connection back when the answer arrives.
   * With a pooled connection nothing here waits before the request is queued.
   */
  private call(type: RpcType, id: ServerID, target: ServerAddress, req: AnyRequest, opts?: CallOptions): Promise<AnyResponse> {
    if (this.closing !== undefined) return Promise.reject(new TransportShutdownError());
    const addr = this.resolve(id, target);
    const tracked = new TrackedCall(this, type, addr, req, true);
    const call = tracked.call;
    call.arm(opts?.timeout ?? this.opts.timeout, opts?.signal);
    if (call.settled) return call.promise;
    const conn = this.pool.take(addr);
    if (conn !== undefined) {
      this.sendOn(conn, tracked);
    } else {
      this.raceDial(addr, call).then(
        (c) => this.sendOn(c, tracked),
        (err: Error) => call.reject(err),
      );
    }
    return call.promise;
  }

  private sendOn(conn: ClientConn | undefined, tracked: TrackedCall): void {
    if (conn === undefined) return;
    tracked.attach(conn);
    try {
      conn.send(tracked.responseType, tracked.request, tracked);
    } catch (err) {
      tracked.call.onCancel = undefined;
      this.pool.give(conn);
      tracked.call.reject(err as Error);
    }
  }

  /**
   * The counters of one peer, created on first use.
   * @internal
   */
  statsFor(addr: ServerAddress): PeerStats {
    let s = this.peerStats.get(addr);
    if (s === undefined) {
      s = new PeerStats(addr);
      this.peerStats.set(addr, s);
    }
    return s;
  }

  /**
   * Returns a connection after a successful exchange (TrackedCall).
   * @internal
   */
  release(conn: ClientConn): void {
    this.pool.give(conn);
  }

  /**
   * Counters per peer and for the inbound side, for dashboards and alerts
   * (see examples/prometheus.ts for an exporter).
   */
  stats(): TransportStats {
    return {
      peers: [...this.peerStats.values()].map((p) => p.snapshot()),
      inbound: { ...this.inbound, connectionsOpen: this.serverConns.size },
    };
  }

  /**
   * Dials for a call; the call's own timeout or abort ends the dial. Resolves
   * undefined when the call was settled meanwhile (the connection is pooled).
   */
  private raceDial(addr: ServerAddress, call: PendingCall<AnyResponse>): Promise<ClientConn | undefined> {
    const ac = new AbortController();
    call.onCancel = (err) => ac.abort(err);
    return this.dial(addr, this.opts.timeout, ac.signal).then((conn) => {
      call.onCancel = undefined;
      if (!call.settled) return conn;
      this.pool.give(conn);
      return undefined;
    });
  }

  private async dial(addr: ServerAddress, timeout: number, signal?: AbortSignal): Promise<ClientConn> {
    const signals = signal === undefined ? this.shutdown.signal : AbortSignal.any([signal, this.shutdown.signal]);
    const deadline = Date.now() + timeout;
    // A peer whose dials keep failing is retried after a pause, not hammered.
    const pause = this.backoff.wait(addr, deadline, signals);
    if (pause !== undefined) await pause;
    let socket: Duplex;
    try {
      socket = await this.layer.dial(addr, Math.max(1, deadline - Date.now()), signals);
    } catch (err) {
      if (this.closing !== undefined) throw new TransportShutdownError();
      if (!isTransportError(err, ErrorCode.Aborted)) this.backoff.failed(addr);
      throw err;
    }
    this.backoff.succeeded(addr);
    if (this.closing !== undefined) {
      socket.destroy();
      throw new TransportShutdownError();
    }
    this.identity ??= identityOf(this.opts.localID, this.localAddr());
    const conn = new ClientConn(
      socket,
      addr,
      this.opts.wireFormat,
      this.opts.limits,
      this.statsFor(addr),
      this.localAddr(),
      this.identity,
    );
    this.clientConns.add(conn);
    conn.onClose = (c) => this.clientConns.delete(c);
    return conn;
  }

  private async runAcceptLoop(): Promise<void> {
    let backoff = 0;
    for (;;) {
      let socket: Duplex;
      try {
        socket = await this.layer.accept();
        backoff = 0;
      } catch (err) {
        if (this.closing !== undefined || isTransportError(err, ErrorCode.TransportShutdown)) return;
        // As Go does: back off from 5 ms to 1 s on repeated accept errors.
        backoff = backoff === 0 ? 5 : Math.min(backoff * 2, 1000);
        this.logger.error({ err, backoffMs: backoff }, 'raft-net: failed to accept connection');
        await new Promise<void>((wake) => {
          this.backoffTimer = { timer: setTimeout(wake, backoff), wake };
        });
        this.backoffTimer = undefined;
        continue;
      }
      this.serve(socket);
    }
  }

  private serve(socket: Duplex): void {
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    const s = socket as Duplex & { remoteAddress?: string; remotePort?: number };
    const remote = s.remoteAddress !== undefined ? `${s.remoteAddress}:${s.remotePort}` : 'unknown';
    const conn = new ServerConn(socket, this, new FrameReader(this.opts.limits), new MessageWriter(this.opts.wireFormat), remote);
    // A layer may hand over a paused socket (HandoffStreamLayer does, so no byte is lost before we listen).
    socket.resume();
    this.serverConns.add(conn);
    const closed = conn.closed;
    this.serverSockets.add(closed);
    void closed.then(() => this.serverSockets.delete(closed));
    this.logger.debug({ remote, local: this.localAddr() }, 'raft-net: accepted connection');
  }
}

/**
 * One outgoing call from start to end: waits for its response on a borrowed
 * connection (returning the connection to the pool afterwards), and records
 * how it ended in the peer's stats and the diagnostics channels. One object
 * per call, serving as response waiter and settle observer alike.
 */
class TrackedCall implements ResponseWaiter, CallObserver<AnyResponse> {
  readonly responseType: RpcType;
  readonly request: AnyRequest;
  readonly call: PendingCall<AnyResponse>;
  private readonly transport: NetworkTransport;
  private readonly stats: PeerStats;
  private readonly target: ServerAddress;
  private readonly reuse: boolean;
  private readonly t0: number;
  private conn: ClientConn | undefined;

  constructor(transport: NetworkTransport, type: RpcType, target: ServerAddress, request: AnyRequest, reuse: boolean) {
    this.transport = transport;
    this.responseType = type;
    this.target = target;
    this.request = request;
    this.reuse = reuse;
    this.stats = transport.statsFor(target);
    this.stats.started();
    this.t0 = performance.now();
    this.call = new PendingCall<AnyResponse>(`${rpcTypeName(type)} to ${target} timed out`);
    this.call.observer = this;
  }

  /** The connection the request goes out on. */
  attach(conn: ClientConn): void {
    this.conn = conn;
    // A call given up mid-flight leaves an answer on the way: the connection can't be reused.
    this.call.onCancel = (err) => conn.fail(err);
    if (channels.rpcSend.hasSubscribers) {
      channels.rpcSend.publish({
        local: this.transport.localAddr(),
        target: this.target,
        type: this.responseType,
        request: this.request,
      });
    }
  }

  onResponse(response: AnyResponse, remoteError: string): void {
    this.call.onCancel = undefined;
    // The stream is in sync after any decoded answer, but a peer may close
    // right after an error string (a refused request is answered, then the
    // connection closed): only a clean answer returns the connection to the pool.
    if (this.reuse && this.conn !== undefined) {
      if (remoteError === '') this.transport.release(this.conn);
      else void this.conn.close();
    }
    if (remoteError !== '') this.call.reject(new RemoteError(remoteError));
    else this.call.resolve(response);
  }

  onConnectionError(err: Error): void {
    this.call.reject(err);
  }

  settled(response: AnyResponse | undefined, err: Error | undefined): void {
    const ms = performance.now() - this.t0;
    if (err === undefined) {
      this.stats.succeeded(ms);
      if (channels.rpcComplete.hasSubscribers) {
        channels.rpcComplete.publish({
          local: this.transport.localAddr(),
          target: this.target,
          type: this.responseType,
          response,
          durationMs: ms,
        });
      }
    } else {
      this.stats.failed(err instanceof RemoteError);
      if (channels.rpcError.hasSubscribers) {
        channels.rpcError.publish({
          local: this.transport.localAddr(),
          target: this.target,
          type: this.responseType,
          error: err,
          durationMs: ms,
        });
      }
    }
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
