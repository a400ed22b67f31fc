import type { ServerAddress } from '../commands.ts';
import { NetworkTransport, type NetworkTransportOptions } from './network-transport.ts';
import { type PEM, TLSStreamLayer, type TLSStreamLayerOptions } from './layers/tls-stream-layer.ts';

/** Options of `newTLSTransport`: the transport's and the TLS layer's (key, cert and ca are required). */
export interface TLSTransportOptions extends NetworkTransportOptions, TLSStreamLayerOptions {}

/**
 * A NetworkTransport over mutual TLS that keeps hold of its layer, so a
 * running node can rotate certificates (`reload`) without a restart.
 */
export class TLSTransport extends NetworkTransport {
  /** The stream layer, for its counters (`handshakeFailures`). */
  readonly tls: TLSStreamLayer;

  constructor(layer: TLSStreamLayer, options: NetworkTransportOptions = {}) {
    super(layer, options);
    this.tls = layer;
  }

  /** Swaps key, certificate and (optionally) CA for new handshakes; see TLSStreamLayer.reload. */
  reload(creds: { key: PEM; cert: PEM; ca?: PEM | PEM[] }): void {
    this.tls.reload(creds);
  }
}

/**
 * A listening NetworkTransport over mutual TLS, the TLS twin of
 * `newTCPTransport`: bind "127.0.0.1:0" for a free port. Every peer must
 * present a certificate chaining to `ca`, and is verified the same way when
 * dialed; peers addressed by IP need IP SANs (or pass `servername`).
 */
export async function newTLSTransport(bindAddr: ServerAddress, options: TLSTransportOptions): Promise<TLSTransport> {
  const layer = await TLSStreamLayer.listen(bindAddr, options);
  return new TLSTransport(layer, options);
}
