/**
 * 1,000 concurrent misses of one key run the handler exactly once.
 */
import { pino } from 'pino';
import { Node } from '../src/index.js';

export async function benchCoalescing(): Promise<string> {
  let calls = 0;
  const node = new Node({ logger: pino({ level: 'silent' }) });
  node.addService({
    name: 'slow',
    actions: {
      compute: {
        cache: { ttl: 60, keys: ['id'] },
        handler: async (_ctx, p: { id: number }) => {
          calls++;
          await new Promise((r) => setTimeout(r, 20));
          return { id: p.id, at: Date.now() };
        },
      },
    },
  });
  await node.start();
  const t = performance.now();
  const results = await Promise.all(
    Array.from({ length: 1000 }, () => node.request('slow/compute', { id: 42 })),
  );
  const ms = performance.now() - t;
  const same = results.every((r) => r === results[0]);
  const s = node.cache.stats();
  await node.stop();
  return [
    '### 1,000 concurrent misses of one key',
    '',
    '| handler calls | coalesced callers | all got the same value | total time |',
    '|---:|---:|---|---:|',
    `| ${calls} | ${s.coalesced} | ${same ? 'yes' : 'no'} | ${ms.toFixed(1)} ms (handler sleeps 20 ms) |`,
  ].join('\n');
}
