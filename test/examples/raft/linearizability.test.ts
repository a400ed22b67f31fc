import { describe, expect, it } from 'vitest';
import { checkLinearizable, type KVOp } from './linearizability.ts';

const w = (key: string, value: string | undefined, call: number, ret: number, client = 0): KVOp => ({
  kind: 'write',
  key,
  value,
  call,
  ret,
  client,
});
const r = (key: string, value: string | undefined, call: number, ret: number, client = 1): KVOp => ({
  kind: 'read',
  key,
  value,
  call,
  ret,
  client,
});

describe('linearizability checker', () => {
  it('accepts sequential and overlapping histories that have a linearization', () => {
    expect(checkLinearizable([w('k', 'a', 0, 1), r('k', 'a', 2, 3)]).ok).toBe(true);
    // the read overlaps the write: either value is fine
    expect(checkLinearizable([w('k', 'a', 0, 10), r('k', undefined, 1, 2), r('k', 'a', 3, 4)]).ok).toBe(true);
    // an unknown-outcome write may take effect late, or never
    expect(checkLinearizable([w('k', 'a', 0, Number.POSITIVE_INFINITY), r('k', undefined, 1, 2), r('k', 'a', 5, 6)]).ok).toBe(
      true,
    );
    expect(checkLinearizable([w('k', 'a', 0, Number.POSITIVE_INFINITY), r('k', undefined, 5, 6)]).ok).toBe(true);
  });

  it('rejects a stale read, a lost write and a read that goes back in time', () => {
    expect(checkLinearizable([w('k', 'a', 0, 1), r('k', undefined, 2, 3)])).toMatchObject({ ok: false, badKey: 'k' });
    expect(checkLinearizable([w('k', 'a', 0, 1), w('k', 'b', 2, 3), r('k', 'a', 4, 5)]).ok).toBe(false);
    // two reads that see b then a, while a was written strictly before b
    expect(checkLinearizable([w('k', 'a', 0, 1), w('k', 'b', 2, 10), r('k', 'b', 3, 4), r('k', 'a', 5, 6)]).ok).toBe(false);
    // keys are checked independently
    expect(checkLinearizable([w('x', 'a', 0, 1), r('y', 'a', 2, 3)]).ok).toBe(false);
  });
});
