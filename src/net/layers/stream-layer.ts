import type { Duplex } from 'node:stream';
import type { ServerAddress } from '../../commands.ts';

/**
 * The byte-stream layer under a NetworkTransport (hashicorp's `StreamLayer`):
 * something that accepts inbound connections and dials outbound ones. TCP and
 * TLS ship with the package; wrap one to inject faults, or write your own to
 * run Raft over anything that moves bytes in order.
 *
 * Who owns the Buffers a connection's Duplex moves: only a `net.Socket` or
 * `tls.TLSSocket` itself (not a subclass) gets the transport's zero-copy
 * paths. Any other Duplex, a subclass of either included, is taken to pass
 * Buffers by reference, and so:
 *
 * - What it is given to write is a copy the transport never writes again:
 *   it may hand that Buffer on by reference (to the other end's reader) and
 *   keep it as long as it likes.
 * - What it pushes (emits as 'data') is never handed to the application:
 *   every message and snapshot byte is copied out first, so nothing the
 *   application keeps aliases the Duplex's memory. But a pushed Buffer is
 *   read lazily: it may stay queued, by reference, until the messages in it
 *   are read (after the request before them is answered, or as a snapshot's
 *   reader asks for more). So a Duplex must not overwrite a Buffer it has
 *   pushed before the messages in it have been read, which it can't observe
 *   in general: push a Buffer of its own for each chunk (a fresh one, or a
 *   copy) rather than a view of one it reuses.
 */
export interface StreamLayer {
  /**
   * Resolves with the next inbound connection. Rejects with
   * `ERR_TRANSPORT_SHUTDOWN` once the layer is closed; any other rejection is
   * a transient accept error that the transport retries with backoff.
   */
  accept(): Promise<Duplex>;
  /** Opens a connection to `address`, failing after `timeoutMs` or when `signal` aborts. */
  dial(address: ServerAddress, timeoutMs: number, signal?: AbortSignal): Promise<Duplex>;
  /** The address peers should dial to reach this layer (the advertised address). */
  addr(): ServerAddress;
  /** Stops accepting. Connections already handed out are the caller's to close. */
  close(): Promise<void>;
}

/** The dialing half of a StreamLayer, for layers whose inbound side comes from elsewhere (HandoffStreamLayer). */
export type Dialer = Pick<StreamLayer, 'dial'>;
