/**
 * Where the time goes: CPU profiles of the client and the server process over
 * the same timed run of one workload, with each side's top frames by self
 * time and its busy time per request. This is how the benchmark's profile
 * findings (README, "Where the 64×1 KiB time goes") are reproduced:
 *
 *   npm run bench:profile -- [--workload=64x1k|128b|heartbeat|256x4k] [--mode=pipelined|sync]
 *                            [--window=8] [--n=20000] [--top=15] [--raw]
 *
 * --raw profiles the raw ceiling instead (pre-encoded frames, one-byte acks),
 * for the same frames on the same machine. The whole profiles go to
 * bench/results/profile-{client,server}.cpuprofile (git-ignored), for Chrome
 * DevTools' Performance panel. Profiling costs some speed, so take req/s from
 * `npm start`, and shares from here.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { newTCPTransport } from '../src/net/tcp-transport.ts';
import { pipelinedRun, syncRun } from './append-bench.ts';
import { killAllChildren, startServerProcess } from './children.ts';
import { CpuProfiler, type ProfileSummary, summarizeProfile, writeProfile } from './cpu-profile.ts';
import { encodeRing, rawFrames } from './raw-client.ts';
import { LatencyRecorder, type Timed } from './stats.ts';
import { generate, RingCursor, workloads } from './workloads.ts';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));

interface Args {
  workload: string;
  mode: 'pipelined' | 'sync';
  window: number;
  n: number;
  top: number;
  raw: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { workload: '64x1k', mode: 'pipelined', window: 8, n: 20_000, top: 15, raw: false };
  for (const a of argv) {
    const [key, value = ''] = a.split('=', 2) as [string, string?];
    const int = (): number => {
      const v = Number(value);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${key} wants a positive integer, got ${JSON.stringify(value)}`);
      return v;
    };
    if (key === '--workload') args.workload = value;
    else if (key === '--mode' && (value === 'pipelined' || value === 'sync')) args.mode = value;
    else if (key === '--window') args.window = int();
    else if (key === '--n') args.n = int();
    else if (key === '--top') args.top = int();
    else if (a === '--raw') args.raw = true;
    else throw new Error(`unknown argument ${a}; see the usage at the top of bench/profile.ts`);
  }
  if (args.mode === 'pipelined' && args.window < 2) throw new Error('--window must be at least 2 for pipelined runs');
  return args;
}

function printSide(name: string, s: ProfileSummary, requests: number): void {
  const perReq = (1000 * s.busyMs) / requests;
  console.log(
    `${name}: busy ${s.busyMs.toFixed(0)} ms of ${(s.busyMs + s.idleMs).toFixed(0)} ms profiled, ` +
      `${perReq.toFixed(1)} µs of main-thread time per request; top frames by self time:`,
  );
  for (const f of s.top) console.log(`  ${f.percent.toFixed(1).padStart(5)}%  ${f.frame}`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const spec = workloads().find((w) => w.id === args.workload);
  if (spec === undefined) {
    throw new Error(
      `unknown workload ${args.workload}; one of ${workloads()
        .map((w) => w.id)
        .join(', ')}`,
    );
  }
  const window = args.mode === 'sync' ? 1 : args.window;
  const warmup = Math.max(1_000, Math.floor(args.n / 5));
  const side = args.raw ? 'raw' : 'ours';
  console.log(
    `CPU profile (${side}): ${spec.label} ${args.mode}${args.mode === 'sync' ? '' : `, window ${window}`}, ` +
      `${args.n.toLocaleString('en-US')} requests after ${warmup.toLocaleString('en-US')} untimed`,
  );
  const w = generate(spec);
  const server = await startServerProcess(args.raw ? 'raw' : 'transport');
  const client = args.raw ? undefined : await newTCPTransport('127.0.0.1:0', { maxRPCsInFlight: Math.max(2, window) });
  try {
    const lat = new LatencyRecorder(args.n);
    let run: (warm: number, n: number) => Promise<Timed>;
    if (client === undefined) {
      const frames = encodeRing(w);
      run = (warm, n) => rawFrames(server.addr, frames, window, warm, n, lat);
    } else {
      const ring = new RingCursor(w.ring);
      run = (warm, n) => (args.mode === 'sync' ? syncRun : pipelinedRun)(client, server.addr, ring, warm, n, lat);
    }
    await run(warmup, 1);
    const local = new CpuProfiler();
    await server.profileStart();
    await local.start();
    const t = await run(0, args.n);
    const clientProfile = await local.stop();
    const clientFile = path.join(RESULTS, 'profile-client.cpuprofile');
    const serverFile = path.join(RESULTS, 'profile-server.cpuprofile');
    writeProfile(clientFile, clientProfile);
    const serverSummary = await server.profileStop(args.top, serverFile);
    console.log(`${(t.n / t.seconds).toFixed(0)} req/s while profiled`);
    printSide('client', summarizeProfile(clientProfile, args.top), t.n);
    printSide('server', serverSummary, t.n);
    console.log(`whole profiles: ${path.relative(process.cwd(), clientFile)}, ${path.relative(process.cwd(), serverFile)}`);
  } finally {
    await client?.close();
    await server.close();
  }
}

process.on('exit', killAllChildren);
main().catch((err: unknown) => {
  console.error(`bench:profile: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
