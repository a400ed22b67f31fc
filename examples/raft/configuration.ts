/**
 * Cluster membership, as hashicorp/raft keeps it: a list of servers, each a
 * voter or not, stored in the log as `LogConfiguration` entries whose bytes
 * are go-msgpack's encoding of `Configuration{Servers: [{Suffrage, ID, Address}]}`.
 * A Go node reads ours and we read theirs (test vector: test/examples/raft/goconfig).
 */
import { decode } from '@msgpack/msgpack';
import type { ServerAddress, ServerID } from '../../src/index.ts';

/** Whether a server's vote counts (hashicorp's `ServerSuffrage`). */
export const Suffrage = { Voter: 0, Nonvoter: 1, Staging: 2 } as const;
export type Suffrage = (typeof Suffrage)[keyof typeof Suffrage];

/** Go's `ServerSuffrage.String()`, which /status reports. */
export function suffrageName(s: Suffrage): string {
  return s === Suffrage.Voter ? 'Voter' : s === Suffrage.Nonvoter ? 'Nonvoter' : 'Staging';
}

export interface Server {
  suffrage: Suffrage;
  id: ServerID;
  address: ServerAddress;
}

export interface Configuration {
  servers: Server[];
}

/** The voters of a configuration: the ones whose votes and match indexes count. */
export function voters(c: Configuration): Server[] {
  return c.servers.filter((s) => s.suffrage === Suffrage.Voter);
}

/** Whether `id` is a server of the configuration, with any suffrage. */
export function inConfiguration(c: Configuration, id: ServerID): boolean {
  return c.servers.some((s) => s.id === id);
}

export function isVoter(c: Configuration, id: ServerID): boolean {
  return c.servers.some((s) => s.id === id && s.suffrage === Suffrage.Voter);
}

export function cloneConfiguration(c: Configuration): Configuration {
  return { servers: c.servers.map((s) => ({ ...s })) };
}

const encoder = new TextEncoder();

/** Bytes writer for the few msgpack forms go-msgpack uses here (it never writes str8). */
class Writer {
  private parts: number[] = [];
  byte(b: number): void {
    this.parts.push(b & 0xff);
  }
  str(s: string): void {
    const b = encoder.encode(s);
    if (b.length < 32) this.byte(0xa0 | b.length);
    else if (b.length < 0x10000) {
      this.byte(0xda);
      this.byte(b.length >> 8);
      this.byte(b.length);
    } else {
      this.byte(0xdb);
      for (const shift of [24, 16, 8, 0]) this.byte(b.length >>> shift);
    }
    for (const x of b) this.parts.push(x);
  }
  uint(n: number): void {
    if (n < 128) this.byte(n);
    else throw new RangeError(`suffrage ${n} out of range`);
  }
  arrayHeader(n: number): void {
    if (n < 16) this.byte(0x90 | n);
    else {
      this.byte(0xdc);
      this.byte(n >> 8);
      this.byte(n);
    }
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/**
 * go-msgpack's bytes for a Configuration: a map `{Servers: [...]}` whose
 * servers are maps with keys in sorted order (Address, ID, Suffrage); an empty
 * list is Go's nil slice.
 */
export function encodeConfiguration(c: Configuration): Uint8Array {
  const w = new Writer();
  w.byte(0x81);
  w.str('Servers');
  if (c.servers.length === 0) {
    w.byte(0xc0);
    return w.bytes();
  }
  w.arrayHeader(c.servers.length);
  for (const s of c.servers) {
    w.byte(0x83);
    w.str('Address');
    w.str(s.address);
    w.str('ID');
    w.str(s.id);
    w.str('Suffrage');
    w.uint(s.suffrage);
  }
  return w.bytes();
}

const textDecoder = new TextDecoder();
const asString = (v: unknown): string => (v instanceof Uint8Array ? textDecoder.decode(v) : String(v ?? ''));

/** Reads a Configuration written by `encodeConfiguration` or by a Go node. */
export function decodeConfiguration(buf: Uint8Array): Configuration {
  const raw = decode(buf) as { Servers?: Array<Record<string, unknown>> | null };
  const servers = (raw.Servers ?? []).map((s) => ({
    suffrage: Number(s.Suffrage ?? 0) as Suffrage,
    id: asString(s.ID),
    address: asString(s.Address),
  }));
  return { servers };
}
