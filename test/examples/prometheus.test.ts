/**
 * examples/prometheus.ts: the exporter reports what the transport did, and
 * the demo serves it over HTTP.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { registerHashicorpMetrics, registerTransportMetrics } from '../../examples/prometheus.ts';
import { appendEntriesRequest, heartbeat, newTCPTransport, RpcType } from '../../src/index.ts';
import { entry } from '../helpers/fixtures.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** The value of one sample line, e.g. `name{peer="x"} 3`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('examples/prometheus.ts', () => {
  it('exports per-peer counters, latency and inbound counts from stats()', async () => {
    const server = await newTCPTransport('127.0.0.1:0');
    const client = await newTCPTransport('127.0.0.1:0');
    cleanup.push(
      () => server.close(),
      () => client.close(),
    );
    void (async () => {
      for await (const rpc of server.consumer()) {
        if (rpc.type === RpcType.TimeoutNow) rpc.respond({ rpcHeader: { protocolVersion: 3 } });
        else rpc.respond(null, 'nope');
      }
    })();
    const registry = new Registry();
    registerTransportMetrics(client, registry);
    const serverRegistry = new Registry();
    registerTransportMetrics(server, serverRegistry);

    const target = server.localAddr();
    for (let i = 0; i < 3; i++) await client.timeoutNow('s', target, { rpcHeader: { protocolVersion: 3 } });
    await expect(
      client.requestPreVote('s', target, { rpcHeader: { protocolVersion: 3 }, term: 1, lastLogIndex: 0, lastLogTerm: 0 }),
    ).rejects.toMatchObject({
      code: 'ERR_REMOTE',
    });

    const text = await registry.metrics();
    const peer = `{peer="${target}"}`;
    expect(text).toContain('# TYPE raft_transport_rpcs_sent_total counter');
    expect(sample(text, `raft_transport_rpcs_sent_total${peer}`)).toBe(4);
    expect(sample(text, `raft_transport_rpcs_succeeded_total${peer}`)).toBe(3);
    expect(sample(text, `raft_transport_rpcs_failed_total${peer}`)).toBe(1);
    expect(sample(text, `raft_transport_remote_errors_total${peer}`)).toBe(1);
    expect(sample(text, `raft_transport_rpcs_in_flight${peer}`)).toBe(0);
    expect(sample(text, `raft_transport_connections_opened_total${peer}`)).toBeGreaterThanOrEqual(1);
    expect(sample(text, `raft_transport_sent_bytes_total${peer}`)).toBeGreaterThan(0);
    expect(sample(text, `raft_transport_received_bytes_total${peer}`)).toBeGreaterThan(0);
    expect(text).toContain('# TYPE raft_transport_rpc_latency_seconds gauge');
    const p50 = sample(text, `raft_transport_rpc_latency_seconds{peer="${target}",quantile="0.5"}`);
    const max = sample(text, `raft_transport_rpc_latency_seconds{peer="${target}",quantile="1"}`);
    expect(p50).toBeGreaterThan(0);
    expect(max).toBeGreaterThanOrEqual(p50 ?? Infinity);

    // Scraped again, the counters follow the transport rather than adding up.
    await client.timeoutNow('s', target, { rpcHeader: { protocolVersion: 3 } });
    expect(sample(await registry.metrics(), `raft_transport_rpcs_sent_total${peer}`)).toBe(5);

    const serverText = await serverRegistry.metrics();
    expect(sample(serverText, 'raft_transport_inbound_rpcs_total')).toBe(5);
    expect(sample(serverText, 'raft_transport_inbound_protocol_errors_total')).toBe(0);
    expect(sample(serverText, 'raft_transport_inbound_connections')).toBeGreaterThanOrEqual(1);
  });

  it("exports hashicorp/raft's timings under Go's Prometheus names, per transport", async () => {
    const server = await newTCPTransport('127.0.0.1:0', { localID: 'srv' });
    const client = await newTCPTransport('127.0.0.1:0', { localID: 'cli' });
    cleanup.push(
      () => server.close(),
      () => client.close(),
    );
    const serverRegistry = new Registry();
    cleanup.push(registerHashicorpMetrics(serverRegistry, { prefix: 'consul_', local: server.localAddr() }));
    const clientRegistry = new Registry();
    cleanup.push(registerHashicorpMetrics(clientRegistry, { local: client.localAddr() }));
    const ok = { rpcHeader: { protocolVersion: 3 }, term: 1, lastLog: 0, success: true, noRetryBackoff: false };
    server.setHeartbeatHandler((rpc) => rpc.respond(ok));
    void (async () => {
      for await (const rpc of server.consumer()) {
        if (rpc.type === RpcType.AppendEntries) rpc.respond(ok);
        else rpc.respond(null, 'nope');
      }
    })();
    const target = server.localAddr();
    for (let i = 0; i < 2; i++) await client.appendEntries('srv', target, heartbeat({ term: 1, leader: client.localAddr() }));
    await client.appendEntries(
      'srv',
      target,
      appendEntriesRequest({ term: 1, leader: client.localAddr(), entries: [entry(1), entry(2)], leaderCommitIndex: 1 }),
    );

    const text = await serverRegistry.metrics();
    expect(text).toContain('# TYPE consul_raft_net_rpcDecode summary');
    expect(sample(text, 'consul_raft_net_rpcDecode_count{rpcType="Heartbeat"}')).toBe(2);
    expect(sample(text, 'consul_raft_net_rpcEnqueue_count{rpcType="AppendEntries"}')).toBe(1);
    expect(sample(text, 'consul_raft_net_rpcRespond_count{rpcType="AppendEntries"}')).toBe(1);
    expect(sample(text, 'consul_raft_net_getRPCType_count')).toBe(3);
    expect(sample(text, 'consul_raft_net_rpcDecode{quantile="0.99",rpcType="Heartbeat"}')).toBeGreaterThanOrEqual(0);
    // The client's samples went to its own registry only.
    expect(sample(text, 'consul_raft_replication_heartbeat_count{peer_id="srv"}')).toBeUndefined();

    const clientText = await clientRegistry.metrics();
    expect(sample(clientText, 'raft_replication_heartbeat_count{peer_id="srv"}')).toBe(2);
    expect(sample(clientText, 'raft_replication_appendEntries_rpc_count{peer_id="srv"}')).toBe(1);
    expect(clientText).toContain('# TYPE raft_replication_appendEntries_logs counter');
    expect(sample(clientText, 'raft_replication_appendEntries_logs{peer_id="srv"}')).toBe(2);
    expect(sample(clientText, 'raft_net_rpcDecode_count{rpcType="Heartbeat"}')).toBeUndefined();
  });

  it('serves /metrics over HTTP when run, and exits cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/prometheus.ts'], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    cleanup.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /metrics at (http:\/\/\S+)/.exec(out);
        if (m?.[1]) resolve(m[1]);
      });
      void exited.then((code) => reject(new Error(`exited with ${code} before serving; stderr:\n${stderr}`)));
    });

    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    for (const name of [
      'raft_transport_rpcs_sent_total',
      'raft_transport_rpcs_succeeded_total',
      'raft_transport_rpcs_failed_total',
      'raft_transport_rpcs_in_flight',
      'raft_transport_rpc_latency_seconds',
      'raft_transport_inbound_rpcs_total',
      'raft_transport_inbound_connections',
      'raft_net_rpcDecode',
      'raft_net_rpcRespond',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    // The demo sends a burst of 10 before it announces the URL.
    expect(text).toMatch(/^raft_transport_rpcs_succeeded_total\{peer="127\.0\.0\.1:\d+"\} (\d+)$/m);
    expect(Number(/^raft_transport_rpcs_succeeded_total\{[^}]*\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(10);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
