// examples/p2p-node.ts: one of several processes sharing a cache in a DHT (libp2p), no server.
//   node dist/p2p-node.js a                     prints its address: a: listening on /ip4/127.0.0.1/tcp/.../p2p/...
//   node dist/p2p-node.js b <address of a>
//   node dist/p2p-node.js c <address of a>
// Each asks for get_user 1 once it has a peer (the first at once): one computes it, the others
// find it in the DHT. Ctrl-C stops a process.
import { Node, type RequestContext } from 'meshcache';

const name = process.argv[2] ?? `node-${process.pid}`;
const bootstrap = process.argv.slice(3);

const node = new Node({
  network: { id: 'example', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap },
  config: { cache: { backend: 'dht' } },
});
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
const network = node.network!; // there once the node started
console.log(`${name}: listening on ${network.addresses()[0]}`);

if (bootstrap.length > 0 && network.peers().length === 0)
  await new Promise((resolve) => network.once('peer:join', resolve));
const user = await node.request<{ computedBy: string }>('user/get_user', { id: 1 });
console.log(`${name}: get_user 1 computed by ${user.computedBy}`);
