/**
 * bench:profile's summary (bench/cpu-profile.ts): self time per function as a
 * share of busy time, each sample standing for the time until the next (as
 * in DevTools), idle left out, unknown nodes shown rather than dropped; and an
 * in-process profiler that sees what ran and can be started again.
 */
import { describe, expect, it } from 'vitest';
import { type CpuProfile, CpuProfiler, summarizeProfile } from '../../bench/cpu-profile.ts';

const URL = 'file:///x/src/net/codec/decoder.ts';
const frame = (id: number, functionName: string, url = '', lineNumber = 0, columnNumber = 0): CpuProfile['nodes'][number] => ({
  id,
  callFrame: { functionName, url, lineNumber, columnNumber },
});

describe('summarizeProfile', () => {
  it("shares each function's self time of the busy samples, largest first, without idle", () => {
    const p: CpuProfile = {
      nodes: [
        frame(1, '(root)'),
        frame(2, '(idle)'),
        frame(3, 'readLog', URL, 9, 0),
        frame(4, 'writeBuffer'),
        frame(5, '', URL, 3, 7),
        // The same function reached by another path counts once, summed.
        frame(6, 'readLog', URL, 9, 0),
      ],
      startTime: 0,
      endTime: 255,
      // Sample i stands for timeDeltas[i + 1]; the last one (of node 99, which
      // the profile does not list) for the 20 µs left until endTime.
      samples: [2, 3, 4, 3, 2, 5, 6, 2, 99],
      timeDeltas: [5, 10, 20, 30, 10, 40, 5, 15, 100],
    };
    const s = summarizeProfile(p, 2);
    expect(s.busyMs).toBeCloseTo(0.1);
    expect(s.idleMs).toBeCloseTo(0.15);
    expect(s.top).toEqual([
      { frame: 'readLog codec/decoder.ts', selfMs: 0.045, percent: 45 },
      { frame: 'writeBuffer', selfMs: 0.03, percent: 30 },
    ]);
    expect(summarizeProfile(p).top.map((f) => [f.frame, f.percent])).toEqual([
      ['readLog codec/decoder.ts', 45],
      ['writeBuffer', 30],
      ['(a sample of no known node)', 20],
      ['(anonymous) codec/decoder.ts:4:8', 5],
    ]);
  });
});

/** Work the profiler must see; a named function so the profile can be searched for it. */
function spinForProfile(): number {
  let x = 0;
  for (let i = 0; i < 2e7; i++) x += Math.sqrt(i);
  return x;
}

describe('CpuProfiler', () => {
  it('profiles this process between start and stop, and again after', async () => {
    const profiler = new CpuProfiler();
    await expect(profiler.stop()).rejects.toThrow(/not running/);
    for (let round = 0; round < 2; round++) {
      await profiler.start(100);
      await expect(profiler.start()).rejects.toThrow(/already running/);
      expect(spinForProfile()).toBeGreaterThan(0);
      const p = await profiler.stop();
      // Most of the window went to the spin; V8 may have inlined it into this test by round 1.
      const top = summarizeProfile(p, 1).top[0];
      expect(top?.frame).toMatch(/^(spinForProfile|\(anonymous\)) bench\/cpu-profile\.test\.ts/);
      expect(top?.percent).toBeGreaterThan(50);
    }
  });
});
