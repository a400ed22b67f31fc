/**
 * bench:profile's summary (bench/cpu-profile.ts): self time per function as a
 * share of busy time, idle samples left out, and an in-process profiler that
 * can be started again after it stopped.
 */
import { describe, expect, it } from 'vitest';
import { type CpuProfile, CpuProfiler, summarizeProfile } from '../../bench/cpu-profile.ts';

const frame = (id: number, functionName: string, url = ''): CpuProfile['nodes'][number] => ({
  id,
  callFrame: { functionName, url },
});

describe('summarizeProfile', () => {
  it("shares each function's self time of the busy samples, largest first, without idle", () => {
    const p: CpuProfile = {
      nodes: [
        frame(1, '(root)'),
        frame(2, '(idle)'),
        frame(3, 'readLog', 'file:///x/src/net/codec/decoder.ts'),
        frame(4, 'writeBuffer'),
        frame(5, ''),
        // The same function reached by another path counts once, summed.
        frame(6, 'readLog', 'file:///x/src/net/codec/decoder.ts'),
      ],
      startTime: 0,
      endTime: 100,
      samples: [2, 3, 4, 3, 2, 5, 6, 2],
      timeDeltas: [10, 20, 30, 10, 40, 5, 15, 1000],
    };
    const s = summarizeProfile(p, 2);
    expect(s.busyMs).toBeCloseTo(0.08);
    expect(s.idleMs).toBeCloseTo(1.05);
    expect(s.top).toEqual([
      { frame: 'readLog codec/decoder.ts', selfMs: 0.045, percent: 56.25 },
      { frame: 'writeBuffer', selfMs: 0.03, percent: 37.5 },
    ]);
    expect(summarizeProfile(p).top.map((f) => f.frame)).toEqual(['readLog codec/decoder.ts', 'writeBuffer', '(anonymous)']);
  });
});

describe('CpuProfiler', () => {
  it('profiles this process between start and stop, and again after', async () => {
    const profiler = new CpuProfiler();
    await expect(profiler.stop()).rejects.toThrow(/not running/);
    for (let round = 0; round < 2; round++) {
      await profiler.start();
      await expect(profiler.start()).rejects.toThrow(/already running/);
      let x = 0;
      for (let i = 0; i < 1e6; i++) x += Math.sqrt(i);
      expect(x).toBeGreaterThan(0);
      const p = await profiler.stop();
      expect(p.samples.length).toBeGreaterThan(0);
      expect(p.samples.length).toBe(p.timeDeltas.length);
    }
  });
});
