import { afterEach } from 'vitest';
import { Node, type NodeOptions } from '../../src/index.js';

/**
 * Starts nodes for a test file and stops them after each test. Nodes read an
 * empty environment unless `env` is given, so CACHE_* variables of the shell
 * never leak into a test.
 */
export function useNodes(): {
  started: (options: NodeOptions, ...services: object[]) => Promise<Node>;
  track: (node: Node) => Node;
} {
  const nodes: Node[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop();
  });
  const track = (node: Node) => {
    nodes.push(node);
    return node;
  };
  return {
    track,
    async started(options, ...services) {
      const node = track(new Node({ env: {}, ...options }));
      for (const s of services) node.addService(s);
      await node.start();
      return node;
    },
  };
}
