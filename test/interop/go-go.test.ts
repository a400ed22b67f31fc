/**
 * Sanity of the Go interop peer itself, with no TypeScript transport involved:
 * the Go client's scenarios against the Go server prove the peer program and
 * the responder rules are right, so a failure in ts-go.test.ts is ours.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LogType } from '../../src/commands.ts';
import {
  all256,
  buildGoPeer,
  entriesCrc,
  GO_VERSIONS,
  goAvailable,
  goVectors,
  killAllGoProcesses,
  logEntry,
  MAX_SAFE,
  pseudoRandomBytes,
  crc32,
  runGoBench,
  runGoClient,
  startGoServer,
  type BenchMode,
  type BenchScenario,
  type GoServer,
} from './go-peer.ts';

const go = goAvailable();
if (!go.ok) console.warn(`[interop] skipping Go peer tests: ${go.reason}`);

const ALL_SCENARIOS = [
  'append',
  'vote',
  'snapshot',
  'timeoutnow',
  'remote-error',
  'heartbeat',
  'large-ints',
  'pipeline',
  'concurrent',
];

describe.skipIf(!go.ok)('Go peer: Go client -> Go server (hashicorp/raft 1.1.2)', () => {
  let plain: GoServer;
  let withHeartbeat: GoServer;

  beforeAll(async () => {
    await buildGoPeer();
    [plain, withHeartbeat] = await Promise.all([startGoServer(), startGoServer({ heartbeat: true })]);
  });

  afterAll(async () => {
    const results = await Promise.all([plain?.close(), withHeartbeat?.close()]);
    killAllGoProcesses();
    for (const r of results) if (r) expect(r).toEqual({ code: 0, signal: null });
  });

  it('the TS copies of the shared helpers match Go (entries crc, xorshift32 payloads)', async () => {
    const v = await goVectors();
    const entries = [
      logEntry(1, 2, LogType.Command, all256(), null),
      logEntry(MAX_SAFE, 7, LogType.Configuration, null, new TextEncoder().encode('ext')),
      logEntry(3, 3, LogType.Noop, new Uint8Array(0), pseudoRandomBytes(100, 3)),
    ];
    expect(entriesCrc(entries)).toBe(v.entriesCrc);
    expect(entriesCrc(null)).toBe(v.emptyCrc);
    expect(Buffer.from(pseudoRandomBytes(64, 2024)).toString('hex')).toBe(v.prng64seed2024);
    expect(Buffer.from(pseudoRandomBytes(16, 0)).toString('hex')).toBe(v.prng16seed0);
    expect(crc32(pseudoRandomBytes(3 << 20, 2024))).toBe(v.snapshotCrc3MiB);
  });

  it('scenario all passes against a server with a heartbeat handler', async () => {
    const r = await runGoClient(withHeartbeat.addr, 'all', ['-expect-fastpath']);
    expect(r.code, r.stderr).toBe(0);
    for (const s of ALL_SCENARIOS) expect(r.stdout).toMatch(new RegExp(`^PASS ${s} `, 'm'));
  });

  it('scenario all passes against a server without one (heartbeats go through the consumer)', async () => {
    const r = await runGoClient(plain.addr, 'all');
    expect(r.code, r.stderr).toBe(0);
    for (const s of ALL_SCENARIOS) expect(r.stdout).toMatch(new RegExp(`^PASS ${s} `, 'm'));
  });

  it('the heartbeat check notices a missing fast path (negative control)', async () => {
    const r = await runGoClient(plain.addr, 'heartbeat', ['-expect-fastpath']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^FAIL heartbeat: .*NoRetryBackoff = false, want true/m);
  });

  it('unsafe-int fails against Go, which accepts 2^53 (the TS side must refuse it)', async () => {
    const r = await runGoClient(plain.addr, 'unsafe-int');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^FAIL unsafe-int: AppendEntries Term=2\^53: server accepted it/m);
  });

  it('unknown scenario and missing target are usage errors', async () => {
    expect((await runGoClient(plain.addr, 'nope')).code).toBe(2);
    expect((await runGoClient('', 'vote')).code).toBe(2);
  });

  it('Go 1.1.2 drops the connection on RequestPreVote (type 4) without answering, and keeps serving', async () => {
    const [host, port] = splitHostPort(plain.addr);
    const sock = net.connect({ host, port });
    const received: Buffer[] = [];
    sock.on('data', (d: Buffer) => received.push(d));
    const closed = new Promise<boolean>((resolve, reject) => {
      sock.once('close', resolve);
      sock.once('error', reject);
    });
    // Type byte 4, then a minimal msgpack map {"Term": 1}.
    sock.end(Buffer.from([0x04, 0x81, 0xa4, ...Buffer.from('Term'), 0x01]));
    await closed;
    expect(Buffer.concat(received).length).toBe(0);
    const after = await runGoClient(plain.addr, 'vote');
    expect(after.code, after.stderr).toBe(0);
  });

  const combos: [BenchScenario, BenchMode][] = (['heartbeat', '128b', '64x1k', '256x4k'] as const).flatMap((s) =>
    (['sync', 'pipeline'] as const).map((m): [BenchScenario, BenchMode] => [s, m]),
  );
  it.each(combos)('bench %s %s runs and reports one JSON line', async (scenario, mode) => {
    const res = await runGoBench(withHeartbeat.addr, { scenario, mode, n: 100, warmup: 10 });
    expect(res).toMatchObject({ scenario, mode, n: 100 });
    expect(res.rps).toBeGreaterThan(0);
    expect(res.p99us).toBeGreaterThanOrEqual(res.p50us);
    const bytes = { heartbeat: 0, '128b': 128, '64x1k': 64 * 1024, '256x4k': 256 * 4096 }[scenario];
    expect(res.bytesPerReq).toBe(bytes);
    if (mode === 'pipeline') expect(res.pipelineDepth).toBe(128);
  });
});

describe.skipIf(!go.ok).each(GO_VERSIONS)('Go peer built against raft %s proves itself against its own server', (version) => {
  it('scenario all (+ header, appendedat; prevote on 1.7.3) passes Go -> Go', async () => {
    const server = await startGoServer({ heartbeat: true, version });
    try {
      const scenarios = ['all', 'header', 'appendedat', ...(version === '1.7.3' ? ['prevote'] : [])];
      for (const scenario of scenarios) {
        const r = await runGoClient(server.addr, scenario, scenario === 'all' ? ['-expect-fastpath'] : [], { version });
        expect(r.code, `${scenario}: ${r.stderr}`).toBe(0);
      }
      // Before 1.7 the Go client itself has no RequestPreVote.
      if (version !== '1.7.3')
        expect((await runGoClient(server.addr, 'prevote', [], { version })).stderr).toMatch(/has no RequestPreVote/);
    } finally {
      expect(await server.close()).toEqual({ code: 0, signal: null });
    }
  });
});

function splitHostPort(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}
