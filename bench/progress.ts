/**
 * One progress line on stderr: rewritten in place (\r) on a terminal, plain
 * lines when stderr is a file or pipe (CI logs), never on stdout, which
 * belongs to --json.
 */
export class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private readonly t0 = performance.now();
  private width = 0;
  step = 0;
  total = 0;

  update(what: string): void {
    const secs = ((performance.now() - this.t0) / 1000).toFixed(0).padStart(3);
    const line = `[${secs}s ${String(this.step).padStart(2)}/${this.total}] ${what}`;
    if (this.tty) {
      const cols = process.stderr.columns || 100;
      const shown = line.length >= cols ? `${line.slice(0, cols - 2)}…` : line;
      process.stderr.write(`\r${shown.padEnd(this.width)}`);
      this.width = shown.length;
    } else {
      process.stderr.write(`${line}\n`);
    }
  }

  /** Clears the line so what follows starts on a clean one. */
  done(): void {
    if (this.tty && this.width > 0) process.stderr.write(`\r${' '.repeat(this.width)}\r`);
    this.width = 0;
  }
}
