/**
 * What a scenario costs a process, sampled over a window: peak resident
 * memory (polled every ~10 ms, since process.resourceUsage().maxRSS is a
 * lifetime peak that can't be reset between scenarios) and event-loop delay
 * (how late a 1 ms timer fires: how long a heartbeat arriving at a random
 * moment would wait for the loop, whatever the transport does), and the
 * garbage collector's pauses, one cause of that delay.
 */
import { monitorEventLoopDelay, type IntervalHistogram, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import type { GcReport, ProcessReport } from './ipc.ts';

export class ProcessSampler {
  private baseline = 0;
  private peak = 0;
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;
  private loop: IntervalHistogram | undefined;
  private gcObserver: PerformanceObserver | undefined;
  private gc: GcReport = { count: 0, maxMs: 0 };
  private cpu: NodeJS.CpuUsage | undefined;

  start(intervalMs = 10): void {
    this.stop();
    this.baseline = process.memoryUsage.rss();
    this.peak = this.baseline;
    this.samples = 1;
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.loop = monitorEventLoopDelay({ resolution: 1 });
    this.loop.enable();
    this.gc = { count: 0, maxMs: 0 };
    this.gcObserver = new PerformanceObserver((list) => this.countGc(list.getEntries()));
    this.gcObserver.observe({ entryTypes: ['gc'] });
    this.cpu = process.cpuUsage();
  }

  stop(): ProcessReport {
    const cpu = this.cpu === undefined ? undefined : process.cpuUsage(this.cpu);
    this.cpu = undefined;
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.sample();
    }
    const h = this.loop;
    this.loop = undefined;
    h?.disable();
    if (this.gcObserver !== undefined) {
      this.countGc(this.gcObserver.takeRecords());
      this.gcObserver.disconnect();
      this.gcObserver = undefined;
    }
    // The histogram counts the 1 ms resolution itself in every sample; take it out.
    const late = (ns: number): number => Math.max(0, ns / 1000 - 1000);
    return {
      rss: { baseline: this.baseline, peak: this.peak, growth: this.peak - this.baseline, samples: this.samples },
      loopDelay:
        h && h.count > 0
          ? { p50us: late(h.percentile(50)), p99us: late(h.percentile(99)), maxus: late(h.max) }
          : { p50us: 0, p99us: 0, maxus: 0 },
      gc: { ...this.gc },
      cpu: cpu === undefined ? { userUs: 0, systemUs: 0 } : { userUs: cpu.user, systemUs: cpu.system },
    };
  }

  private countGc(entries: PerformanceEntry[]): void {
    for (const e of entries) {
      this.gc.count++;
      if (e.duration > this.gc.maxMs) this.gc.maxMs = e.duration;
    }
  }

  private sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
    this.samples++;
  }
}
