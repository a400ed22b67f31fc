/** Assertions on rejections, shared by the transport tests. */
import * as net from 'node:net';
import { expect } from 'vitest';
import { isTransportError, type TransportError } from '../../src/errors.ts';

/** Resolves with whatever `p` rejects with; fails the test if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

/**
 * `p` itself, with a rejection handler attached now: for a promise the test
 * awaits later, after other awaits, so an early failure fails the test where
 * it is awaited instead of surfacing as an unhandled rejection.
 */
export function observed<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** Resolves with the TransportError `p` rejects with; rethrows anything else. */
export async function transportError(p: Promise<unknown>): Promise<TransportError> {
  const err = await rejection(p);
  if (!isTransportError(err)) throw err;
  return err;
}

/** Resolves with the code of the TransportError `p` rejects with. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  return (await transportError(p)).code;
}

export function expectCode(err: unknown, code: string): void {
  expect(isTransportError(err), `expected a TransportError, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
}

/** A port that was free a moment ago: bound, then released. */
export async function closedPort(): Promise<string> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return `127.0.0.1:${port}`;
}
