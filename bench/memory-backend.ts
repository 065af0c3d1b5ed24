/**
 * The memory backend alone vs lru-cache 11 with ttl: get-hit and set
 * ops/s in the same run, and heap bytes per entry for 1M small entries.
 */
import { LRUCache } from 'lru-cache';
import { MemoryBackend } from '../src/cache/backends/memory.js';
import { type Case, measure, table } from './harness.js';

const N = 100_000;

function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function bytesPerEntry(fill: (keys: string[], value: object) => unknown, count: number): number {
  const keys = Array.from({ length: count }, (_, i) => `cache:default/user/get_user:${i}`);
  const value = { ok: true };
  const before = heapUsed();
  const keep = fill(keys, value);
  const after = heapUsed();
  if (keep === undefined) throw new Error('unreachable');
  return (after - before) / count;
}

export async function benchMemoryBackend(): Promise<string> {
  const keys = Array.from({ length: N }, (_, i) => `cache:default/user/get_user:${i}`);
  const value = { id: 1, name: 'x' };
  const mem = new MemoryBackend({ maxEntries: N * 2, sweepIntervalMs: 0 });
  const memEntriesOnly = new MemoryBackend({ maxEntries: N * 2, maxBytes: 0, sweepIntervalMs: 0 });
  const lru = new LRUCache<string, object>({ max: N * 2, ttl: 3_600_000 });
  for (const k of keys) {
    mem.set(k, value, 3600);
    memEntriesOnly.set(k, value, 3600);
    lru.set(k, value);
  }
  let i = 0;
  const getCases: Case[] = [
    {
      name: 'lru-cache 11 get (ttl)',
      run: (n) => {
        for (let k = 0; k < n; k++) {
          i = (i + 1) % N;
          lru.get(keys[i]);
        }
      },
    },
    {
      name: 'MemoryBackend get (entries+bytes bound)',
      run: (n) => {
        for (let k = 0; k < n; k++) {
          i = (i + 1) % N;
          mem.get(keys[i]);
        }
      },
    },
    {
      name: 'MemoryBackend get (entries bound)',
      run: (n) => {
        for (let k = 0; k < n; k++) {
          i = (i + 1) % N;
          memEntriesOnly.get(keys[i]);
        }
      },
    },
  ];
  const setCases: Case[] = [
    {
      name: 'lru-cache 11 set (ttl)',
      run: (n) => {
        for (let k = 0; k < n; k++) {
          i = (i + 1) % N;
          lru.set(keys[i], value);
        }
      },
    },
    {
      name: 'MemoryBackend set (entries+bytes bound)',
      run: (n) => {
        for (let k = 0; k < n; k++) {
          i = (i + 1) % N;
          mem.set(keys[i], value, 3600);
        }
      },
    },
    {
      name: 'MemoryBackend set (entries bound)',
      run: (n) => {
        for (let k = 0; k < n; k++) {
          i = (i + 1) % N;
          memEntriesOnly.set(keys[i], value, 3600);
        }
      },
    },
  ];
  const out = [
    table(
      `get (hit), ${N.toLocaleString('en-US')} entries`,
      await measure(getCases),
      'lru-cache 11 get (ttl)',
    ),
    table('set (overwrite)', await measure(setCases), 'lru-cache 11 set (ttl)'),
  ];
  mem.close();
  memEntriesOnly.close();
  lru.clear();

  const M = 1_000_000;
  const hasGc = typeof (globalThis as { gc?: unknown }).gc === 'function';
  const rows = [
    [
      'lru-cache 11 (max, ttl)',
      bytesPerEntry((ks, v) => {
        const c = new LRUCache<string, object>({ max: M, ttl: 3_600_000 });
        for (const k of ks) c.set(k, v);
        return c;
      }, M),
    ],
    [
      'MemoryBackend (entries+bytes bound)',
      bytesPerEntry((ks, v) => {
        const c = new MemoryBackend({ maxEntries: M, sweepIntervalMs: 0 });
        for (const k of ks) c.set(k, v, 3600);
        return c;
      }, M),
    ],
    [
      'MemoryBackend (entries bound)',
      bytesPerEntry((ks, v) => {
        const c = new MemoryBackend({ maxEntries: M, maxBytes: 0, sweepIntervalMs: 0 });
        for (const k of ks) c.set(k, v, 3600);
        return c;
      }, M),
    ],
  ] as const;
  out.push(
    [
      `### Bytes per entry (heap + typed-array buffers), 1M small entries (keys and the shared value allocated beforehand${hasGc ? '' : '; run with --expose-gc for stable numbers'})`,
      '',
      '| store | bytes/entry |',
      '|---|---:|',
      ...rows.map(([n, b]) => `| ${n} | ${b.toFixed(1)} |`),
    ].join('\n'),
  );
  return out.join('\n\n');
}
