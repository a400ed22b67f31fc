import { describe, expect, it } from 'vitest';
import {
  appendEntriesRequest,
  appendEntriesResponse,
  heartbeat,
  installSnapshotRequest,
  PROTOCOL_VERSION,
  preVoteRequest,
  rpcHeader,
  timeoutNowResponse,
  voteRequest,
  voteResponse,
} from '../src/builders.ts';
import { isHeartbeat } from '../src/commands.ts';
import { enc, entry } from './helpers/fixtures.ts';

describe('builders', () => {
  it('build the literal form, with hashicorp defaults for the flags', () => {
    expect(PROTOCOL_VERSION).toBe(3);
    expect(rpcHeader()).toEqual({ protocolVersion: 3 });
    expect(rpcHeader({ id: 'n1', addr: null })).toEqual({ protocolVersion: 3, id: enc('n1'), addr: null });
    expect(appendEntriesResponse({ term: 2, lastLog: 7, success: true })).toEqual({
      rpcHeader: { protocolVersion: 3 },
      term: 2,
      lastLog: 7,
      success: true,
      noRetryBackoff: false,
    });
    expect(voteRequest({ term: 4, candidate: 'c:1', lastLogIndex: 9, lastLogTerm: 3, id: 'c' })).toEqual({
      rpcHeader: { protocolVersion: 3, id: enc('c'), addr: enc('c:1') },
      term: 4,
      candidate: enc('c:1'),
      lastLogIndex: 9,
      lastLogTerm: 3,
      leadershipTransfer: false,
    });
    expect(voteResponse({ term: 4, granted: true })).toEqual({ rpcHeader: { protocolVersion: 3 }, term: 4, granted: true });
    expect(preVoteRequest({ term: 1, lastLogIndex: 0, lastLogTerm: 0 }).rpcHeader).toEqual({ protocolVersion: 3 });
    expect(timeoutNowResponse()).toEqual({ rpcHeader: { protocolVersion: 3 } });
    expect(
      installSnapshotRequest({
        term: 1,
        leader: null,
        lastLogIndex: 5,
        lastLogTerm: 1,
        configuration: null,
        configurationIndex: 1,
        size: 10,
      }),
    ).toMatchObject({ snapshotVersion: 1, leader: null, size: 10 });
  });

  it('make a heartbeat that isHeartbeat recognises, and nothing else', () => {
    const hb = heartbeat({ term: 5, leader: '10.0.0.1:8300', id: 'n1' });
    expect(isHeartbeat(hb)).toBe(true);
    expect(hb).toEqual({
      rpcHeader: { protocolVersion: 3, id: enc('n1'), addr: enc('10.0.0.1:8300') },
      term: 5,
      leader: enc('10.0.0.1:8300'),
      prevLogEntry: 0,
      prevLogTerm: 0,
      entries: null,
      leaderCommitIndex: 0,
    });
    expect(isHeartbeat(appendEntriesRequest({ term: 5, leader: 'l', leaderCommitIndex: 5 }))).toBe(false);
    expect(isHeartbeat(appendEntriesRequest({ term: 5, leader: 'l', entries: [entry(1)] }))).toBe(false);
  });
});
