/**
 * File-backed stores, so a node survives a restart:
 * - the log is an append-only file of length-prefixed JSON records (an entry,
 *   or a deleted range), fsynced per batch, replayed into memory on open and
 *   rewritten compactly once most of it is dead;
 * - the stable store is a small JSON file replaced atomically;
 * - snapshots are files named by term and index, with a JSON metadata file
 *   written last, so a crash mid-save leaves the previous snapshot in force.
 */
import {
  createReadStream,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { ByteSource, Log, LogType } from '../../../src/index.ts';
import type { LogStore, SnapshotMeta, SnapshotStore, StableStore } from '../types.ts';
import { InmemLogStore } from './inmem-store.ts';

interface LogRecord {
  i: number;
  t: number;
  y: LogType;
  d: string | null;
  a?: string | null;
  x?: string | null;
}
type Record_ = { log: LogRecord } | { del: [number, number] };

const toRecord = (l: Log): LogRecord => ({
  i: l.index,
  t: l.term,
  y: l.type,
  d: l.data === null ? null : Buffer.from(l.data).toString('base64'),
  a: l.appendedAt ? l.appendedAt.toISOString() : null,
  x: l.extensions ? Buffer.from(l.extensions).toString('base64') : null,
});
const fromRecord = (r: LogRecord): Log => ({
  index: r.i,
  term: r.t,
  type: r.y,
  data: r.d === null ? null : new Uint8Array(Buffer.from(r.d, 'base64')),
  appendedAt: r.a ? new Date(r.a) : null,
  extensions: r.x ? new Uint8Array(Buffer.from(r.x, 'base64')) : null,
});

function writeFully(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off);
}

function frame(rec: Record_): Buffer {
  const body = Buffer.from(JSON.stringify(rec));
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** The log: memory for reads, an append-only file for durability. */
export class FileLogStore implements LogStore {
  private mem = new InmemLogStore();
  private fd: number;
  private records = 0;
  private readonly path: string;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, 'raft.log');
    if (existsSync(this.path)) {
      const buf = readFileSync(this.path);
      const good = this.replay(buf);
      // Cut a torn tail off, or the next append would land behind garbage.
      if (good < buf.length) truncateSync(this.path, good);
    }
    this.fd = openSync(this.path, 'a');
  }

  /** Loads the records; returns the length of the intact prefix. */
  private replay(buf: Buffer): number {
    let off = 0;
    while (off + 4 <= buf.length) {
      const len = buf.readUInt32BE(off);
      if (off + 4 + len > buf.length) break; // a torn tail from a crash mid-write: ignore it
      const rec = JSON.parse(buf.subarray(off + 4, off + 4 + len).toString()) as Record_;
      if ('log' in rec) this.mem.storeLogs([fromRecord(rec.log)]);
      else this.mem.deleteRange(rec.del[0], rec.del[1]);
      off += 4 + len;
      this.records++;
    }
    return off;
  }

  firstIndex(): number {
    return this.mem.firstIndex();
  }
  lastIndex(): number {
    return this.mem.lastIndex();
  }
  getLog(index: number): Log | undefined {
    return this.mem.getLog(index);
  }
  storeLogs(logs: Log[]): void {
    if (logs.length === 0) return;
    writeFully(this.fd, Buffer.concat(logs.map((l) => frame({ log: toRecord(l) }))));
    fsyncSync(this.fd);
    this.records += logs.length;
    this.mem.storeLogs(logs);
  }
  deleteRange(min: number, max: number): void {
    this.mem.deleteRange(min, max);
    const live = this.mem.lastIndex() === 0 ? 0 : this.mem.lastIndex() - this.mem.firstIndex() + 1;
    if (this.records > 1024 && this.records > 4 * live) {
      this.rewrite();
      return;
    }
    writeFully(this.fd, frame({ del: [min, max] }));
    fsyncSync(this.fd);
    this.records++;
  }
  /** Replaces the file with just the live entries (write, fsync, rename). */
  private rewrite(): void {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w');
    const parts: Buffer[] = [];
    for (let i = this.mem.firstIndex(); i > 0 && i <= this.mem.lastIndex(); i++)
      parts.push(frame({ log: toRecord(this.mem.getLog(i)!) }));
    writeFully(fd, Buffer.concat(parts));
    fsyncSync(fd);
    closeSync(fd);
    closeSync(this.fd);
    renameSync(tmp, this.path);
    this.fd = openSync(this.path, 'a');
    this.records = parts.length;
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** Writes `data` to `path` so a crash leaves either the old or the new file. */
function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  writeFully(fd, Buffer.from(data));
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
}

export class FileStableStore implements StableStore {
  private kv: Record<string, string> = {};
  private readonly path: string;
  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, 'stable.json');
    if (existsSync(this.path)) this.kv = JSON.parse(readFileSync(this.path, 'utf8')) as Record<string, string>;
  }
  get(key: string): string | undefined {
    return this.kv[key];
  }
  set(key: string, value: string): void {
    this.kv[key] = value;
    writeAtomic(this.path, JSON.stringify(this.kv));
  }
}

export class FileSnapshotStore implements SnapshotStore {
  private readonly dir: string;
  constructor(
    dir: string,
    private readonly retain = 2,
  ) {
    this.dir = join(dir, 'snapshots');
    mkdirSync(this.dir, { recursive: true });
  }
  private metas(): SnapshotMeta[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.meta.json'))
      .map((f) => JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as SnapshotMeta)
      .sort((a, b) => a.term - b.term || a.index - b.index || a.id.localeCompare(b.id));
  }
  save(meta: Omit<SnapshotMeta, 'id' | 'size'>, data: Uint8Array): SnapshotMeta {
    const id = `${String(meta.term).padStart(10, '0')}-${String(meta.index).padStart(16, '0')}-${Date.now()}`;
    const full: SnapshotMeta = { ...meta, id, size: data.length };
    writeAtomic(join(this.dir, `${id}.data`), data);
    writeAtomic(join(this.dir, `${id}.meta.json`), JSON.stringify(full));
    const all = this.metas();
    for (const old of all.slice(0, Math.max(0, all.length - this.retain))) {
      rmSync(join(this.dir, `${old.id}.meta.json`), { force: true });
      rmSync(join(this.dir, `${old.id}.data`), { force: true });
    }
    return full;
  }
  latest(): SnapshotMeta | undefined {
    return this.metas().at(-1);
  }
  read(id: string): Uint8Array {
    return new Uint8Array(readFileSync(join(this.dir, `${id}.data`)));
  }
  stream(id: string): ByteSource {
    return createReadStream(join(this.dir, `${id}.data`));
  }
}
