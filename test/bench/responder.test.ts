/**
 * The benchmark server's CRC (bench/responder.ts) folds each entry's 17
 * header bytes in JS; it must stay bit-for-bit the responder rules' CRC that
 * the Go peer computes (test/interop/go-peer.ts), or every benchmarked
 * AppendEntries would answer success=false.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { answerAppend, entriesCrc } from '../../bench/responder.ts';
import type { Log, LogType } from '../../src/commands.ts';
import { entriesCrc as rulesCrc } from '../interop/go-peer.ts';

const log = fc.record({
  index: fc.oneof(fc.nat(), fc.constantFrom(0, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER)),
  term: fc.oneof(fc.nat(), fc.constantFrom(2 ** 32 + 5, Number.MAX_SAFE_INTEGER)),
  type: fc.integer({ min: 0, max: 255 }).map((t) => t as LogType),
  data: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null }),
  extensions: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
  appendedAt: fc.constant(null),
}) satisfies fc.Arbitrary<Log>;

describe('benchmark responder CRC', () => {
  it('equals the responder rules\u2019 CRC for any entries', () => {
    fc.assert(
      fc.property(fc.array(log, { maxLength: 20 }), (entries) => {
        expect(entriesCrc(entries)).toBe(rulesCrc(entries));
      }),
    );
  });

  it('answers success only when the CRC in leaderCommitIndex matches', () => {
    const entries: Log[] = [
      { index: 70_000, term: 9, type: 0, data: new Uint8Array([1, 2, 3]), extensions: null, appendedAt: null },
    ];
    const req = {
      rpcHeader: { protocolVersion: 3, id: null, addr: null },
      term: 9,
      leader: null,
      prevLogEntry: 69_999,
      prevLogTerm: 9,
      entries,
      leaderCommitIndex: rulesCrc(entries),
    };
    expect(answerAppend(req, false).success).toBe(true);
    expect(answerAppend({ ...req, leaderCommitIndex: req.leaderCommitIndex ^ 1 }, false).success).toBe(false);
  });
});
