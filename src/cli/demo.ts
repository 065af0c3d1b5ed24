/**
 * `npm run demo`: a user service on one node with the embedded in-memory cache:
 * misses, hits, invalidation by action and by event, then a stats table.
 *
 * `npm run demo -- --nodes 3 --backend dht`: three node processes on loopback
 * sharing a DHT cache (see src/cli/demo-cluster.ts).
 */
import '../polyfills.js';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Db, UserService } from '../../examples/user-service.js';
import { Node } from '../index.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1' },
    backend: { type: 'string', default: 'memory' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log('usage: npm run demo [-- --nodes N --backend memory|dht]');
  process.exit(0);
}

const nodes = Number(values.nodes);
if (!Number.isInteger(nodes) || nodes < 1 || nodes > 20) {
  console.error(`--nodes must be an integer from 1 to 20, got ${values.nodes}`);
  process.exit(2);
}

if (nodes > 1 || values.backend === 'dht') {
  const { runClusterDemo } = await import('./demo-cluster.js');
  await runClusterDemo({ nodes: Math.max(nodes, 1), backend: values.backend as 'dht' });
  process.exit(0);
}
if (values.backend !== 'memory') {
  console.error(`a single-node demo runs on the memory backend; for dht use --nodes 3 --backend dht`);
  process.exit(2);
}

/** Prints the cache's debug lines ("Cache hit: ...") as they happen. */
const logLines = new Writable({
  write(chunk, _enc, done) {
    for (const line of String(chunk).split('\n')) {
      if (!line) continue;
      const rec = JSON.parse(line) as { msg: string };
      if (rec.msg.startsWith('Cache ')) console.log(`      log: ${rec.msg}`);
    }
    done();
  },
});

const db = new Db([
  { id: 1, name: 'Ada Lovelace', email: 'ada@example.com' },
  { id: 2, name: 'Alan Turing', email: 'alan@example.com' },
]);
const users = new UserService();
const node = new Node({ logger: pino({ level: 'debug' }, logLines) });
node.provide('db', db).addService(users);
await node.start();

const step = async (title: string, run: () => Promise<unknown>) => {
  const before = db.queries;
  const t = performance.now();
  const result = await run();
  const ms = (performance.now() - t).toFixed(2);
  console.log(`  ${title}\n    -> ${JSON.stringify(result)}  (${ms} ms, db queries: ${db.queries - before})`);
};

console.log('meshcache demo: one node, user service, in-memory cache\n');
console.log(`Actions: ${node.actionPaths().join(', ')}\n`);
await step('request user/get_user {id:1}  (miss: runs the handler)', () =>
  node.request('user/get_user', { id: 1 }),
);
await step('request user/get_user {id:1}  (hit: handler not called)', () =>
  node.request('user/get_user', { id: 1 }),
);
await step('request user/get_user_profile {id:1}', () => node.request('user/get_user_profile', { id: 1 }));
await step('request user/get_user_profile {id:1}', () => node.request('user/get_user_profile', { id: 1 }));
await step('request user/get_user {id:2}', () => node.request('user/get_user', { id: 2 }));

console.log('\nInvalidation by action and by event:');
await step(
  "request user/update_user {id:1, name:'Ada King'}  (cache/delete get_user:1, publishes user.updated)",
  () => node.request('user/update_user', { id: 1, data: { name: 'Ada King' } }),
);
await step('request user/get_user {id:1}  (miss again: fresh data)', () =>
  node.request('user/get_user', { id: 1 }),
);
await step('request user/get_user_profile {id:1}  (the event rule dropped it)', () =>
  node.request('user/get_user_profile', { id: 1 }),
);
console.log(`  events seen by the user service: ${users.seen.join('; ')}`);

console.log('\nManagement actions:');
await step("request user/cache/revoke {pattern:'get_user:*'}", () =>
  node.request('user/cache/revoke', { pattern: 'get_user:*' }),
);
await step("request user/cache/delete {key:'get_user:2'}  (already revoked)", () =>
  node.request('user/cache/delete', { key: 'get_user:2' }),
);
await step('request user/cache/clear', () => node.request('user/cache/clear'));

console.log('\nConcurrency: 100 simultaneous requests for an uncached key');
await step('100 x user/get_user {id:2}', async () => {
  const all = await Promise.all(Array.from({ length: 100 }, () => node.request('user/get_user', { id: 2 })));
  return `${all.length} results, all equal: ${all.every((u) => JSON.stringify(u) === JSON.stringify(all[0]))}`;
});

const stats = node.cache.stats();
console.log('\nCache statistics:');
const rows = Object.entries(stats.services).flatMap(([svc, s]) =>
  Object.entries(s.actions).map(([name, a]) => ({
    action: `${svc}/${name}`,
    hits: a.hits,
    misses: a.misses,
    'hit rate': `${(a.hitRate * 100).toFixed(0)}%`,
    stores: a.stores,
    coalesced: a.coalesced,
    errors: a.errors,
    evictions: a.evictions,
  })),
);
rows.push({
  action: 'node total',
  hits: stats.hits,
  misses: stats.misses,
  'hit rate': `${(stats.hitRate * 100).toFixed(0)}%`,
  stores: stats.stores,
  coalesced: stats.coalesced,
  errors: stats.errors,
  evictions: stats.evictions,
});
console.table(rows);
await node.stop();
