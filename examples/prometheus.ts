/**
 * Exporting a NetworkTransport's stats() to Prometheus with prom-client.
 *
 * The transport keeps cumulative counters and a latency summary per peer;
 * nothing here runs per RPC. Each metric reads `stats()` when Prometheus
 * scrapes (prom-client's `collect` hook), so there is nothing to update or
 * to go stale in between.
 *
 * `registerHashicorpMetrics` adds hashicorp/raft's own timings under Go's
 * names (raft_net_rpcDecode{rpcType="Heartbeat"} and so on), fed by the
 * `raft-transport:metric` diagnostics channel, so a dashboard built for Go
 * nodes reads these too.
 *
 *   npx tsx examples/prometheus.ts          # serves http://127.0.0.1:9464/metrics
 *   PORT=0 npx tsx examples/prometheus.ts   # any free port (printed)
 *
 * In your project, import from 'raft-transport' instead of '../src/index.ts'.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Counter, Gauge, Registry, Summary } from 'prom-client';
import {
  type HashicorpMetricMessage,
  type HashicorpMetricName,
  newTCPTransport,
  type NetworkTransport,
  RpcType,
  type TransportStats,
} from '../src/index.ts';

/** Anything with a `stats()`: a NetworkTransport, or a TLS transport. */
export interface HasStats {
  stats(): TransportStats;
}

/**
 * Registers the transport's metrics on `registry`. Counters are Prometheus
 * counters (use `rate()` on them); in-flight requests, open connections and
 * latency quantiles are gauges. Latency is in seconds, as Prometheus names it.
 */
export function registerTransportMetrics(transport: HasStats, registry: Registry, prefix = 'raft_transport_'): void {
  // Read at scrape time; a snapshot is a few objects per peer.
  const stats = (): TransportStats => transport.stats();

  type PeerCounter =
    | 'rpcsSent'
    | 'rpcsSucceeded'
    | 'rpcsFailed'
    | 'remoteErrors'
    | 'bytesSent'
    | 'bytesReceived'
    | 'connectionsOpened';
  const perPeer: Array<[name: string, help: string, field: PeerCounter]> = [
    ['rpcs_sent_total', 'Outgoing RPCs started, per peer', 'rpcsSent'],
    ['rpcs_succeeded_total', 'Outgoing RPCs answered successfully, per peer', 'rpcsSucceeded'],
    ['rpcs_failed_total', 'Outgoing RPCs that failed for any reason, per peer', 'rpcsFailed'],
    ['remote_errors_total', 'Outgoing RPCs the peer answered with an error, per peer', 'remoteErrors'],
    ['sent_bytes_total', 'Bytes written to the peer', 'bytesSent'],
    ['received_bytes_total', 'Bytes read from the peer', 'bytesReceived'],
    ['connections_opened_total', 'Outbound connections opened to the peer', 'connectionsOpened'],
  ];
  for (const [name, help, field] of perPeer) {
    new Counter({
      name: prefix + name,
      help,
      labelNames: ['peer'],
      registers: [registry],
      collect() {
        // Mirrors the transport's own cumulative count (which never goes down).
        this.reset();
        for (const p of stats().peers) this.inc({ peer: p.peer }, p[field]);
      },
    });
  }

  new Gauge({
    name: `${prefix}rpcs_in_flight`,
    help: 'Calls and pipelined requests waiting for an answer, per peer',
    labelNames: ['peer'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of stats().peers) this.set({ peer: p.peer }, p.inFlight);
    },
  });

  new Gauge({
    name: `${prefix}rpc_latency_seconds`,
    help: 'Round-trip latency of successful RPCs since start, per peer (quantile 1 is the maximum)',
    labelNames: ['peer', 'quantile'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of stats().peers) {
        if (p.latency.count === 0) continue;
        const l = p.latency;
        for (const [q, ms] of [
          ['0.5', l.p50],
          ['0.9', l.p90],
          ['0.99', l.p99],
          ['1', l.max],
        ] as const) {
          this.set({ peer: p.peer, quantile: q }, ms / 1000);
        }
      }
    },
  });

  const inbound: Array<[name: string, help: string, field: 'rpcsReceived' | 'protocolErrors' | 'bytesReceived']> = [
    ['inbound_rpcs_total', 'RPCs received from peers', 'rpcsReceived'],
    ['inbound_protocol_errors_total', 'Inbound connections closed on invalid or oversized input', 'protocolErrors'],
    ['inbound_received_bytes_total', 'Bytes received on inbound connections', 'bytesReceived'],
  ];
  for (const [name, help, field] of inbound) {
    new Counter({
      name: prefix + name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(stats().inbound[field]);
      },
    });
  }
  new Gauge({
    name: `${prefix}inbound_connections`,
    help: 'Inbound connections open now',
    registers: [registry],
    collect() {
      this.set(stats().inbound.connectionsOpen);
    },
  });
}

/** Each hashicorp metric with the label Go gives it. */
const HASHICORP_METRICS: ReadonlyArray<[name: HashicorpMetricName, kind: 'timer' | 'counter', label: string | undefined]> = [
  ['raft.net.getRPCType', 'timer', undefined],
  ['raft.net.rpcDecode', 'timer', 'rpcType'],
  ['raft.net.rpcEnqueue', 'timer', 'rpcType'],
  ['raft.net.rpcRespond', 'timer', 'rpcType'],
  ['raft.replication.heartbeat', 'timer', 'peer_id'],
  ['raft.replication.appendEntries.rpc', 'timer', 'peer_id'],
  ['raft.replication.appendEntries.logs', 'counter', 'peer_id'],
  ['raft.replication.installSnapshot', 'timer', 'peer_id'],
];

/**
 * Exports hashicorp/raft's metrics as go-metrics' Prometheus sink does:
 * the dotted name joined with underscores after `prefix` (Consul and Nomad
 * prefix their service name, e.g. 'consul_'), timers as summaries of
 * milliseconds (quantiles 0.5, 0.9, 0.99 over 10 s), counters as counters.
 * Only samples of the transport at `local` are taken, when given. Returns
 * the unsubscribe function; until it is called the transport measures.
 */
export function registerHashicorpMetrics(registry: Registry, options: { prefix?: string; local?: string } = {}): () => void {
  const prefix = options.prefix ?? '';
  const observe = new Map<string, (m: HashicorpMetricMessage) => void>();
  for (const [name, kind, label] of HASHICORP_METRICS) {
    const config = {
      name: prefix + name.replaceAll('.', '_'),
      help: name,
      labelNames: label === undefined ? [] : [label],
      registers: [registry],
    };
    if (kind === 'timer') {
      const summary = new Summary({ ...config, percentiles: [0.5, 0.9, 0.99], maxAgeSeconds: 10, ageBuckets: 5 });
      observe.set(name, (m) => summary.observe(m.labels, m.value));
    } else {
      const counter = new Counter(config);
      observe.set(name, (m) => counter.inc(m.labels, m.value));
    }
  }
  const onMessage = (message: unknown): void => {
    const m = message as HashicorpMetricMessage;
    if (options.local !== undefined && m.local !== options.local) return;
    observe.get(m.name)?.(m);
  };
  diagnosticsChannel.subscribe('raft-transport:metric', onMessage);
  return () => void diagnosticsChannel.unsubscribe('raft-transport:metric', onMessage);
}

/** Serves `registry` on GET /metrics; resolves with the server once it listens. */
export async function serveMetrics(registry: Registry, port: number, host = '127.0.0.1'): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  return server;
}

/** Demo: two transports exchanging RPCs, with the client's metrics served over HTTP until SIGINT/SIGTERM. */
async function demo(): Promise<void> {
  const server = await newTCPTransport('127.0.0.1:0');
  const serving = (async () => {
    for await (const rpc of server.consumer()) {
      if (rpc.type === RpcType.TimeoutNow) rpc.respond({ rpcHeader: { protocolVersion: 3 } });
      else rpc.respond(null, 'unexpected');
    }
  })();
  const client: NetworkTransport = await newTCPTransport('127.0.0.1:0');

  const registry = new Registry();
  registerTransportMetrics(client, registry);
  const stopHashicorp = registerHashicorpMetrics(registry);
  const metricsServer = await serveMetrics(registry, Number(process.env.PORT ?? 9464));
  const port = (metricsServer.address() as AddressInfo).port;

  // Some traffic to look at: a burst, then one RPC a second.
  for (let i = 0; i < 10; i++) await client.timeoutNow('peer', server.localAddr(), { rpcHeader: { protocolVersion: 3 } });
  const ticker = setInterval(() => {
    client.timeoutNow('peer', server.localAddr(), { rpcHeader: { protocolVersion: 3 } }).catch(() => {});
  }, 1000);
  console.log(`metrics at http://127.0.0.1:${port}/metrics`);

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(ticker);
  stopHashicorp();
  await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
  await client.close();
  await server.close();
  await serving;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await demo();
