// examples/redis-node.ts: one of several processes sharing a cache in Redis.
//   CACHE_BACKEND=redis CACHE_REDIS_URL=redis://127.0.0.1:6379 node dist/redis-node.js a
//   CACHE_BACKEND=redis CACHE_REDIS_URL=redis://127.0.0.1:6379 node dist/redis-node.js b
// The first computes get_user 1; the second finds it in Redis. Ctrl-C stops a process.
import { Node, type RequestContext } from 'meshcache';

const name = process.argv[2] ?? `node-${process.pid}`;

// The backend and the Redis address come from CACHE_BACKEND and CACHE_REDIS_URL.
const node = new Node();
node.addService({
  name: 'user',
  actions: {
    get_user: {
      cache: { ttl: 60, keys: ['id'] },
      handler: async (_ctx: RequestContext, params: { id: number }) => ({ id: params.id, computedBy: name }),
    },
  },
});
await node.start();
// Ctrl-C (or SIGTERM) stops the node; the process then exits at once.
process.once('SIGINT', stop).once('SIGTERM', stop);
async function stop() {
  await node.stop();
  console.log(`${name}: stopped`);
}

const user = await node.request<{ computedBy: string }>('user/get_user', { id: 1 });
console.log(`${name}: get_user 1 computed by ${user.computedBy}`);
