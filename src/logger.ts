import { debuglog } from 'node:util';

/**
 * The logging surface the transports write to: pino's method shape
 * (`logger.warn({ err, remote }, 'message')`), so a pino, bunyan or console-like
 * logger can be passed straight in.
 */
export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const nodeDebug = debuglog('raft-transport');

/**
 * Silent unless `NODE_DEBUG=raft-transport` is set, in which case everything
 * goes to stderr through util.debuglog, like Node core's own modules.
 */
export const defaultLogger: Logger = {
  debug: (obj, msg) => nodeDebug('%s %o', msg, obj),
  info: (obj, msg) => nodeDebug('%s %o', msg, obj),
  warn: (obj, msg) => nodeDebug('%s %o', msg, obj),
  error: (obj, msg) => nodeDebug('%s %o', msg, obj),
};
