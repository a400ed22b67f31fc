/**
 * A NetworkTransport in its own process, answering with echoResponder, for
 * tests that kill a peer. Prints "LISTEN <addr>" once ready; binds the port
 * given as argv[2] (0 = any) so a restarted peer can come back on the same one.
 */
import { newTCPTransport } from '../../src/net/tcp-transport.ts';
import { echoResponder, serve } from './fixtures.ts';

const port = Number(process.argv[2] ?? 0);
const mode = process.argv[3] ?? 'echo';
const t = await newTCPTransport(`127.0.0.1:${port}`, { timeout: 10_000 });
void serve(t, mode === 'hold' ? () => {} : echoResponder);
process.stdout.write(`LISTEN ${t.localAddr()}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void t.close().then(() => process.exit(0));
});
