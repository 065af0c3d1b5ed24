/**
 * The staleness bound with a frozen member (SIGSTOP: its connections stay open
 * and silent, as in a partition): the others go out of touch within the bound
 * and answer every request meanwhile; the silent member is suspected and the
 * majority goes on; a delete it could not take reports the holders reached.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeProcess, startProcesses, stopProcesses } from '../helpers/cluster.js';

interface Touch {
  inTouch: boolean;
  sent: number;
  received: number;
  lapses: number;
  suspected: number;
}

async function touch(p: NodeProcess): Promise<Touch> {
  return (await p.call({ cmd: 'info' })).touch as Touch;
}

/** Polls `p` until its touch state is `want`; returns how long it took, ms. */
async function until(p: NodeProcess, want: boolean, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    if ((await touch(p)).inTouch === want) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${p.name} not ${want ? 'in' : 'out of'} touch after ${timeoutMs} ms`);
}

/**
 * Starts `count` node processes before the tests of the enclosing describe (then lets them
 * exchange heartbeats for 1.5 s) and stops them after, waking any a test froze.
 */
function processesFor(count: number, options: Parameters<typeof startProcesses>[1]): NodeProcess[] {
  const procs: NodeProcess[] = [];
  beforeAll(async () => {
    procs.push(...(await startProcesses(count, options)));
    await new Promise((r) => setTimeout(r, 1_500));
  }, 120_000);
  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGCONT');
    await stopProcesses(procs);
  }, 60_000);
  return procs;
}

describe('heartbeats among members (default bound 1000 ms)', () => {
  const procs = processesFor(4, { network: 'hb', backend: 'dht', replication: 3 });

  it('heartbeats flow and every member is in touch while the network works', async () => {
    for (const p of procs) {
      const t = await touch(p);
      expect(t.inTouch).toBe(true);
      expect(t.sent).toBeGreaterThan(0);
      expect(t.received).toBeGreaterThan(0);
    }
  });

  it('a frozen member: the others go out of touch within the bound, answer every request, then suspect it and go on', async () => {
    const [a, b, , frozen] = procs as [NodeProcess, NodeProcess, NodeProcess, NodeProcess];
    await a.request('user/get_user', { id: 1 });
    const stoppedAt = performance.now();
    frozen.child.kill('SIGSTOP');
    try {
      await until(a, false, 3_000);
      // Its last heartbeat came at most one interval (250 ms) before the freeze.
      expect(performance.now() - stoppedAt).toBeLessThan(1_000 + 300);
      // Every request is answered meanwhile (from the DHT's other holders, or the handler).
      for (let i = 0; i < 5; i++) {
        const r = await a.request('user/get_user', { id: 1 });
        expect(r.result).toMatchObject({ id: 1 });
      }
      // Suspected after twice the bound (2 s): three of four hold a majority, and are back in touch.
      await until(a, true, 8_000);
      await until(b, true, 8_000);
      expect((await touch(a)).suspected).toBeGreaterThan(0);
    } finally {
      frozen.child.kill('SIGCONT');
    }
    // The frozen member comes back (it redials) and everyone is in touch again.
    await until(frozen, true, 20_000);
    await until(a, true, 20_000);
  }, 60_000);
});

describe('memory backends on a network with coherence.boundMemory', () => {
  // A bound of 500 ms: cleared every 500 ms while out of touch; the silent member is suspected after 2 s.
  const procs = processesFor(3, {
    network: 'hbmem',
    backend: 'memory',
    args: ['--bound-memory', '--max-staleness-ms', '500'],
  });

  it('a node out of touch clears its memory backend and keeps clearing it: nothing it held is served', async () => {
    const [a, , frozen] = procs as [NodeProcess, NodeProcess, NodeProcess];
    expect((await a.request('user/get_user', { id: 2 })).ran).toBe(true);
    expect((await a.request('user/get_user', { id: 2 })).ran).toBe(false); // a memory hit
    frozen.child.kill('SIGSTOP');
    try {
      await until(a, false, 3_000);
      expect((await a.request('user/get_user', { id: 2 })).ran).toBe(true);
      // Stored again, then cleared again within the bound while still out of touch (before it is suspected).
      await new Promise((r) => setTimeout(r, 600));
      expect((await touch(a)).inTouch).toBe(false);
      expect((await a.request('user/get_user', { id: 2 })).ran).toBe(true);
    } finally {
      frozen.child.kill('SIGCONT');
    }
  }, 60_000);
});
