/**
 * Nodes as separate OS processes (examples/dht-node.ts) on a private network:
 * a value computed in one process is a hit in another, an event-driven
 * invalidation reaches every process, a process without the key cannot join,
 * and a killed process does not take the entry with it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePsk } from '../../../src/network/index.js';
import { NodeProcess, startProcesses, stopProcesses, waitForMesh } from '../../helpers/cluster.js';

describe('DHT cache across node processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshcache-proc-'));
  const db = join(dir, 'users.json');
  const psk = generatePsk();
  let procs: NodeProcess[] = [];
  const extra: NodeProcess[] = [];
  beforeAll(async () => {
    writeFileSync(db, JSON.stringify({ 1: 'Ada Lovelace', 2: 'Alan Turing' }));
    procs = await startProcesses(4, { network: 'proc-test', psk, db, replication: 2 });
    await waitForMesh(procs, 3, 60_000);
  }, 120_000);
  afterAll(async () => {
    await stopProcesses([...procs, ...extra]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a miss in process A is a hit in process C', async () => {
    const [a, , c] = procs as [NodeProcess, NodeProcess, NodeProcess];
    const first = await a.request('user/get_user', { id: 1 });
    expect(first.ran).toBe(true);
    const onC = await c.request('user/get_user', { id: 1 });
    expect(onC.ran).toBe(false);
    expect(onC.result).toEqual({ id: 1, name: 'Ada Lovelace', computedBy: a.name });
  });

  it('an update published in one process invalidates the entry in every process', async () => {
    for (const p of procs)
      expect((await p.request('user/get_user', { id: 2 })).result).toMatchObject({ name: 'Alan Turing' });
    const watches = await Promise.all(procs.map((p) => p.watch({ key: 'cache:proc-test/user/get_user:2' })));
    await procs[1]?.request('user/update_user', { id: 2, name: 'Alan M. Turing' });
    const applied = await Promise.all(watches.map((w) => w.applied));
    expect(applied.every((t) => t > 0)).toBe(true);
    // Every process applies the event rule itself, and the event travels by gossip, slower than
    // the delete's direct sends: a process that gets it late deletes again. Let those land first.
    await new Promise((r) => setTimeout(r, 500));
    // One by one: the first process recomputes, the others hit its new value.
    const after = [];
    for (const p of procs) after.push(await p.request('user/get_user', { id: 2 }));
    for (const r of after) expect(r.result).toMatchObject({ name: 'Alan M. Turing' });
    expect(after.map((r) => r.ran)).toEqual([true, false, false, false]);
  });

  it('a process without the pre-shared key does not join', async () => {
    const outsider = await NodeProcess.spawn({
      network: 'proc-test',
      name: 'outsider',
      bootstrap: procs[0]?.ready.addresses,
    });
    extra.push(outsider);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await outsider.call({ cmd: 'info' })).peers).toEqual([]);
    const r = await outsider.request('user/get_user', { id: 1 });
    expect(r.ran).toBe(true); // alone: computes itself, never sees the network's cache
    for (const p of procs) expect((await p.call({ cmd: 'info' })).peers).not.toContain(outsider.ready.peerId);
  });

  it('killing a process does not lose the entry', async () => {
    const [a, b, c, d] = procs as [NodeProcess, NodeProcess, NodeProcess, NodeProcess];
    await a.request('user/get_user', { id: 3 });
    b.child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    const onD = await d.request('user/get_user', { id: 3 });
    const onC = await c.request('user/get_user', { id: 3 });
    expect([onD.ran, onC.ran]).toEqual([false, false]);
  });
});
