export { NetworkTransport, type NetworkTransportOptions, type ServerAddressProvider } from './network-transport.ts';
export type { StreamLayer } from './stream-layer.ts';
export { TCPStreamLayer, type TCPStreamLayerOptions, parseHostPort, joinHostPort } from './tcp-stream-layer.ts';
export { newTCPTransport, type TCPTransportOptions } from './tcp-transport.ts';
export { DEFAULT_DECODE_LIMITS, type DecodeLimits, type WireFormat } from './wire-format.ts';
