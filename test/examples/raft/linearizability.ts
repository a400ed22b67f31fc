/**
 * A linearizability checker for a key-value register (Wing & Gong's search
 * with Lowe's memoisation, as in Porcupine). Keys are independent
 * (linearizability is local), so each key's history is checked alone.
 *
 * An operation whose outcome is unknown (a write that failed after it may
 * have been appended) has `ret: Infinity`: it may take effect at any point
 * after its call, including never observably.
 */
export interface KVOp {
  kind: 'write' | 'read';
  key: string;
  /** write: the value written (`undefined` deletes); read: the value seen (`undefined` = absent). */
  value: string | undefined;
  call: number;
  ret: number;
  client: number;
}

interface Entry {
  op: KVOp;
  id: number;
  isCall: boolean;
  time: number;
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

export interface CheckResult {
  ok: boolean;
  /** The first key whose history has no linearization. */
  badKey?: string;
  ops: number;
}

function checkKey(ops: KVOp[]): boolean {
  const events: Entry[] = [];
  ops.forEach((op, id) => {
    const call: Entry = { op, id, isCall: true, time: op.call, match: undefined, prev: undefined, next: undefined };
    const ret: Entry = { op, id, isCall: false, time: op.ret, match: undefined, prev: undefined, next: undefined };
    call.match = ret;
    events.push(call, ret);
  });
  // calls before returns at equal times: ties count as concurrent
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Entry = { op: ops[0]!, id: -1, isCall: false, time: -1, match: undefined, prev: undefined, next: undefined };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const lift = (e: Entry): void => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const m = e.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (e: Entry): void => {
    const m = e.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };
  const linearized = new Uint8Array(ops.length);
  const cache = new Set<string>();
  const stack: Array<{ entry: Entry; state: string | undefined }> = [];
  let state: string | undefined;
  let entry = head.next;
  const keyOf = (s: string | undefined): string =>
    `${Buffer.from(linearized).toString('base64')}|${s === undefined ? '\u0000' : s}`;
  while (head.next) {
    if (!entry) return false;
    if (entry.isCall) {
      const op = entry.op;
      const ok = op.kind === 'write' || op.value === state;
      const next = op.kind === 'write' ? op.value : state;
      if (ok) {
        linearized[entry.id] = 1;
        const k = keyOf(next);
        if (!cache.has(k)) {
          cache.add(k);
          stack.push({ entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.id] = 0;
      }
      entry = entry.next;
    } else {
      const top = stack.pop();
      if (!top) return false;
      state = top.state;
      linearized[top.entry.id] = 0;
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return true;
}

export function checkLinearizable(ops: KVOp[]): CheckResult {
  const byKey = new Map<string, KVOp[]>();
  for (const op of ops) {
    const list = byKey.get(op.key) ?? [];
    list.push(op);
    byKey.set(op.key, list);
  }
  for (const [key, list] of byKey) if (!checkKey(list)) return { ok: false, badKey: key, ops: ops.length };
  return { ok: true, ops: ops.length };
}
