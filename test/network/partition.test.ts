/**
 * The staleness bound under a real partition: node processes and a
 * redis-server in Linux network namespaces (test/helpers/netns.ts), one node's
 * link cut for 5 s and 20 s while another deletes the entry it holds a near
 * copy (or a DHT record) of. No node may serve the old value later than
 * `cache.coherence.maxStalenessMs` after the delete resolved, no request may
 * fail meanwhile, and nothing stale comes back once the link does.
 */
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeProcess, stopProcesses, waitForMesh } from '../helpers/cluster.js';
import { NetnsLab, netnsAvailable, sweepStaleLabs } from '../helpers/netns.js';
import {
  type CutReport,
  describeCut,
  P2P_PORT,
  runCut,
  SharedDb,
  startNodeIn,
  startRedisIn,
  waitNearLive,
} from '../helpers/partition.js';
import { redisAvailable } from '../helpers/redis-server.js';

const netns = netnsAvailable();
const redis = redisAvailable();
/** `cache.coherence.maxStalenessMs` given to every node (the default). */
const BOUND_MS = 1000;
/** Process scheduling on a loaded 2-core machine: a loop turn, a timer, a pipe. */
const SLACK_MS = 300;
const CUTS = [5_000, 20_000];

/** The root namespace's links, addresses and routes: the harness must leave them as they were. */
const rootNetwork = () =>
  ['link', 'addr', 'route']
    .map((what) => spawnSync('ip', ['-o', what, 'show'], { encoding: 'utf8' }).stdout.replace(/\s+/g, ' '))
    .join('\n');

/** The checks every cut makes, whichever backend. */
function expectBounded(report: CutReport, victim: string): void {
  const v = report.nodes[victim]!;
  // The harness did its part: the victim had the old value, kept answering through the cut.
  expect(v.oldBeforeCut).toBeGreaterThan(0);
  expect(v.answersDuringCut).toBeGreaterThan(0);
  for (const [name, n] of Object.entries(report.nodes)) {
    expect(n.failures, `failed requests on ${name}`).toEqual([]);
    expect
      .soft(n.staleWindowMs, `${name}: last stale answer after the delete`)
      .toBeLessThanOrEqual(BOUND_MS + SLACK_MS);
    expect.soft(n.staleAfterRestore, `${name}: stale answers after the link came back`).toBe(0);
  }
}

describe.skipIf(!netns)('the namespace harness', () => {
  it('links participants, cuts and restores one silently, leaves the root namespace alone, removes everything', async () => {
    const before = rootNetwork();
    const lab = await NetnsLab.create(['x', 'y']);
    const listener = lab.spawn('y', process.execPath, [
      '-e',
      `require('node:net').createServer((s) => s.end()).listen(7000, '${lab.address('y')}')`,
    ]);
    try {
      expect(lab.existing()).toHaveLength(3);
      expect(rootNetwork()).toBe(before);
      await expect.poll(() => lab.canConnect('x', lab.address('y'), 7000), { timeout: 10_000 }).toBe(true);
      await lab.cut('x');
      expect(await lab.linked('x')).toBe(false);
      const t = Date.now();
      expect(await lab.canConnect('x', lab.address('y'), 7000, 1500)).toBe(false);
      // Dropped, not refused: the attempt ran into its timeout.
      expect(Date.now() - t).toBeGreaterThanOrEqual(1400);
      await lab.restore('x');
      expect(await lab.canConnect('x', lab.address('y'), 7000, 3000)).toBe(true);
    } finally {
      await lab.destroy();
    }
    expect(lab.existing()).toEqual([]);
    expect(listener.exitCode !== null || listener.signalCode !== null).toBe(true);
    expect(rootNetwork()).toBe(before);
  });

  it('sweeps the namespaces and processes of a run that died, and only those', async () => {
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    const stale = `mcnet${dead.pid}x1-a`;
    const ours = `mcnet${process.pid}x999-a`;
    spawnSync('ip', ['netns', 'add', stale]);
    spawnSync('ip', ['netns', 'add', ours]);
    const sleeper = spawn('ip', ['netns', 'exec', stale, 'sleep', '60']);
    try {
      await new Promise((r) => setTimeout(r, 200));
      expect(sweepStaleLabs()).toEqual([stale]);
      await new Promise((r) => (sleeper.exitCode === null ? sleeper.once('exit', r) : r(null)));
      expect(sleeper.signalCode).toBe('SIGKILL');
      const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
      expect(left).not.toContain(stale);
      expect(left).toContain(ours);
    } finally {
      sleeper.kill('SIGKILL');
      spawnSync('ip', ['netns', 'del', stale]);
      spawnSync('ip', ['netns', 'del', ours]);
    }
  });
});

describe.skipIf(!netns || !redis)('partition: Redis with the near tier', () => {
  let lab: NetnsLab;
  const db = new SharedDb();
  const nodes: Record<string, NodeProcess> = {};

  beforeAll(async () => {
    lab = await NetnsLab.create(['redis', 'a', 'c']);
    const redisUrl = await startRedisIn(lab, 'redis', db.dir);
    const [a, c] = await Promise.all(
      ['a', 'c'].map((n) =>
        startNodeIn(lab, n, { backend: 'redis', redisUrl, db, maxStalenessMs: BOUND_MS }),
      ),
    );
    Object.assign(nodes, { a, c });
    if ((a?.ready as { coherenceOption?: boolean } | undefined)?.coherenceOption === false)
      console.warn('[partition] this build refuses cache.coherence: the nodes run with the defaults');
  }, 120_000);

  afterAll(async () => {
    await stopProcesses(Object.values(nodes));
    await lab?.destroy();
    db.remove();
    expect(lab?.existing() ?? []).toEqual([]);
  });

  it.each(CUTS)(
    'A cut off for %i ms while C deletes: stale at most maxStalenessMs, no failed request',
    async (cutMs) => {
      const { a, c } = nodes as { a: NodeProcess; c: NodeProcess };
      const id = cutMs;
      await waitNearLive([a, c]);
      expect((await a.request('user/get', { id })).result).toMatchObject({ version: db.version });
      expect((await a.request('user/get', { id })).ran).toBe(false); // a near hit from now on
      const report = await runCut({ lab, nodes, victim: 'a', deleter: 'c', db, id, cutMs });
      console.log(describeCut(`redis, cut ${cutMs} ms`, report));
      expect(report.deleteResult).toMatchObject({ deleted: true });
      expectBounded(report, 'a');
    },
    120_000,
  );
});

describe.skipIf(!netns)('partition: the DHT backend', () => {
  let lab: NetnsLab;
  const db = new SharedDb();
  const network = `partition-${process.pid}`;
  const nodes: Record<string, NodeProcess> = {};
  const used = new Set<number>();

  beforeAll(async () => {
    lab = await NetnsLab.create(['b', 'a', 'c', 'd']);
    const options = { backend: 'dht' as const, db, network, replication: 3, maxStalenessMs: BOUND_MS };
    const b = await startNodeIn(lab, 'b', options);
    const bootstrap = [`/ip4/${lab.address('b')}/tcp/${P2P_PORT}/p2p/${b.ready.peerId}`];
    const rest = await Promise.all(
      ['a', 'c', 'd'].map((n) => startNodeIn(lab, n, { ...options, bootstrap })),
    );
    Object.assign(nodes, { b, a: rest[0], c: rest[1], d: rest[2] });
    await waitForMesh(Object.values(nodes), 3, 60_000);
  }, 180_000);

  afterAll(async () => {
    await stopProcesses(Object.values(nodes));
    await lab?.destroy();
    db.remove();
    expect(lab?.existing() ?? []).toEqual([]);
  });

  /** An id whose entry A holds (one of its `replication` closest peers), not used by another case. */
  async function keyHeldByA(): Promise<number> {
    for (let id = 1; id < 200; id++) {
      if (used.has(id)) continue;
      const r = await nodes.a!.call({ cmd: 'holders', key: `cache:${network}/user/get:${id}` });
      if ((r.holders as string[] | null)?.includes(String(r.self))) {
        used.add(id);
        return id;
      }
    }
    throw new Error('no key among 200 has A as a holder');
  }

  it.each(CUTS)(
    'A (a holder) cut off for %i ms while C deletes: stale at most maxStalenessMs, holders reported',
    async (cutMs) => {
      const { a, c } = nodes as { a: NodeProcess; c: NodeProcess };
      await waitForMesh(Object.values(nodes), 3, 60_000); // A is back from the previous cut
      await waitNearLive(Object.values(nodes));
      const id = await keyHeldByA();
      const key = `cache:${network}/user/get:${id}`;
      expect((await c.request('user/get', { id })).ran).toBe(true);
      expect((await a.request('user/get', { id })).result).toMatchObject({ version: db.version });
      expect(await a.call({ cmd: 'holders', key })).toMatchObject({ holds: true });
      const report = await runCut({
        lab,
        nodes,
        victim: 'a',
        deleter: 'c',
        db,
        id,
        cutMs,
        afterRestoreMs: 4000,
      });
      console.log(describeCut(`dht, cut ${cutMs} ms`, report));
      expect(report.deleteResult).toMatchObject({ deleted: true });
      expectBounded(report, 'a');
      // The delete could not reach A: it says so, and warns.
      const holders = report.deleteResult.holders as { reached: number; total: number } | undefined;
      expect.soft(holders, 'delete result holders').toBeDefined();
      expect.soft(holders?.reached ?? Number.NaN).toBeLessThan(holders?.total ?? Number.NaN);
      expect
        .soft(
          report.deleterWarnings.some((w) => /holder/i.test(JSON.stringify(w))),
          'a warning on C',
        )
        .toBe(true);
    },
    120_000,
  );
});
