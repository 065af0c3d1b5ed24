/**
 * A `report` service for examples/dht-node.ts (`--services user,report`): in the
 * cluster demo only one node hosts it, so the others reach it over the network.
 * `daily` is cached by `day`; its result names the node whose handler computed it.
 */
import type { RequestContext, ServiceDefinition } from '#meshcache/index.js';

/** `ran()` counts a handler run on this node and returns how many there were. */
export function reportService(nodeName: string, ran: () => number): ServiceDefinition {
  return {
    name: 'report',
    actions: {
      daily: {
        cache: { enabled: true, ttl: 60, keys: ['day'] },
        handler: async (_ctx: RequestContext, p: { day: string }) => {
          const run = ran();
          await new Promise((r) => setTimeout(r, 20)); // an "expensive" aggregation
          return { day: p.day, orders: 42, servedBy: nodeName, run };
        },
      },
    },
  };
}
