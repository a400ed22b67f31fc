import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  type AnyRequest,
  type AnyResponse,
  type AppendEntriesRequest,
  type AppendEntriesResponse,
  type InstallSnapshotRequest,
  type InstallSnapshotResponse,
  isHeartbeat,
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
  NotSupportedError,
  PeerUnreachableError,
  RemoteError,
  TransportShutdownError,
} from '../errors.ts';
import { AsyncQueue } from '../internal/async-queue.ts';
import { PeerStats, type TransportStats } from '../net/peer-stats.ts';
import { exactReadable, finishSource } from '../internal/byte-source.ts';
import { type Identity, identityOf, withIdentity } from '../internal/identity.ts';
import { HEARTBEAT_HANDLER_FAILED } from '../internal/no-answer.ts';
import { PendingCall } from '../internal/pending-call.ts';
import { defaultLogger, type Logger } from '../logger.ts';
import type {
  AppendEntriesRPC,
  AppendPipeline,
  ByteSource,
  CallOptions,
  ConsumerOptions,
  HeartbeatHandler,
  ReceiveOptions,
  RPC,
  Transport,
  WithPeers,
} from '../transport.ts';
import { InmemPipeline } from './inmem-pipeline.ts';
import { InmemRPC } from './inmem-rpc.ts';

/** Tuning for an InmemTransport; the defaults are hashicorp's. */
export interface InmemTransportOptions {
  /** Default per-call timeout in ms (hashicorp: 500 ms). InstallSnapshot gets 10x. 0 disables. */
  timeout?: number;
  /** RPCs the consumer queue buffers before callers count as still sending (hashicorp: 16). */
  queueCapacity?: number;
  /**
   * AppendEntries outstanding per pipeline, as on NetworkTransport: default
   * 64, and below 2 `appendEntriesPipeline` rejects with ERR_NOT_SUPPORTED,
   * so a test sees the window a production node will have.
   */
  maxRPCsInFlight?: number;
  /** @deprecated Use `maxRPCsInFlight`, the name NetworkTransport uses. */
  maxInFlight?: number;
  /**
   * This node's ServerID. When set, outgoing requests that leave
   * `rpcHeader.id` or `rpcHeader.addr` out (`undefined`, not `null`) get this
   * ID and this transport's address, as on NetworkTransport; the peer then
   * receives a shallow copy instead of the caller's object.
   */
  localID?: ServerID;
  /** Where diagnostics go (a heartbeat handler that threw); pino-compatible. Silent unless NODE_DEBUG=raft-transport. */
  logger?: Logger;
}

/** The same window as NetworkTransport's default (see README, "Why the default maxRPCsInFlight is 64"). */
const DEFAULT_MAX_RPCS_IN_FLIGHT = 64;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * An in-process transport for unit-testing Raft code: no sockets, no
 * encoding, objects passed by reference. Routes are one-way and explicit
 * (`connect`/`disconnect`), so a test can partition the cluster at will.
 *
 * It follows hashicorp's InmemTransport, with four deliberate differences:
 * - heartbeats go to the heartbeat handler when one is set, exactly as
 *   NetworkTransport does, so tests exercise the same path as production;
 * - closing a transport fails the calls it has in flight and the calls
 *   waiting on it at once, instead of leaving them to time out;
 * - one deadline covers the whole call; the error says whether it ran out
 *   before the consumer took the RPC ("send timed out") or after
 *   ("command timed out");
 * - the pipeline window is NetworkTransport's (`maxRPCsInFlight`, default
 *   64, below 2 refused with ERR_NOT_SUPPORTED), not a fixed 128, so code
 *   tested here meets the back-pressure it will meet in production.
 */
export class InmemTransport implements Transport, WithPeers {
  readonly timeout: number;
  /** Pipeline window; see `InmemTransportOptions.maxRPCsInFlight`. */
  readonly maxRPCsInFlight: number;
  private readonly addr: ServerAddress;
  private readonly queueCapacity: number;
  private readonly queue: AsyncQueue<InmemRPC>;
  /** RPCs beyond the queue's capacity, waiting for room ("still sending"). */
  private readonly overflow: AsyncQueue<InmemRPC>;
  private readonly routes = new Map<ServerAddress, InmemTransport>();
  private readonly pipelines = new Set<InmemPipeline>();
  /** RPCs this transport sent that are unanswered; failed on close. */
  private readonly outgoing = new Set<InmemRPC>();
  /** RPCs delivered here that are unanswered; failed on close. */
  private readonly incoming = new Set<InmemRPC>();
  private readonly peerStats = new Map<ServerAddress, PeerStats>();
  private rpcsReceived = 0;
  private heartbeatHandler: HeartbeatHandler | null = null;
  /** @internal */
  readonly identity: Identity | undefined;
  private closedFlag = false;
  private readonly logger: Logger;

  constructor(addr?: ServerAddress, options: InmemTransportOptions = {}) {
    this.addr = addr !== undefined && addr !== '' ? addr : randomUUID();
    this.timeout = options.timeout ?? 500;
    this.queueCapacity = options.queueCapacity ?? 16;
    this.logger = options.logger ?? defaultLogger;
    this.identity = identityOf(options.localID, this.addr);
    this.maxRPCsInFlight = options.maxRPCsInFlight ?? options.maxInFlight ?? DEFAULT_MAX_RPCS_IN_FLIGHT;
    // Dropping an abandoned RPC at dequeue also unlinks it from both ends.
    const live = (rpc: InmemRPC) => {
      if (rpc.live) return true;
      rpc.from.forget(rpc);
      rpc.to.forget(rpc);
      return false;
    };
    this.queue = new AsyncQueue<InmemRPC>(live, () => this.refill());
    this.overflow = new AsyncQueue<InmemRPC>(live);
  }

  /**
   * One transport per address, every one connected to every other: the
   * usual test cluster in one line. Each member's `localID` is its address
   * (as in hashicorp's tests) unless `options.localID` is given. Close each
   * member, e.g. `await Promise.all(nodes.map((n) => n.close()))`.
   */
  static cluster<const A extends readonly ServerAddress[]>(
    addrs: A,
    options: InmemTransportOptions = {},
  ): { -readonly [K in keyof A]: InmemTransport } {
    const nodes = addrs.map((addr) => new InmemTransport(addr, { ...options, localID: options.localID ?? addr }));
    for (const from of nodes) for (const to of nodes) if (from !== to) from.connect(to.localAddr(), to);
    return nodes as unknown as { -readonly [K in keyof A]: InmemTransport };
  }

  /** @deprecated Use `maxRPCsInFlight`. */
  get maxInFlight(): number {
    return this.maxRPCsInFlight;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  consumer(opts?: ConsumerOptions): AsyncIterable<RPC> {
    // InmemRPC carries exactly the fields of the RPC union member named by its `type`.
    return this.queue.iterate(opts?.signal) as unknown as AsyncIterable<RPC>;
  }

  receive(opts?: ReceiveOptions): Promise<RPC | undefined> {
    return this.queue.receive(opts?.signal, opts?.timeout) as Promise<RPC | undefined>;
  }

  localAddr(): ServerAddress {
    return this.addr;
  }

  appendEntries(
    _id: ServerID,
    target: ServerAddress,
    req: AppendEntriesRequest,
    opts?: CallOptions,
  ): Promise<AppendEntriesResponse> {
    return this.call(RpcType.AppendEntries, target, req, opts) as Promise<AppendEntriesResponse>;
  }

  requestVote(_id: ServerID, target: ServerAddress, req: RequestVoteRequest, opts?: CallOptions): Promise<RequestVoteResponse> {
    return this.call(RpcType.RequestVote, target, req, opts) as Promise<RequestVoteResponse>;
  }

  requestPreVote(
    _id: ServerID,
    target: ServerAddress,
    req: RequestPreVoteRequest,
    opts?: CallOptions,
  ): Promise<RequestPreVoteResponse> {
    return this.call(RpcType.RequestPreVote, target, req, opts) as Promise<RequestPreVoteResponse>;
  }

  installSnapshot(
    _id: ServerID,
    target: ServerAddress,
    req: InstallSnapshotRequest,
    data: ByteSource,
    opts?: CallOptions,
  ): Promise<InstallSnapshotResponse> {
    const reader = exactReadable(data, req.size);
    const call = this.call(RpcType.InstallSnapshot, target, req, opts, reader, 10) as Promise<InstallSnapshotResponse>;
    // The transport owns `data` (see Transport): once the call settles, whatever was not read is finished.
    const finish = (): void => {
      reader.destroy();
      finishSource(data);
    };
    call.then(finish, finish);
    return call;
  }

  timeoutNow(_id: ServerID, target: ServerAddress, req: TimeoutNowRequest, opts?: CallOptions): Promise<TimeoutNowResponse> {
    return this.call(RpcType.TimeoutNow, target, req, opts) as Promise<TimeoutNowResponse>;
  }

  appendEntriesPipeline(_id: ServerID, target: ServerAddress): Promise<AppendPipeline> {
    if (this.closedFlag) return Promise.reject(new TransportShutdownError());
    if (this.maxRPCsInFlight < 2) {
      return Promise.reject(new NotSupportedError('pipelining is disabled (maxRPCsInFlight < 2)'));
    }
    const peer = this.routes.get(target);
    if (peer === undefined) return Promise.reject(unreachable(target));
    const pipeline = new InmemPipeline(this, peer, target, () => this.pipelines.delete(pipeline));
    this.pipelines.add(pipeline);
    return Promise.resolve(pipeline);
  }

  encodePeer(_id: ServerID, addr: ServerAddress): Uint8Array {
    return textEncoder.encode(addr);
  }

  decodePeer(buf: Uint8Array): ServerAddress {
    return textDecoder.decode(buf);
  }

  setHeartbeatHandler(handler: HeartbeatHandler | null): void {
    this.heartbeatHandler = handler;
  }

  connect(peer: ServerAddress, transport: Transport): void {
    if (!(transport instanceof InmemTransport)) {
      throw new TypeError('InmemTransport can only connect to another InmemTransport');
    }
    this.routes.set(peer, transport);
  }

  disconnect(peer: ServerAddress): void {
    this.routes.delete(peer);
    for (const p of this.pipelines) if (p.peerAddr === peer) p.shutdown();
  }

  disconnectAll(): void {
    this.routes.clear();
    for (const p of this.pipelines) p.shutdown();
  }

  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.disconnectAll();
    const shutdown = new TransportShutdownError();
    for (const rpc of [...this.outgoing]) rpc.settle(undefined, shutdown);
    const gone = new ConnectionClosedError(`peer ${this.addr} shut down before answering`);
    for (const rpc of [...this.incoming]) {
      rpc.settle(undefined, gone);
      // As a broken connection would, a peer going away ends pipelines to it.
      if (rpc.reply.kind === 'pipeline') rpc.reply.pipeline.shutdown(gone);
    }
    this.queue.close(true);
    this.overflow.close(true);
  }

  /**
   * The same counters as NetworkTransport's: per peer, calls and pipelined
   * requests sent, answered, failed and their latency; inbound, RPCs
   * received. Bytes and connections stay 0: nothing is encoded or dialed.
   */
  stats(): TransportStats {
    return {
      peers: [...this.peerStats.values()].map((p) => p.snapshot()),
      inbound: { rpcsReceived: this.rpcsReceived, connectionsOpen: 0, protocolErrors: 0, bytesReceived: 0 },
    };
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
   * InmemEndpoint: an RPC touching this transport was answered or abandoned.
   * @internal
   */
  forget(rpc: InmemRPC): void {
    if (rpc.from === this) this.outgoing.delete(rpc);
    else this.incoming.delete(rpc);
  }

  /**
   * Hands an RPC to this transport's consumer (or heartbeat handler). False
   * when this transport is closed.
   * @internal
   */
  deliver(rpc: InmemRPC): boolean {
    if (this.closedFlag) return false;
    this.rpcsReceived++;
    this.incoming.add(rpc);
    if (rpc.type === RpcType.AppendEntries && this.heartbeatHandler !== null) {
      if (isHeartbeat(rpc.command as AppendEntriesRequest)) {
        this.pick(rpc);
        const handler = this.heartbeatHandler;
        try {
          handler(rpc as unknown as AppendEntriesRPC);
        } catch (err) {
          // As over the network: logged here, and the caller only learns that it failed.
          this.logger.warn({ err, remote: rpc.remote }, 'raft-inmem: heartbeat handler threw');
          if (rpc.live) rpc.settle(undefined, new RemoteError(HEARTBEAT_HANDLER_FAILED));
        }
        return true;
      }
    }
    if (this.queue.length < this.queueCapacity) {
      this.pick(rpc);
      this.queue.push(rpc);
    } else {
      this.overflow.push(rpc);
    }
    return true;
  }

  /**
   * Registers an outgoing RPC so close() can fail it.
   * @internal
   */
  track(rpc: InmemRPC): void {
    this.outgoing.add(rpc);
  }

  /** @internal */
  routeTo(target: ServerAddress): InmemTransport | undefined {
    return this.routes.get(target);
  }

  private pick(rpc: InmemRPC): void {
    rpc.picked = true;
    if (rpc.reply.kind === 'call') rpc.reply.call.stage = 'command timed out';
  }

  /** The consumer took an RPC: admit one waiting in overflow. */
  private refill(): void {
    const next = this.overflow.shift();
    if (next !== undefined) {
      this.pick(next);
      this.queue.push(next);
    }
  }

  private call(
    type: RpcType,
    target: ServerAddress,
    req: AnyRequest,
    opts: CallOptions | undefined,
    reader?: Readable,
    timeoutScale = 1,
  ): Promise<AnyResponse> {
    if (this.closedFlag) return Promise.reject(new TransportShutdownError());
    const peer = this.routes.get(target);
    if (peer === undefined) return Promise.reject(unreachable(target));
    const call = new PendingCall<AnyResponse>('send timed out');
    const rpc = new InmemRPC(type, withIdentity(req, this.identity), { kind: 'call', call }, this, peer, reader);
    call.onCancel = () => {
      this.outgoing.delete(rpc);
      peer.incoming.delete(rpc);
    };
    const stats = this.statsFor(target);
    stats.started();
    const t0 = performance.now();
    call.observer = {
      settled: (_v, err) =>
        err === undefined ? stats.succeeded(performance.now() - t0) : stats.failed(err instanceof RemoteError),
    };
    this.outgoing.add(rpc);
    if (!peer.deliver(rpc)) {
      this.outgoing.delete(rpc);
      stats.failed(false);
      reader?.destroy();
      return Promise.reject(new PeerUnreachableError(`peer ${target} is shut down`));
    }
    if (!call.settled) call.arm(opts?.timeout ?? this.timeout * timeoutScale, opts?.signal);
    return call.promise;
  }
}

function unreachable(target: ServerAddress): PeerUnreachableError {
  return new PeerUnreachableError(`failed to connect to peer: ${target} (no route; call connect() first)`);
}
