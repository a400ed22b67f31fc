/**
 * raft-transport: the network layer a Raft implementation plugs into.
 * See README.md for a tour; src/transport.ts for the contract.
 */
export * from './commands.ts';
export * from './errors.ts';
export type * from './transport.ts';
export { InmemTransport, type InmemTransportOptions } from './inmem/inmem-transport.ts';
