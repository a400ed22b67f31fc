/**
 * The Go side of the whole-system Raft benchmark (issue 11): a 3-node
 * hashicorp/raft cluster (test/interop/raftnode, built against 1.7.3 from
 * ../shared/upstream-go by default), each node its own process over TCP with
 * in-memory stores, driven through the same HTTP API and with the same
 * commands as the TypeScript KV cluster: concurrent clients PUT
 * `/kv/k<client>-<i % 100>` with a 16-byte value to the leader over kept-alive
 * connections; a write counts once acknowledged (204 = committed and applied).
 *
 *   npx tsx bench/raft/go-cluster.ts [--seconds=5] [--clients=64] [--version=1.7.3] [--json]
 *
 * bench/raft/main.ts calls `benchGoCluster()` to put the Go row beside its
 * own; run alone, this prints the Go row.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { buildGoProgram, GO_VERSIONS, type GoRaftVersion, goSkipReason } from '../../test/helpers/go-build.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RAFTNODE_DIR = path.join(ROOT, 'test/interop/raftnode');

/** What one cluster run measured. */
export interface ClusterBenchResult {
  name: string;
  /** Acknowledged writes in the measured window. */
  ops: number;
  opsPerSec: number;
  /** Latency of acknowledged writes, ms. */
  p50: number;
  p99: number;
  /** Writes answered with anything but 204 (or not at all). */
  errors: number;
  seconds: number;
  clients: number;
}

export interface GoClusterBenchOptions {
  /** hashicorp/raft release to build against; default 1.7.3. */
  version?: GoRaftVersion;
  /** Measured seconds (after a 1 s warm-up); default 5. */
  seconds?: number;
  /** Concurrent HTTP clients; default 64. */
  clients?: number;
  /** Cancels the run; the cluster is stopped either way. */
  signal?: AbortSignal;
}

/** Why the Go cluster cannot run here (no Go, no upstream tree), or undefined when it can. */
export function goClusterSkipReason(): string | undefined {
  return goSkipReason();
}

interface GoNode {
  id: string;
  child: ChildProcess;
  http: string;
}

function startNode(bin: string, id: string, role: string[]): Promise<GoNode> {
  const child = spawn(bin, ['--id', id, '--raft', '127.0.0.1:0', '--http', '127.0.0.1:0', ...role], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('HTTP ')) resolve({ id, child, http: line.slice(5) });
    });
    child.once('exit', (code) => reject(new Error(`go raftnode ${id} exited with ${code}`)));
  });
}

async function until(what: string, check: () => Promise<boolean>, signal?: AbortSignal, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    signal?.throwIfAborted();
    if (Date.now() > deadline) throw new Error(`go cluster: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function json(http: string, route: string): Promise<Record<string, unknown>> {
  return (await (await fetch(`http://${http}${route}`, { signal: AbortSignal.timeout(2000) })).json()) as Record<string, unknown>;
}

/** Starts g1 (bootstrap) and adds g2 and g3 through its /join; resolves once all three are members with published HTTP addresses. */
async function startCluster(bin: string, signal?: AbortSignal): Promise<GoNode[]> {
  const nodes: GoNode[] = [];
  try {
    nodes.push(await startNode(bin, 'g1', ['--bootstrap']));
    const g1 = nodes[0]!;
    await until('g1 to lead', async () => (await json(g1.http, '/status')).state === 'Leader', signal);
    nodes.push(...(await Promise.all(['g2', 'g3'].map((id) => startNode(bin, id, ['--join', g1.http])))));
    await until(
      'three members and their _http/<id> entries',
      async () => {
        const s = await json(g1.http, '/status');
        if ((s.configuration as unknown[]).length !== 3) return false;
        for (const n of nodes) if ((await fetch(`http://${g1.http}/kv/_http/${n.id}`)).status !== 200) return false;
        return true;
      },
      signal,
    );
    return nodes;
  } catch (err) {
    await stopCluster(nodes);
    throw err;
  }
}

async function stopCluster(nodes: GoNode[]): Promise<void> {
  await Promise.all(
    nodes.map(
      (n) =>
        new Promise<void>((resolve) => {
          if (n.child.exitCode !== null || n.child.signalCode !== null) return resolve();
          const t = setTimeout(() => n.child.kill('SIGKILL'), 5000);
          n.child.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          n.child.kill('SIGTERM');
        }),
    ),
  );
}

/** One PUT over a kept-alive connection (node:http: fetch costs more client CPU than the cluster under test). */
function put(agent: Agent, http: string, route: string, body: string): Promise<number> {
  const i = http.lastIndexOf(':');
  return new Promise((resolve) => {
    const req = request(
      {
        host: http.slice(0, i),
        port: Number(http.slice(i + 1)),
        path: route,
        method: 'PUT',
        agent,
        headers: { 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Drives `clients` writers at `leaderHttp` for a 1 s warm-up then `seconds`, as bench/raft/main.ts drives the TS cluster. */
export async function driveWrites(
  name: string,
  leaderHttp: string,
  seconds: number,
  clients: number,
  signal?: AbortSignal,
): Promise<ClusterBenchResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const lat: number[] = [];
  let errors = 0;
  const value = 'x'.repeat(16);
  const run = async (endAt: number, record: boolean, c: number): Promise<void> => {
    let i = 0;
    while (Date.now() < endAt && !signal?.aborted) {
      const t0 = performance.now();
      const code = await put(agent, leaderHttp, `/kv/k${c}-${i++ % 100}`, value);
      if (!record) continue;
      if (code === 204) lat.push(performance.now() - t0);
      else errors++;
    }
  };
  try {
    const warm = Date.now() + 1000;
    await Promise.all(Array.from({ length: clients }, (_, c) => run(warm, false, c)));
    const t0 = performance.now();
    const end = Date.now() + seconds * 1000;
    await Promise.all(Array.from({ length: clients }, (_, c) => run(end, true, c)));
    const elapsed = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? Number.NaN;
    return { name, ops: lat.length, opsPerSec: lat.length / elapsed, p50: q(0.5), p99: q(0.99), errors, seconds, clients };
  } finally {
    agent.destroy();
  }
}

/**
 * Builds the Go raftnode (cached), starts a 3-node hashicorp/raft cluster
 * with in-memory stores, measures commits/s and p50/p99 under `clients`
 * concurrent writers, and stops the cluster.
 */
export async function benchGoCluster(opts: GoClusterBenchOptions = {}): Promise<ClusterBenchResult> {
  const version = opts.version ?? '1.7.3';
  const bin = await buildGoProgram(RAFTNODE_DIR, version);
  const nodes = await startCluster(bin, opts.signal);
  try {
    return await driveWrites(`go ${version}`, nodes[0]!.http, opts.seconds ?? 5, opts.clients ?? 64, opts.signal);
  } finally {
    await stopCluster(nodes);
  }
}

/** The table bench/raft/main.ts prints, for one or more rows. */
export function formatTable(rows: readonly ClusterBenchResult[]): string {
  const lines = ['run            commits/s   p50 ms   p99 ms   errors'];
  for (const r of rows) {
    lines.push(
      `${r.name.padEnd(14)} ${r.opsPerSec.toFixed(0).padStart(9)} ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ${String(r.errors).padStart(8)}`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      clients: { type: 'string', default: '64' },
      version: { type: 'string', default: '1.7.3' },
      json: { type: 'boolean', default: false },
    },
  });
  const version = values.version as GoRaftVersion;
  if (!GO_VERSIONS.includes(version)) throw new Error(`--version must be one of ${GO_VERSIONS.join(', ')}`);
  const skip = goClusterSkipReason();
  if (skip) {
    console.error(`go cluster skipped: ${skip}`);
    process.exit(0);
  }
  const r = await benchGoCluster({ version, seconds: Number(values.seconds), clients: Number(values.clients) });
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else {
    console.log(`3-node hashicorp/raft ${version} KV over TCP, in-memory stores, ${r.clients} HTTP clients, ${r.seconds}s`);
    console.log(formatTable([r]));
  }
}
