/** Policy options through decorators: adaptive TTL and tag functions with @cached, tag rules with @service. */
import { expect, it } from 'vitest';
import { action, cached, type RequestContext, service } from '../../../src/index.js';
import { useNodes } from '../../helpers/nodes.js';

const { started } = useNodes();

@service({ name: 'doc', cache: { events: [{ event: 'doc.changed', tags: ['doc:{id}'] }] } })
class DocService {
  reads = 0;

  @action()
  @cached({
    keys: ['id'],
    ttl: (doc: { draft: boolean }) => (doc.draft ? 0.05 : 60),
    tags: (p: { id: number }, doc: { owner: string }) => [`doc:${p.id}`, `owner:${doc.owner}`],
    grace: 30,
  })
  async get(_ctx: RequestContext, p: { id: number }) {
    this.reads++;
    return { id: p.id, draft: p.id === 2, owner: 'ann' };
  }
}

it('@cached takes a ttl function, a tags function and grace; @service event rules take tags', async () => {
  const svc = new DocService();
  const node = await started({}, svc);
  await node.request('doc/get', { id: 1 });
  await node.request('doc/get', { id: 1 });
  expect(svc.reads).toBe(1);
  await node.publish('doc.changed', { id: 1 });
  await node.request('doc/get', { id: 1 });
  expect(svc.reads).toBe(2);
  await node.cache.invalidateTags(['owner:ann']);
  await node.request('doc/get', { id: 1 });
  expect(svc.reads).toBe(3);
});
