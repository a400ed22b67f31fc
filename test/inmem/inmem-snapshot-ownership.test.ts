/** InmemTransport keeps the same promise about snapshot data as NetworkTransport (see Transport.installSnapshot). */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isTransportError } from '../../src/errors.ts';
import { InmemTransport } from '../../src/inmem/inmem-transport.ts';
import { rejection } from '../helpers/expect-errors.ts';
import { snapshotReq } from '../helpers/fixtures.ts';

const endless = (): Readable =>
  new Readable({
    read() {
      this.push(Buffer.alloc(1024));
    },
  });

describe('InmemTransport snapshot data ownership', () => {
  it('finishes the data when the call fails: unknown peer, and a peer that never answers', async () => {
    const a = new InmemTransport('a', { timeout: 50 });
    const b = new InmemTransport('b');
    a.connect('b', b);
    const unrouted = endless();
    expect(isTransportError(await rejection(a.installSnapshot('x', 'x', snapshotReq(1 << 20), unrouted)))).toBe(true);
    expect(unrouted.destroyed).toBe(true);
    const ignored = endless(); // b's consumer never takes it
    const err = await rejection(a.installSnapshot('b', 'b', snapshotReq(1 << 20), ignored));
    expect(isTransportError(err, ErrorCode.RpcTimeout), String(err)).toBe(true);
    expect(ignored.destroyed).toBe(true);
    await a.close();
    await b.close();
  });
});
