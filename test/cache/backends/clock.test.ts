import { describe, expect, it } from 'vitest';
import { clockSource, clockWorkerAlive, tuneClock, wallNow } from '../../../src/cache/backends/clock.js';
import { MemoryBackend, Node } from '../../../src/index.js';
import { useNodes } from '../../helpers/nodes.js';

const nodes = useNodes();

async function waitUntil(ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

/** Keeps the event loop busy (no timer, no microtask can run) for `ms`. */
function block(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy
  }
}

describe('expiry while the event loop is blocked', () => {
  it('the clock advances during a synchronous stretch', () => {
    const before = wallNow();
    block(120);
    const after = wallNow();
    expect(after - before).toBeGreaterThanOrEqual(110);
    expect(Math.abs(Date.now() - wallNow())).toBeLessThanOrEqual(5);
  });

  it('an entry past its TTL is not served after 300 ms of blocking in the same macrotask', async () => {
    const mem = new MemoryBackend({ sweepIntervalMs: 0 });
    mem.set('k', 'v', 0.1);
    expect(mem.get('k')).toBe('v');
    block(300);
    expect(mem.get('k')).toBeUndefined();
    mem.close?.();
  });

  it('after awaiting a hit, blocking, then another hit: expired', async () => {
    const mem = new MemoryBackend({ sweepIntervalMs: 0 });
    mem.set('k', 'v', 0.1);
    expect(await Promise.resolve(mem.get('k'))).toBe('v');
    block(300);
    expect(await Promise.resolve(mem.get('k'))).toBeUndefined();
  });

  it('a set made late in a blocked stretch does not expire early', async () => {
    const mem = new MemoryBackend({ sweepIntervalMs: 0 });
    mem.set('warm-the-clock', 1, 60);
    block(300);
    mem.set('k', 'v', 0.3);
    await new Promise((r) => setTimeout(r, 100));
    expect(mem.get('k')).toBe('v');
  });

  it('through node.request: a 100 ms entry is recomputed after 300 ms of CPU work', async () => {
    const node = nodes.track(new Node({ env: {} }));
    let calls = 0;
    node.addService({
      name: 'user',
      actions: { get_user: { cache: { ttl: 0.1, keys: ['id'] }, handler: () => ++calls } },
    });
    await node.start();
    expect(await node.request('user/get_user', { id: 1 })).toBe(1);
    expect(await node.request('user/get_user', { id: 1 })).toBe(1);
    block(300);
    expect(await node.request('user/get_user', { id: 1 })).toBe(2);
  });
});

describe('the clock thread', () => {
  it('a few reads do not start it (they are Date.now())', async () => {
    for (let i = 0; i < 100; i++) wallNow();
    await new Promise((r) => setTimeout(r, 200));
    expect(clockSource()).toBe('date');
    expect(clockWorkerAlive()).toBe(false);
  });

  it('starts once reads are frequent and then serves reads from shared memory', async () => {
    for (let i = 0; i < 10_000; i++) wallNow();
    await waitUntil(() => clockSource() === 'worker', 5_000);
    expect(clockSource()).toBe('worker');
    const a = wallNow();
    await new Promise((r) => setTimeout(r, 30));
    expect(wallNow() - a).toBeGreaterThanOrEqual(20);
  });

  it('parks when idle and answers right when read again', async () => {
    for (let i = 0; i < 10_000; i++) wallNow();
    await new Promise((r) => setTimeout(r, 1_300));
    const read = wallNow();
    expect(Math.abs(read - Date.now())).toBeLessThanOrEqual(5);
    block(50);
    expect(wallNow() - read).toBeGreaterThanOrEqual(45);
  });

  it('exits after a long park, giving its memory back, and comes back with the next burst', async () => {
    tuneClock({ exitAfterMs: 200 });
    try {
      for (let i = 0; i < 10_000; i++) wallNow();
      await waitUntil(() => clockSource() === 'worker', 5_000);
      // Idle: parks after ~1 s of ticks, exits 200 ms later.
      await waitUntil(() => !clockWorkerAlive(), 5_000);
      expect(clockWorkerAlive()).toBe(false);
      expect(clockSource()).toBe('date');
      expect(Math.abs(wallNow() - Date.now())).toBeLessThanOrEqual(2);
      for (let i = 0; i < 10_000; i++) wallNow();
      await waitUntil(() => clockSource() === 'worker', 5_000);
      expect(clockSource()).toBe('worker');
      expect(Math.abs(wallNow() - Date.now())).toBeLessThanOrEqual(5);
    } finally {
      tuneClock({ exitAfterMs: 10_000 });
    }
  });
});
