/**
 * Mixed-cluster harness: runs KV nodes of either language as separate
 * processes — the Go raftnode (test/interop/raftnode, the real
 * hashicorp/raft built against 1.1.2, 1.5.0 or 1.7.3) or the TypeScript
 * examples/raft/kv/node.ts — with one command line and one HTTP API, and
 * drives them. Test helper only.
 *
 * Every wait polls /status with a bounded deadline (across processes there is
 * nothing else to wait on); every process started here is tracked and
 * stopped by `stopAll()`, which the tests call from afterEach/afterAll.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { afterEach, beforeAll } from 'vitest';

import { buildGoProgram, type GoRaftVersion, goSkipReason } from '../../helpers/go-build.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TS_NODE = path.join(REPO_ROOT, 'examples/raft/kv/node.ts');
export const RAFTNODE_DIR = fileURLToPath(new URL('../raftnode/', import.meta.url));

/** Which implementation a node runs. */
export type NodeKind = { lang: 'go'; version: GoRaftVersion } | { lang: 'ts' };
export const go = (version: GoRaftVersion = '1.7.3'): NodeKind => ({ lang: 'go', version });
export const ts: NodeKind = { lang: 'ts' };

export function kindName(k: NodeKind): string {
  return k.lang === 'go' ? `go ${k.version}` : 'ts';
}

/**
 * Timeouts shorter than the defaults so elections take well under a second,
 * but not so short that a busy 2-core CI machine flaps.
 */
export const TEST_TIMING = ['--heartbeat-timeout', '500ms', '--election-timeout', '500ms', '--leader-lease-timeout', '300ms'];

export interface Status {
  id: string;
  impl: 'go' | 'ts';
  state: string;
  term: number;
  leader: string;
  commitIndex: number;
  appliedIndex: number;
  lastLogIndex: number;
  lastSnapshotIndex: number;
  configuration: Array<{ id: string; address: string; suffrage: string }>;
  /** Go only: the last applied command's Log.AppendedAt as decoded; null when the version has no such field. */
  lastAppendedAt?: string | null;
}

const live = new Set<MixedNode>();
const tempDirs = new Set<string>();

/** A fresh temporary folder, removed by stopAll(). */
export function tempDir(prefix = 'mixed-'): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

/** Stops (SIGKILL) every node this process started and removes temporary folders. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((n) => n.kill9()));
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

/**
 * The set-up every mixed-cluster test file shares: build the Go raftnode for
 * `versions` before the tests (cached, outside their timeouts) and stop every
 * node after each test. Returns why the suite must skip, or undefined.
 */
export function mixedSuite(versions: readonly GoRaftVersion[] = ['1.7.3']): string | undefined {
  const skip = goSkipReason();
  afterEach(stopAll);
  beforeAll(async () => {
    if (!skip) for (const v of versions) await buildGoProgram(RAFTNODE_DIR, v);
  }, 300_000);
  return skip;
}

/** Longest log kept per node; enough for the Go lines the tests look for. */
const LOG_CAP = 4 << 20;

/** One KV node process of either language. */
export class MixedNode {
  child: ChildProcess | undefined;
  raft = '';
  http = '';
  /** Its stderr (Raft's own log with --verbose), capped at LOG_CAP. */
  log = '';
  exited: Promise<number | null> = Promise.resolve(null);
  /** How many times it was started. */
  starts = 0;

  constructor(
    readonly id: string,
    readonly kind: NodeKind,
    /** Flags besides --id/--raft/--http, e.g. TEST_TIMING, --data DIR (TS only), --snapshot-threshold. */
    readonly flags: string[] = TEST_TIMING,
  ) {}

  get name(): string {
    return `${this.id} (${kindName(this.kind)})`;
  }

  /** Starts the process; resolves once it printed its RAFT and HTTP addresses. `role` is --bootstrap, --join ADDR or nothing. */
  async start(role: string[] = [], timeoutMs = 30_000): Promise<this> {
    const addrs = ['--raft', this.raft || '127.0.0.1:0', '--http', this.http || '127.0.0.1:0'];
    const argv = ['--id', this.id, ...addrs, ...this.flags, '--verbose', ...role];
    let cmd: string;
    let full: string[];
    if (this.kind.lang === 'go') {
      cmd = await buildGoProgram(RAFTNODE_DIR, this.kind.version);
      full = argv;
    } else {
      cmd = process.execPath;
      full = ['--import', 'tsx', TS_NODE, ...argv];
    }
    const child = spawn(cmd, full, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.starts++;
    live.add(this);
    this.exited = new Promise((res) =>
      child.once('exit', (code) => {
        live.delete(this);
        res(code);
      }),
    );
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      if (this.log.length < LOG_CAP) this.log += d;
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${this.name} did not print its addresses within ${timeoutMs} ms:\n${this.log.slice(-2000)}`));
      }, timeoutMs);
      const lines = createInterface({ input: child.stdout! });
      let raft = '';
      lines.on('line', (line) => {
        if (line.startsWith('RAFT ')) raft = line.slice(5);
        if (line.startsWith('HTTP ')) {
          clearTimeout(timer);
          this.raft = raft;
          this.http = line.slice(5);
          resolve();
        }
      });
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code ?? sig}) before listening:\n${this.log.slice(-2000)}`));
      });
    });
    return this;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** kill -9; resolves once the process is gone. */
  async kill9(): Promise<void> {
    if (this.running) this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `ms`; resolves with the exit code (null when killed). */
  async terminate(ms = 10_000): Promise<number | null> {
    if (!this.running) return this.exited;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), ms);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** Starts again on the same RAFT and HTTP addresses (and the same --data, if any); no --bootstrap/--join. */
  async restart(): Promise<this> {
    await this.kill9();
    return this.start();
  }

  async status(): Promise<Status | undefined> {
    if (!this.running) return undefined;
    try {
      const r = await fetch(`http://${this.http}/status`, { signal: AbortSignal.timeout(2000) });
      return (await r.json()) as Status;
    } catch {
      return undefined;
    }
  }

  /** Lines of its log that contain every one of `words`. */
  logLines(...words: string[]): string[] {
    return this.logLinesSince(0, ...words);
  }

  /** The same, from log offset `mark` (an earlier `log.length`) on. */
  logLinesSince(mark: number, ...words: string[]): string[] {
    return this.log
      .slice(mark)
      .split('\n')
      .filter((l) => words.every((w) => l.includes(w)));
  }
}

// ---------------------------------------------------------------------------
// HTTP client (fetch follows 307 redirects, re-sending PUT bodies)

/** PUT /kv/key on `node` (redirected to the leader); true once acknowledged (204). */
export async function put(http: string, key: string, value: string, ms = 10_000): Promise<boolean> {
  try {
    const r = await fetch(`http://${http}/kv/${encodeURIComponent(key)}`, {
      method: 'PUT',
      body: value,
      signal: AbortSignal.timeout(ms),
    });
    await r.arrayBuffer();
    return r.status === 204;
  } catch {
    return false;
  }
}

/** DELETE /kv/key; true once acknowledged. */
export async function del(http: string, key: string, ms = 10_000): Promise<boolean> {
  try {
    const r = await fetch(`http://${http}/kv/${encodeURIComponent(key)}`, { method: 'DELETE', signal: AbortSignal.timeout(ms) });
    await r.arrayBuffer();
    return r.status === 204;
  } catch {
    return false;
  }
}

/** GET /kv/key (a local read; `consistent` goes through a barrier on the leader). */
export async function get(http: string, key: string, consistent = false): Promise<string | undefined> {
  const r = await fetch(`http://${http}/kv/${encodeURIComponent(key)}${consistent ? '?consistent=1' : ''}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const text = await r.text();
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw new Error(`GET ${key} on ${http}: ${r.status} ${text}`);
  return text;
}

/** POST a JSON body (/join, /remove, /transfer, /snapshot); resolves with the status and text. */
export async function post(
  http: string,
  route: string,
  body: unknown = {},
  ms = 20_000,
): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://${http}${route}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
    signal: AbortSignal.timeout(ms),
  });
  return { status: r.status, text: await r.text() };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/** Reads `keys` on one node (local reads), as key → value (absent keys left out). */
export async function readKeys(node: MixedNode, keys: readonly string[]): Promise<Map<string, string>> {
  const values = await mapLimit(keys, 16, (k) => get(node.http, k));
  const out = new Map<string, string>();
  keys.forEach((k, i) => {
    const v = values[i];
    if (v !== undefined) out.set(k, v);
  });
  return out;
}

// ---------------------------------------------------------------------------
// Waits

/** Polls `check` until it returns a value other than undefined/false; throws after `ms` with the last error. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The leader, once every running node in `nodes` names the same leader and
 * that leader reports itself Leader (with `members` servers, if given) and has
 * published its HTTP address (_http/<id>), so redirects to it work.
 */
export async function waitLeader(
  nodes: readonly MixedNode[],
  opts: { members?: number; ms?: number; not?: string } = {},
): Promise<MixedNode> {
  return until(
    `one leader agreed by ${nodes.map((n) => n.id).join(', ')}${opts.not ? ` other than ${opts.not}` : ''}`,
    async () => {
      const up = nodes.filter((n) => n.running);
      const st = await Promise.all(up.map((n) => n.status()));
      const leaderId = st[0]?.leader;
      if (!leaderId || leaderId === opts.not || st.some((s) => s?.leader !== leaderId)) return undefined;
      const i = up.findIndex((n) => n.id === leaderId);
      const s = st[i];
      if (s?.state !== 'Leader') return undefined;
      if (opts.members !== undefined && s.configuration.length !== opts.members) return undefined;
      const leader = up[i]!;
      if ((await get(leader.http, `_http/${leader.id}`).catch(() => undefined)) !== leader.http) return undefined;
      return leader;
    },
    opts.ms ?? 20_000,
  );
}

/** Resolves once every running node has applied at least the leader's commit index and all agree on the configuration. */
export async function waitConverged(nodes: readonly MixedNode[], ms = 30_000): Promise<Status[]> {
  return until(
    'all nodes to apply the leader commit index',
    async () => {
      const st = await Promise.all(nodes.filter((n) => n.running).map((n) => n.status()));
      if (st.some((s) => s === undefined)) return undefined;
      const all = st as Status[];
      const leader = all.find((s) => s.state === 'Leader');
      if (!leader) return undefined;
      const conf = JSON.stringify(sortedConf(leader));
      if (all.some((s) => s.appliedIndex < leader.commitIndex || JSON.stringify(sortedConf(s)) !== conf)) return undefined;
      return all;
    },
    ms,
  );
}

export function sortedConf(s: Status): Array<{ id: string; address: string; suffrage: string }> {
  return [...s.configuration].sort((a, b) => a.id.localeCompare(b.id));
}

/** Resolves once every node in `nodes` reads `expected` for every key (values polled, so a lagging FSM catches up). */
export async function waitValues(
  nodes: readonly MixedNode[],
  expected: ReadonlyMap<string, string | undefined>,
  ms = 30_000,
): Promise<void> {
  const keys = [...expected.keys()];
  let lastDiff = '';
  await until(
    `${keys.length} keys equal on ${nodes.map((n) => n.id).join(', ')}`,
    async () => {
      const reads = await Promise.all(nodes.map((n) => readKeys(n, keys)));
      for (const [i, got] of reads.entries()) {
        for (const k of keys) {
          if (got.get(k) !== expected.get(k)) {
            lastDiff = `${nodes[i]!.name}: ${k} = ${String(got.get(k))}, want ${String(expected.get(k))}`;
            return false;
          }
        }
      }
      return true;
    },
    ms,
  ).catch((err: Error) => {
    throw new Error(`${err.message} (last difference: ${lastDiff})`);
  });
}

/**
 * Forms a cluster: the first node bootstraps, the others start with neither
 * flag and are added by the leader's /join (as hashicorp's AddVoter), in order.
 * Resolves once all are members and every _http/<id> is replicated everywhere.
 */
export async function formCluster(nodes: readonly MixedNode[]): Promise<MixedNode> {
  const [first, ...rest] = nodes;
  await first!.start(['--bootstrap']);
  await waitLeader([first!]);
  await Promise.all(rest.map((n) => n.start()));
  for (const n of rest) {
    const r = await post(first!.http, '/join', { id: n.id, addr: n.raft });
    if (r.status !== 204) throw new Error(`join ${n.name} via ${first!.name}: ${r.status} ${r.text}`);
  }
  const leader = await waitLeader(nodes, { members: nodes.length });
  await until('every _http/<id> on every node', async () => {
    for (const p of nodes) for (const q of nodes) if ((await get(p.http, `_http/${q.id}`)) !== q.http) return false;
    return true;
  });
  return leader;
}

/** Unique-key writers against the given nodes until stopped; the acknowledged writes are what must survive. */
export function startLoad(
  targets: () => readonly MixedNode[],
  clients = 4,
  prefix = 'w',
): { stop: () => Promise<Map<string, string>>; acked: Map<string, string> } {
  const acked = new Map<string, string>();
  let running = true;
  const writers = Array.from({ length: clients }, async (_, c) => {
    let i = 0;
    while (running) {
      const up = targets().filter((n) => n.running);
      const target = up[(c + i) % Math.max(1, up.length)];
      const key = `${prefix}${c}-${i}`;
      const value = `v${c}-${i}`;
      i++;
      if (!target) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (await put(target.http, key, value, 5000)) acked.set(key, value);
      else await new Promise((r) => setTimeout(r, 20)); // no leader right now: don't spin
    }
  });
  return {
    acked,
    stop: async () => {
      running = false;
      await Promise.all(writers);
      return acked;
    },
  };
}
