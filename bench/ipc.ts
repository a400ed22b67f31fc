/**
 * The IPC protocol between the orchestrator (bench/main.ts, also the client)
 * and a server process (bench/server-process.ts). IPC rather than stdout, so
 * a child's stray output can't be mistaken for a message and `--json` keeps
 * stdout clean.
 */

/** `proxy` is the delaying TCP proxy of latency-proxy.ts (argv: target, delay in ms). */
export type ServerKind = 'transport' | 'raw' | 'proxy';

/** Parent -> child: a request, answered by exactly one `reply` with the same id. */
export interface Command {
  id: number;
  op: 'sample-start' | 'sample-stop' | 'stats' | 'close' | 'set-delay' | 'profile-start' | 'profile-stop';
  /** set-delay: the proxy's one-way delay in ms. */
  value?: number;
  /** profile-stop: how many frames to summarise. */
  top?: number;
  /** profile-stop: where to write the whole profile (.cpuprofile), if anywhere. */
  file?: string;
}

/** RSS of one process over a sampling window, in bytes. */
export interface RssReport {
  baseline: number;
  peak: number;
  /** peak - baseline: what the transfer cost in memory. */
  growth: number;
  samples: number;
}

/** A process over a sampling window (see process-sampler.ts). */
export interface ProcessReport {
  rss: RssReport;
  /** How late the event loop ran a 1 ms timer, in µs. */
  loopDelay: { p50us: number; p99us: number; maxus: number };
  /** Garbage-collection pauses (the main thread stopped) seen in the window. */
  gc: GcReport;
  /** CPU time of the whole process (all threads) in the window, in µs, as process.cpuUsage() counts it. */
  cpu: { userUs: number; systemUs: number };
}

export interface GcReport {
  count: number;
  /** The longest pause. */
  maxMs: number;
}

/** What a server process counted; `errors` are failures it saw while serving. */
export interface ServerStats {
  [counter: string]: number | string[];
  errors: string[];
}

/** Child -> parent. */
export type Message =
  | { type: 'ready'; addr: string }
  | { type: 'reply'; id: number; value?: unknown; error?: string }
  | { type: 'fatal'; error: string };
