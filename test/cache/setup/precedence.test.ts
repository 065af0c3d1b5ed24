import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  cached,
  MeshError,
  Node,
  type NodeOptions,
  type RequestContext,
  service,
} from '../../../src/index.js';
import { useNodes } from '../../helpers/nodes.js';

const dir = mkdtempSync(join(tmpdir(), 'meshcache-precedence-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

let calls = 0;

@service('user')
class UserService {
  @cached({ ttl: 60, keys: ['id'] })
  get_user(_ctx: RequestContext, p: { id: number }) {
    calls++;
    return { id: p.id };
  }
}

const nodes = useNodes();
const started = (options: NodeOptions) => nodes.started(options, new UserService());
afterEach(() => {
  calls = 0;
});

/** Calls twice and tells whether the second call was a hit. */
async function cachedNow(node: Node): Promise<boolean> {
  const before = calls;
  await node.request('user/get_user', { id: 1 });
  await node.request('user/get_user', { id: 1 });
  return calls - before === 1;
}

describe('what operators write overrides what services declare', () => {
  it('a file turns off a decorated @cached action at the service level', async () => {
    const path = file('off.yaml', 'services:\n  user:\n    cache:\n      enabled: false\n');
    expect(await cachedNow(await started({ config: path }))).toBe(false);
  });

  it('a file service-level ttl overrides the decorator’s action-level ttl', async () => {
    const path = file('ttl.yaml', 'services:\n  user:\n    cache:\n      ttl: 0.05\n');
    const node = await started({ config: path });
    await node.request('user/get_user', { id: 1 });
    await new Promise((r) => setTimeout(r, 120));
    await node.request('user/get_user', { id: 1 });
    expect(calls).toBe(2);
  });

  it('a global default in the file does not override the declared action ttl', async () => {
    const path = file('global.json', JSON.stringify({ cache: { ttl: 0.05 } }));
    const node = await started({ config: path });
    await node.request('user/get_user', { id: 1 });
    await new Promise((r) => setTimeout(r, 120));
    await node.request('user/get_user', { id: 1 });
    expect(calls).toBe(1);
  });

  it('within one source the action level beats the service level', async () => {
    const path = file(
      'both.yaml',
      'services:\n  user:\n    cache:\n      enabled: false\n    actions:\n      get_user:\n        cache:\n          enabled: true\n',
    );
    expect(await cachedNow(await started({ config: path }))).toBe(true);
  });

  it('code passed to new Node beats the file', async () => {
    const path = file('off2.yaml', 'services:\n  user:\n    cache:\n      enabled: false\n');
    const node = await started({ config: { file: path, services: { user: { cache: { enabled: true } } } } });
    expect(await cachedNow(node)).toBe(true);
  });
});

describe('validation of request options and environment', () => {
  it('refuses an unknown per-request cache mode, a bad timeout and bad meta with INVALID_PARAMS', async () => {
    const node = await started({});
    for (const options of [{ cache: 'skip' }, { timeout: -1 }, { timeout: '5' }, { meta: 3 }, 'x']) {
      const err = await node.request('user/get_user', { id: 1 }, options as never).catch((e: unknown) => e);
      expect(MeshError.is(err, 'INVALID_PARAMS')).toBe(true);
    }
    expect(calls).toBe(0);
  });

  it('refuses a CACHE_PREFIX longer than 64 characters, naming the variable', async () => {
    const node = new Node({ env: { CACHE_PREFIX: 'x'.repeat(65) } });
    const err = await node.start().catch((e: unknown) => e);
    expect(MeshError.is(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as MeshError).message).toContain('CACHE_PREFIX');
  });
});
