import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileLogStore, FileSnapshotStore, FileStableStore } from '../../../examples/raft/stores/file-store.ts';
import { LogType } from '../../../src/index.ts';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const entry = (index: number, term = 1) => ({
  index,
  term,
  type: LogType.Command,
  data: new TextEncoder().encode(`c${index}`),
  appendedAt: null,
});

describe('file-backed stores', () => {
  it('the log survives reopening, with deletions, and ignores a torn tail', () => {
    dir = mkdtempSync(join(tmpdir(), 'raft-fs-'));
    const a = new FileLogStore(dir);
    a.storeLogs([1, 2, 3, 4, 5].map((i) => entry(i)));
    a.deleteRange(4, 5); // a conflicting suffix
    a.storeLogs([entry(4, 2)]);
    a.deleteRange(1, 2); // compaction
    a.close();
    appendFileSync(join(dir, 'raft.log'), Buffer.from([0, 0, 1, 0, 123])); // a crash mid-write
    const b = new FileLogStore(dir);
    expect([b.firstIndex(), b.lastIndex()]).toEqual([3, 4]);
    expect(b.getLog(4)?.term).toBe(2);
    expect(new TextDecoder().decode(b.getLog(3)!.data!)).toBe('c3');
    expect(b.getLog(2)).toBeUndefined();
    b.storeLogs([{ ...entry(5, 2), extensions: Uint8Array.of(1, 2) }]); // lands after the intact prefix, not behind the garbage
    b.close();
    const c = new FileLogStore(dir);
    expect(c.lastIndex()).toBe(5);
    expect(c.getLog(5)?.extensions).toEqual(Uint8Array.of(1, 2));
    c.close();
  });

  it('rewrites the log compactly once most of it is dead, and it still reopens', () => {
    dir = mkdtempSync(join(tmpdir(), 'raft-fs-'));
    const a = new FileLogStore(dir);
    for (let i = 1; i <= 3000; i += 100) a.storeLogs(Array.from({ length: 100 }, (_, k) => entry(i + k)));
    a.deleteRange(1, 2990);
    a.close();
    const b = new FileLogStore(dir);
    expect([b.firstIndex(), b.lastIndex()]).toEqual([2991, 3000]);
    b.close();
  });

  it('stable and snapshot stores survive reopening; the newest snapshot wins', () => {
    dir = mkdtempSync(join(tmpdir(), 'raft-fs-'));
    new FileStableStore(dir).set('CurrentTerm', '7');
    expect(new FileStableStore(dir).get('CurrentTerm')).toBe('7');
    const s = new FileSnapshotStore(dir);
    const configuration = { servers: [{ id: 'a', address: 'x', suffrage: 0 as const }] };
    s.save({ index: 10, term: 1, configuration, configurationIndex: 1 }, new TextEncoder().encode('{"a":"1"}'));
    const m = s.save({ index: 20, term: 2, configuration, configurationIndex: 1 }, new TextEncoder().encode('{"a":"2"}'));
    s.save({ index: 30, term: 2, configuration, configurationIndex: 1 }, new TextEncoder().encode('{"a":"3"}'));
    const again = new FileSnapshotStore(dir);
    expect(again.latest()).toMatchObject({ index: 30, term: 2, size: 9, configuration });
    expect(new TextDecoder().decode(again.read(again.latest()!.id))).toBe('{"a":"3"}');
    expect(() => again.read(m.id.replace(/-\d+$/, '-0'))).toThrow();
  });
});
