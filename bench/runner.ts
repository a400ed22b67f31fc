/**
 * Runs the benchmark's scenarios one by one behind a progress line: each is
 * bounded by a timeout, and a failure is recorded and printed while the job
 * goes on, so one broken scenario doesn't hide the others' numbers. Once a
 * shared server process dies, the rest are skipped with that reason instead
 * of each failing on its own.
 */
import type { ServerProcess } from './children.ts';
import { Progress } from './progress.ts';

export interface ScenarioError {
  scenario: string;
  message: string;
}

/** Rejects after `ms` so one hung scenario can't hang the whole job. */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class Runner {
  readonly progress = new Progress();
  readonly errors: ScenarioError[] = [];
  private readonly timeoutMs: number;
  /** Set when a shared server process died: every later scenario would fail the same way. */
  private fatal: string | undefined;
  private skipped = 0;

  constructor(quick: boolean) {
    this.timeoutMs = quick ? 60_000 : 180_000;
  }

  /** Stops running scenarios if `proc` dies unasked. */
  watch(proc: ServerProcess): void {
    proc.onUnexpectedExit((why) => {
      this.fatal ??= why;
      this.progress.done();
      process.stderr.write(`bench: ${why}\n`);
    });
  }

  /** Records the scenarios skipped after a server process died, once. */
  finish(): void {
    if (this.skipped > 0) this.errors.push({ scenario: `${this.skipped} later scenario(s)`, message: `skipped: ${this.fatal}` });
    this.skipped = 0;
  }

  /** Runs one scenario; a failure is recorded (and printed) and the job goes on with the next. */
  async step<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
    this.progress.step++;
    if (this.fatal !== undefined) {
      this.skipped++;
      return undefined;
    }
    this.progress.update(name);
    try {
      return await withTimeout(fn(), this.timeoutMs, name);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.errors.push({ scenario: name, message });
      this.progress.done();
      process.stderr.write(`bench: ${name} FAILED: ${message}\n`);
      return undefined;
    }
  }
}
