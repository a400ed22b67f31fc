import { Readable } from 'node:stream';
import type { Duplex } from 'node:stream';
import {
  type AnyRequest,
  type AnyResponse,
  type AppendEntriesRequest,
  type InstallSnapshotRequest,
  isHeartbeat,
  RpcType,
  rpcTypeName,
} from '../../commands.ts';
import { AlreadyRespondedError, ConnectionClosedError, LimitExceededError, ProtocolError, TransportError } from '../../errors.ts';
import { channels } from '../../diagnostics.ts';
import type { Logger } from '../../logger.ts';
import type { AppendEntriesRPC, HeartbeatHandler } from '../../transport.ts';
import { decodeRequest } from '../codec/decoder.ts';
import type { MessageWriter } from '../codec/encoder.ts';
import type { FrameReader } from '../codec/frame-reader.ts';
import type { DecodeLimits } from '../codec/wire-format.ts';

/** What a server connection needs from its transport. */
export interface ServerHost {
  readonly logger: Logger;
  /** Inbound counters, updated in place. */
  readonly inbound: { rpcsReceived: number; protocolErrors: number; bytesReceived: number };
  localAddr(): string;
  readonly limits: DecodeLimits;
  /** Largest snapshot accepted, in bytes. */
  readonly maxSnapshotSize: number;
  /** Closes a connection that stays mid-frame (or silent mid-snapshot) this long; 0 disables. */
  readonly idleTimeout: number;
  heartbeatHandler(): HeartbeatHandler | null;
  /** Hands an RPC to the consumer queue. */
  dispatch(rpc: ServerRPC): void;
  connectionClosed(conn: ServerConn): void;
}

/**
 * Answers produced in one tick are written together, but no more than this
 * many at a time: a pipelining client then gets the first answers (and frees
 * window slots) while later ones are still being served, so both processes
 * work at once instead of taking turns with whole windows.
 */
const FLUSH_EVERY = 16;

/** Requests, and request bytes, one connection serves per event-loop turn before letting others run. */
const TURN_REQUESTS = 64;
/** A connection idle this long (ms) gets a fresh serving budget. */
const REFILL_AFTER_IDLE_MS = 0.5;
const TURN_BYTES = 256 * 1024;

/** Bytes buffered ahead of the request being served before the socket is paused. */
const READ_HIGH_WATER = 256 * 1024;

/**
 * An RPC that arrived on a connection. Answering it writes the response to
 * that connection and lets the connection read the next request.
 */
export class ServerRPC {
  readonly type: RpcType;
  readonly command: AnyRequest;
  reader: Readable | undefined;
  private readonly conn: ServerConn;
  private responded = false;

  constructor(conn: ServerConn, type: RpcType, command: AnyRequest) {
    this.conn = conn;
    this.type = type;
    this.command = command;
  }

  /** False once answered or once the connection died: the consumer queue skips it. */
  get live(): boolean {
    return !this.responded && !this.conn.closed;
  }

  respond(response: AnyResponse | null, error?: Error | string | null): void {
    if (this.conn.closed) return;
    if (this.responded) throw new AlreadyRespondedError();
    this.responded = true;
    const message = error == null ? '' : typeof error === 'string' ? error : error.message || String(error);
    this.conn.respond(this, response, message);
  }
}

/**
 * The server half of one inbound connection: reads type byte + request,
 * hands the RPC to the consumer (or heartbeat handler), writes the answer,
 * then reads the next request, strictly in order as hashicorp's handleConn
 * does. Incoming bytes are parsed incrementally; when the consumer is slow the
 * socket is paused rather than buffering without bound.
 */
export class ServerConn {
  closed = false;
  readonly remote: string;
  private readonly socket: Duplex;
  private readonly host: ServerHost;
  private readonly reader: FrameReader;
  private readonly writer: MessageWriter;
  private pendingType = -1;
  private current: ServerRPC | undefined;
  private snapshot: SnapshotFeed | undefined;
  private processing = false;
  /** Requests and bytes this connection may still serve before yielding to the event loop. */
  private budget = TURN_REQUESTS;
  private budgetBytes = TURN_BYTES;
  private resumeScheduled = false;
  private lastServed = 0;
  private flushScheduled = false;
  private unflushed = 0;
  private closeAfterFlush = false;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(socket: Duplex, host: ServerHost, reader: FrameReader, writer: MessageWriter, remote: string) {
    this.socket = socket;
    this.host = host;
    this.reader = reader;
    this.writer = writer;
    this.remote = remote;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.destroy(new ConnectionClosedError(`connection from ${remote} failed`, { cause: err })));
    socket.on('end', () => this.destroy());
    socket.on('close', () => this.destroy());
    socket.on('drain', () => this.process());
    if (channels.connectionOpen.hasSubscribers) {
      channels.connectionOpen.publish({ local: host.localAddr(), direction: 'inbound', peer: remote });
    }
  }

  /** Closes the connection; a pending RPC's later answer is dropped. */
  destroy(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.snapshot?.fail(err ?? new ConnectionClosedError(`connection from ${this.remote} closed mid-snapshot`));
    this.socket.destroy();
    this.host.connectionClosed(this);
    if (channels.connectionClose.hasSubscribers) {
      channels.connectionClose.publish({ local: this.host.localAddr(), direction: 'inbound', peer: this.remote, error: err });
    }
  }

  /** Called by ServerRPC.respond. */
  respond(rpc: ServerRPC, response: AnyResponse | null, error: string): void {
    if (rpc !== this.current) return;
    let encodeError: unknown;
    try {
      this.writer.writeResponse(rpc.type, response, error);
    } catch (err) {
      // A response the encoder refuses (wrong shape, unsafe integer) still
      // owes the caller an answer: send the reason instead, then tell the
      // consumer by throwing.
      encodeError = err;
      this.writer.writeResponse(rpc.type, null, `invalid ${rpcTypeName(rpc.type)} response: ${(err as Error).message}`);
    }
    this.current = undefined;
    if (this.snapshot !== undefined) {
      // Unread snapshot bytes would be taken for the next request: as in Go,
      // the connection isn't reused after a snapshot that was cut short.
      if (!this.snapshot.complete) this.closeAfterFlush = true;
      this.snapshot = undefined;
    }
    this.scheduleFlush();
    if (!this.processing) this.process();
    if (encodeError !== undefined) throw encodeError;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.host.inbound.bytesReceived += chunk.length;
    this.reader.push(chunk);
    if (this.snapshot !== undefined) this.snapshot.feed();
    this.process();
  }

  /** Reads and dispatches requests until one is outstanding or the bytes run out. */
  private process(): void {
    if (this.closed || this.processing) return;
    this.processing = true;
    try {
      // A pause since this connection last served means other work ran in
      // between: a fresh budget. (Cheaper than tracking loop turns, which
      // would cost a setImmediate, and an extra poll, per request.)
      const now = performance.now();
      if (now - this.lastServed > REFILL_AFTER_IDLE_MS) this.refill();
      this.lastServed = now;
      while (this.current === undefined && !this.closeAfterFlush) {
        if (this.budget <= 0 || this.budgetBytes <= 0) {
          this.yieldTurn();
          break;
        }
        if (this.pendingType < 0) {
          const t = this.reader.readByte();
          if (t < 0) break;
          if (t > RpcType.RequestPreVote) throw new ProtocolError(`unknown rpc type ${t}`);
          this.pendingType = t;
        }
        const bytes = this.reader.readValue();
        if (bytes === undefined) break;
        const type = this.pendingType as RpcType;
        this.pendingType = -1;
        this.budget--;
        this.budgetBytes -= bytes.length;
        this.dispatch(type, decodeRequest(type, bytes, this.host.limits));
      }
    } catch (err) {
      this.processing = false;
      this.fail(err);
      return;
    }
    this.processing = false;
    this.updateFlow();
  }

  /**
   * Answers come back in microtasks, so a connection with a deep backlog
   * could serve it all without the event loop ever turning, starving every
   * other socket and timer (heartbeats included). After a turn's budget the
   * rest waits for the next turn.
   */
  private yieldTurn(): void {
    if (this.resumeScheduled) return;
    this.resumeScheduled = true;
    setImmediate(resumeServerConn, this);
  }

  /** Next turn of the event loop: a fresh budget. */
  resume(): void {
    this.resumeScheduled = false;
    this.refill();
    this.process();
  }

  private refill(): void {
    this.budget = TURN_REQUESTS;
    this.budgetBytes = TURN_BYTES;
  }

  private dispatch(type: RpcType, command: AnyRequest): void {
    const rpc = new ServerRPC(this, type, command);
    this.current = rpc;
    this.host.inbound.rpcsReceived++;
    if (type === RpcType.InstallSnapshot) {
      const size = (command as InstallSnapshotRequest).size;
      if (size > this.host.maxSnapshotSize) {
        throw new LimitExceededError(`snapshot of ${size} bytes exceeds maxSnapshotSize ${this.host.maxSnapshotSize}`);
      }
      this.snapshot = new SnapshotFeed(this.reader, size, this);
      rpc.reader = this.snapshot.readable;
      this.snapshot.feed();
    }
    if (type === RpcType.AppendEntries) {
      const handler = this.host.heartbeatHandler();
      if (handler !== null && isHeartbeat(command as AppendEntriesRequest)) {
        if (channels.rpcReceive.hasSubscribers) this.publishReceive(rpc, true);
        try {
          handler(rpc as unknown as AppendEntriesRPC);
        } catch (err) {
          this.host.logger.warn({ err, remote: this.remote }, 'raft-net: heartbeat handler threw');
          if (rpc.live) rpc.respond(null, err instanceof Error ? err : String(err));
        }
        return;
      }
    }
    if (channels.rpcReceive.hasSubscribers) this.publishReceive(rpc, false);
    this.host.dispatch(rpc);
  }

  private publishReceive(rpc: ServerRPC, heartbeat: boolean): void {
    channels.rpcReceive.publish({
      local: this.host.localAddr(),
      remote: this.remote,
      type: rpc.type,
      command: rpc.command,
      heartbeat,
    });
  }

  /** Reports snapshot bytes received so far (only called when someone listens). */
  snapshotProgress(bytes: number, size: number): void {
    channels.snapshotProgress.publish({ local: this.host.localAddr(), peer: this.remote, direction: 'receive', bytes, size });
  }

  /** Pauses reading while a request is outstanding and enough is buffered, or the peer isn't reading our answers. */
  updateFlow(): void {
    if (this.closed) return;
    const backlog = this.socket.writableLength > READ_HIGH_WATER;
    // With a backlog beyond the high-water mark that we are not serving right
    // now (a request is outstanding, or this turn's budget is spent), leave
    // further bytes in the kernel: TCP flow control then slows the sender
    // instead of our memory growing. A frame still arriving is never paused.
    const waiting = this.current !== undefined || this.resumeScheduled;
    const full = (this.snapshot?.full ?? false) || (waiting && this.reader.buffered > READ_HIGH_WATER);
    if (backlog || full) {
      if (!this.socket.isPaused()) this.socket.pause();
    } else if (this.socket.isPaused()) {
      this.socket.resume();
    }
    this.armIdle();
  }

  /**
   * A request must arrive whole within idleTimeout of its first byte, and a
   * snapshot must keep making progress: this cuts slowloris connections that
   * send half a frame and stop, without timing healthy idle connections.
   */
  private armIdle(): void {
    const stalled =
      this.reader.midFrame ||
      this.pendingType >= 0 ||
      (this.snapshot !== undefined && !this.snapshot.complete && !this.snapshot.full);
    if (!stalled || this.host.idleTimeout <= 0) {
      if (this.idleTimer !== undefined) {
        clearTimeout(this.idleTimer);
        this.idleTimer = undefined;
      }
    } else if (this.idleTimer === undefined) {
      this.idleTimer = setTimeout(onIdle, this.host.idleTimeout, this);
    } else if (this.snapshot !== undefined) {
      this.idleTimer.refresh();
    }
  }

  /** The idle timer fired. */
  stalled(): void {
    this.idleTimer = undefined;
    this.host.logger.warn({ remote: this.remote }, 'raft-net: closing connection stalled mid-request');
    this.destroy(new ConnectionClosedError(`connection from ${this.remote} stalled mid-request`));
  }

  private scheduleFlush(): void {
    if (++this.unflushed >= FLUSH_EVERY) {
      this.writeOut();
      return;
    }
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(flushServerConn, this);
  }

  /** Writes out what is pending now, mid-batch, so the peer can start on it. */
  private writeOut(): void {
    this.unflushed = 0;
    if (!this.closed && this.writer.pending > 0) this.socket.write(this.writer.take(), this.writer.releaser());
  }

  /** Writes everything answered since the last flush in one write. */
  flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    this.writeOut();
    if (this.closeAfterFlush) {
      const socket = this.socket;
      socket.end(() => socket.destroy());
      this.closed = true;
      this.host.connectionClosed(this);
    } else {
      this.updateFlow();
    }
  }

  private fail(err: unknown): void {
    const error =
      err instanceof TransportError
        ? err
        : new ProtocolError(`failed to decode incoming command: ${String(err)}`, { cause: err });
    this.host.inbound.protocolErrors++;
    this.host.logger.warn({ err: error, code: error.code, remote: this.remote }, 'raft-net: closing connection on bad input');
    this.destroy(error);
  }
}

function flushServerConn(conn: ServerConn): void {
  conn.flush();
}

function resumeServerConn(conn: ServerConn): void {
  conn.resume();
}

function onIdle(conn: ServerConn): void {
  conn.stalled();
}

/**
 * Moves exactly `size` snapshot bytes from the connection's buffer into a
 * Readable the consumer reads, pausing the socket when the consumer lags.
 */
class SnapshotFeed {
  readonly readable: Readable;
  private readonly size: number;
  private remaining: number;
  private wantMore = true;
  private readonly reader: FrameReader;
  private readonly conn: ServerConn;

  constructor(reader: FrameReader, size: number, conn: ServerConn) {
    this.reader = reader;
    this.conn = conn;
    this.size = size;
    this.remaining = size;
    this.readable = new Readable({
      highWaterMark: 256 * 1024,
      read: () => {
        this.wantMore = true;
        this.feed();
        this.conn.updateFlow();
      },
    });
    if (size === 0) this.readable.push(null);
  }

  get complete(): boolean {
    return this.remaining === 0;
  }

  /** True while the consumer has not asked for more. */
  get full(): boolean {
    return !this.wantMore && this.remaining > 0;
  }

  feed(): void {
    while (this.remaining > 0 && this.wantMore) {
      const chunk = this.reader.readRaw(this.remaining);
      if (chunk === undefined) return;
      this.remaining -= chunk.length;
      if (channels.snapshotProgress.hasSubscribers) this.conn.snapshotProgress(this.size - this.remaining, this.size);
      this.wantMore = this.readable.push(chunk);
      if (this.remaining === 0) this.readable.push(null);
    }
  }

  fail(err: Error): void {
    if (this.remaining > 0) this.readable.destroy(err);
  }
}
