/**
 * A benchmark server process's profiling and sampling commands, over the IPC
 * channel bench:profile uses: every command is answered, a failed one
 * included, and a failure leaves the process ready for the next profile.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type ServerProcess, startServerProcess } from '../../bench/children.ts';

describe('bench server process', () => {
  let server: ServerProcess | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('answers profile and sample commands, and recovers from a profile it could not write', async () => {
    server = await startServerProcess('raw');
    await server.profileStart();
    await expect(server.profileStart()).rejects.toThrow(/already running/);
    await expect(server.profileStop(3, '/nonexistent-dir/profile.cpuprofile')).rejects.toThrow(/ENOENT/);
    await expect(server.profileStop(3)).rejects.toThrow(/not running/);

    await server.profileStart();
    await server.sampleStart();
    const sample = await server.sampleStop();
    const summary = await server.profileStop(3);
    expect(summary.busyMs + summary.idleMs).toBeGreaterThan(0);
    expect(summary.top.length).toBeLessThanOrEqual(3);
    expect(Object.keys(sample).sort()).toEqual(['cpu', 'gc', 'loopDelay', 'rss']);
  });
});
