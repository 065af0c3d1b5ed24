// The scale benchmark's harness at 5 and 6 nodes with short windows: it starts the node and bare
// processes (a node each, or several to a process), measures every column with plausible values,
// and leaves no process behind.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { alive } from '../../bench/scale/procfs.js';
import { scaleTables } from '../../bench/scale/report.js';
import { runScale, type ScaleOptions } from '../../bench/scale/run-size.js';

const short: ScaleOptions = {
  idleMs: 3_000,
  settleMs: 1_000,
  loadMs: 3_000,
  load: { reads: 20, writes: 2, deletes: 1 },
  joinTimeoutMs: 30_000,
  perWriter: 10,
  reachRounds: 3,
  calls: 20,
  bare: true,
  concurrency: 4,
  perProcess: () => 1,
  progress: () => {},
};

describe('bench/scale harness', () => {
  it('measures a 5-node network and stops every process', { timeout: 90_000 }, async () => {
    // The node processes run the built code.
    execFileSync('npm', ['run', '-s', 'build:bench'], { stdio: ['ignore', 'ignore', 'inherit'] });
    const r = await runScale(5, short);
    expect(r.processes).toBe(5);
    expect(r.bareProcesses).toBe(5);
    expect(r.joinMs).toBeGreaterThan(0);
    expect(r.members.min).toBe(4);
    for (const l of [r.dht.hit, r.dht.miss, r.dht.put, r.call, r.reach.slowest]) {
      expect(l.n).toBeGreaterThan(0);
      expect(l.p50).toBeGreaterThan(0);
      expect(l.p99).toBeGreaterThanOrEqual(l.p50);
    }
    expect(r.call.failures).toBe(0);
    // Every node applied every revoke.
    expect(r.reach.nodesReached).toBe(r.reach.nodesExpected);
    for (const w of [r.idle, r.loaded, r.bareIdle]) {
      expect(w?.cpu.mean).toBeGreaterThan(0);
      expect(w?.rssMiB.min).toBeGreaterThan(20);
      expect(w?.connections.min).toBeGreaterThanOrEqual(4);
    }
    // Under load, reads and their replies are counted, and deletes reach the others as control messages.
    expect(r.loaded.perKind['rec:get']).toBeGreaterThan(0);
    expect(r.loaded.perKind['rec:reply']).toBeGreaterThan(0);
    expect(Object.keys(r.loaded.receivedPerKind).some((k) => k.startsWith('ctl:'))).toBe(true);
    expect(r.loadDone.reads).toBeGreaterThan(0);
    expect(scaleTables([r])).toContain('| 5 | 5 |');
    // 5 node processes and 5 bare ones, all gone.
    expect(r.pids).toHaveLength(10);
    expect(r.leftovers).toBe(0);
    expect(r.pids.filter(alive)).toEqual([]);
  });

  it('runs several nodes to a process and splits their cost', { timeout: 90_000 }, async () => {
    // 7 nodes, 3 to a process: processes of 3, 3 and 1 node, on each side.
    const r = await runScale(7, { ...short, perProcess: (n) => (n === 7 ? 3 : 1) });
    expect(r.processes).toBe(3);
    expect(r.bareProcesses).toBe(3);
    expect(r.members.min).toBe(6);
    for (const l of [r.dht.hit, r.dht.miss, r.dht.put, r.call, r.reach.slowest]) {
      expect(l.n).toBeGreaterThan(0);
      expect(l.p99).toBeGreaterThanOrEqual(l.p50);
    }
    expect(r.call.failures).toBe(0);
    expect(r.reach.nodesReached).toBe(r.reach.nodesExpected);
    expect(r.reach.nodesExpected).toBe(3 * 7);
    // A process's RSS is split among its nodes: a node of three shows about a third of a process.
    expect(r.idle.rssMiB.min).toBeLessThan(r.idle.rssMiB.max);
    expect(r.bareConnected.min).toBe(6);
    expect(scaleTables([r])).toContain('| 7 | 3 |');
    expect(r.pids).toHaveLength(6);
    expect(r.pids.filter(alive)).toEqual([]);
  });
});
