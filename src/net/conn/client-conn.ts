import type { Duplex } from 'node:stream';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { AnyRequest, AnyResponse, InstallSnapshotRequest, RpcType, ServerAddress } from '../../commands.ts';
import { RpcType as Rpc } from '../../commands.ts';
import { ConnectionClosedError, ProtocolError, TransportError } from '../../errors.ts';
import { exactly } from '../../internal/byte-source.ts';
import { type Identity, withIdentity } from '../../internal/identity.ts';
import type { ByteSource } from '../../transport.ts';
import { channels } from '../../diagnostics.ts';
import { decodeErrorString, decodeResponse } from '../codec/decoder.ts';
import { MessageWriter } from '../codec/encoder.ts';
import { FrameReader } from '../codec/frame-reader.ts';
import { BatchWriter } from './batch-writer.ts';
import type { PeerStats } from '../peer-stats.ts';
import type { DecodeLimits, WireFormat } from '../codec/wire-format.ts';

/** User-space bytes queued on a socket beyond which senders wait for it to drain. */
const WRITE_HIGH_WATER = 256 * 1024;

/** Snapshot bytes written between turns of the event loop. */
const SNAPSHOT_TURN_BYTES = 1024 * 1024;

/**
 * Whoever waits for a response on a connection. An interface (not a
 * callback) so the pipeline can register itself once per request without
 * allocating a closure each time.
 */
export interface ResponseWaiter {
  readonly responseType: RpcType;
  /** The response arrived; `remoteError` is '' when the peer reported none. */
  onResponse(response: AnyResponse, remoteError: string): void;
  /** The connection failed before this response arrived. */
  onConnectionError(err: Error): void;
}

/**
 * The client half of a connection: encodes requests, coalesces the ones
 * issued in the same tick into a single socket write, and matches responses
 * to waiters in order (hashicorp's protocol has no request ids: order is the
 * only correlation).
 */
export class ClientConn {
  readonly target: ServerAddress;
  /** Set once the connection is unusable; never cleared. */
  broken: Error | undefined;
  /** Told once when the connection breaks or closes. */
  onClose: ((conn: ClientConn) => void) | undefined;
  private readonly socket: Duplex;
  private readonly reader: FrameReader;
  private readonly writer: MessageWriter;
  private readonly batch: BatchWriter;
  private readonly limits: DecodeLimits;
  private waiters: ResponseWaiter[] = [];
  private waitersHead = 0;
  private remoteError: string | undefined;
  private readonly closedPromise: Promise<void>;
  private readonly stats: PeerStats;
  private readonly local: string;
  /** Fills `rpcHeader.id`/`addr` of requests that leave them out (the transport's `localID`). */
  private readonly identity: Identity | undefined;

  constructor(
    socket: Duplex,
    target: ServerAddress,
    format: WireFormat,
    limits: DecodeLimits,
    stats: PeerStats,
    local: string,
    identity?: Identity,
  ) {
    this.identity = identity;
    this.socket = socket;
    this.target = target;
    this.limits = limits;
    this.stats = stats;
    this.local = local;
    stats.connectionsOpened++;
    if (channels.connectionOpen.hasSubscribers) {
      channels.connectionOpen.publish({ local, direction: 'outbound', peer: target });
    }
    this.reader = new FrameReader(limits);
    this.writer = new MessageWriter(format);
    this.batch = new BatchWriter(socket, this.writer, { onWrite: (bytes) => (stats.bytesSent += bytes) });
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
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
   * should wait for `writable()` instead of piling up memory and latency.
   */
  get congested(): boolean {
    return this.socket.writableLength > WRITE_HIGH_WATER;
  }

  /** Resolves once the socket drains (or closes). */
  writable(): Promise<void> {
    return this.drained();
  }

  /** False once the connection broke or its socket was destroyed (even before 'close' arrives). */
  get usable(): boolean {
    return this.broken === undefined && !this.socket.destroyed;
  }

  /** Responses still expected. */
  get outstanding(): number {
    return this.waiters.length - this.waitersHead;
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
    this.waiters.push(waiter);
    this.batch.queued();
    return size;
  }

  /**
   * Sends an InstallSnapshot request followed by exactly `req.size` bytes of
   * `data`, respecting the socket's back-pressure so the snapshot is never
   * held in memory whole. Resolves once everything is handed to the socket.
   */
  async sendSnapshot(req: InstallSnapshotRequest, data: ByteSource, waiter: ResponseWaiter): Promise<void> {
    this.send(Rpc.InstallSnapshot, req, waiter);
    this.flush();
    let sent = 0;
    let sinceYield = 0;
    for await (const chunk of exactly(data, req.size)) {
      if (this.broken !== undefined) throw this.broken;
      sent += chunk.length;
      sinceYield += chunk.length;
      this.stats.bytesSent += chunk.length;
      if (channels.snapshotProgress.hasSubscribers) {
        channels.snapshotProgress.publish({
          local: this.local,
          peer: this.target,
          direction: 'send',
          bytes: sent,
          size: req.size,
        });
      }
      if (!this.socket.write(chunk)) {
        await this.drained();
        sinceYield = 0;
      } else if (sinceYield >= SNAPSHOT_TURN_BYTES) {
        // A fast socket never says "wait", and an async source may never
        // leave the microtask queue: give other work (heartbeats) a turn.
        await yieldToLoop();
        sinceYield = 0;
      }
    }
    if (this.broken !== undefined) throw this.broken;
  }

  /** Writes every request queued since the last flush in one write. */
  flush(): void {
    this.batch.flush();
  }

  /** Breaks the connection: every waiter fails with `err`. Idempotent. */
  fail(err: Error): void {
    if (this.broken !== undefined) return;
    this.broken = err;
    this.batch.stop();
    this.socket.destroy();
    const waiters = this.waiters;
    const head = this.waitersHead;
    this.waiters = [];
    this.waitersHead = 0;
    for (let i = head; i < waiters.length; i++) waiters[i]?.onConnectionError(err);
    if (channels.connectionClose.hasSubscribers) {
      channels.connectionClose.publish({ local: this.local, direction: 'outbound', peer: this.target, error: err });
    }
    this.onClose?.(this);
  }

  /** Closes the connection and waits until the socket is gone. */
  close(): Promise<void> {
    this.fail(new ConnectionClosedError(`connection to ${this.target} closed locally`));
    return this.closedPromise;
  }

  private drained(): Promise<void> {
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

  private onData(chunk: Buffer): void {
    if (this.broken !== undefined) return;
    this.stats.bytesReceived += chunk.length;
    this.reader.push(chunk);
    try {
      while (this.waitersHead < this.waiters.length) {
        if (this.remoteError === undefined) {
          const bytes = this.reader.readValue();
          if (bytes === undefined) return;
          this.remoteError = decodeErrorString(bytes);
        }
        const waiter = this.waiters[this.waitersHead] as ResponseWaiter;
        const bytes = this.reader.readValue();
        if (bytes === undefined) return;
        const response = decodeResponse(waiter.responseType, bytes, this.limits);
        const remoteError = this.remoteError;
        this.remoteError = undefined;
        (this.waiters as Array<ResponseWaiter | undefined>)[this.waitersHead] = undefined;
        this.waitersHead++;
        if (this.waitersHead === this.waiters.length) {
          this.waiters.length = 0;
          this.waitersHead = 0;
        }
        waiter.onResponse(response, remoteError);
        if (this.broken !== undefined) return;
      }
      if (this.reader.buffered > 0) throw new ProtocolError(`unexpected bytes from ${this.target} with no request outstanding`);
    } catch (err) {
      this.fail(
        err instanceof TransportError
          ? err
          : new ProtocolError(`failed to decode response from ${this.target}: ${String(err)}`, { cause: err }),
      );
    }
  }
}
