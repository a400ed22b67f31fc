/**
 * One measured run's numbers, and the latency recorder behind them. Latencies
 * are kept individually (a Float64Array, no allocation per request) because
 * p99 needs the tail, not an average.
 */

/** What every throughput run reports; the shape of the Go bench's JSON line too. */
export interface RunStats {
  /** Timed requests (after the warm-up). */
  n: number;
  seconds: number;
  rps: number;
  /** Entry payload MB (10^6 bytes of entry Data) per second. */
  mbps: number;
  p50us: number;
  p99us: number;
  maxus: number;
}

export class LatencyRecorder {
  private readonly samples: Float64Array;
  private count = 0;

  constructor(capacity: number) {
    this.samples = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Records one latency in milliseconds (performance.now() differences). */
  add(ms: number): void {
    if (this.count < this.samples.length) this.samples[this.count++] = ms;
  }

  /** Nearest-rank percentile in µs, as the Go bench computes it. */
  percentiles(): { p50us: number; p99us: number; maxus: number } {
    const s = this.samples.subarray(0, this.count).sort();
    const at = (p: number): number => {
      if (s.length === 0) return 0;
      const i = Math.min(s.length - 1, Math.max(0, Math.round(p * s.length) - 1));
      return s[i]! * 1000;
    };
    return { p50us: at(0.5), p99us: at(0.99), maxus: s.length > 0 ? s[s.length - 1]! * 1000 : 0 };
  }
}

/** What a trial reports besides the latencies it recorded: `n` timed requests took `seconds`. */
export interface Timed {
  n: number;
  seconds: number;
}

/**
 * One measurement: `warmup` untimed requests, then `n` timed ones whose
 * latencies go to `lat`. Trials can be repeated into the same recorder.
 */
export type Trial = (warmup: number, n: number, lat: LatencyRecorder) => Promise<Timed>;

/** Merges the timed parts of one or more trials that recorded into `lat`. */
export function runStats(parts: Timed[], payloadBytes: number, lat: LatencyRecorder): RunStats {
  const n = parts.reduce((a, p) => a + p.n, 0);
  const seconds = parts.reduce((a, p) => a + p.seconds, 0);
  return { n, seconds, rps: n / seconds, mbps: (n * payloadBytes) / seconds / 1e6, ...lat.percentiles() };
}
