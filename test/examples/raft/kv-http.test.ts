/** The KV example's HTTP API, in process: what a client sends too much of. */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KVHttp } from '../../../examples/raft/kv/kv-http.ts';
import { within } from '../../helpers/within.ts';
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

/**
 * PUTs a body that never ends (declared far over the cap, or chunked) and
 * keeps writing as fast as the connection takes it; resolves with what came
 * back once the server has dropped the connection.
 */
function keepSending(addr: string, declare: boolean): Promise<string> {
  const [host, port] = addr.split(':') as [string, string];
  const socket = net.connect(Number(port), host);
  let received = '';
  socket.setEncoding('latin1').on('data', (d: string) => (received += d));
  socket.on('error', () => {}); // a server that stops reading resets the connection
  const dropped = new Promise<string>((resolve) => socket.once('close', () => resolve(received)));
  const data = Buffer.alloc(64 * 1024, 0x61);
  const chunk = declare ? data : Buffer.concat([Buffer.from('10000\r\n'), data, Buffer.from('\r\n')]);
  const framing = declare ? `content-length: ${100 * 2 ** 20}` : 'transfer-encoding: chunked';
  socket.write(`PUT /kv/endless HTTP/1.1\r\nhost: ${addr}\r\n${framing}\r\n\r\n`);
  const pump = (err?: Error | null): void => {
    if (!err && !socket.destroyed) socket.write(chunk, pump);
  };
  pump();
  return within('the server dropping a connection whose body it refused', dropped);
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

  it('drops the connection of a client that keeps sending a refused body, and stays up', async () => {
    cluster = await Cluster.create(['a']);
    cluster.bootstrap();
    const leader = await cluster.waitLeader();
    api = new KVHttp(leader.raft, leader.fsm);
    const addr = await api.listen('127.0.0.1:0');
    for (const declare of [true, false]) {
      const received = await keepSending(addr, declare);
      // The 413 may be lost to the reset of a connection the client is still writing to; nothing else may come.
      expect(received === '' || received.startsWith('HTTP/1.1 413'), received.slice(0, 80)).toBe(true);
    }
    expect(await put(addr, '/kv/small', Buffer.from('ok'), false)).toBe(204);
    expect(leader.fsm.get('endless')).toBeUndefined();
  });
});
