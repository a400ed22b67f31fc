import type { Duplex } from 'node:stream';
import type { ServerAddress } from '../../commands.ts';
import { InvalidValueError, TransportShutdownError } from '../../errors.ts';
import { AsyncQueue } from '../../internal/async-queue.ts';
import { defaultLogger, type Logger } from '../../logger.ts';
import type { Dialer, StreamLayer } from './stream-layer.ts';
import { checkAdvertise } from './tcp-stream-layer.ts';

/** Options of a HandoffStreamLayer. */
export interface HandoffStreamLayerOptions {
  /** The address peers dial to reach this node: the shared port's own address. */
  advertise: ServerAddress;
  /** How this node reaches its peers, typically a `PrefixDialer` writing the byte your server routes on. */
  dialer: Dialer;
  /**
   * Asked before Raft sees an inbound connection (a client certificate, an
   * allow list); false, a throw or a rejection drops the connection.
   */
  authorize?: (socket: Duplex) => boolean | Promise<boolean>;
  /** Connections handed off but not yet accepted beyond which more are refused (default 1024). */
  maxPending?: number;
  /** Where refused connections are reported; pino-compatible. */
  logger?: Logger;
}

/**
 * A StreamLayer whose connections come from a server you already run, so Raft
 * shares a port with your API the way Consul and Nomad run hashicorp/raft on
 * their RPC port: your server reads whatever it routes on (a first byte, see
 * `routeByFirstByte`) and calls `handoff` with the socket and any bytes it
 * read past that; Raft's `accept()` takes it from there. The layer never
 * listens itself, and closing it leaves your server running.
 */
export class HandoffStreamLayer implements StreamLayer {
  private readonly advertised: ServerAddress;
  private readonly dialer: Dialer;
  private readonly authorize: ((socket: Duplex) => boolean | Promise<boolean>) | undefined;
  private readonly maxPending: number;
  private readonly logger: Logger;
  private readonly accepted = new AsyncQueue<Duplex>();
  /** Sockets whose authorisation is still running, so close() can cut them. */
  private readonly authorizing = new Set<Duplex>();
  private closed = false;

  constructor(options: HandoffStreamLayerOptions) {
    checkAdvertise(options.advertise);
    if (options.maxPending !== undefined && !(Number.isInteger(options.maxPending) && options.maxPending > 0)) {
      throw new InvalidValueError(`maxPending must be a positive integer, got ${options.maxPending}`);
    }
    this.advertised = options.advertise;
    this.dialer = options.dialer;
    this.authorize = options.authorize;
    this.maxPending = options.maxPending ?? 1024;
    this.logger = options.logger ?? defaultLogger;
  }

  /**
   * Gives Raft an inbound connection. `head` is what your server already read
   * past its routing prefix: a copy of it is put back in front of the
   * stream, so Raft reads the connection from its first request byte and you
   * may reuse your buffer once this returns. Returns false (and
   * destroys the socket) once the layer is closed or too many are pending.
   */
  handoff(socket: Duplex, head?: Uint8Array): boolean {
    if (this.closed || this.accepted.length + this.authorizing.size >= this.maxPending) {
      if (!this.closed)
        this.logger.warn({ pending: this.accepted.length }, 'raft-handoff: refused a connection: too many pending');
      socket.destroy();
      return false;
    }
    socket.pause();
    // A copy: the caller may reuse its buffer, and the reader may keep views of what a socket delivers.
    if (head !== undefined && head.length > 0) socket.unshift(Buffer.from(head));
    if (this.authorize === undefined) return this.enqueue(socket);
    this.authorizing.add(socket);
    void this.check(socket);
    return true;
  }

  private async check(socket: Duplex): Promise<void> {
    let allowed = false;
    try {
      allowed = (await (this.authorize as (socket: Duplex) => boolean | Promise<boolean>)(socket)) === true;
    } catch (err) {
      this.logger.warn({ err }, 'raft-handoff: authorize threw; dropping the connection');
    }
    if (!this.authorizing.delete(socket)) return; // closed meanwhile: already destroyed
    if (!allowed) {
      socket.destroy();
      return;
    }
    this.enqueue(socket);
  }

  private enqueue(socket: Duplex): boolean {
    if (this.accepted.push(socket)) return true;
    socket.destroy();
    return false;
  }

  async accept(): Promise<Duplex> {
    const r = await this.accepted.next();
    if (r.done) throw new TransportShutdownError('stream layer closed');
    return r.value;
  }

  dial(address: ServerAddress, timeoutMs: number, signal?: AbortSignal): Promise<Duplex> {
    if (this.closed) return Promise.reject(new TransportShutdownError());
    return this.dialer.dial(address, timeoutMs, signal);
  }

  addr(): ServerAddress {
    return this.advertised;
  }

  /** Stops taking connections and destroys those not yet accepted; your server is yours to close. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const s of this.accepted.close(true)) s.destroy();
      for (const s of this.authorizing) s.destroy();
      this.authorizing.clear();
    }
    return Promise.resolve();
  }
}
