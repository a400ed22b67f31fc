/** In-memory log, stable and snapshot stores, for tests and for nodes that start fresh on every run. */
import type { ByteSource, Log } from '../../../src/index.ts';
import type { LogStore, SnapshotMeta, SnapshotStore, StableStore } from '../types.ts';

/** A log in a Map. Survives a Raft restart within the process (tests use that as "the disk"). */
export class InmemLogStore implements LogStore {
  private logs = new Map<number, Log>();
  private first = 0;
  private last = 0;

  firstIndex(): number {
    return this.first;
  }
  lastIndex(): number {
    return this.last;
  }
  getLog(index: number): Log | undefined {
    return this.logs.get(index);
  }
  storeLogs(logs: Log[]): void {
    for (const l of logs) {
      this.logs.set(l.index, l);
      if (this.first === 0 || l.index < this.first) this.first = l.index;
      if (l.index > this.last) this.last = l.index;
    }
  }
  deleteRange(min: number, max: number): void {
    for (let i = min; i <= max; i++) this.logs.delete(i);
    if (min <= this.first) this.first = max + 1;
    if (max >= this.last) this.last = min - 1;
    if (this.first > this.last) this.first = this.last = 0;
  }
}

export class InmemStableStore implements StableStore {
  private kv = new Map<string, string>();
  get(key: string): string | undefined {
    return this.kv.get(key);
  }
  set(key: string, value: string): void {
    this.kv.set(key, value);
  }
}

/** Chunks a buffer, so sending a snapshot goes through the same streaming path as a file. */
export function* chunks(data: Uint8Array, size = 64 * 1024): Generator<Uint8Array> {
  for (let off = 0; off < data.length; off += size) yield data.subarray(off, Math.min(off + size, data.length));
}

export class InmemSnapshotStore implements SnapshotStore {
  private snap: { meta: SnapshotMeta; data: Uint8Array } | undefined;
  save(meta: Omit<SnapshotMeta, 'id' | 'size'>, data: Uint8Array): SnapshotMeta {
    const full = { ...meta, id: `${meta.term}-${meta.index}-${Date.now()}`, size: data.length };
    this.snap = { meta: full, data };
    return full;
  }
  latest(): SnapshotMeta | undefined {
    return this.snap?.meta;
  }
  read(id: string): Uint8Array {
    if (this.snap?.meta.id !== id) throw new Error(`no snapshot ${id}`);
    return this.snap.data;
  }
  stream(id: string): ByteSource {
    return chunks(this.read(id));
  }
}
