/** The KV example's HTTP API, in process: what a client sends too much of. */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { KVHttp } from '../../../examples/raft/kv/kv-http.ts';
import { Cluster } from './cluster.ts';

let cluster: Cluster | undefined;
let api: KVHttp | undefined;
afterEach(async () => {
  await api?.close();
  await cluster?.close();
  api = undefined;
  cluster = undefined;
});

/** PUTs `body` (chunked encoding unless `declare`) and resolves with the status. */
function put(addr: string, path: string, body: Buffer, declare: boolean): Promise<number> {
  const [host, port] = addr.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port: Number(port), path, method: 'PUT', agent: false, headers: declare ? { 'content-length': body.length } : {} },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject); // after a response, a reset of the unread rest changes nothing
    req.end(body);
  });
}

describe('KV HTTP API', () => {
  it('answers 413 to a body over 1 MiB, declared or streamed, and stays up for the next request', async () => {
    cluster = await Cluster.create(['a']);
    cluster.bootstrap();
    const leader = await cluster.waitLeader();
    api = new KVHttp(leader.raft, leader.fsm);
    const addr = await api.listen('127.0.0.1:0');
    const big = Buffer.alloc((1 << 20) + 1, 0x61);
    expect(await put(addr, '/kv/declared', big, true)).toBe(413);
    expect(await put(addr, '/kv/streamed', big, false)).toBe(413);
    expect(await put(addr, '/kv/small', Buffer.from('ok'), false)).toBe(204);
    expect(leader.fsm.get('small')).toBe('ok');
    expect(leader.fsm.get('declared')).toBeUndefined();
    expect(leader.fsm.get('streamed')).toBeUndefined();
  });
});
