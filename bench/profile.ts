/**
 * Where the time goes: each process's CPU time per request (all threads, as
 * process.cpuUsage() counts it) and V8 CPU profiles of the client and the
 * server process over the same timed run of one workload, with each side's
 * top frames by self time. This is how the benchmark's profile findings
 * (README, "Where the 64×1 KiB time goes" and the sync 1×128 B target) are
 * reproduced:
 *
 *   npm run bench:profile -- [--workload=64x1k|128b|heartbeat|256x4k] [--mode=pipelined|sync]
 *                            [--window=8] [--n=20000] [--top=15] [--raw] [--no-profile]
 *
 * --raw measures the raw ceiling instead (pre-encoded frames, one-byte acks),
 * for the same frames on the same machine; --no-profile leaves V8's profiler
 * off and reports CPU time alone. Both PIDs are printed before the timed run,
 * for `perf stat -p` or `perf record -p`. The whole profiles go to
 * bench/results/profile-{client,server}.cpuprofile (git-ignored), for Chrome
 * DevTools' Performance panel. Profiling costs some speed, so take req/s from
 * `npm start`, and shares from here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { newTCPTransport } from '../src/net/tcp-transport.ts';
import type { NetworkTransport } from '../src/net/network-transport.ts';
import { pipelinedRun, syncRun } from './append-bench.ts';
import { killChildrenOnExit, type ServerProcess, startServerProcess } from './children.ts';
import { type CpuProfile, CpuProfiler, type ProfileSummary, summarizeProfile, writeProfile } from './cpu-profile.ts';
import type { ProcessReport } from './ipc.ts';
import { ProcessSampler } from './process-sampler.ts';
import { encodeRing, rawFrames } from './raw-client.ts';
import { LatencyRecorder, type Timed } from './stats.ts';
import { generate, RingCursor, workloads } from './workloads.ts';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));

const USAGE = `usage: npm run bench:profile -- [--workload=64x1k|128b|heartbeat|256x4k] [--mode=pipelined|sync]
                            [--window=8] [--n=20000] [--top=15] [--raw] [--no-profile]`;

interface Args {
  workload: string;
  mode: 'pipelined' | 'sync';
  window: number | undefined;
  n: number;
  top: number;
  raw: boolean;
  profile: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { workload: '64x1k', mode: 'pipelined', window: undefined, n: 20_000, top: 15, raw: false, profile: true };
  for (const a of argv) {
    const [key, value = ''] = a.split('=', 2) as [string, string?];
    const int = (): number => {
      const v = Number(value);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${key} wants a positive integer, got ${JSON.stringify(value)}`);
      return v;
    };
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (key === '--workload') args.workload = value;
    else if (key === '--mode') {
      if (value !== 'pipelined' && value !== 'sync')
        throw new Error(`--mode wants pipelined or sync, got ${JSON.stringify(value)}`);
      args.mode = value;
    } else if (key === '--window') args.window = int();
    else if (key === '--n') args.n = int();
    else if (key === '--top') args.top = int();
    else if (a === '--raw') args.raw = true;
    else if (a === '--no-profile') args.profile = false;
    else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  if (args.mode === 'sync' && args.window !== undefined) throw new Error('--window is for pipelined runs; sync is window 1');
  if (args.mode === 'pipelined' && args.window !== undefined && args.window < 2) {
    throw new Error('--window must be at least 2 for pipelined runs (window 1 is --mode=sync)');
  }
  return args;
}

function printCpu(name: string, r: ProcessReport, requests: number): void {
  const per = (us: number): string => (us / requests).toFixed(1);
  console.log(
    `${name} CPU per request (all threads): ${per(r.cpu.userUs + r.cpu.systemUs)} µs ` +
      `(user ${per(r.cpu.userUs)}, system ${per(r.cpu.systemUs)}); ` +
      `${r.gc.count} GCs, the longest ${r.gc.maxMs.toFixed(1)} ms`,
  );
}

function printProfile(name: string, s: ProfileSummary, requests: number): void {
  console.log(
    `${name}: busy ${s.busyMs.toFixed(0)} ms of ${(s.busyMs + s.idleMs).toFixed(0)} ms profiled ` +
      `(busy: not waiting for I/O; GC and native code count), ${((1000 * s.busyMs) / requests).toFixed(1)} µs per request; ` +
      'top frames by self time:',
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
  const window = args.mode === 'sync' ? 1 : (args.window ?? 8);
  const warmup = Math.max(1_000, Math.floor(args.n / 5));
  console.log(
    `${args.profile ? 'CPU profile' : 'CPU use'} (${args.raw ? 'raw' : 'ours'}): ${spec.label} ${args.mode}` +
      `${args.mode === 'sync' ? '' : `, window ${window}`}, ` +
      `${args.n.toLocaleString('en-US')} requests after ${warmup.toLocaleString('en-US')} untimed`,
  );
  const w = generate(spec);
  let server: ServerProcess | undefined;
  let client: NetworkTransport | undefined;
  try {
    server = await startServerProcess(args.raw ? 'raw' : 'transport');
    const addr = server.addr;
    const lat = new LatencyRecorder(args.n);
    let run: (warm: number, n: number) => Promise<Timed>;
    if (args.raw) {
      const frames = encodeRing(w);
      run = (warm, n) => rawFrames(addr, frames, window, warm, n, lat);
    } else {
      const c = await newTCPTransport('127.0.0.1:0', { maxRPCsInFlight: Math.max(2, window) });
      client = c;
      const ring = new RingCursor(w.ring);
      run = (warm, n) => (args.mode === 'sync' ? syncRun : pipelinedRun)(c, addr, ring, warm, n, lat);
    }
    await run(warmup, 1);
    console.log(`timed run: client pid ${process.pid}, server pid ${server.pid} (for perf stat -p / perf record -p)`);
    const local = new ProcessSampler();
    const profiler = new CpuProfiler();
    await server.sampleStart();
    local.start();
    if (args.profile) {
      await server.profileStart();
      await profiler.start();
    }
    let t: Timed;
    let clientProfile: CpuProfile | undefined;
    let serverProfile: ProfileSummary | undefined;
    const clientFile = path.join(RESULTS, 'profile-client.cpuprofile');
    const serverFile = path.join(RESULTS, 'profile-server.cpuprofile');
    try {
      t = await run(0, args.n);
    } finally {
      if (args.profile) {
        fs.mkdirSync(RESULTS, { recursive: true });
        clientProfile = await profiler.stop();
        serverProfile = await server.profileStop(args.top, serverFile);
      }
    }
    const clientCpu = local.stop();
    const serverCpu = await server.sampleStop();
    console.log(`${(t.n / t.seconds).toFixed(0)} req/s${args.profile ? ' while profiled' : ''}`);
    printCpu('client', clientCpu, t.n);
    printCpu('server', serverCpu, t.n);
    if (clientProfile !== undefined && serverProfile !== undefined) {
      writeProfile(clientFile, clientProfile);
      printProfile('client', summarizeProfile(clientProfile, args.top), t.n);
      printProfile('server', serverProfile, t.n);
      console.log(`whole profiles: ${path.relative(process.cwd(), clientFile)}, ${path.relative(process.cwd(), serverFile)}`);
    }
  } finally {
    await Promise.allSettled([client?.close(), server?.close()]);
  }
}

killChildrenOnExit('bench:profile');
main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench:profile: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
