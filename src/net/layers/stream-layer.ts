import type { Duplex } from 'node:stream';
import type { ServerAddress } from '../../commands.ts';

/**
 * The byte-stream layer under a NetworkTransport (hashicorp's `StreamLayer`):
 * something that accepts inbound connections and dials outbound ones. TCP and
 * TLS ship with the package; wrap one to inject faults, or write your own to
 * run Raft over anything that moves bytes in order.
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
