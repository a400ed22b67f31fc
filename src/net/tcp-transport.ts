import type { ServerAddress } from '../commands.ts';
import { NetworkTransport, type NetworkTransportOptions } from './network-transport.ts';
import { TCPStreamLayer, type TCPStreamLayerOptions } from './layers/tcp-stream-layer.ts';

/** Options of `newTCPTransport`: the transport's and the TCP layer's. */
export interface TCPTransportOptions extends NetworkTransportOptions, TCPStreamLayerOptions {}

/**
 * A listening NetworkTransport over TCP (hashicorp's NewTCPTransport).
 * Bind "127.0.0.1:0" to get a free port; `localAddr()` reports the real one.
 * Binding an unspecified address (0.0.0.0) requires `advertise`.
 */
export async function newTCPTransport(bindAddr: ServerAddress, options: TCPTransportOptions = {}): Promise<NetworkTransport> {
  const layer = await TCPStreamLayer.listen(bindAddr, options);
  return new NetworkTransport(layer, options);
}
