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
} from '../commands.ts';
import {
  ConnectionClosedError,
  ErrorCode,
  isTransportError,
  NotSupportedError,
  PreVoteNotSupportedError,
  TransportShutdownError,
} from '../errors.ts';
import { PreVoteMemory } from './prevote-memory.ts';
import { AsyncQueue } from '../internal/async-queue.ts';
import { finishSource } from '../internal/byte-source.ts';
import { handlesReleased } from '../internal/handles-released.ts';
import { type Identity, identityOf } from '../internal/identity.ts';
import { channels } from '../diagnostics.ts';
import type { PendingCall } from '../internal/pending-call.ts';
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
import { ClientConn } from './conn/client-conn.ts';
import { ConnPool } from './conn/conn-pool.ts';
import { DialBackoff, type DialBackoffOptions } from './conn/dial-backoff.ts';
import { NetPipeline } from './conn/net-pipeline.ts';
import { sendSnapshot } from './conn/snapshot-sender.ts';
import type { ServerRPC } from './conn/server-conn.ts';
import { Inbound } from './inbound.ts';
import { PeerStats, type TransportStats } from './peer-stats.ts';
import type { PeerHealth } from './peer-health.ts';
import { PeerProber } from './peer-prober.ts';
import { TrackedCall } from './tracked-call.ts';
import type { StreamLayer } from './layers/stream-layer.ts';
import {
  type DecodeLimits,
  resolveDecodeLimits,
  resolveWireFormat,
  type WireFormat,
  type WireFormatPreset,
} from './codec/wire-format.ts';

/**
 * Peers whose counters are kept even while idle. Past this, entries of peers
 * with no connection and nothing in flight are forgotten, oldest first, so a
 * cluster whose membership churns doesn't grow the map forever.
 */
const PEER_STATS_KEPT = 64;

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
  /**
   * Which hashicorp/raft generation our bytes imitate: a preset matching the
   * cluster ('hashicorp-1.1', 'hashicorp-1.5', 'hashicorp-1.6+' — the
   * default — or 'hashicorp-1.6+-msgpack-time' for Go peers with
   * MsgpackUseNewTimeFormat), or explicit knobs. Decoding accepts every generation.
   */
  wireFormat?: WireFormat | WireFormatPreset;
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
  /**
   * Probes peers every this many ms, each on a connection of its own, and
   * keeps their status (see `peers()` and README "Peer health probing").
   * Off (0) by default.
   */
  probeInterval?: number;
  /** Deadline of one probe, connecting included, in ms (default: the larger of 1 s and twice `probeInterval`). */
  probeTimeout?: number;
  /** Peers to probe from the start; add others with `addProbePeer()`. */
  probePeers?: readonly ServerAddress[];
  /**
   * Also probe every address this transport dials for a Raft RPC (default
   * true), keeping the 64 most recently learnt; explicit peers are never dropped.
   */
  probeDialledPeers?: boolean;
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
 *
 * Bookkeeping: every outbound connection is tracked from its dial until its
 * `closed` promise resolves, whoever else (pool, pipeline, snapshot) uses it
 * meanwhile; the inbound side lives in its own object (Inbound).
 */
export class NetworkTransport implements Transport {
  private readonly opts: Resolved;
  private readonly layer: StreamLayer;
  private readonly queue = new AsyncQueue<ServerRPC>(
    (rpc) => rpc.live,
    (rpc) => rpc.taken(),
  );
  private readonly pool: ConnPool;
  private readonly clientConns = new Set<ClientConn>();
  private readonly server: Inbound;
  private readonly pipelines = new Set<NetPipeline>();
  private readonly shutdown = new AbortController();
  private readonly backoff: DialBackoff;
  private readonly peerStats = new Map<ServerAddress, PeerStats>();
  private readonly prober: PeerProber | undefined;
  private readonly probeDialled: boolean;
  private closing: Promise<void> | undefined;
  private acceptLoop: Promise<void>;
  private backoffTimer: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  /** Peers that recently closed the connection on a RequestPreVote (raft before 1.7). */
  private readonly preVoteMemory = new PreVoteMemory();
  /** `localID` and `localAddr()` as bytes, made on the first dial. */
  private identity: Identity | undefined;

  constructor(layer: StreamLayer, options: NetworkTransportOptions = {}) {
    const maxRPCsInFlight = options.maxRPCsInFlight ?? 64;
    this.opts = {
      maxPool: options.maxPool ?? 3,
      timeout: options.timeout ?? 10_000,
      timeoutScale: options.timeoutScale ?? 256 * 1024,
      maxRPCsInFlight,
      wireFormat: resolveWireFormat(options.wireFormat),
      limits: resolveDecodeLimits(options.limits),
      maxSnapshotSize: options.maxSnapshotSize ?? 64 * 1024 ** 3,
      idleTimeout: options.idleTimeout ?? 60_000,
      logger: options.logger ?? defaultLogger,
      serverAddressProvider: options.serverAddressProvider,
      localID: options.localID,
    };
    this.layer = layer;
    this.server = new Inbound({
      logger: this.opts.logger,
      limits: this.opts.limits,
      maxSnapshotSize: this.opts.maxSnapshotSize,
      idleTimeout: this.opts.idleTimeout,
      wireFormat: this.opts.wireFormat,
      localAddr: () => this.localAddr(),
      deliver: (rpc) => this.deliver(rpc),
    });
    this.pool = new ConnPool(this.opts.maxPool);
    this.backoff = new DialBackoff(options.dialBackoff);
    this.acceptLoop = this.runAcceptLoop();
    const interval = options.probeInterval ?? 0;
    this.probeDialled = options.probeDialledPeers ?? true;
    if (interval > 0) {
      this.prober = new PeerProber({
        interval,
        // A probe without a deadline could wait on a black hole forever: never 0.
        timeout: (options.probeTimeout ?? 0) > 0 ? (options.probeTimeout as number) : Math.max(1000, 2 * interval),
        maxDialled: PEER_STATS_KEPT,
        dialer: layer,
        wireFormat: this.opts.wireFormat,
        limits: this.opts.limits,
        logger: this.opts.logger,
        localAddr: () => this.localAddr(),
      });
      for (const peer of options.probePeers ?? []) this.prober.add(peer);
    }
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
    // A peer before hashicorp/raft 1.7 answers type 4 by closing the connection:
    // report that as PreVoteNotSupportedError (and remember it for a while), so
    // a Raft can tell "no pre-vote here" from a broken link and fall back. A
    // close alone does not prove it (a peer restarting, a pooled connection cut
    // by its idle timer): the request is sent once more, and only a second close
    // without an answer, from a peer that accepted the connection, counts.
    if (this.closing !== undefined) return Promise.reject(new TransportShutdownError());
    const addr = this.resolve(id, target);
    if (this.preVoteMemory.lacks(addr)) return Promise.reject(new PreVoteNotSupportedError(addr, { remembered: true }));
    const attempt = () => this.call(RpcType.RequestPreVote, id, target, req, opts) as Promise<RequestPreVoteResponse>;
    const closedByPeer = (err: unknown) => isTransportError(err, ErrorCode.ConnectionClosed) && this.closing === undefined;
    return attempt()
      .catch((err: unknown) => {
        if (!closedByPeer(err)) throw err;
        return attempt();
      })
      .then(
        (resp) => {
          this.preVoteMemory.forget(addr);
          return resp;
        },
        (err: unknown) => {
          if (closedByPeer(err)) {
            this.preVoteMemory.remember(addr);
            throw new PreVoteNotSupportedError(addr, { cause: err });
          }
          throw err;
        },
      );
  }

  timeoutNow(id: ServerID, target: ServerAddress, req: TimeoutNowRequest, opts?: CallOptions): Promise<TimeoutNowResponse> {
    return this.call(RpcType.TimeoutNow, id, target, req, opts) as Promise<TimeoutNowResponse>;
  }

  /**
   * Streams a snapshot on a connection of its own, closed afterwards. The
   * transport owns `data` from this call on: it reads it, and once the call
   * settles (answered, failed, timed out, aborted) it finishes it whatever
   * was read (a stream is destroyed, an iterator returned).
   */
  installSnapshot(
    id: ServerID,
    target: ServerAddress,
    req: InstallSnapshotRequest,
    data: ByteSource,
    opts?: CallOptions,
  ): Promise<InstallSnapshotResponse> {
    if (this.closing !== undefined) {
      finishSource(data);
      return Promise.reject(new TransportShutdownError());
    }
    // As in Go: the deadline grows with the snapshot, never below the base timeout.
    const timeout = opts?.timeout ?? this.opts.timeout * Math.max(1, Math.floor(req.size / this.opts.timeoutScale));
    const addr = this.resolve(id, target);
    const tracked = new TrackedCall(RpcType.InstallSnapshot, addr, req, this.statsFor(addr), this.localAddr(), undefined, id);
    const call = tracked.call;
    const finish = (): void => finishSource(data);
    call.promise.then(finish, finish);
    call.arm(timeout, opts?.signal);
    if (call.settled) return call.promise as Promise<InstallSnapshotResponse>;
    const start = (conn: ClientConn | undefined): void => {
      if (conn === undefined) return;
      // A snapshot leaves the connection in an unknown state: it is never pooled.
      tracked.attach(conn);
      const release = (): Promise<void> => conn.close();
      call.promise.then(release, release);
      sendSnapshot(conn, req, data, tracked, this.localAddr()).catch((err: unknown) => {
        // Whatever stopped the stream (an unencodable request, the data, the
        // connection) is the call's error, unless the call already ended.
        const e = err instanceof Error ? err : new Error(String(err));
        call.reject(e);
        conn.fail(e);
      });
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
      id,
    );
    if (this.closing !== undefined) {
      await pipeline.close();
      throw new TransportShutdownError();
    }
    this.pipelines.add(pipeline);
    void pipeline.closed.then((cause) => {
      this.pipelines.delete(pipeline);
      if (cause !== undefined && this.closing === undefined) {
        this.opts.logger.warn({ err: cause, target: addr }, `raft-net: append pipeline to ${addr} broke`);
      }
    });
    return pipeline;
  }

  /** As Go's: the address the serverAddressProvider gives for `id`, else `addr`. */
  encodePeer(id: ServerID, addr: ServerAddress): Uint8Array {
    return textEncoder.encode(this.resolve(id, addr));
  }

  decodePeer(buf: Uint8Array): ServerAddress {
    return textDecoder.decode(buf);
  }

  setHeartbeatHandler(handler: HeartbeatHandler | null): void {
    this.server.handler = handler;
  }

  /**
   * Closes every pooled outbound connection and every inbound connection,
   * without closing the transport (hashicorp's CloseStreams): Raft calls it to
   * abandon streams whose state it no longer trusts.
   */
  async closeStreams(): Promise<void> {
    this.server.destroyAll(new ConnectionClosedError('streams closed'));
    await this.pool.closeAll();
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  /**
   * Counters per peer and for the inbound side, for dashboards and alerts
   * (see examples/prometheus.ts for an exporter); with probing on, also the
   * probed peers' health (`probes`).
   */
  stats(): TransportStats {
    const stats: TransportStats = {
      peers: [...this.peerStats.values()].map((p) => p.snapshot()),
      inbound: { ...this.server.inbound, connectionsOpen: this.server.open },
    };
    if (this.prober !== undefined) stats.probes = this.prober.list();
    return stats;
  }

  /** The probed peers' health (empty unless `probeInterval` is set): state, since, last error, RTT, failures. */
  peers(): PeerHealth[] {
    return this.prober?.list() ?? [];
  }

  /** Starts probing `peer`; ERR_NOT_SUPPORTED unless `probeInterval` is set. */
  addProbePeer(peer: ServerAddress): void {
    if (this.prober === undefined) throw new NotSupportedError('peer probing is off (probeInterval not set)');
    this.prober.add(peer);
  }

  /** Stops probing `peer` (e.g. once it left the configuration) and closes its probe connection. */
  async removeProbePeer(peer: ServerAddress): Promise<void> {
    await this.prober?.remove(peer);
  }

  private deliver(rpc: ServerRPC): void {
    if (!this.queue.push(rpc)) rpc.respond(null, 'transport shutdown');
  }

  private async doClose(): Promise<void> {
    this.shutdown.abort(new TransportShutdownError());
    const proberClosed = this.prober?.close();
    if (this.backoffTimer !== undefined) {
      clearTimeout(this.backoffTimer.timer);
      this.backoffTimer.wake();
    }
    // Server.close() waits for open connections, so cut those first.
    const layerClosed = this.layer.close();
    const err = new TransportShutdownError();
    this.server.destroyAll(err);
    await layerClosed;
    await this.acceptLoop;
    for (const p of [...this.pipelines]) p.shutdown(err);
    const closing: Array<Promise<void>> = [];
    for (const conn of [...this.clientConns]) {
      conn.fail(err);
      closing.push(conn.close());
    }
    this.server.destroyAll(err);
    this.queue.close(true);
    await Promise.all([...closing, this.server.socketsClosed(), proberClosed]);
    await handlesReleased();
  }

  /** Resolves which address to dial for a server. */
  private resolve(id: ServerID, target: ServerAddress): ServerAddress {
    const provider = this.opts.serverAddressProvider;
    if (provider === undefined) return target;
    try {
      return provider(id) ?? target;
    } catch (err) {
      this.opts.logger.warn({ err, id }, 'raft-net: serverAddressProvider failed; using the target address');
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
    const tracked = new TrackedCall(type, addr, req, this.statsFor(addr), this.localAddr(), this.pool, id);
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
   * The counters of one peer, created on first use. Creating one past
   * PEER_STATS_KEPT forgets the oldest idle peers first.
   */
  private statsFor(addr: ServerAddress): PeerStats {
    let s = this.peerStats.get(addr);
    if (s === undefined) {
      if (this.peerStats.size >= PEER_STATS_KEPT) this.forgetIdlePeers();
      s = new PeerStats(addr);
      this.peerStats.set(addr, s);
    }
    return s;
  }

  private forgetIdlePeers(): void {
    for (const [addr, s] of this.peerStats) {
      if (this.peerStats.size < PEER_STATS_KEPT) return;
      if (s.idle) this.peerStats.delete(addr);
    }
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
    if (this.probeDialled) this.prober?.add(addr, 'dialled');
    const deadline = performance.now() + timeout;
    // A peer whose dials keep failing is retried after a pause, not hammered.
    const pause = this.backoff.wait(addr, deadline, signals);
    if (pause !== undefined) {
      try {
        await pause;
      } catch (err) {
        if (this.closing !== undefined) throw new TransportShutdownError();
        throw err;
      }
    }
    let socket: Duplex;
    try {
      socket = await this.layer.dial(addr, Math.max(1, deadline - performance.now()), signals);
    } catch (err) {
      if (this.closing !== undefined) throw new TransportShutdownError();
      if (!isTransportError(err, ErrorCode.Aborted)) this.backoff.failed(addr);
      this.opts.logger.debug({ err, target: addr }, `raft-net: failed to dial ${addr}`);
      throw err;
    }
    this.backoff.succeeded(addr);
    if (this.closing !== undefined) {
      socket.destroy();
      throw new TransportShutdownError();
    }
    this.identity ??= identityOf(this.opts.localID, this.localAddr());
    return this.track(new ClientConn(socket, addr, this.opts.wireFormat, this.opts.limits, this.statsFor(addr), this.identity));
  }

  /** The transport's own record of an outbound connection, kept until the connection's end, whoever uses it. */
  private track(conn: ClientConn): ClientConn {
    const stats = this.statsFor(conn.target);
    const local = this.localAddr();
    stats.connectionsOpened++;
    stats.connectionsOpen++;
    this.clientConns.add(conn);
    if (channels.connectionOpen.hasSubscribers) {
      channels.connectionOpen.publish({ local, direction: 'outbound', peer: conn.target });
    }
    void conn.closed.then((error) => {
      this.clientConns.delete(conn);
      stats.connectionsOpen--;
      if (!conn.closedLocally && this.closing === undefined) {
        this.opts.logger.debug({ err: error, target: conn.target }, `raft-net: connection to ${conn.target} cut`);
      }
      if (channels.connectionClose.hasSubscribers) {
        channels.connectionClose.publish({ local, direction: 'outbound', peer: conn.target, error });
      }
    });
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
        this.opts.logger.error({ err, backoffMs: backoff }, 'raft-net: failed to accept connection');
        await new Promise<void>((wake) => {
          this.backoffTimer = { timer: setTimeout(wake, backoff), wake };
        });
        this.backoffTimer = undefined;
        continue;
      }
      if (this.closing !== undefined) socket.destroy();
      else this.server.serve(socket);
    }
  }
}
