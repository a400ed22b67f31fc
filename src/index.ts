/**
 * raft-transport: the network layer a Raft implementation plugs into.
 * See README.md for a tour; src/transport.ts for the contract.
 */
export * from './commands.ts';
export * from './builders.ts';
export * from './errors.ts';
export type * from './transport.ts';
export { InmemTransport, type InmemTransportOptions } from './inmem/inmem-transport.ts';
export * from './diagnostics.ts';
export type { Logger } from './logger.ts';
export {
  NetworkTransport,
  type NetworkTransportOptions,
  type ServerAddressProvider,
} from './net/network-transport.ts';
export type { Dialer, StreamLayer } from './net/layers/stream-layer.ts';
export { HandoffStreamLayer, type HandoffStreamLayerOptions } from './net/layers/handoff-stream-layer.ts';
export { PrefixDialer, type PrefixDialerOptions } from './net/layers/prefix-dialer.ts';
export { firstByteRouter, type FirstByteRouterOptions, type RouteHandler } from './net/layers/first-byte-router.ts';
export { TCPDialer, TCPStreamLayer, type TCPStreamLayerOptions } from './net/layers/tcp-stream-layer.ts';
export { newTCPTransport, type TCPTransportOptions } from './net/tcp-transport.ts';
export {
  DEFAULT_DECODE_LIMITS,
  DEFAULT_WIRE_FORMAT,
  type DecodeLimits,
  maxFrameSizeFor,
  WIRE_FORMAT_PRESETS,
  type WireFormat,
  type WireFormatPreset,
} from './net/codec/wire-format.ts';
export type { DialBackoffOptions } from './net/conn/dial-backoff.ts';
export type { LatencySummary, PeerStatsSnapshot, TransportStats } from './net/peer-stats.ts';
export type { PeerHealth, PeerHealthMessage, PeerHealthState } from './net/peer-health.ts';
export { PreciseDate } from './net/codec/go-time.ts';
export {
  type PEM,
  type TLSCredentials,
  TLSStreamLayer,
  type TLSStreamLayerOptions,
} from './net/layers/tls-stream-layer.ts';
export { newTLSTransport, TLSTransport, type TLSTransportOptions } from './net/tls-transport.ts';
export {
  type ByteRange,
  type FaultConfig,
  type FaultEvent,
  FaultInjectionStreamLayer,
  type FaultLayerOptions,
  FaultNetwork,
  type FaultNetworkOptions,
  type LatencyRange,
} from './net/layers/fault-stream-layer.ts';
