/**
 * InmemTransport throughput: how many RPCs a Raft unit-test suite can push
 * through per second, synchronously (one call at a time) and pipelined.
 * Run alone with `npx tsx bench/inmem.ts`; the main benchmark also calls it.
 */
import type { AppendEntriesRequest, AppendEntriesResponse } from '../src/commands.ts';
import { InmemTransport } from '../src/inmem/inmem-transport.ts';
import type { AppendFuture, AppendPipeline } from '../src/transport.ts';

export interface InmemResult {
  mode: 'sync' | 'pipelined';
  n: number;
  seconds: number;
  rps: number;
}

const resp: AppendEntriesResponse = {
  rpcHeader: { protocolVersion: 3 },
  term: 1,
  lastLog: 1,
  success: true,
  noRetryBackoff: false,
};

function request(i: number): AppendEntriesRequest {
  return {
    rpcHeader: { protocolVersion: 3 },
    term: 1,
    leader: null,
    prevLogEntry: i,
    prevLogTerm: 1,
    entries: [{ index: i + 1, term: 1, type: 0, data: new Uint8Array(128) }],
    leaderCommitIndex: i,
  };
}

async function pair(): Promise<{ a: InmemTransport; b: InmemTransport; stop: () => Promise<void> }> {
  const a = new InmemTransport('a', { timeout: 10_000 });
  const b = new InmemTransport('b', { timeout: 10_000 });
  a.connect('b', b);
  const loop = (async () => {
    for await (const rpc of b.consumer()) rpc.respond(resp as never);
  })();
  return {
    a,
    b,
    stop: async () => {
      await a.close();
      await b.close();
      await loop;
    },
  };
}

async function drain(p: AppendPipeline, n: number): Promise<void> {
  let seen = 0;
  for await (const f of p.consumer() as AsyncIterable<AppendFuture>) {
    if (f.error) throw f.error;
    if (++seen === n) return;
  }
}

export async function benchInmem(n = 200_000): Promise<InmemResult[]> {
  const out: InmemResult[] = [];
  {
    const { a, stop } = await pair();
    for (let i = 0; i < 10_000; i++) await a.appendEntries('b', 'b', request(i));
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await a.appendEntries('b', 'b', request(i));
    const seconds = (performance.now() - t0) / 1000;
    out.push({ mode: 'sync', n, seconds, rps: n / seconds });
    await stop();
  }
  {
    const { a, stop } = await pair();
    const p = await a.appendEntriesPipeline('b', 'b');
    const warm = drain(p, 10_000);
    for (let i = 0; i < 10_000; i++) await p.appendEntries(request(i));
    await warm;
    const t0 = performance.now();
    const done = drain(p, n);
    for (let i = 0; i < n; i++) await p.appendEntries(request(i));
    await done;
    const seconds = (performance.now() - t0) / 1000;
    out.push({ mode: 'pipelined', n, seconds, rps: n / seconds });
    await p.close();
    await stop();
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await benchInmem()) {
    console.log(
      `${r.mode.padEnd(10)} ${Math.round(r.rps).toLocaleString('en-US').padStart(12)} RPC/s  (${r.n} in ${r.seconds.toFixed(2)} s)`,
    );
  }
}
