/** pipelineAll(), the tests' helper for sending through a pipeline: it settles however the pipeline fails. */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.ts';
import type { NetworkTransport } from '../../src/net/network-transport.ts';
import { newTCPTransport } from '../../src/net/tcp-transport.ts';
import { expectCode, rejection } from './expect-errors.ts';
import { appendReq, pipelineAll, serve } from './fixtures.ts';
import { within } from './within.ts';

describe('pipelineAll', () => {
  const open: NetworkTransport[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  async function pair(): Promise<[NetworkTransport, NetworkTransport]> {
    const leader = await newTCPTransport('127.0.0.1:0', { timeout: 10_000 });
    const follower = await newTCPTransport('127.0.0.1:0', { timeout: 10_000 });
    open.push(leader, follower);
    return [leader, follower];
  }

  it('resolves with how many were answered', async () => {
    const [leader, follower] = await pair();
    void serve(follower);
    const requests = Array.from({ length: 20 }, (_, i) => appendReq({ term: i + 1 }));
    expect(await within('pipelineAll', pipelineAll(leader, 'f', follower.localAddr(), requests))).toBe(20);
  });

  it("rejects with the sender's error when a request cannot be sent, instead of waiting for answers that never come", async () => {
    const [leader, follower] = await pair();
    void serve(follower);
    // The first request is sent and answered; the second is refused by the encoder while the pipeline stays open.
    const requests = [appendReq({ term: 1 }), appendReq({ term: -1 }), appendReq({ term: 3 })];
    const err = await rejection(within('pipelineAll giving up', pipelineAll(leader, 'f', follower.localAddr(), requests)));
    expectCode(err, ErrorCode.InvalidValue);
  });

  it("rejects with the failed future's error, not the shutdown it causes", async () => {
    const [leader, follower] = await pair();
    void serve(follower, (rpc) => rpc.respond(null, 'refused'));
    const requests = Array.from({ length: 200 }, (_, i) => appendReq({ term: i + 1 }));
    const err = await rejection(within('pipelineAll giving up', pipelineAll(leader, 'f', follower.localAddr(), requests)));
    expectCode(err, ErrorCode.Remote);
  });
});
