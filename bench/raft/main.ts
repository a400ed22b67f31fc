/**
 * Whole-system benchmark of the example Raft (examples/raft): a 3-node KV
 * cluster, each node its own process over TCP with in-memory stores, driven
 * through its HTTP API by concurrent clients writing to the leader. Reports
 * commit throughput and the latency of acknowledged writes (p50/p99), with
 * pipelined replication and with synchronous replication only (--sync).
 *
 *   npx tsx bench/raft/main.ts [--seconds=5] [--clients=64] [--json]
 *
 * The same workload then runs against a 3-node Go hashicorp/raft 1.7.3
 * cluster (test/interop/raftnode built from ../shared/upstream-go by
 * bench/raft/go-cluster.ts), unless --no-go or Go is missing. With
 * --rounds=N the runs are interleaved N times and each row is the median
 * round by commits/s, which is what to quote on a shared machine.
 *
 *   npx tsx bench/raft/main.ts [--seconds=5] [--clients=64] [--rounds=3] [--no-go] [--json]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchGoCluster, goClusterSkipReason } from './go-cluster.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    clients: { type: 'string', default: '64' },
    json: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '1' },
    'no-go': { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const rounds = Math.max(1, Number(values.rounds));

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
const goSkip = values['no-go'] ? 'left out (--no-go)' : goClusterSkipReason();
if (goSkip !== undefined) process.stderr.write(`go 1.7.3: ${goSkip}\n`);

const samples = new Map<string, Result[]>();
const keep = (r: Result): void => {
  samples.set(r.name, [...(samples.get(r.name) ?? []), r]);
};
for (let round = 0; round < rounds; round++) {
  for (const r of runs) {
    process.stderr.write(`${r.name}: starting 3 nodes (round ${round + 1}/${rounds})\n`);
    const nodes = await cluster(r.launch, r.args);
    try {
      keep(await drive(r.name, nodes[0]!));
    } finally {
      for (const n of nodes) n.child.kill('SIGTERM');
      await Promise.all(nodes.map((n) => new Promise((res) => (n.child.exitCode !== null ? res(0) : n.child.once('exit', res)))));
    }
  }
  if (goSkip === undefined) {
    process.stderr.write(`go 1.7.3: starting 3 nodes (round ${round + 1}/${rounds})\n`);
    keep(await benchGoCluster({ seconds, clients }));
  }
}
/** The median round of each run, by commits/s. */
const results: Result[] = [...samples.values()].map((rs) => [...rs].sort((a, b) => a.opsPerSec - b.opsPerSec)[rs.length >> 1]!);
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
  const [p, s, go] = results;
  if (p && s) console.log(`pipelined / sync: ${(p.opsPerSec / s.opsPerSec).toFixed(2)}x`);
  if (p && go) console.log(`pipelined / ${go.name}: ${(p.opsPerSec / go.opsPerSec).toFixed(2)}x`);
  if (rounds > 1) console.log(`(median of ${rounds} interleaved rounds per row)`);
}
