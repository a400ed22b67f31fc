/**
 * Whole-system benchmark of the example Raft (examples/raft): a 3-node KV
 * cluster, each node its own process over TCP with in-memory stores, driven
 * through its HTTP API by concurrent clients writing to the leader. Reports
 * commit throughput and the latency of acknowledged writes (p50/p99), with
 * pipelined replication and with synchronous replication only (--sync).
 *
 *   npx tsx bench/raft/main.ts [--seconds=5] [--clients=64] [--json]
 *
 * Hook for a Go comparison: set RAFT_BENCH_GO_NODE to a built
 * test/interop/raftnode binary (same flags and HTTP API) and the same workload
 * runs against a 3-node Go cluster too. Building that binary (hashicorp/raft
 * 1.7.3 from ../shared/upstream-go) is left to the Go baseline tooling.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    clients: { type: 'string', default: '64' },
    json: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const clients = Number(values.clients);

interface Node {
  id: string;
  child: ChildProcess;
  http: string;
}

type Launcher = (id: string, args: string[]) => { cmd: string; argv: string[] };
const tsNode: Launcher = (id, args) => ({
  cmd: process.execPath,
  argv: ['--import', 'tsx', path.join(root, 'examples/raft/kv/node.ts'), '--id', id, ...args],
});
const goNode =
  (bin: string): Launcher =>
  (id, args) => ({ cmd: bin, argv: ['--id', id, ...args.filter((a) => a !== '--sync')] });

function start(launch: Launcher, id: string, args: string[]): Promise<Node> {
  const { cmd, argv } = launch(id, args);
  const child = spawn(cmd, argv, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('HTTP ')) resolve({ id, child, http: line.slice(5) });
    });
    child.once('exit', (code) => reject(new Error(`${id} exited with ${code}`)));
  });
}

async function status(n: Node): Promise<{ state: string; configuration: unknown[] } | undefined> {
  try {
    return (await (await fetch(`http://${n.http}/status`)).json()) as { state: string; configuration: unknown[] };
  } catch {
    return undefined;
  }
}

async function until(check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('cluster did not form');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function cluster(launch: Launcher, extra: string[]): Promise<Node[]> {
  const n1 = await start(launch, 'n1', [...extra, '--bootstrap']);
  await until(async () => (await status(n1))?.state === 'Leader');
  const rest = await Promise.all(['n2', 'n3'].map((id) => start(launch, id, [...extra, '--join', n1.http])));
  await until(async () => (await status(n1))?.configuration.length === 3);
  // let the _http/<id> registrations settle
  await until(async () => (await fetch(`http://${n1.http}/kv/_http/n3`)).status === 200);
  return [n1, ...rest];
}

interface Result {
  name: string;
  ops: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: clients });

/** One PUT over a kept-alive connection (node:http: fetch costs more CPU than the cluster under test). */
function put(http: string, path: string, body: string): Promise<number> {
  const [host, port] = [http.slice(0, http.lastIndexOf(':')), Number(http.slice(http.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const req = request(
      { host, port, path, method: 'PUT', agent, headers: { 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

async function drive(name: string, leader: Node): Promise<Result> {
  const lat: number[] = [];
  let errors = 0;
  const value = 'x'.repeat(16);
  const run = async (endAt: number, record: boolean, c: number): Promise<void> => {
    let i = 0;
    while (Date.now() < endAt) {
      const t0 = performance.now();
      const code = await put(leader.http, `/kv/k${c}-${i++ % 100}`, value);
      if (code === 204) {
        if (record) lat.push(performance.now() - t0);
      } else if (record) errors++;
    }
  };
  const warm = Date.now() + 1000;
  await Promise.all(Array.from({ length: clients }, (_, c) => run(warm, false, c)));
  const t0 = performance.now();
  const end = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, (_, c) => run(end, true, c)));
  const elapsed = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? Number.NaN;
  return { name, ops: lat.length, opsPerSec: lat.length / elapsed, p50: q(0.5), p99: q(0.99), errors };
}

const runs: Array<{ name: string; launch: Launcher; args: string[] }> = [
  { name: 'ts pipelined', launch: tsNode, args: [] },
  { name: 'ts sync', launch: tsNode, args: ['--sync'] },
];
if (process.env.RAFT_BENCH_GO_NODE) runs.push({ name: 'go', launch: goNode(process.env.RAFT_BENCH_GO_NODE), args: [] });

const results: Result[] = [];
for (const r of runs) {
  process.stderr.write(`${r.name}: starting 3 nodes\n`);
  const nodes = await cluster(r.launch, r.args);
  try {
    results.push(await drive(r.name, nodes[0]!));
  } finally {
    for (const n of nodes) n.child.kill('SIGTERM');
    await Promise.all(nodes.map((n) => new Promise((res) => (n.child.exitCode !== null ? res(0) : n.child.once('exit', res)))));
  }
}
agent.destroy();
if (values.json) console.log(JSON.stringify({ seconds, clients, results }, null, 2));
else {
  console.log(`3-node KV over TCP, in-memory stores, ${clients} HTTP clients, ${seconds}s per run`);
  console.log('run            commits/s   p50 ms   p99 ms   errors');
  for (const r of results) {
    console.log(
      `${r.name.padEnd(14)} ${r.opsPerSec.toFixed(0).padStart(9)} ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ${String(r.errors).padStart(8)}`,
    );
  }
  const [p, s] = results;
  if (p && s) console.log(`pipelined / sync: ${(p.opsPerSec / s.opsPerSec).toFixed(2)}x`);
}
