/**
 * V8 CPU profiles of a measured window, taken in-process through the
 * inspector so the orchestrator can profile the client and each server
 * process over exactly the same requests (no --cpu-prof file covering start-up
 * and warm-up), and a summary of where the busy time went: each function's
 * self time as a share of all non-idle samples. V8 takes its samples by wall
 * clock, so time a thread spends preempted (say, inside a write that woke the
 * peer) is charged to the frame it was in; `perf stat` gives CPU time proper.
 */
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';

/** The parts of a V8 `Profiler.Profile` the summary reads (the rest is kept for DevTools). */
export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FrameShare {
  /** `function file`, the file shortened to its last two path parts (lines are tsx's, not the source's). */
  frame: string;
  selfMs: number;
  /** Share of busy (non-idle) time, 0-100. */
  percent: number;
}

/**
 * Busy is every sample that is not `(idle)`: V8's `(program)` (native code
 * outside JS) and `(garbage collector)` included, since both keep the thread
 * from serving.
 */
export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  top: FrameShare[];
}

/** One profiling window in this process; start() again after stop() for another. */
export class CpuProfiler {
  private session: Session | undefined;

  /** `intervalUs`: the sampling interval (V8's default is 1000). */
  async start(intervalUs = 1000): Promise<void> {
    if (this.session !== undefined) throw new Error('the profiler is already running');
    const session = new Session();
    session.connect();
    this.session = session;
    try {
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
      await session.post('Profiler.start');
    } catch (err) {
      this.session = undefined;
      session.disconnect();
      throw err;
    }
  }

  async stop(): Promise<CpuProfile> {
    const session = this.session;
    if (session === undefined) throw new Error('the profiler is not running');
    this.session = undefined;
    try {
      const { profile } = await session.post('Profiler.stop');
      // The protocol marks samples and timeDeltas optional; V8 always sends both.
      return { ...profile, samples: profile.samples ?? [], timeDeltas: profile.timeDeltas ?? [] };
    } finally {
      session.disconnect();
    }
  }
}

/** Anonymous functions keep their position (tsx's, not the source's) so that two of them stay apart. */
function frameName(f: CpuProfile['nodes'][number]['callFrame']): string {
  const file = f.url === '' ? '' : ` ${f.url.split('/').slice(-2).join('/')}`;
  if (f.functionName !== '') return `${f.functionName}${file}`;
  return `(anonymous)${file}${f.url === '' ? '' : `:${f.lineNumber + 1}:${f.columnNumber + 1}`}`;
}

/**
 * Self time per function over the whole profile, the `top` largest first.
 * As DevTools does, a sample stands for the time until the next one
 * (`timeDeltas[i]` is the gap *before* sample i), the last one for the time
 * until the profile's end.
 */
export function summarizeProfile(p: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let busyUs = 0;
  let idleUs = 0;
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i] ?? 0;
    const dt = i + 1 < p.samples.length ? (p.timeDeltas[i + 1] ?? 0) : Math.max(0, p.endTime - at);
    const node = byId.get(p.samples[i]!);
    if (node?.callFrame.functionName === '(idle)') {
      idleUs += dt;
      continue;
    }
    busyUs += dt;
    const name = node === undefined ? '(a sample of no known node)' : frameName(node.callFrame);
    self.set(name, (self.get(name) ?? 0) + dt);
  }
  const frames = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([frame, us]) => ({ frame, selfMs: us / 1000, percent: busyUs > 0 ? (100 * us) / busyUs : 0 }));
  return { busyMs: busyUs / 1000, idleMs: idleUs / 1000, top: frames };
}

/** Writes a profile DevTools (Performance > Load profile) can open. */
export function writeProfile(file: string, p: CpuProfile): void {
  fs.writeFileSync(file, JSON.stringify(p));
}
