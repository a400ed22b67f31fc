/** What the numbers were measured on: they mean little without it. */
import os from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  platform: string;
  /** 1-minute load average when the run started and ended: high means other work competed for the CPUs. */
  loadavgStart: number;
  loadavgEnd?: number;
  go?: string;
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadavgStart: os.loadavg()[0]!,
  };
}
