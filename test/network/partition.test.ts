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
import { NetnsLab, netnsAvailable, sweepStaleLabs } from '../helpers/netns.js';
import { type CutReport, describeCut, runCut } from '../helpers/partition.js';
import { dhtScenario, redisScenario, type Scenario } from '../helpers/partition-setup.js';
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
      expect(sweepStaleLabs()).toContain(stale);
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

/** One cut per length on a scenario started once: the victim A, the deleter C. */
function cutCases(start: () => Promise<Scenario>, backend: 'redis' | 'dht') {
  let scenario: Scenario | undefined;
  beforeAll(async () => {
    scenario = await start();
    if (!scenario.coherenceOption)
      console.warn('[partition] this build refuses cache.coherence: the nodes run with its defaults');
  }, 180_000);
  afterAll(async () => {
    expect(await scenario?.close()).toEqual([]);
  }, 60_000);

  it.each(CUTS)(
    'A cut off for %i ms while C deletes',
    async (cutMs) => {
      const s = scenario!;
      const ready = await s.prepare();
      expect(ready.victimHit).toBe(true);
      if (backend === 'dht') expect(ready.victimHolds).toBe(true);
      const { lab, nodes, db } = s;
      const report = await runCut({ lab, nodes, db, id: ready.id, victim: 'a', deleter: 'c', cutMs });
      console.log(describeCut(`${backend}, cut ${cutMs} ms`, report));
      expect(report.deleteResult).toMatchObject({ deleted: true });
      expectBounded(report, 'a');
      if (backend === 'dht') {
        // The delete could not reach A: it says so, and warns.
        const holders = report.deleteResult.holders as { reached: number; total: number } | undefined;
        expect.soft(holders, 'the delete result holders').toBeDefined();
        expect
          .soft(holders?.reached ?? Number.NaN, 'holders reached')
          .toBeLessThan(holders?.total ?? Number.NaN);
        const warned = report.deleterWarnings.some((w) => /holder/i.test(JSON.stringify(w)));
        expect.soft(warned, 'a warning on C naming the holders').toBe(true);
      }
    },
    120_000,
  );
}

describe.skipIf(!netns || !redis)('partition: Redis with the near tier', () => {
  cutCases(() => redisScenario(BOUND_MS), 'redis');
});

describe.skipIf(!netns)('partition: the DHT backend', () => {
  cutCases(() => dhtScenario(BOUND_MS), 'dht');
});
