/**
 * KV nodes as separate processes (`node --import tsx examples/raft/kv/node.ts`)
 * and a small HTTP client for them. Test helper only. Waits poll /status
 * until a condition holds, each bounded by a deadline: across processes there
 * is nothing else to wait on.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const repoRoot = resolve(import.meta.dirname, '../../..');
const nodeScript = resolve(repoRoot, 'examples/raft/kv/node.ts');

/** Fast timeouts for tests; the issue only requires re-election well under 10 s. */
export const FAST_FLAGS = ['--heartbeat-timeout', '400ms', '--election-timeout', '400ms', '--leader-lease-timeout', '300ms'];

export interface Status {
  id: string;
  state: string;
  term: number;
  leader: string;
  commitIndex: number;
  appliedIndex: number;
  lastLogIndex: number;
  lastSnapshotIndex: number;
  configuration: Array<{ id: string; address: string; suffrage: string }>;
}

export class Proc {
  child!: ChildProcess;
  raft = '';
  http = '';
  stderr = '';
  exited!: Promise<number | null>;

  constructor(
    readonly id: string,
    readonly args: string[],
    /** Another node binary with the same flags and API (the Go raftnode); default: the TypeScript node. */
    readonly bin?: string,
  ) {}

  /** Starts the node; resolves once it printed its RAFT and HTTP addresses. */
  async start(extra: string[] = []): Promise<this> {
    const argv = ['--id', this.id, ...this.args, ...extra];
    const [cmd, full] = this.bin ? [this.bin, argv] : [process.execPath, ['--import', 'tsx', nodeScript, ...argv]];
    const child = spawn(cmd, full, {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((res) => child.once('exit', (code) => res(code)));
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    await new Promise<void>((res, rej) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        if (line.startsWith('RAFT ')) this.raft = line.slice(5);
        if (line.startsWith('HTTP ')) {
          this.http = line.slice(5);
          res();
        }
      });
      child.once('exit', (code) => rej(new Error(`${this.id} exited with ${code}: ${this.stderr}`)));
    });
    return this;
  }

  /** Restarts on the same addresses (and the same --data, if any). */
  async restart(): Promise<this> {
    const keep = ['--raft', this.raft, '--http', this.http];
    const args = [...this.args];
    for (const flag of ['--raft', '--http', '--bootstrap', '--join']) {
      const i = args.indexOf(flag);
      if (i >= 0) args.splice(i, flag === '--bootstrap' ? 1 : 2);
    }
    const p = new Proc(this.id, [...args, ...keep]);
    await p.start();
    Object.assign(this, { child: p.child, exited: p.exited });
    p.child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    return this;
  }

  kill9(): Promise<number | null> {
    this.child.kill('SIGKILL');
    return this.exited;
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }

  async status(): Promise<Status | undefined> {
    try {
      const r = await fetch(`http://${this.http}/status`, { signal: AbortSignal.timeout(2000) });
      return (await r.json()) as Status;
    } catch {
      return undefined;
    }
  }
}

/** PUT following redirects; true once the write was acknowledged (204). */
export async function put(http: string, key: string, value: string): Promise<boolean> {
  try {
    const r = await fetch(`http://${http}/kv/${encodeURIComponent(key)}`, {
      method: 'PUT',
      body: value,
      signal: AbortSignal.timeout(10_000),
    });
    await r.arrayBuffer();
    return r.status === 204;
  } catch {
    return false;
  }
}

export async function get(http: string, key: string, consistent = false): Promise<string | undefined> {
  const r = await fetch(`http://${http}/kv/${encodeURIComponent(key)}${consistent ? '?consistent=1' : ''}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const text = await r.text();
  if (r.status === 404) return undefined;
  if (r.status !== 200) throw new Error(`GET ${key}: ${r.status} ${text}`);
  return text;
}

export async function post(http: string, path: string, body: unknown): Promise<number> {
  const r = await fetch(`http://${http}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
    signal: AbortSignal.timeout(20_000),
  });
  await r.arrayBuffer();
  return r.status;
}

/** Polls until `check` returns a value, or throws after `ms`. */
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
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The leader's Proc, once all running procs agree on one with the given member count. */
export async function waitLeader(procs: Proc[], members?: number, ms = 20_000): Promise<Proc> {
  return until(
    'a leader',
    async () => {
      for (const p of procs) {
        const s = await p.status();
        if (s?.state === 'Leader' && (members === undefined || s.configuration.length === members)) {
          // and it knows its own HTTP address is published (redirects need it)
          if ((await get(p.http, `_http/${p.id}`).catch(() => undefined)) === p.http) return p;
        }
      }
      return undefined;
    },
    ms,
  );
}

/** Starts n1 with --bootstrap and the others with --join, and waits until all are members. */
export async function startCluster(n: number, args: (id: string) => string[] = () => []): Promise<Proc[]> {
  const first = await new Proc('n1', [...FAST_FLAGS, ...args('n1'), '--bootstrap']).start();
  await waitLeader([first]);
  const rest = await Promise.all(
    Array.from({ length: n - 1 }, (_, i) =>
      new Proc(`n${i + 2}`, [...FAST_FLAGS, ...args(`n${i + 2}`), '--join', first.http]).start(),
    ),
  );
  const procs = [first, ...rest];
  await waitLeader(procs, n);
  // every node has every node's HTTP address, so any of them can redirect to any leader
  await until('every _http/<id> everywhere', async () => {
    for (const p of procs) for (const q of procs) if ((await get(p.http, `_http/${q.id}`)) !== q.http) return false;
    return true;
  });
  return procs;
}

/** Runs `clients` writers of unique keys until stopped; returns the acknowledged ones. */
export function load(procs: () => Proc[], clients = 4): { acked: Map<string, string>; stop: () => Promise<Map<string, string>> } {
  const acked = new Map<string, string>();
  let running = true;
  const writers = Array.from({ length: clients }, async (_, c) => {
    let i = 0;
    while (running) {
      const live = procs();
      const target = live[(c + i) % live.length]!;
      const key = `w${c}-${i++}`;
      if (await put(target.http, key, `v${i}`)) acked.set(key, `v${i}`);
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
