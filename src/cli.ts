#!/usr/bin/env node
/**
 * The `raft-transport` executable (package.json `bin`). See src/cli/main.ts;
 * `raft-transport --help` lists the commands.
 */
import { main } from './cli/main.ts';

// Ctrl-C ends a probe early, still printing its summary, as ping does; a second one exits at once.
const interrupted = new AbortController();
process.once('SIGINT', () => {
  interrupted.abort();
  process.once('SIGINT', () => process.exit(130));
});

main(process.argv.slice(2), undefined, interrupted.signal).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`raft-transport: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
