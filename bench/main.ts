/**
 * `npm start`: the project's main job. Measures our NetworkTransport over
 * real TCP with the client (this process) and the server in separate
 * processes, against two baselines taken in the same run: the raw ceiling
 * (pre-encoded frames, no codec) and, when Go is installed, hashicorp/raft's
 * own NetworkTransport (one anchor per release and window, see
 * go-baseline.ts). Every workload is a ring of distinct pre-generated
 * requests (workloads.ts). Then the same sweep through a delaying proxy
 * (latency-bench.ts), snapshots, heartbeat isolation under load, and the
 * in-memory transport. Prints a table with ratios and the targets,
 * writes bench/results/latest.json, bench/results/sweep.svg and
 * bench/results/latency.svg (all git-ignored, so a clone stays clean after
 * the main job); --update-docs also writes the charts the README shows,
 * docs/bench-sweep.svg and docs/bench-latency.svg.
 *
 *   npx tsx bench/main.ts [--quick] [--json] [--no-go] [--update-docs] [--latency] [--delays=0.5,5]
 *                         [--only=append,latency,snapshot,isolation,inmem]
 *
 * Progress goes to stderr; with --json, stdout carries the results JSON and
 * nothing else (the report moves to stderr). Exits 1 if any scenario failed;
 * target misses are reported, not failures.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { newTCPTransport } from '../src/net/tcp-transport.ts';
import { killAllGoProcesses } from '../test/interop/go-peer.ts';
import { killAllChildren, killChildrenOnExit, startServerProcess, type ServerProcess } from './children.ts';
import { type GoBaseline, type GoVersion, goUnavailableReason, goVersionUnwiredReason, startGoBaseline } from './go-baseline.ts';
import { benchInmem } from './inmem.ts';
import { ISOLATION_WINDOW, isolationRun } from './isolation-bench.ts';
import { describeMachine } from './machine.ts';
import { makePlan } from './plan.ts';
import { rawBulk } from './raw-client.ts';
import { renderReport } from './report.ts';
import { Runner } from './runner.ts';
import type { BenchResults } from './results.ts';
import { SNAPSHOT_CHUNK, snapshotRun, snapshotWarmup } from './snapshot-bench.ts';
import { sweepChart } from './sweep-chart.ts';
import { latencyChart } from './latency-chart.ts';
import { latencyRun, latencySteps } from './latency-bench.ts';
import { goSide, type GoSide, sweep, sweepSteps } from './sweep.ts';
import { evaluateTargets } from './targets.ts';
import { generate, workloads } from './workloads.ts';

const SECTIONS = ['append', 'latency', 'snapshot', 'isolation', 'inmem'] as const;
type Section = (typeof SECTIONS)[number];

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_FILE = path.join(ROOT, 'bench/results/latest.json');
const SVG_FILE = path.join(ROOT, 'bench/results/sweep.svg');
const DOCS_SVG_FILE = path.join(ROOT, 'docs/bench-sweep.svg');
const LATENCY_SVG_FILE = path.join(ROOT, 'bench/results/latency.svg');
const DOCS_LATENCY_SVG_FILE = path.join(ROOT, 'docs/bench-latency.svg');

interface Args {
  quick: boolean;
  json: boolean;
  go: boolean;
  updateDocs: boolean;
  sections: Set<Section>;
  /** One-way delays for the latency section, in ms (0, the no-delay reference, is always added). */
  delaysMs?: number[];
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, json: false, go: true, updateDocs: false, sections: new Set(SECTIONS) };
  for (const a of argv) {
    if (a === '--quick') args.quick = true;
    else if (a === '--json') args.json = true;
    else if (a === '--no-go') args.go = false;
    else if (a === '--update-docs') args.updateDocs = true;
    else if (a === '--latency') args.sections = new Set(['latency']);
    else if (a.startsWith('--delays=')) {
      const ds = a.slice('--delays='.length).split(',').map(Number);
      if (ds.some((d) => !(d >= 0 && d <= 1000))) usage(`bad --delays ${a}`);
      args.delaysMs = [...new Set([0, ...ds])].sort((x, y) => x - y);
    } else if (a.startsWith('--only=')) {
      const names = a.slice('--only='.length).split(',');
      const bad = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
      if (bad.length > 0) usage(`unknown section(s) ${bad.join(', ')}`);
      args.sections = new Set(names as Section[]);
    } else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  return args;
}

function usage(problem?: string): never {
  const text = `usage: npx tsx bench/main.ts [--quick] [--json] [--no-go] [--update-docs] [--latency] [--delays=0.5,5]
                         [--only=${SECTIONS.join(',')}]
  --quick        a fifth of the requests, a 64 MiB snapshot, fewer delays
  --json         results JSON on stdout (nothing else); the report goes to stderr
  --no-go        skip the Go anchors (part of the append and latency sections)
  --update-docs  also rewrite docs/bench-sweep.svg and docs/bench-latency.svg, the charts the README shows
  --latency      run only the latency section (the same as --only=latency)
  --delays       one-way delays in ms for the latency section (default 0.5,1,2,5; --quick 0.5,5)
  --only         run only these sections
environment: RAFT_BENCH_PROBE_INTERVAL=MS probes the server every MS ms from the append sweep's clients
               (the peer health prober, to measure its overhead; off by default)`;
  if (problem) console.error(`bench: ${problem}`);
  console.error(text);
  process.exit(problem ? 2 : 0);
}

/** Kills every child process; safe to call more than once, and from an 'exit' handler. */
function killChildren(): void {
  killAllChildren();
  killAllGoProcesses();
}

/** Fails the job if a server process saw errors while serving. */
async function checkServer(run: Runner, server: ServerProcess): Promise<void> {
  await run.step(`${server.kind} server health`, async () => {
    const stats = await server.stats();
    if (stats.errors.length > 0) throw new Error(stats.errors.join('; '));
  });
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const plan = makePlan(args.quick);
  if (args.delaysMs) plan.latency.delaysMs = args.delaysMs;
  const want = (s: Section): boolean => args.sections.has(s);
  const ws = workloads();
  const run = new Runner(args.quick);
  const t0 = performance.now();
  const results: BenchResults = {
    schema: 2,
    startedAt: new Date().toISOString(),
    durationSeconds: 0,
    quick: args.quick,
    machine: describeMachine(),
    windows: plan.windows,
    append: [],
    targets: [],
    errors: run.errors,
  };
  const goSkipped = args.go ? goUnavailableReason() : 'disabled with --no-go';
  if (goSkipped !== undefined) results.goSkipped = goSkipped;
  const runGo = (want('append') || want('latency')) && goSkipped === undefined;

  // One Go server per release the anchors name; releases not wired yet are reported as skipped.
  const goBaselines = new Map<GoVersion, GoBaseline>();
  const goReasons = new Map<GoVersion, string>();
  let go: GoSide | undefined;
  if (runGo) {
    run.progress.update('building and starting the Go anchors');
    for (const version of new Set(plan.goAnchors.map((a) => a.version))) {
      const unwired = goVersionUnwiredReason(version);
      if (unwired !== undefined) {
        goReasons.set(version, unwired);
        continue;
      }
      try {
        goBaselines.set(version, await startGoBaseline({ version }));
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        goReasons.set(version, message);
        run.errors.push({ scenario: `Go ${version} baseline`, message });
      }
    }
    go = goSide(plan, goBaselines, goReasons);
    results.go = go.runs;
    if (go.runs.toolchain) results.machine.go = go.runs.toolchain;
  }
  const goLive = go && go.baselines.size > 0 ? go : undefined;

  run.progress.total =
    2 + // server health checks
    (want('append') ? sweepSteps(plan, ws, goLive) : 0) +
    (want('latency') ? latencySteps(plan.latency, goLive) : 0) +
    (want('snapshot') ? 2 : 0) +
    (want('isolation') ? 1 : 0) +
    (want('inmem') ? 1 : 0);

  run.progress.update('starting server processes');
  const [server, raw] = await Promise.all([startServerProcess('transport'), startServerProcess('raw')]);
  run.watch(server);
  run.watch(raw);
  const progress = (what: string): void => run.progress.update(what);
  try {
    try {
      if (want('append')) {
        results.append = await sweep(run.step.bind(run), plan, ws, server.addr, raw.addr, goLive, progress);
      }
      if (want('latency')) {
        const spec = ws.find((w) => w.id === plan.latency.workload)!;
        results.latency = await latencyRun(run.step.bind(run), plan.latency, spec, server.addr, raw.addr, goLive, progress);
      }
    } finally {
      await Promise.all([...goBaselines.values()].map((g) => g.close()));
    }

    if (want('snapshot')) {
      results.snapshot = {};
      // A fresh server process, so its RSS baseline carries nothing from earlier scenarios.
      const ours = await run.step(`ours InstallSnapshot ${plan.snapshotSize / 2 ** 20} MiB`, async () => {
        const fresh = await startServerProcess('transport');
        const client = await newTCPTransport('127.0.0.1:0');
        try {
          return await snapshotRun(client, fresh, plan.snapshotSize);
        } finally {
          await client.close();
          await fresh.close();
        }
      });
      if (ours) results.snapshot.ours = ours;
      const bulk = await run.step(`raw bulk ${plan.snapshotSize / 2 ** 20} MiB`, async () => {
        await rawBulk(raw.addr, snapshotWarmup(plan.snapshotSize), SNAPSHOT_CHUNK); // the same warm-up as ours
        return rawBulk(raw.addr, plan.snapshotSize, SNAPSHOT_CHUNK);
      });
      if (bulk) results.snapshot.raw = bulk;
    }

    if (want('isolation')) {
      progress('heartbeat isolation: generating the 64×1 KiB ring');
      const load = generate(ws.find((w) => w.id === '64x1k')!);
      const iso = await run.step('heartbeat isolation', async () => {
        const client = await newTCPTransport('127.0.0.1:0', { maxRPCsInFlight: ISOLATION_WINDOW });
        try {
          return await isolationRun(client, server, raw, load, plan.isolation, (what) => run.progress.update(what));
        } finally {
          await client.close();
        }
      });
      if (iso) results.isolation = iso;
    }

    if (want('inmem')) {
      const inmem = await run.step('InmemTransport', () => benchInmem(plan.inmemN));
      if (inmem) results.inmem = inmem;
    }

    await checkServer(run, server);
    await checkServer(run, raw);
  } finally {
    run.finish();
    run.progress.update('stopping server processes');
    await Promise.all([server.close(), raw.close()]);
    run.progress.done();
  }

  results.durationSeconds = (performance.now() - t0) / 1000;
  results.machine.loadavgEnd = os.loadavg()[0]!;
  results.targets = evaluateTargets(results);

  fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  fs.writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  const wrote = [path.relative(ROOT, RESULTS_FILE)];
  const writeChart = (svg: string, file: string, docsFile: string): void => {
    for (const f of args.updateDocs ? [file, docsFile] : [file]) {
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, svg);
      wrote.push(path.relative(ROOT, f));
    }
  };
  if (results.append.some((w) => w.ours.pipelined.length > 0)) writeChart(sweepChart(results), SVG_FILE, DOCS_SVG_FILE);
  const lat = results.latency;
  if (lat?.points.some((p) => p.ours)) {
    writeChart(
      latencyChart(lat, results.machine, `${results.startedAt}${results.quick ? ' (--quick)' : ''}`),
      LATENCY_SVG_FILE,
      DOCS_LATENCY_SVG_FILE,
    );
  }

  const report = `${renderReport(results)}\nwrote ${wrote.join(', ')}\n`;
  if (args.json) {
    process.stderr.write(report);
    await new Promise<void>((resolve) => process.stdout.write(`${JSON.stringify(results, null, 2)}\n`, () => resolve()));
  } else {
    await new Promise<void>((resolve) => process.stdout.write(report, () => resolve()));
  }
  if (results.errors.length > 0) {
    process.stderr.write(`bench: ${results.errors.length} scenario(s) failed; see FAILED above\n`);
    return 1;
  }
  return 0;
}

killChildrenOnExit('bench', killChildren);

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`\nbench: FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
