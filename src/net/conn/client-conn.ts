import type { Duplex } from 'node:stream';
import type { AnyRequest, RpcType, ServerAddress } from '../../commands.ts';
import { ConnectionClosedError } from '../../errors.ts';
import { type Identity, withIdentity } from '../../internal/identity.ts';
import { PendingCall } from '../../internal/pending-call.ts';
import { MessageWriter } from '../codec/encoder.ts';
import { BatchWriter } from './batch-writer.ts';
import type { PeerStats } from '../peer-stats.ts';
import type { DecodeLimits, WireFormat } from '../codec/wire-format.ts';
import { ResponseMatcher, type ResponseWaiter } from './response-matcher.ts';
import { freshReadChunks } from './socket-memory.ts';

export type { ResponseWaiter } from './response-matcher.ts';

/** User-space bytes queued on a socket beyond which senders wait for it to drain. */
const WRITE_HIGH_WATER = 256 * 1024;

/**
 * The client half of a connection, as socket I/O: encodes requests,
 * coalesces the ones issued in the same tick into a single socket write, and
 * feeds what arrives to its ResponseMatcher (which pairs answers with
 * waiters). Its lifecycle is `closed`, which any number of owners may watch:
 * the transport's bookkeeping, a pipeline, a snapshot in progress.
 */
export class ClientConn {
  readonly target: ServerAddress;
  /** Set once the connection is unusable; never cleared. */
  broken: Error | undefined;
  /** Resolves (never rejects) with the reason once the connection broke or was closed. */
  readonly closed: Promise<Error>;
  private readonly socket: Duplex;
  private readonly matcher: ResponseMatcher;
  private readonly writer: MessageWriter;
  private readonly batch: BatchWriter;
  private readonly socketClosed: Promise<void>;
  private readonly stats: PeerStats;
  /** Fills `rpcHeader.id`/`addr` of requests that leave them out (the transport's `localID`). */
  private readonly identity: Identity | undefined;
  private resolveClosed!: (err: Error) => void;
  private localClose = false;

  constructor(
    socket: Duplex,
    target: ServerAddress,
    format: WireFormat,
    limits: DecodeLimits,
    stats: PeerStats,
    identity?: Identity,
  ) {
    this.identity = identity;
    this.socket = socket;
    this.target = target;
    this.stats = stats;
    this.matcher = new ResponseMatcher(target, limits, { freshChunks: freshReadChunks(socket) });
    this.writer = new MessageWriter(format);
    this.batch = new BatchWriter(socket, this.writer, { onWrite: (bytes) => (stats.bytesSent += bytes) });
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.socketClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) =>
      this.fail(new ConnectionClosedError(`connection to ${target} failed: ${err.message}`, { cause: err })),
    );
    socket.on('end', () => this.fail(new ConnectionClosedError(`connection to ${target} closed by the peer`)));
    socket.on('close', () => this.fail(new ConnectionClosedError(`connection to ${target} closed`)));
  }

  /**
   * True while more than WRITE_HIGH_WATER bytes wait in user space for the
   * socket: the peer (or the network) is slower than we produce, and senders
   * should wait for `waitWritable()` instead of piling up memory and latency.
   */
  get congested(): boolean {
    return this.socket.writableLength > WRITE_HIGH_WATER;
  }

  /** False once the connection broke or its socket was destroyed (even before 'close' arrives). */
  get usable(): boolean {
    return this.broken === undefined && !this.socket.destroyed;
  }

  /** Responses still expected. */
  get outstanding(): number {
    return this.matcher.outstanding;
  }

  /**
   * Queues a request; it is written together with any others sent in the same
   * tick. Throws (leaving the connection usable) if the request can't be
   * encoded. Returns the encoded size.
   */
  send(type: RpcType, req: AnyRequest, waiter: ResponseWaiter): number {
    if (this.broken !== undefined) throw this.broken;
    const before = this.writer.pending;
    this.writer.writeRequest(type, withIdentity(req, this.identity));
    const size = this.writer.pending - before;
    this.matcher.expect(waiter);
    this.batch.queued();
    return size;
  }

  /** Writes every request queued since the last flush in one write. */
  flush(): void {
    this.batch.flush();
  }

  /**
   * Writes raw bytes after a flushed request (snapshot data). Returns false
   * when the socket asks the writer to wait for `drained()`.
   */
  writeRaw(chunk: Uint8Array): boolean {
    if (this.broken !== undefined) throw this.broken;
    this.stats.bytesSent += chunk.length;
    return this.socket.write(chunk);
  }

  /** Resolves once the socket drains or closes; its listeners go with it. */
  drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /**
   * Like `drained()`, bounded by a timeout and a signal (ERR_RPC_TIMEOUT,
   * ERR_ABORTED). The listeners are removed however the wait ends, so
   * repeated timed-out waits leave nothing behind on the socket.
   */
  waitWritable(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const call = new PendingCall<void>('timed out waiting for the connection to drain');
    const socket = this.socket;
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      call.resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
    call.onCancel = () => {
      socket.off('drain', done);
      socket.off('close', done);
    };
    call.arm(timeoutMs, signal);
    return call.promise;
  }

  /** Breaks the connection: every waiter fails with `err`, then `closed` resolves. Idempotent. */
  fail(err: Error): void {
    if (this.broken !== undefined) return;
    this.broken = err;
    this.batch.stop();
    this.socket.destroy();
    this.matcher.failAll(err);
    this.resolveClosed(err);
  }

  /** True when `close()` ended it (its owner was done), not a break. */
  get closedLocally(): boolean {
    return this.localClose;
  }

  /** Closes the connection and waits until the socket is gone. */
  close(): Promise<void> {
    if (this.broken === undefined) this.localClose = true;
    this.fail(new ConnectionClosedError(`connection to ${this.target} closed locally`));
    return this.socketClosed;
  }

  private onData(chunk: Buffer): void {
    if (this.broken !== undefined) return;
    this.stats.bytesReceived += chunk.length;
    try {
      this.matcher.push(chunk);
    } catch (err) {
      this.fail(err as Error);
    }
  }
}
