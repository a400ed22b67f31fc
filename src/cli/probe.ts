import type { AppendEntriesResponse, ServerAddress } from '../commands.ts';
import { isTransportError } from '../errors.ts';
import { NetworkTransport } from '../net/network-transport.ts';
import { parseHostPort, TCPDialer } from '../net/layers/tcp-stream-layer.ts';
import { probeRequest } from '../net/probe-request.ts';

/** What `probe` sends and how long it waits. */
export interface ProbeOptions {
  /** Probes to send (default 5). */
  count: number;
  /** Per-probe deadline in ms, connecting included (default 2000). */
  timeout: number;
  /** Pause between probes in ms (default 200). */
  interval: number;
  /** Stops probing early; the result covers the probes sent so far. */
  signal?: AbortSignal;
  /** Told about each probe as it completes, for live output. */
  onResult?: (r: ProbeSample) => void;
}

/** One probe's outcome. */
export interface ProbeSample {
  seq: number;
  /** Round trip in ms, when the peer answered. The first includes the TCP connect. */
  rttMs?: number;
  response?: AppendEntriesResponse;
  /** Error code (ERR_*) and message, when it did not. */
  error?: { code: string; message: string };
}

/** Latency summary in ms over the answered probes (nearest-rank percentiles). */
export interface RttSummary {
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ProbeResult {
  target: ServerAddress;
  sent: number;
  ok: number;
  failed: number;
  /** Absent when nothing was answered. */
  rttMs?: RttSummary;
  /** The peer's current term and last log index, from its latest answer. */
  peerTerm?: number;
  peerLastLog?: number;
  samples: ProbeSample[];
}

/** The request every probe sends: term 0, no leader, no entries (see src/net/probe-request.ts). */
export { probeRequest } from '../net/probe-request.ts';

/** Nearest-rank percentiles of `values` (not empty). */
export function summarize(values: readonly number[]): RttSummary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number;
  return { min: sorted[0] as number, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] as number };
}

/** Sends `opts.count` term-0 AppendEntries to `target`, one at a time, and summarises the answers. */
export async function probe(target: ServerAddress, opts: ProbeOptions): Promise<ProbeResult> {
  parseHostPort(target); // a malformed address is a usage error, not an unreachable peer
  // No dial backoff: each probe should really try to connect.
  const trans = new NetworkTransport(new TCPDialer('raft-transport-probe'), {
    timeout: opts.timeout,
    maxPool: 1,
    dialBackoff: { baseMs: 0, maxMs: 0 },
  });
  const samples: ProbeSample[] = [];
  try {
    for (let seq = 1; seq <= opts.count && opts.signal?.aborted !== true; seq++) {
      if (seq > 1 && opts.interval > 0 && !(await pause(opts.interval, opts.signal))) break;
      const t0 = performance.now();
      let sample: ProbeSample;
      try {
        const callOpts = opts.signal === undefined ? { timeout: opts.timeout } : { timeout: opts.timeout, signal: opts.signal };
        const response = await trans.appendEntries('probe-target', target, probeRequest(), callOpts);
        sample = { seq, rttMs: performance.now() - t0, response };
      } catch (err) {
        // An interrupted probe was never answered nor lost: leave it out.
        if (isTransportError(err, 'ERR_ABORTED')) break;
        const code = isTransportError(err) ? err.code : 'ERR_UNKNOWN';
        sample = { seq, error: { code, message: err instanceof Error ? err.message : String(err) } };
      }
      samples.push(sample);
      opts.onResult?.(sample);
    }
  } finally {
    await trans.close();
  }
  const answered = samples.filter((s) => s.response !== undefined);
  const last = answered[answered.length - 1]?.response;
  const result: ProbeResult = {
    target,
    sent: samples.length,
    ok: answered.length,
    failed: samples.length - answered.length,
    samples,
  };
  if (answered.length > 0) result.rttMs = summarize(answered.map((s) => s.rttMs as number));
  if (last !== undefined) {
    result.peerTerm = last.term;
    result.peerLastLog = last.lastLog;
  }
  return result;
}

/** Waits `ms`; false when `signal` fired first. */
function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
