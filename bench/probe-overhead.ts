/**
 * What the peer prober costs the RPCs it watches: one server, two clients
 * (prober off, and on at 100 ms to that server), rounds interleaved ABBA so
 * both see the same machine load; prints the median req/s of each for 128 B
 * AppendEntries, sync and pipelined (window 64). Run alone:
 * `npx tsx bench/probe-overhead.ts [rounds]` (default 20).
 */
import { type AppendEntriesRequest, LogType, RpcType } from '../src/commands.ts';
import type { NetworkTransport } from '../src/net/network-transport.ts';
import { newTCPTransport } from '../src/net/tcp-transport.ts';

const server = await newTCPTransport('127.0.0.1:0');
const serving = (async () => {
  for await (const rpc of server.consumer()) {
    if (rpc.type !== RpcType.AppendEntries) {
      rpc.respond(null, 'unexpected');
      continue;
    }
    const c = rpc.command;
    rpc.respond({
      rpcHeader: { protocolVersion: 3 },
      term: c.term,
      lastLog: c.prevLogEntry + 1,
      success: true,
      noRetryBackoff: false,
    });
  }
})();
const addr = server.localAddr();
const off = await newTCPTransport('127.0.0.1:0');
const on = await newTCPTransport('127.0.0.1:0', { probeInterval: 100, probePeers: [addr] });

const req: AppendEntriesRequest = {
  rpcHeader: { protocolVersion: 3 },
  term: 5,
  leader: new TextEncoder().encode('leader'),
  prevLogEntry: 1,
  prevLogTerm: 5,
  entries: [{ index: 2, term: 5, type: LogType.Command, data: new Uint8Array(128), extensions: null, appendedAt: null }],
  leaderCommitIndex: 1,
};

async function sync(t: NetworkTransport, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await t.appendEntries('server', addr, req);
  return n / ((performance.now() - t0) / 1000);
}

async function pipelined(t: NetworkTransport, n: number): Promise<number> {
  const p = await t.appendEntriesPipeline('server', addr);
  const t0 = performance.now();
  const consumed = (async () => {
    let k = 0;
    for await (const f of p.consumer()) {
      if (f.error !== undefined) throw f.error;
      if (++k === n) return;
    }
  })();
  for (let i = 0; i < n; i++) await p.appendEntries(req);
  await consumed;
  const rps = n / ((performance.now() - t0) / 1000);
  await p.close();
  return rps;
}

const median = (a: readonly number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] as number;
const rounds = Number(process.argv[2] ?? 20);
const rows = [
  ['sync', sync, 3_000],
  ['pipelined, window 64', pipelined, 30_000],
] as const;
for (const [name, run, n] of rows) {
  await run(off, n / 3);
  await run(on, n / 3);
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      a.push(await run(off, n));
      b.push(await run(on, n));
    } else {
      b.push(await run(on, n));
      a.push(await run(off, n));
    }
  }
  const [ma, mb] = [median(a), median(b)];
  console.log(
    `${name}: prober off ${ma.toFixed(0)} req/s (range ${Math.min(...a).toFixed(0)}-${Math.max(...a).toFixed(0)}), ` +
      `on at 100 ms ${mb.toFixed(0)} req/s (range ${Math.min(...b).toFixed(0)}-${Math.max(...b).toFixed(0)}), on/off ${(mb / ma).toFixed(3)}`,
  );
}
const h = on.peers()[0];
console.log(`probes answered meanwhile: ${h?.probesSucceeded}, state ${h?.state}, probe rtt p50 ${h?.rtt.p50.toFixed(3)} ms`);
await Promise.all([off.close(), on.close()]);
await server.close();
await serving;
