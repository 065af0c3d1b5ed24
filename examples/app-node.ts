/**
 * One node of an application split over processes, driven over stdin/stdout
 * (JSON lines, as examples/dht-node.ts). `--services` picks what it hosts:
 *
 * - `user`: `get_user` (cached 60 s by id) and `update_user`;
 * - `orders`: `list_orders`, which asks `user/get_user` for the owner (on whichever node hosts it);
 * - `front`: `order_page`, which asks `orders/list_orders` (two hops away from `user`).
 *
 *   node --import tsx examples/app-node.ts --network shop --services user [--bootstrap <multiaddr>,...]
 *
 * Commands: `request` (path, params, options) replies with the encoded result or
 * the error's code and message; `load` runs `n` calls with `concurrency` in flight
 * and replies with the outcome of each; `info`; `stop`.
 */
import '#meshcache/polyfills.js';
import { parseArgs } from 'node:util';
import { destination, pino } from 'pino';
import { decodeValue, encodeValue } from '#meshcache/codec/index.js';
import { MeshError, Node, type RequestContext } from '#meshcache/index.js';
import { send, serveCommands } from './command-loop.js';

const { values } = parseArgs({
  options: {
    network: { type: 'string', default: 'shop' },
    name: { type: 'string', default: `app-${process.pid}` },
    services: { type: 'string', default: '' },
    bootstrap: { type: 'string', default: '' },
    psk: { type: 'string' },
    identity: { type: 'string' },
    /** Peer ids (comma-separated, or `*`) allowed to manage this node's caches from elsewhere. */
    'access-peers': { type: 'string' },
    backend: { type: 'string', default: 'memory' },
    'log-level': { type: 'string', default: 'warn' },
  },
});

const name = values.name;
const hosted = new Set(values.services.split(',').filter((s) => s.length > 0));
const ran = { get_user: 0, list_orders: 0, order_page: 0 };
const accessPeers = values['access-peers'];

const node = new Node({
  logger: pino({ level: values['log-level'] }, destination(2)),
  env: {},
  network: {
    id: values.network,
    bootstrap: values.bootstrap.split(',').filter((s) => s.length > 0),
    ...(values.psk === undefined ? {} : { psk: values.psk }),
    ...(values.identity === undefined ? {} : { identity: values.identity }),
  },
  config: {
    cache: {
      backend: values.backend,
      ...(accessPeers === undefined
        ? {}
        : { access: { peers: accessPeers === '*' ? '*' : accessPeers.split(',') } }),
    },
  },
});

if (hosted.has('user')) {
  node.addService({
    name: 'user',
    actions: {
      get_user: {
        cache: { enabled: true, ttl: 60, keys: ['id'] },
        handler: (_ctx: RequestContext, p: { id: number }) => {
          ran.get_user++;
          return { id: p.id, name: `user ${p.id}`, servedBy: name, at: new Date() };
        },
      },
      update_user: async (ctx: RequestContext, p: { id: number }) => {
        await ctx.request('user/cache/delete', { key: `get_user:${p.id}` });
        return { id: p.id, updatedBy: name };
      },
      whoami: (ctx: RequestContext) => ({ servedBy: name, peer: ctx.peer }),
      slow: (_ctx: RequestContext, p: { ms: number }) =>
        new Promise((resolve) => setTimeout(() => resolve({ servedBy: name }), p.ms)),
      big: (_ctx: RequestContext, p: { bytes: number }) => ({ servedBy: name, data: 'x'.repeat(p.bytes) }),
    },
  });
}
if (hosted.has('orders')) {
  node.addService({
    name: 'orders',
    actions: {
      list_orders: async (ctx: RequestContext, p: { userId: number }) => {
        ran.list_orders++;
        const owner = await ctx.request<{ name: string; servedBy: string }>('user/get_user', {
          id: p.userId,
        });
        return { owner, orders: [{ id: 1, total: 10n ** 20n }], servedBy: name, remaining: ctx.remainingMs };
      },
    },
  });
}
if (hosted.has('front')) {
  node.addService({
    name: 'front',
    actions: {
      order_page: async (ctx: RequestContext, p: { userId: number }) => {
        ran.order_page++;
        const orders = await ctx.request<Record<string, unknown>>('orders/list_orders', p);
        return { page: `orders of user ${p.userId}`, orders, servedBy: name };
      },
    },
  });
}

function failure(err: unknown): { code: string; message: string } {
  return {
    code: MeshError.is(err) ? err.code : String((err as { code?: unknown }).code ?? 'ERROR'),
    message: String((err as Error).message),
  };
}

async function handle(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
  const params = cmd.params === undefined ? {} : (decodeValue(String(cmd.params)) as Record<string, unknown>);
  const options = (cmd.options ?? {}) as { timeout?: number };
  switch (cmd.cmd) {
    case 'request': {
      const t = performance.now();
      try {
        const result = await node.request(String(cmd.path), params, options);
        return { result: encodeValue(result), ms: performance.now() - t };
      } catch (err) {
        return { failed: failure(err), ms: performance.now() - t };
      }
    }
    case 'load': {
      // n calls, `concurrency` in flight; each outcome: [start ms, end ms, servedBy or error code].
      const n = Number(cmd.n ?? 100);
      const concurrency = Number(cmd.concurrency ?? 10);
      const outcomes: Array<[number, number, string]> = [];
      let next = 0;
      const t0 = Date.now();
      const worker = async () => {
        while (next < n) {
          next++;
          const start = Date.now();
          try {
            const r = (await node.request(String(cmd.path), params, options)) as { servedBy?: string };
            outcomes.push([start - t0, Date.now() - t0, `ok:${r?.servedBy ?? ''}`]);
          } catch (err) {
            outcomes.push([start - t0, Date.now() - t0, `err:${failure(err).code}`]);
          }
          if (cmd.pauseMs !== undefined) await new Promise((r) => setTimeout(r, Number(cmd.pauseMs)));
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      return { outcomes, t0 };
    }
    case 'info':
      return {
        peerId: node.network?.peerId,
        peers: node.network?.peers() ?? [],
        reachable: [
          ...new Set(
            node.network
              ? ['user', 'orders', 'front'].filter((s) => node.network!.catalogs.hostsOf(s).length > 0)
              : [],
          ),
        ],
        ran,
      };
    case 'stop':
      await node.stop();
      setImmediate(() => process.exit(0));
      return {};
  }
  throw new Error(`unknown command ${String(cmd.cmd)}`);
}

await node.start();
send({
  type: 'ready',
  name,
  peerId: node.network?.peerId,
  addresses: node.network?.addresses() ?? [],
  startMs: 0,
  sinceProcessStartMs: performance.now(),
  rss: process.memoryUsage().rss,
});
serveCommands(handle, () => node.stop());
