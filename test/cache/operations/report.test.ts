/** `node.cache.report()`: one snapshot of what an operator reads, with or without a network. */
import { describe, expect, it } from 'vitest';
import { Node } from '../../../src/index.js';
import { useNodes } from '../../helpers/nodes.js';
import { testLogger } from '../../helpers/p2p.js';

const nodes = useNodes();
const service = {
  name: 'user',
  actions: {
    get_user: { cache: { keys: ['id'] }, handler: (_c: unknown, p: { id: number }) => ({ id: p.id }) },
  },
};

describe('cache report', () => {
  it('holds the counters of stats(), no channel and no peers on a node of one process', async () => {
    const node = await nodes.started({}, service);
    await node.request('user/get_user', { id: 1 });
    await node.request('user/get_user', { id: 1 });
    const report = node.cache.report();
    expect(report.stats.hits).toBe(1);
    expect(report.stats.misses).toBe(1);
    expect(report.stats.backends.memory?.available).toBe(true);
    expect(report.channels).toEqual([]);
    expect(report.peers).toBeUndefined();
    expect(report.at).toBeGreaterThan(0);
  });

  it('shows the network bus as a live channel and the peers on a network member', async () => {
    const node = nodes.track(new Node({ env: {}, logger: testLogger(), network: { id: 'report-test' } }));
    node.addService(service);
    await node.start();
    const report = node.cache.report();
    expect(report.channels).toEqual([{ mode: 'bus', live: true }]);
    expect(report.peers).toEqual([]);
    expect(report.stats.near?.published).toBe(0);
  });
});
