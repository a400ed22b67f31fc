import type { Duplex } from 'node:stream';
import type { HeartbeatHandler } from '../transport.ts';
import type { Logger } from '../logger.ts';
import { MessageWriter } from './codec/encoder.ts';
import { FrameReader } from './codec/frame-reader.ts';
import { freshReadChunks } from './conn/socket-memory.ts';
import type { DecodeLimits, WireFormat } from './codec/wire-format.ts';
import { type ServerHost, ServerConn, type ServerRPC } from './conn/server-conn.ts';

/** What the inbound side needs from its transport, fixed at construction. */
export interface InboundOptions {
  logger: Logger;
  limits: DecodeLimits;
  maxSnapshotSize: number;
  idleTimeout: number;
  wireFormat: WireFormat;
  localAddr: () => string;
  /** Hands an RPC to the transport's consumer queue. */
  deliver: (rpc: ServerRPC) => void;
}

/**
 * A transport's inbound side: the ServerConns it serves, their counters and
 * the heartbeat handler they consult. It is the host the server connections
 * see, so the transport itself exposes nothing to them (and nothing of this
 * shows in the transport's public type).
 */
export class Inbound implements ServerHost {
  readonly logger: Logger;
  readonly limits: DecodeLimits;
  readonly maxSnapshotSize: number;
  readonly idleTimeout: number;
  /** Counters the ServerConns update in place. */
  readonly inbound = { rpcsReceived: 0, protocolErrors: 0, bytesReceived: 0 };
  /** The heartbeat fast path, read per request so it can change at any time. */
  handler: HeartbeatHandler | null = null;
  private readonly opts: InboundOptions;
  private readonly conns = new Set<ServerConn>();
  private readonly sockets = new Set<Promise<void>>();

  constructor(opts: InboundOptions) {
    this.opts = opts;
    this.logger = opts.logger;
    this.limits = opts.limits;
    this.maxSnapshotSize = opts.maxSnapshotSize;
    this.idleTimeout = opts.idleTimeout;
  }

  /** Inbound connections open now. */
  get open(): number {
    return this.conns.size;
  }

  localAddr(): string {
    return this.opts.localAddr();
  }

  heartbeatHandler(): HeartbeatHandler | null {
    return this.handler;
  }

  dispatch(rpc: ServerRPC): void {
    this.opts.deliver(rpc);
  }

  connectionClosed(conn: ServerConn): void {
    this.conns.delete(conn);
  }

  /** Serves an accepted connection until it closes. */
  serve(socket: Duplex): void {
    const s = socket as Duplex & { remoteAddress?: string; remotePort?: number };
    const remote = s.remoteAddress !== undefined ? `${s.remoteAddress}:${s.remotePort}` : 'unknown';
    const conn = new ServerConn(
      socket,
      this,
      new FrameReader(this.opts.limits, { freshChunks: freshReadChunks(socket) }),
      new MessageWriter(this.opts.wireFormat),
      remote,
    );
    // A layer may hand over a paused socket (HandoffStreamLayer does, so no byte is lost before we listen).
    socket.resume();
    this.conns.add(conn);
    const closed = conn.closed;
    this.sockets.add(closed);
    void closed.then(() => this.sockets.delete(closed));
    this.logger.debug({ remote, local: this.localAddr() }, 'raft-net: accepted connection');
  }

  /** Cuts every inbound connection. */
  destroyAll(err?: Error): void {
    for (const conn of [...this.conns]) conn.destroy(err);
  }

  /** Resolves once every inbound socket has closed. */
  async socketsClosed(): Promise<void> {
    await Promise.all([...this.sockets]);
  }
}
