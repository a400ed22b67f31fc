/**
 * `node:diagnostics_channel` hooks, in undici's manner: tracing and metrics
 * tools subscribe by name; when nobody subscribes the transport skips
 * building the messages, so the hooks cost a property read.
 *
 * ```ts
 * import diagnostics_channel from 'node:diagnostics_channel';
 * diagnostics_channel.subscribe('raft-transport:rpc:complete', (m) => console.log(m));
 * ```
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { AnyRequest, AnyResponse, RpcType, ServerAddress } from './commands.ts';

/** An outgoing RPC was handed to a connection. */
export interface RpcSendMessage {
  local: ServerAddress;
  target: ServerAddress;
  type: RpcType;
  request: AnyRequest;
}

/** An outgoing RPC got its answer. */
export interface RpcCompleteMessage {
  local: ServerAddress;
  target: ServerAddress;
  type: RpcType;
  response: AnyResponse;
  /** Milliseconds from send to answer. */
  durationMs: number;
}

/** An outgoing RPC failed: remote error, timeout, abort or broken connection. */
export interface RpcErrorMessage {
  local: ServerAddress;
  target: ServerAddress;
  type: RpcType;
  error: Error;
  durationMs: number;
}

/** An incoming RPC was decoded and handed to the consumer (or the heartbeat handler). */
export interface RpcReceiveMessage {
  local: ServerAddress;
  remote: string;
  type: RpcType;
  command: AnyRequest;
  heartbeat: boolean;
}

/** A connection opened or closed. */
export interface ConnectionMessage {
  local: ServerAddress;
  /** `outbound` for connections we dialed, `inbound` for ones we accepted. */
  direction: 'inbound' | 'outbound';
  peer: string;
  /** Why it closed, when it closed on an error. */
  error?: Error;
}

/** How many AppendEntries a pipeline has outstanding, after each change. */
export interface PipelineDepthMessage {
  local: ServerAddress;
  target: ServerAddress;
  inFlight: number;
}

/** Snapshot bytes moved so far, sent or received. */
export interface SnapshotProgressMessage {
  local: ServerAddress;
  peer: string;
  direction: 'send' | 'receive';
  bytes: number;
  size: number;
}

/**
 * The names hashicorp/raft reports through go-metrics, for the same
 * measurements: `raft.net.*` are NetworkTransport's server side (labelled
 * `rpcType`: AppendEntries, Heartbeat, RequestVote, RequestPreVote,
 * InstallSnapshot, TimeoutNow); `raft.replication.*` are what a Go leader
 * measures around its transport calls (labelled `peer_id`, the ServerID the
 * call was made with).
 */
export type HashicorpMetricName =
  | 'raft.net.getRPCType'
  | 'raft.net.rpcDecode'
  | 'raft.net.rpcEnqueue'
  | 'raft.net.rpcRespond'
  | 'raft.replication.appendEntries.rpc'
  | 'raft.replication.appendEntries.logs'
  | 'raft.replication.heartbeat'
  | 'raft.replication.installSnapshot';

/**
 * One measurement under hashicorp's name, so dashboards built for a Go fleet
 * read a mixed one. A `timer` is in milliseconds, as go-metrics' MeasureSince
 * reports it (its Prometheus sink exports a summary); a `counter` is an
 * increment. See README, "Metrics with hashicorp's names", for when each is taken.
 */
export interface HashicorpMetricMessage {
  local: ServerAddress;
  name: HashicorpMetricName;
  kind: 'timer' | 'counter';
  value: number;
  /** `{ rpcType }` for raft.net.* (none for getRPCType), `{ peer_id }` for raft.replication.*. */
  labels: Readonly<Record<string, string>>;
}

/** The channels, by the name a subscriber uses. */
export const channels = {
  rpcSend: diagnosticsChannel.channel('raft-transport:rpc:send'),
  rpcComplete: diagnosticsChannel.channel('raft-transport:rpc:complete'),
  rpcError: diagnosticsChannel.channel('raft-transport:rpc:error'),
  rpcReceive: diagnosticsChannel.channel('raft-transport:rpc:receive'),
  connectionOpen: diagnosticsChannel.channel('raft-transport:connection:open'),
  connectionClose: diagnosticsChannel.channel('raft-transport:connection:close'),
  pipelineDepth: diagnosticsChannel.channel('raft-transport:pipeline:depth'),
  snapshotProgress: diagnosticsChannel.channel('raft-transport:snapshot:progress'),
  /** HashicorpMetricMessage: hashicorp/raft's transport and replication timings. */
  metric: diagnosticsChannel.channel('raft-transport:metric'),
  /** A probed peer changed state (PeerHealthMessage in src/net/peer-health.ts); only with `probeInterval` set. */
  peerHealth: diagnosticsChannel.channel('raft-transport:peer:health'),
} as const;
