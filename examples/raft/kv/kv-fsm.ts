/**
 * The key-value state machine. Commands are JSON:
 * `{"op":"set","key":"k","value":"v"}` and `{"op":"delete","key":"k"}`.
 * A snapshot is one JSON object mapping key to value (UTF-8), the format the
 * Go raftnode (test/interop/raftnode/fsm.go) writes and reads, so snapshots
 * cross languages.
 */
import type { Log } from '../../../src/index.ts';
import type { FSM } from '../types.ts';

export interface KVCommand {
  op: 'set' | 'delete';
  key: string;
  value?: string;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export function encodeCommand(c: KVCommand): Uint8Array {
  return encoder.encode(JSON.stringify(c));
}

export class KVFSM implements FSM {
  private data = new Map<string, string>();

  /** Applies a command; resolves the leader's apply() with the previous value (undefined if none). */
  apply(log: Log): string | undefined {
    let c: KVCommand;
    try {
      c = JSON.parse(decoder.decode(log.data ?? new Uint8Array())) as KVCommand;
    } catch {
      return undefined; // malformed commands are skipped alike on every node
    }
    if (typeof c !== 'object' || c === null || typeof c.key !== 'string') return undefined;
    const prev = this.data.get(c.key);
    if (c.op === 'set') this.data.set(c.key, String(c.value ?? ''));
    else if (c.op === 'delete') this.data.delete(c.key);
    return prev;
  }

  get(key: string): string | undefined {
    return this.data.get(key);
  }

  /** A copy of the whole store, for tests comparing replicas. */
  entries(): Record<string, string> {
    return Object.fromEntries(this.data);
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify(Object.fromEntries(this.data)));
  }

  restore(data: Uint8Array): void {
    const obj = JSON.parse(decoder.decode(data)) as unknown;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error('snapshot is not a JSON object');
    const next = new Map<string, string>();
    for (const [k, v] of Object.entries(obj)) {
      if (typeof v !== 'string') throw new Error(`snapshot value of ${k} is not a string`);
      next.set(k, v);
    }
    this.data = next;
  }
}
