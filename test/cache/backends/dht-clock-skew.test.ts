/**
 * A node whose clock is off must not void invalidations nor stretch TTLs on
 * the other nodes. Separate node processes on one DHT network: two with a
 * correct clock (B deletes, C reads) and four whose `Date.now` is shifted by a
 * test-only preload (test/helpers/skewed-clock.mjs): 5 s and 10 min, ahead and
 * behind. docs/dht.md, "Clocks".
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from '../../../src/codec/index.js';
import { generatePsk } from '../../../src/network/index.js';
import { NodeProcess, startProcesses, stopProcesses, waitForMesh } from '../../helpers/cluster.js';

const PRELOAD = fileURLToPath(new URL('../../helpers/skewed-clock.mjs', import.meta.url));
const TOLERANCE_MS = 1_000; // the default cache.dht.clockToleranceMs
const SKEWS = [5_000, 600_000, -5_000, -600_000];

describe('DHT cache with a node whose clock is off', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshcache-skew-'));
  const db = join(dir, 'users.json');
  const psk = generatePsk();
  const common = { network: 'skew-test', psk, db };
  let correct: NodeProcess[] = [];
  const skewed = new Map<number, NodeProcess>();
  const all = () => [...correct, ...skewed.values()];
  beforeAll(async () => {
    writeFileSync(db, JSON.stringify({ 1: 'Ada Lovelace' }));
    correct = await startProcesses(2, { ...common, namePrefix: 'correct' });
    const bootstrap = correct[0]?.ready.addresses ?? [];
    const started = await Promise.allSettled(
      SKEWS.map((skew) =>
        NodeProcess.spawn({
          ...common,
          name: `skew${skew > 0 ? '+' : ''}${skew}`,
          bootstrap,
          imports: [PRELOAD],
          env: { MESHCACHE_TEST_CLOCK_SKEW_MS: String(skew) },
        }),
      ),
    );
    started.forEach((s, i) => {
      if (s.status === 'fulfilled') skewed.set(SKEWS[i] as number, s.value);
    });
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    await waitForMesh(all(), 5, 60_000);
  }, 120_000);
  afterAll(async () => {
    await stopProcesses(all());
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(SKEWS.map((skew, i) => ({ skew, id: 10 + i })))(
    'a delete on a correct node wins over the write of a node $skew ms off (the next read is a miss)',
    async ({ skew, id }) => {
      const [b, c] = correct as [NodeProcess, NodeProcess];
      const s = skewed.get(skew) as NodeProcess;
      expect((await s.request('user/get_user', { id })).ran).toBe(true);
      // B had not read the key: its clock has not followed the skewed record.
      // Every holder took the tombstone: the result says so.
      expect((await b.request('user/cache/delete', { key: `get_user:${id}` })).result).toEqual({
        deleted: true,
        holders: { reached: 3, total: 3 },
      });
      const onC = await c.request('user/get_user', { id });
      expect(onC.ran).toBe(true);
      // The skewed node dropped its own copy too: it reads C's value.
      const onS = await s.request('user/get_user', { id });
      expect(onS.ran).toBe(false);
      expect(onS.result).toMatchObject({ computedBy: c.name });
    },
  );

  it.each(SKEWS)(
    "the TTL of a node %i ms off does not stretch the entry's life on other nodes",
    async (skew) => {
      const [b, c] = correct as [NodeProcess, NodeProcess];
      const s = skewed.get(skew) as NodeProcess;
      const key = `cache:skew-ttl:${skew}`;
      await s.call({ cmd: 'dht', op: 'set', key, value: encodeValue({ skew }), ttl: 2 });
      const setAt = Date.now();
      const read = async (p: NodeProcess) =>
        decodeValue(String((await p.call({ cmd: 'dht', op: 'get', key })).value));
      expect(await read(c)).toEqual({ skew }); // usable on the other nodes, in their clock
      const wait = setAt + 2_000 + TOLERANCE_MS + 300 - Date.now();
      await new Promise((r) => setTimeout(r, Math.max(0, wait)));
      expect(await read(c)).toBeUndefined();
      expect(await read(b)).toBeUndefined();
    },
  );

  it('the correct nodes log the skewed peers, naming them and their offset, once per window', async () => {
    for (const p of correct) {
      const warnings = p.stderr
        .join('')
        .split('\n')
        .filter((l) => l.includes('offsetMs'))
        .map((l) => JSON.parse(l) as { peer: string; offsetMs: number; msg: string });
      for (const [skew, s] of skewed) {
        const mine = warnings.filter((w) => w.peer === s.ready.peerId);
        expect(mine.length).toBeGreaterThanOrEqual(1);
        expect(mine.length).toBeLessThanOrEqual(2); // at most once per peer per minute
        expect(Math.abs((mine[0]?.offsetMs ?? 0) - skew)).toBeLessThan(TOLERANCE_MS);
        expect(mine[0]?.msg).toContain(s.ready.peerId);
      }
      // No correct peer is reported.
      for (const q of correct) expect(warnings.some((w) => w.peer === q.ready.peerId)).toBe(false);
    }
  });
});
