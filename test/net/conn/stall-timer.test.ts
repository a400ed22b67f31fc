import { afterEach, describe, expect, it, vi } from 'vitest';
import { StallTimer } from '../../../src/net/conn/stall-timer.ts';

describe('StallTimer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const fake = (): void => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  };

  it('fires once the peer makes no progress for ms, counting from its last progress', () => {
    fake();
    let stalls = 0;
    const t = new StallTimer(1_000, () => stalls++);
    t.update(true, false);
    vi.advanceTimersByTime(900);
    t.update(true, true); // progress: the deadline moves to 1,900
    vi.advanceTimersByTime(999);
    expect(stalls).toBe(0);
    vi.advanceTimersByTime(1);
    expect(stalls).toBe(1);
    vi.advanceTimersByTime(5_000);
    expect(stalls).toBe(1);
  });

  it('does not count a wait that ended, and times a new wait from its own start', () => {
    fake();
    let stalls = 0;
    const t = new StallTimer(1_000, () => stalls++);
    t.update(true, false);
    vi.advanceTimersByTime(100);
    t.update(false, false); // the request arrived whole
    vi.advanceTimersByTime(800);
    t.update(true, false); // the next one starts at 900: its deadline is 1,900
    vi.advanceTimersByTime(999);
    expect(stalls).toBe(0);
    vi.advanceTimersByTime(1);
    expect(stalls).toBe(1);
  });

  it('arms no timer per wait (one per connection), and stop() clears it', () => {
    fake();
    const armed = vi.spyOn(globalThis, 'setTimeout');
    let stalls = 0;
    const t = new StallTimer(1_000, () => stalls++);
    for (let i = 0; i < 1_000; i++) {
      t.update(true, false); // a request's first bytes
      t.update(true, true); // more of it
      t.update(false, false); // whole
    }
    expect(armed).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(10_000);
    expect(stalls).toBe(0);
    expect(vi.getTimerCount()).toBe(0); // nothing waits: the timer was not re-armed
    t.update(true, false);
    t.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(stalls).toBe(0);
  });

  it('is disabled with ms 0', () => {
    fake();
    let stalls = 0;
    const t = new StallTimer(0, () => stalls++);
    t.update(true, false);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(stalls).toBe(0);
  });
});
