import { describe, expect, it } from 'vitest';

import { LogType } from '../../src/commands.ts';
import { PreVoteNotSupportedError, NotSupportedError } from '../../src/errors.ts';
import { MessageWriter } from '../../src/net/codec/encoder.ts';
import { DEFAULT_WIRE_FORMAT, resolveWireFormat, WIRE_FORMAT_PRESETS } from '../../src/net/codec/wire-format.ts';
import { PreVoteMemory } from '../../src/net/prevote-memory.ts';
import { newTCPTransport } from '../../src/net/tcp-transport.ts';

describe('wireFormat presets', () => {
  it('the default is hashicorp-1.6+: latest fields, binary time', () => {
    expect(DEFAULT_WIRE_FORMAT).toBe('hashicorp-1.6+');
    expect(resolveWireFormat(undefined)).toEqual({ fields: 'latest', timeFormat: 'binary' });
  });

  it('each preset maps to its knobs; explicit knobs pass through', () => {
    expect(resolveWireFormat('hashicorp-1.1')).toEqual({ fields: 'v1.1', timeFormat: 'binary' });
    expect(resolveWireFormat('hashicorp-1.5')).toEqual({ fields: 'latest', timeFormat: 'binary' });
    expect(resolveWireFormat('hashicorp-1.6+-msgpack-time')).toEqual({ fields: 'latest', timeFormat: 'msgpack' });
    const own = { fields: 'v1.1', timeFormat: 'msgpack' } as const;
    expect(resolveWireFormat(own)).toBe(own);
    expect(Object.keys(WIRE_FORMAT_PRESETS)).toHaveLength(4);
  });

  it('an unknown preset name is a RangeError naming the choices, also from the transport constructor', async () => {
    // @ts-expect-error: not a preset
    expect(() => resolveWireFormat('hashicorp-2.0')).toThrow(/one of hashicorp-1\.1, /);
    // @ts-expect-error: not a preset
    await expect(newTCPTransport('127.0.0.1:0', { wireFormat: 'toString' })).rejects.toThrow(RangeError);
  });

  it('presets change the bytes: 1.1 drops ID/Addr/AppendedAt, msgpack-time shortens AppendedAt', () => {
    const req = {
      rpcHeader: { protocolVersion: 3, id: new Uint8Array([1]), addr: new Uint8Array([2]) },
      term: 1,
      leader: null,
      prevLogEntry: 0,
      prevLogTerm: 0,
      entries: [{ index: 1, term: 1, type: LogType.Command, data: null, appendedAt: new Date(1_700_000_000_000) }],
      leaderCommitIndex: 0,
    };
    const size = (preset: Parameters<typeof resolveWireFormat>[0]) => {
      const w = new MessageWriter(resolveWireFormat(preset));
      w.writeRequest(0, req);
      return w.take().toString('latin1');
    };
    const v11 = size('hashicorp-1.1');
    const v16 = size('hashicorp-1.6+');
    const v16m = size('hashicorp-1.6+-msgpack-time');
    expect(v11).not.toContain('AppendedAt');
    expect(v11).not.toContain('Addr');
    expect(v16).toContain('AppendedAt');
    expect(v16).toContain('Addr');
    expect(v16m.length).toBeLessThan(v16.length); // 4-byte timestamp body instead of 15-byte binary time
  });
});

describe('PreVoteMemory', () => {
  it('remembers a peer until the expiry, forgets on success, and keeps at most maxPeers (oldest first)', () => {
    let now = 1000;
    const m = new PreVoteMemory(50, 2, () => now);
    m.remember('a');
    expect(m.lacks('a')).toBe(true);
    now = 1049;
    expect(m.lacks('a')).toBe(true);
    now = 1050;
    expect(m.lacks('a')).toBe(false);
    expect(m.size).toBe(0);
    m.remember('a');
    m.remember('b');
    m.remember('c');
    expect([m.lacks('a'), m.lacks('b'), m.lacks('c')]).toEqual([false, true, true]);
    m.forget('b');
    expect(m.lacks('b')).toBe(false);
  });

  it('PreVoteNotSupportedError is a NotSupportedError with code ERR_NOT_SUPPORTED', () => {
    const e = new PreVoteNotSupportedError('10.0.0.1:8300', { remembered: true });
    expect(e).toBeInstanceOf(NotSupportedError);
    expect(e).toMatchObject({ code: 'ERR_NOT_SUPPORTED', peer: '10.0.0.1:8300', remembered: true });
    expect(e.message).toMatch(/before 1\.7/);
  });
});
