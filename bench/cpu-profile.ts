/**
 * V8 CPU profiles of a measured window, taken in-process through the
 * inspector so the orchestrator can profile the client and each server
 * process over exactly the same requests (no --cpu-prof file covering start-up
 * and warm-up), and a summary of where the busy time went: each function's
 * self time as a share of all non-idle samples.
 */
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';

/** The parts of a V8 `Profiler.Profile` the summary reads (the rest is kept for DevTools). */
export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string };
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
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
    await session.post('Profiler.start');
  }

  async stop(): Promise<CpuProfile> {
    const session = this.session;
    if (session === undefined) throw new Error('the profiler is not running');
    this.session = undefined;
    try {
      const { profile } = await session.post('Profiler.stop');
      return profile as CpuProfile;
    } finally {
      session.disconnect();
    }
  }
}

function frameName(f: CpuProfile['nodes'][number]['callFrame']): string {
  const file = f.url === '' ? '' : ` ${f.url.split('/').slice(-2).join('/')}`;
  return `${f.functionName === '' ? '(anonymous)' : f.functionName}${file}`;
}

/** Self time per function over the whole profile, the `top` largest first. */
export function summarizeProfile(p: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let busyUs = 0;
  let idleUs = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const node = byId.get(p.samples[i]!);
    const dt = p.timeDeltas[i] ?? 0;
    if (node === undefined) continue;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += dt;
      continue;
    }
    busyUs += dt;
    const name = frameName(node.callFrame);
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
