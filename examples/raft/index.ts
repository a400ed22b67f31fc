/** The example Raft's public surface: see README "Writing a Raft on raft-transport". */
export * from './configuration.ts';
export * from './errors.ts';
export { Raft, type RaftStats } from './raft.ts';
export * from './stores/file-store.ts';
export * from './stores/inmem-store.ts';
export * from './types.ts';
