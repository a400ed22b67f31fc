import { setImmediate as yieldToLoop } from 'node:timers/promises';
import {
  type AnyResponse,
  type AppendEntriesRequest,
  type AppendEntriesResponse,
  RpcType,
  type ServerAddress,
  type ServerID,
} from '../../commands.ts';
import { publishReplication } from '../hashicorp-metrics.ts';
import { PipelineShutdownError, RemoteError, RpcTimeoutError } from '../../errors.ts';
import { AppendFutureImpl, AppendWindow } from '../../internal/append-window.ts';
import type { AppendFuture, AppendPipeline, CallOptions } from '../../transport.ts';
import { channels } from '../../diagnostics.ts';
import type { ClientConn, ResponseWaiter } from './client-conn.ts';
import type { PeerStats } from '../peer-stats.ts';

/** Request bytes a pipeline encodes per event-loop turn before making its sender wait for the next. */
const TURN_BYTES = 256 * 1024;

/**
 * Many AppendEntries in flight on one dedicated connection. Requests issued
 * in the same tick leave in one write; responses come back in request order,
 * which is how they are matched. A timeout, a decode error or a broken
 * connection ends the pipeline and fails every pending future, since the
 * stream's position is then unknown.
 *
 * Deadlines (see AppendWindow): the oldest unanswered request must be
 * answered within `timeout` of being sent or of the previous answer,
 * whichever is later, as Go re-arms its read deadline per response. When it
 * is not, every unanswered future fails with ERR_RPC_TIMEOUT (its `cause`
 * says the pipeline closed) and the pipeline closes.
 */
export class NetPipeline implements AppendPipeline, ResponseWaiter {
  readonly responseType = RpcType.AppendEntries;
  readonly target: ServerAddress;
  /**
   * Resolves once the pipeline has shut down: with what broke it (the
   * connection, a timeout), or undefined when its owner closed it.
   */
  readonly closed: Promise<Error | undefined>;
  private readonly conn: ClientConn;
  private readonly window: AppendWindow;
  private readonly timeout: number;
  private readonly stats: PeerStats;
  private readonly local: string;
  /** The ServerID the pipeline was opened with: hashicorp's `peer_id` label. */
  private readonly peerID: ServerID;
  private resolveClosed!: (cause: Error | undefined) => void;
  /** Bytes encoded since the sender last gave the event loop a turn. */
  private turnBytes = 0;

  constructor(conn: ClientConn, maxInFlight: number, timeout: number, stats: PeerStats, local: string, peerID: ServerID = '') {
    this.conn = conn;
    this.peerID = peerID;
    this.target = conn.target;
    this.timeout = timeout;
    this.stats = stats;
    this.local = local;
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.window = new AppendWindow({
      maxInFlight,
      onExpire: () => this.expired(),
      onSettled: (f) => this.settled(f),
    });
    // The connection's end is this pipeline's end; the transport watches the same promise for its own reasons.
    void conn.closed.then((err) => this.shutdown(err));
  }

  appendEntries(req: AppendEntriesRequest, opts?: CallOptions): Promise<AppendFuture> {
    const wait = this.window.acquire(opts, this.timeout);
    if (wait === undefined && !this.conn.congested) {
      let future: AppendFuture;
      try {
        future = this.send(req);
      } catch (err) {
        return Promise.reject(err);
      }
      // A sender refilling a window of big batches would otherwise encode it
      // all in one run of microtasks; past a turn's worth of bytes, the
      // promise resolves on the next turn so timers and other sockets
      // (heartbeats) get their go.
      if (this.turnBytes < TURN_BYTES) return Promise.resolve(future);
      this.turnBytes = 0;
      return yieldToLoop(future);
    }
    return this.sendLater(wait, req, opts);
  }

  /**
   * Waits for a window slot and then, when the socket is backed up (large
   * entries, slow peer), for it to drain: the window counts requests, this
   * bounds bytes, so big batches neither pile up in memory nor queue for
   * hundreds of milliseconds behind each other.
   */
  private async sendLater(slot: Promise<void> | undefined, req: AppendEntriesRequest, opts?: CallOptions): Promise<AppendFuture> {
    if (slot !== undefined) await slot;
    if (this.conn.congested && !this.window.closed) {
      try {
        await this.conn.waitWritable(opts?.timeout ?? this.timeout, opts?.signal);
      } catch (err) {
        this.window.unreserve();
        throw err;
      }
    }
    return this.send(req);
  }

  private send(req: AppendEntriesRequest): AppendFuture {
    if (this.window.closed) {
      this.window.unreserve();
      throw new PipelineShutdownError();
    }
    const future = new AppendFutureImpl(req, this.timeout);
    try {
      this.turnBytes += this.conn.send(RpcType.AppendEntries, req, this);
    } catch (err) {
      this.window.unreserve();
      throw err;
    }
    this.window.add(future);
    this.stats.started();
    if (channels.pipelineDepth.hasSubscribers) this.publishDepth();
    return future;
  }

  private settled(f: AppendFutureImpl): void {
    if (f.error === undefined) {
      const ms = (f.answeredAt > 0 ? f.answeredAt : performance.now()) - f.sentAt;
      this.stats.succeeded(ms);
      if (channels.metric.hasSubscribers) publishReplication(this.local, this.peerID, RpcType.AppendEntries, f.request, ms);
    } else this.stats.failed(f.error instanceof RemoteError);
    if (channels.pipelineDepth.hasSubscribers) this.publishDepth();
  }

  private publishDepth(): void {
    channels.pipelineDepth.publish({ local: this.local, target: this.target, inFlight: this.window.inFlight });
  }

  consumer(): AsyncIterable<AppendFuture> {
    return this.window.done;
  }

  async close(): Promise<void> {
    this.shutdown();
    await this.conn.close();
  }

  /** ResponseWaiter: the next response in order. */
  onResponse(response: AnyResponse, remoteError: string): void {
    const future = this.window.head();
    if (future === undefined) return;
    if (remoteError !== '') this.window.settle(future, undefined, new RemoteError(remoteError));
    else this.window.settle(future, response as AppendEntriesResponse, undefined);
  }

  /** ResponseWaiter: the connection broke. */
  onConnectionError(err: Error): void {
    this.shutdown(err);
  }

  /**
   * The peer did not answer in time: the futures it never answered fail with
   * the timeout code (a caller checking for timeouts sees them), and the
   * pipeline closes, since the stream's position is now unknown.
   */
  private expired(): void {
    if (this.window.closed) return;
    const closed = new PipelineShutdownError(`append pipeline to ${this.target} closed: no response in time`);
    const timedOut = new RpcTimeoutError(`append pipeline to ${this.target}: no response`, this.timeout, { cause: closed });
    this.finish(
      timedOut,
      new PipelineShutdownError(`append pipeline closed: ${timedOut.message}`, { cause: timedOut }),
      timedOut,
    );
  }

  /** Fails every pending future and ends the consumer; idempotent. */
  shutdown(cause?: Error): void {
    if (this.window.closed) return;
    this.finish(
      new PipelineShutdownError(
        cause ? `append pipeline closed: ${cause.message}` : 'append pipeline closed',
        cause ? { cause } : undefined,
      ),
      undefined,
      cause,
    );
  }

  private finish(futureError: Error, senderError: Error = futureError, cause?: Error): void {
    this.window.close(futureError, senderError);
    void this.conn.close();
    this.resolveClosed(cause);
  }
}
