/**
 * `npm run cluster`: three KV nodes on local ports (n1 bootstraps, n2 and n3
 * join it), each its own process; prints their addresses and stops them all
 * on Ctrl-C. Pass `--data DIR` to keep their state in DIR/n1..n3.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { data: { type: 'string' } } });
const nodeScript = new URL('./node.ts', import.meta.url).pathname;

function start(id: string, extra: string[]): Promise<{ child: ChildProcess; raft: string; http: string }> {
  const args = ['--import', 'tsx', nodeScript, '--id', id, ...extra];
  if (values.data) args.push('--data', join(values.data, id));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let raft = '';
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.startsWith('RAFT ')) raft = line.slice(5);
      if (line.startsWith('HTTP ')) resolve({ child, raft, http: line.slice(5) });
    });
    child.once('exit', (code) => reject(new Error(`${id} exited with ${code}`)));
  });
}

const n1 = await start('n1', ['--bootstrap']);
const rest = await Promise.all(['n2', 'n3'].map((id) => start(id, ['--join', n1.http])));
const nodes = [n1, ...rest];
nodes.forEach((n, i) => {
  console.log(`n${i + 1}  raft ${n.raft}  http http://${n.http}`);
});
console.log(`try: curl -XPUT -L http://${n1.http}/kv/hello -d world; curl http://${n1.http}/status`);
const stop = (): void => {
  for (const n of nodes) n.child.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
