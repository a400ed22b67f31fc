/**
 * The per-process sampler behind the benchmark's RSS, event-loop delay and GC
 * figures: its GC count must see collections that happen in its window, and
 * stopping it must leave nothing running.
 */
import { describe, expect, it } from 'vitest';
import { ProcessSampler } from '../../bench/process-sampler.ts';

/** Allocates far more short-lived objects than V8's young generation holds, forcing scavenges. */
function churn(): number {
  let live: object[] = [];
  let total = 0;
  for (let i = 0; i < 2_000_000; i++) {
    live.push({ i, pad: [i, i + 1] });
    if (live.length === 10_000) {
      total += live.length;
      live = [];
    }
  }
  return total + live.length;
}

/** Node reports a GC to observers from a later turn of the event loop. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ProcessSampler', () => {
  it('counts the collections and the CPU time in its window, each window from zero', async () => {
    const sampler = new ProcessSampler();
    sampler.start();
    expect(churn()).toBeGreaterThan(0);
    await turn();
    await turn();
    const report = sampler.stop();
    expect(report.gc.count).toBeGreaterThan(0);
    expect(report.gc.maxMs).toBeGreaterThan(0);
    // The churn ran on this thread, inside the window.
    expect(report.cpu.userUs).toBeGreaterThan(0);

    // A new window starts from zero.
    sampler.start();
    const quiet = sampler.stop();
    expect(quiet.gc.count).toBeLessThan(report.gc.count);
  });
});
