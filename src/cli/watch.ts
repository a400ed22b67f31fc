import diagnosticsChannel from 'node:diagnostics_channel';
import type { ServerAddress } from '../commands.ts';
import { channels } from '../diagnostics.ts';
import { TCPDialer } from '../net/layers/tcp-stream-layer.ts';
import { NetworkTransport } from '../net/network-transport.ts';
import type { PeerHealth, PeerHealthMessage } from '../net/peer-health.ts';

/** How `probe --watch` probes and where it draws. */
export interface WatchOptions {
  /** Pause between probe rounds in ms. */
  interval: number;
  /** Per-probe deadline in ms, connecting included. */
  timeout: number;
  /** Ends the watch; without one it runs until the process ends. */
  signal?: AbortSignal;
  /** Redraws a table in place (a terminal) instead of printing one line per state change. */
  tty: boolean;
  out(text: string): void;
}

let watchers = 0;

/**
 * Probes `targets` with a NetworkTransport's prober until `signal` aborts,
 * showing their health live: in a terminal a table redrawn every round with
 * plain ANSI escapes (no dependency), otherwise one line per state change,
 * which suits logs and pipes. Resolves with the final status of each peer.
 */
export async function watchPeers(targets: readonly ServerAddress[], opts: WatchOptions): Promise<PeerHealth[]> {
  // A name of its own, so the health messages of other transports in this process are told apart.
  const name = `raft-transport-watch-${process.pid}-${++watchers}`;
  const trans = new NetworkTransport(new TCPDialer(name), {
    timeout: opts.timeout,
    probeInterval: opts.interval,
    probeTimeout: opts.timeout,
    probePeers: targets,
    probeDialledPeers: false,
  });
  const onHealth = (message: unknown): void => {
    const m = message as PeerHealthMessage;
    if (m.local !== name || opts.tty) return;
    const now = trans.peers().find((p) => p.peer === m.peer);
    opts.out(`${describeChange(m, now)}\n`);
  };
  diagnosticsChannel.subscribe(channels.peerHealth.name, onHealth);
  let drawn = 0;
  const draw = (): void => {
    const lines = table(trans.peers());
    // Move up over the previous table and clear to the end of the screen.
    opts.out(`${drawn > 0 ? `\x1b[${drawn}A\x1b[J` : ''}${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    if (opts.tty) {
      draw();
      timer = setInterval(draw, Math.max(opts.interval, 100));
    }
    await new Promise<void>((resolve) => {
      if (opts.signal === undefined) return;
      if (opts.signal.aborted) return resolve();
      opts.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    if (opts.tty) draw();
    return trans.peers();
  } finally {
    if (timer !== undefined) clearInterval(timer);
    diagnosticsChannel.unsubscribe(channels.peerHealth.name, onHealth);
    await trans.close();
  }
}

const ms = (v: number): string => v.toFixed(3);

function describeChange(m: PeerHealthMessage, now: PeerHealth | undefined): string {
  const head = `${new Date(m.since).toISOString()} ${m.peer} ${m.state} (was ${m.previous})`;
  if (m.state === 'active') return now === undefined ? head : `${head} rtt p50=${ms(now.rtt.p50)} ms`;
  const e = now?.lastError;
  return e === undefined ? head : `${head} ${e.code}: ${e.message}`;
}

/** The live view: one row per peer. */
export function table(peers: readonly PeerHealth[]): string[] {
  const rows = [['PEER', 'STATE', 'SINCE', 'RTT p50/p99/max ms', 'PROBES', 'FAILED', 'LAST ERROR']];
  for (const p of peers) {
    rows.push([
      p.peer,
      p.state,
      new Date(p.since).toISOString().slice(11, 23),
      p.rtt.count === 0 ? '-' : `${ms(p.rtt.p50)}/${ms(p.rtt.p99)}/${ms(p.rtt.max)}`,
      String(p.probesSent),
      String(p.failures),
      p.lastError === undefined ? '' : `${p.lastError.code}: ${p.lastError.message}`,
    ]);
  }
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] as string).length))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] as number)))
      .join('  ')
      .trimEnd(),
  );
}
