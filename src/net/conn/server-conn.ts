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
import { channels } from '../../diagnostics.ts';
import { ConnectionClosedError, LimitExceededError, ProtocolError, TransportError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { AppendEntriesRPC, HeartbeatHandler } from '../../transport.ts';
import { HEARTBEAT_HANDLER_FAILED } from '../../internal/no-answer.ts';
import { NO_LABELS, publishTimer, rpcTypeLabel, ServerRpcTimings } from '../hashicorp-metrics.ts';
import { decodeRequest } from '../codec/decoder.ts';
import type { MessageWriter } from '../codec/encoder.ts';
import { type FrameReader, valueLength } from '../codec/frame-reader.ts';
import type { DecodeLimits } from '../codec/wire-format.ts';
import { BatchWriter } from './batch-writer.ts';
import { ServeBudget } from './serve-budget.ts';
import { type RpcOrigin, ServerRPC } from './server-rpc.ts';
import { SnapshotFeed, type SnapshotFeedOwner } from './snapshot-feed.ts';
import { StallTimer } from './stall-timer.ts';

export { ServerRPC } from './server-rpc.ts';

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

/** Bytes buffered ahead of the request being served before the socket is paused. */
const READ_HIGH_WATER = 256 * 1024;

/**
 * A closing connection waits this long (ms) after the peer's last byte for
 * it to close too, so a peer still writing can finish and read our last
 * answer; then it is cut.
 */
const LINGER_MS = 2000;

/**
 * open: serving requests. ending: the last answer is written and our side
 * ended; incoming bytes are discarded until the peer closes (so it can read
 * that answer) or the stall deadline passes. closed: the socket is destroyed.
 */
type State = 'open' | 'ending' | 'closed';

/**
 * The server half of one inbound connection: reads type byte + request,
 * hands the RPC to the consumer (or heartbeat handler), writes the answer,
 * then reads the next request, strictly in order as hashicorp's handleConn
 * does. Incoming bytes are parsed incrementally; when the consumer is slow the
 * socket is paused rather than buffering without bound.
 *
 * The parts: BatchWriter (answers out), SnapshotFeed (snapshot bytes to the
 * consumer), ServeBudget (fairness between connections), StallTimer
 * (slowloris and lingering close). This class is the request loop, flow
 * control and the connection's lifecycle.
 */
export class ServerConn implements RpcOrigin, SnapshotFeedOwner {
  readonly remote: string;
  /** Resolves once the socket is closed; any number of owners may wait on it. */
  readonly closed: Promise<void>;
  private state: State = 'open';
  /** The peer half-closed: answer what was read, then close. */
  private peerEnded = false;
  private readonly socket: Duplex;
  private readonly host: ServerHost;
  private readonly reader: FrameReader;
  private readonly batch: BatchWriter;
  private readonly budget = new ServeBudget();
  private readonly stall: StallTimer;
  private readonly linger: StallTimer;
  private pendingType = -1;
  private current: ServerRPC | undefined;
  private snapshot: SnapshotFeed | undefined;
  private processing = false;
  private resumeScheduled = false;
  /** raft.net.getRPCType/rpcDecode starts (performance.now()), set only while metrics are subscribed; 0 otherwise. */
  private waitStart = 0;
  private decodeStart = 0;

  constructor(socket: Duplex, host: ServerHost, reader: FrameReader, writer: MessageWriter, remote: string) {
    this.socket = socket;
    this.host = host;
    this.reader = reader;
    this.remote = remote;
    // As Go does, a peer's half-close still gets the answers to what it sent.
    socket.allowHalfOpen = true;
    this.batch = new BatchWriter(socket, writer, { onTickFlushed: () => this.updateFlow() });
    this.stall = new StallTimer(host.idleTimeout, () => this.stalled());
    const linger = host.idleTimeout > 0 ? Math.min(host.idleTimeout, LINGER_MS) : LINGER_MS;
    this.linger = new StallTimer(linger, () => this.stalled());
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      if (this.state !== 'closed') host.logger.debug({ err, remote }, `raft-net: connection from ${remote} cut`);
      this.destroy(new ConnectionClosedError(`connection from ${remote} failed`, { cause: err }));
    });
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.destroy());
    socket.on('drain', () => this.process());
    if (channels.connectionOpen.hasSubscribers) {
      channels.connectionOpen.publish({ local: host.localAddr(), direction: 'inbound', peer: remote });
    }
    if (channels.metric.hasSubscribers) this.waitStart = performance.now();
  }

  /** True while answers are still written (RpcOrigin). */
  get serving(): boolean {
    return this.state === 'open';
  }

  /** Closes the connection now; a pending RPC's later answer is dropped. */
  destroy(err?: Error): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stall.stop();
    this.linger.stop();
    this.batch.stop();
    this.snapshot?.fail(err ?? new ConnectionClosedError(`connection from ${this.remote} closed mid-snapshot`));
    this.snapshot = undefined;
    this.current = undefined;
    this.socket.destroy();
    this.host.connectionClosed(this);
    if (channels.connectionClose.hasSubscribers) {
      channels.connectionClose.publish({ local: this.host.localAddr(), direction: 'inbound', peer: this.remote, error: err });
    }
  }

  /** RpcOrigin: writes the answer of the outstanding RPC, then serves the next request. */
  respond(rpc: ServerRPC, response: AnyResponse | null, error: string): void {
    if (rpc !== this.current) return;
    const encoder = this.batch.encoder;
    let encodeError: unknown;
    try {
      encoder.writeResponse(rpc.type, response, error);
    } catch (err) {
      // A response the encoder refuses (wrong shape, unsafe integer) still
      // owes the caller an answer: send the reason instead, then tell the
      // consumer by throwing.
      encodeError = err;
      encoder.writeResponse(rpc.type, null, `invalid ${rpcTypeName(rpc.type)} response: ${(err as Error).message}`);
    }
    this.current = undefined;
    // As Go's handleCommand: the wait for the next type byte starts once this answer is written.
    this.waitStart = channels.metric.hasSubscribers ? performance.now() : 0;
    const snapshot = this.snapshot;
    this.snapshot = undefined;
    this.batch.queued();
    if (snapshot !== undefined && !snapshot.complete) {
      // Unread snapshot bytes would be taken for the next request: as in Go,
      // the connection isn't reused after a snapshot answered early. Whoever
      // still reads the reader learns that the rest is gone.
      snapshot.fail(
        new ConnectionClosedError('InstallSnapshot was answered before its data was read to the end; the rest is discarded'),
      );
      this.end();
    } else if (!this.processing) {
      this.process();
    }
    if (encodeError !== undefined) throw encodeError;
  }

  /** SnapshotFeedOwner: reports snapshot bytes received so far. */
  snapshotProgress(bytes: number, size: number): void {
    channels.snapshotProgress.publish({ local: this.host.localAddr(), peer: this.remote, direction: 'receive', bytes, size });
  }

  /** Pauses reading while a request is outstanding and enough is buffered, or the peer isn't reading our answers. */
  updateFlow(): void {
    if (this.state !== 'open') return;
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
    // A request must arrive whole within idleTimeout of its first byte, and
    // a snapshot must keep making progress.
    const snapshotFlowing = this.snapshot !== undefined && !this.snapshot.complete && !this.snapshot.full;
    this.stall.update(this.reader.midFrame || this.pendingType >= 0 || snapshotFlowing, this.snapshot !== undefined);
  }

  /** Next turn of the event loop: a fresh budget. */
  resume(): void {
    this.resumeScheduled = false;
    this.budget.refill();
    this.process();
  }

  private onData(chunk: Buffer): void {
    if (this.state !== 'open') {
      if (this.state === 'ending') this.linger.update(true, true); // discarded, but the peer is still at it
      return;
    }
    this.host.inbound.bytesReceived += chunk.length;
    this.reader.push(chunk);
    if (this.snapshot !== undefined) this.snapshot.feed();
    this.process();
  }

  private onEnd(): void {
    if (this.state !== 'open') return;
    this.peerEnded = true;
    if (this.snapshot !== undefined && !this.snapshot.complete) {
      this.destroy(new ConnectionClosedError(`connection from ${this.remote} ended mid-snapshot`));
      return;
    }
    this.process();
  }

  /** Reads and dispatches requests until one is outstanding or the bytes run out. */
  private process(): void {
    if (this.state !== 'open' || this.processing) return;
    this.processing = true;
    let type = -1;
    try {
      this.budget.begin();
      while (this.current === undefined && this.state === 'open') {
        if (this.budget.spent) {
          this.yieldTurn();
          break;
        }
        if (this.pendingType < 0) {
          const t = this.reader.readByte();
          if (t < 0) break;
          if (t > RpcType.RequestPreVote) throw new ProtocolError(`unknown rpc type ${t}`);
          this.pendingType = t;
          if (channels.metric.hasSubscribers) this.typeRead();
        }
        type = this.pendingType;
        const bytes = this.reader.readValueParts();
        if (bytes === undefined) break;
        this.pendingType = -1;
        this.budget.charge(valueLength(bytes));
        this.dispatch(type as RpcType, decodeRequest(type as RpcType, bytes, this.host.limits));
        type = -1;
      }
    } catch (err) {
      this.processing = false;
      this.fail(err, type);
      return;
    }
    this.processing = false;
    if (this.peerEnded && this.current === undefined && !this.resumeScheduled) {
      // Everything complete the peer sent before its half-close is answered
      // (a partial request left over can never complete).
      this.end();
      return;
    }
    this.updateFlow();
  }

  private yieldTurn(): void {
    if (this.resumeScheduled) return;
    this.resumeScheduled = true;
    setImmediate(resumeServerConn, this);
  }

  private dispatch(type: RpcType, command: AnyRequest): void {
    if (type === RpcType.InstallSnapshot) {
      const size = (command as InstallSnapshotRequest).size;
      if (size > this.host.maxSnapshotSize) {
        throw new LimitExceededError(`snapshot of ${size} bytes exceeds maxSnapshotSize (${this.host.maxSnapshotSize})`);
      }
    }
    const rpc = new ServerRPC(this, type, command);
    if (this.decodeStart !== 0 && channels.metric.hasSubscribers) {
      const heartbeat = type === RpcType.AppendEntries && isHeartbeat(command as AppendEntriesRequest);
      rpc.timings = new ServerRpcTimings(this.host.localAddr(), rpcTypeLabel(type, heartbeat), this.decodeStart);
    }
    this.decodeStart = 0;
    this.current = rpc;
    this.host.inbound.rpcsReceived++;
    if (type === RpcType.InstallSnapshot) {
      this.snapshot = new SnapshotFeed(this.reader, (command as InstallSnapshotRequest).size, this);
      rpc.reader = this.snapshot.readable;
      this.snapshot.feed();
    }
    if (type === RpcType.AppendEntries) {
      const handler = this.host.heartbeatHandler();
      if (handler !== null && isHeartbeat(command as AppendEntriesRequest)) {
        if (channels.rpcReceive.hasSubscribers) this.publishReceive(rpc, true);
        try {
          handler(rpc as unknown as AppendEntriesRPC);
          rpc.taken();
        } catch (err) {
          // Logged here; the peer only learns that it failed (HEARTBEAT_HANDLER_FAILED).
          this.host.logger.warn({ err, remote: this.remote }, 'raft-net: heartbeat handler threw');
          if (rpc.live) rpc.respond(null, HEARTBEAT_HANDLER_FAILED);
        }
        return;
      }
    }
    if (channels.rpcReceive.hasSubscribers) this.publishReceive(rpc, false);
    this.host.dispatch(rpc);
  }

  /** raft.net.getRPCType: how long the connection waited for this request's type byte. */
  private typeRead(): void {
    const now = performance.now();
    if (this.waitStart !== 0) publishTimer(this.host.localAddr(), 'raft.net.getRPCType', now - this.waitStart, NO_LABELS);
    this.decodeStart = now;
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

  /**
   * Closes after the answers written so far: our side ends, and what the
   * peer still sends is discarded until it closes too, so a peer busy writing
   * (the rest of a snapshot, an oversized frame) can still read our last
   * answer. A peer that goes silent without closing is cut after LINGER_MS,
   * one that keeps sending after idleTimeout.
   */
  private end(): void {
    if (this.state !== 'open') return;
    this.state = 'ending';
    this.snapshot?.fail(new ConnectionClosedError(`connection from ${this.remote} closed mid-snapshot`));
    this.snapshot = undefined;
    this.current = undefined;
    this.batch.flush();
    this.batch.stop();
    this.socket.end();
    // Both sides are done once the peer ended and our answers are out.
    if (this.peerEnded) this.closeWhenFlushed();
    else this.socket.once('end', () => this.closeWhenFlushed());
    this.socket.resume();
    // Cut after LINGER_MS of silence, and after idleTimeout in any case.
    this.stall.stop();
    this.stall.update(true, false);
    this.linger.update(true, false);
  }

  private closeWhenFlushed(): void {
    if (this.socket.writableFinished) this.destroy();
    else this.socket.once('finish', () => this.destroy());
  }

  /** The stall timer fired. */
  private stalled(): void {
    const what = this.state === 'ending' ? 'did not close after its last answer' : 'stalled mid-request';
    this.host.logger.warn({ remote: this.remote }, `raft-net: closing connection that ${what}`);
    this.destroy(new ConnectionClosedError(`connection from ${this.remote} ${what}`));
  }

  /**
   * Bad input. A request over a limit is answered with the reason before
   * closing, so the caller (a Go leader logs it) and our operator both see
   * which limit to raise; anything else just closes the connection.
   */
  private fail(err: unknown, type: number): void {
    const error =
      err instanceof TransportError
        ? err
        : new ProtocolError(`failed to decode incoming command: ${String(err)}`, { cause: err });
    this.host.inbound.protocolErrors++;
    if (error instanceof LimitExceededError && type >= 0 && this.state === 'open') {
      const limit = /\bmax[A-Za-z]+/.exec(error.message)?.[0] ?? 'limits';
      const option = limit === 'maxSnapshotSize' ? limit : `limits.${limit}`;
      const what = `${rpcTypeName(type as RpcType)} from ${this.remote} refused: ${error.message}; raise NetworkTransportOptions.${option} on this node to accept it`;
      this.host.logger.warn({ err: error, code: error.code, remote: this.remote, limit }, `raft-net: ${what}`);
      this.batch.encoder.writeResponse(
        type as RpcType,
        null,
        `${rpcTypeName(type as RpcType)} refused by ${this.host.localAddr()}: ${error.message} (raise ${option} there to accept it)`,
      );
      this.end();
      return;
    }
    this.host.logger.warn({ err: error, code: error.code, remote: this.remote }, 'raft-net: closing connection on bad input');
    this.destroy(error);
  }
}

function resumeServerConn(conn: ServerConn): void {
  conn.resume();
}
