/**
 * The `raft-transport` command: argument parsing, help and the subcommands.
 * Kept apart from src/cli.ts (the executable) so the logic can be imported
 * without running it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseHostPort } from '../net/layers/tcp-stream-layer.ts';
import { probe, type ProbeResult, type ProbeSample } from './probe.ts';
import { watchPeers } from './watch.ts';

/** Exit codes: 0 success, 1 the operation failed (e.g. peer unreachable), 2 bad usage. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Where output goes; tests and embedders can capture it. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** Whether `out` is a terminal, where live views redraw in place (default false: plain lines). */
  isTTY?: boolean;
}

const stdio: CliIO = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  isTTY: process.stdout.isTTY === true,
};

export const HELP = `Usage: raft-transport <command> [options]

Commands:
  probe <host:port>   Measure round-trip time to a hashicorp/raft peer (Go or
                      TypeScript) with a harmless RPC: an AppendEntries with
                      term 0, which Raft rejects without touching its state.
      --count N       probes to send (default 5)
      --timeout MS    per-probe deadline, connecting included (default 2000)
      --interval MS   pause between probes (default 200)
      --json          print one JSON object instead of text
  probe --watch <host:port>...
                      Watch the health of one or more peers until Ctrl-C:
                      probes each every --interval ms (default 1000 here) on
                      its own connection. In a terminal, a table redrawn in
                      place (state, since, RTT p50/p99/max, failures, last
                      error); otherwise one line per state change. Exits 1
                      unless every peer is active at the end.
  bench [args...]     Run the transport benchmark (from a clone of the
                      repository; the npm package does not ship it). Arguments
                      go to the benchmark, e.g. --quick, --json, --no-go.
  help                Show this text.

Options:
  -h, --help          Show this text.
  -v, --version       Show the package version.

Exit status: 0 on success, 1 when the operation failed (a probe went
unanswered), 2 on bad usage.
`;

/** The package root: the parent of src/ (from a checkout) or dist/ (when installed). */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs the command line `argv` (without node and script); resolves with the exit code. */
export async function main(argv: readonly string[], io: CliIO = stdio, signal?: AbortSignal): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      io.err(HELP);
      return EXIT_USAGE;
    case 'help':
    case '-h':
    case '--help':
      io.out(HELP);
      return EXIT_OK;
    case '-v':
    case '--version':
      io.out(`${version()}\n`);
      return EXIT_OK;
    case 'probe':
      return probeCommand(rest, io, signal);
    case 'bench':
      return benchCommand(rest, io);
    default:
      io.err(`raft-transport: unknown command ${JSON.stringify(command)}\n\n${HELP}`);
      return EXIT_USAGE;
  }
}

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** Parses a non-negative integer option; throws a usage message otherwise. */
function intOption(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

class UsageError extends Error {}

async function probeCommand(args: readonly string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  let target: string;
  let count: number;
  let timeout: number;
  let interval: number;
  let json: boolean;
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        count: { type: 'string', short: 'c' },
        timeout: { type: 'string', short: 't' },
        interval: { type: 'string', short: 'i' },
        json: { type: 'boolean' },
        watch: { type: 'boolean', short: 'w' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.out(HELP);
      return EXIT_OK;
    }
    if (values.watch === true) {
      if (positionals.length === 0) throw new UsageError('probe --watch takes one or more <host:port>');
      if (values.json === true || values.count !== undefined) throw new UsageError('--watch takes neither --json nor --count');
      for (const p of positionals) parseHostPort(p);
      const watchOpts = {
        interval: intOption('interval', values.interval, 1000, 1),
        timeout: intOption('timeout', values.timeout, 2000, 1),
      };
      return watchCommand(positionals, watchOpts, io, signal);
    }
    if (positionals.length !== 1) throw new UsageError('probe takes exactly one <host:port>');
    target = positionals[0] as string;
    parseHostPort(target);
    count = intOption('count', values.count, 5, 1);
    timeout = intOption('timeout', values.timeout, 2000, 1);
    interval = intOption('interval', values.interval, 200, 0);
    json = values.json === true;
  } catch (err) {
    io.err(
      `raft-transport probe: ${(err as Error).message}\nUsage: raft-transport probe <host:port> [--count N] [--timeout MS] [--interval MS] [--json]\n` +
        '       raft-transport probe --watch <host:port>... [--timeout MS] [--interval MS]\n',
    );
    return EXIT_USAGE;
  }

  if (!json) io.out(`PROBE ${target}: AppendEntries with term 0 (rejected by Raft without side effects)\n`);
  const result = await probe(target, {
    count,
    timeout,
    interval,
    ...(signal === undefined ? {} : { signal }),
    onResult: json ? undefined : (s) => io.out(`${describeSample(s)}\n`),
  });

  if (json) io.out(`${JSON.stringify(result, jsonValue)}\n`);
  else io.out(describeResult(result));
  if (result.ok === 0 && result.sent > 0 && !json) {
    const first = result.samples[0]?.error;
    io.err(`raft-transport probe: ${target} is unreachable${first ? ` (${first.code}: ${first.message})` : ''}\n`);
  }
  return result.sent > 0 && result.failed === 0 ? EXIT_OK : EXIT_FAILED;
}

/** `probe --watch`: a live view of peers' health until `signal` aborts. */
async function watchCommand(
  targets: readonly string[],
  opts: { interval: number; timeout: number },
  io: CliIO,
  signal?: AbortSignal,
): Promise<number> {
  const tty = io.isTTY === true;
  if (!tty) io.out(`WATCH ${targets.join(' ')}: term-0 AppendEntries every ${opts.interval} ms; one line per state change\n`);
  const final = await watchPeers(targets, {
    ...opts,
    tty,
    out: (t) => io.out(t),
    ...(signal === undefined ? {} : { signal }),
  });
  return final.length > 0 && final.every((p) => p.state === 'active') ? EXIT_OK : EXIT_FAILED;
}

const ms = (v: number): string => v.toFixed(3);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON for people and scripts: byte fields (server IDs and addresses) as text
 * when they are UTF-8, else as "base64:…", instead of {"0":110,…}; fractional
 * milliseconds rounded to the microsecond.
 */
function jsonValue(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) {
    try {
      return utf8.decode(value);
    } catch {
      return `base64:${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}`;
    }
  }
  if (typeof value === 'number' && !Number.isInteger(value)) return Math.round(value * 1000) / 1000;
  return value;
}

function describeSample(s: ProbeSample): string {
  if (s.response !== undefined) {
    const r = s.response;
    return `seq=${s.seq} time=${ms(s.rttMs as number)} ms term=${r.term} lastLog=${r.lastLog} success=${r.success}`;
  }
  return `seq=${s.seq} ${s.error?.code}: ${s.error?.message}`;
}

function describeResult(r: ProbeResult): string {
  const lines = [`--- ${r.target} probe statistics ---`, `${r.sent} sent, ${r.ok} ok, ${r.failed} failed`];
  if (r.rttMs !== undefined) {
    const t = r.rttMs;
    lines.push(
      `rtt min/p50/p90/p99/max = ${ms(t.min)}/${ms(t.p50)}/${ms(t.p90)}/${ms(t.p99)}/${ms(t.max)} ms (the first includes the TCP connect)`,
    );
  }
  if (r.peerTerm !== undefined) lines.push(`peer term ${r.peerTerm}, last log index ${r.peerLastLog}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Runs bench/main.ts under tsx when the repository is checked out around us;
 * the npm package leaves the benchmark out, so there it explains where to find it.
 */
async function benchCommand(args: readonly string[], io: CliIO): Promise<number> {
  const entry = path.join(PACKAGE_ROOT, 'bench', 'main.ts');
  if (!fs.existsSync(entry)) {
    io.err(
      'raft-transport bench: the benchmark ships with the raft-transport repository, not the npm package.\n' +
        'Clone the repository and run `npm ci && npm start` there (or `npx raft-transport bench` from the clone).\n',
    );
    return EXIT_FAILED;
  }
  if (!fs.existsSync(path.join(PACKAGE_ROOT, 'node_modules', 'tsx'))) {
    io.err(`raft-transport bench: tsx is not installed; run \`npm ci\` in ${PACKAGE_ROOT} first.\n`);
    return EXIT_FAILED;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: PACKAGE_ROOT, stdio: 'inherit' });
  // Ctrl-C reaches the child through the terminal; we only wait for it to finish.
  const onSignal = (): void => {};
  process.on('SIGINT', onSignal);
  try {
    return await new Promise<number>((resolve) => {
      child.once('error', (err) => {
        io.err(`raft-transport bench: could not start the benchmark: ${err.message}\n`);
        resolve(EXIT_FAILED);
      });
      child.once('exit', (code, sig) => resolve(code ?? (sig !== null ? 128 + signalNumber(sig) : EXIT_FAILED)));
    });
  } finally {
    process.off('SIGINT', onSignal);
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  return sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : sig === 'SIGKILL' ? 9 : 1;
}
