import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  action,
  cached,
  MeshError,
  Node,
  type NodeOptions,
  type RequestContext,
  service,
} from '../../../src/index.js';
import { useNodes } from '../../helpers/nodes.js';
import { capturingLogger, TestStore } from '../../helpers/stores.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));

const nodes = useNodes();

function track(options: NodeOptions): Node {
  const node = new Node({ env: {}, ...options });
  nodes.track(node);
  return node;
}

/** A user service whose get_user declares ttl 600 in code; calls are counted. */
@service('user')
class UserService {
  calls = 0;

  @action()
  @cached({ ttl: 600, keys: ['id'] })
  get_user(_ctx: RequestContext, params: { id: number }) {
    this.calls++;
    return { id: params.id, name: `user ${params.id}` };
  }

  @action()
  list_users() {
    this.calls++;
    return [1, 2];
  }
}

/** The TTL the caching layer handed to the store for the last `set` of `key`. */
function ttlOf(store: TestStore, keySuffix: string): number | undefined {
  return store.ops.filter((o) => o.op === 'set' && o.key?.endsWith(keySuffix)).at(-1)?.ttl;
}

async function startRejects(node: Node): Promise<MeshError> {
  const err = await node.start().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(MeshError.is(err, 'CONFIG_INVALID')).toBe(true);
  expect(node.running).toBe(false);
  return err as MeshError;
}

describe('config: defaults and levels', () => {
  it('has documented defaults with no config and an empty environment', async () => {
    const node = track({});
    node.addService(new UserService());
    await node.start();
    expect(node.cache.settings).toMatchObject({
      enabled: true,
      ttl: 30,
      backend: 'memory',
      prefix: 'cache:',
      replication: 3,
    });
  });

  it('global < service < action, from code objects (addService)', async () => {
    const store = new TestStore();
    const node = track({ backends: { mystore: store }, config: { cache: { backend: 'mystore', ttl: 11 } } });
    node.addService({
      name: 'svc',
      cache: { enabled: true, ttl: 22 },
      actions: {
        from_service: () => 'a',
        from_action: { cache: { ttl: 33 }, handler: () => 'b' },
        disabled: { cache: false, handler: () => 'c' },
      },
    });
    node.addService({
      name: 'plain',
      actions: { global_ttl: { cache: true, handler: () => 'd' }, uncached: () => 'e' },
    });
    await node.start();
    for (const p of [
      'svc/from_service',
      'svc/from_action',
      'svc/disabled',
      'plain/global_ttl',
      'plain/uncached',
    ]) {
      await node.request(p);
    }
    expect(ttlOf(store, '/svc/from_service')).toBe(22);
    expect(ttlOf(store, '/svc/from_action')).toBe(33);
    expect(ttlOf(store, '/plain/global_ttl')).toBe(11);
    expect(store.ops.some((o) => o.key?.includes('disabled') || o.key?.includes('uncached'))).toBe(false);
  });

  it('global enabled=false turns every level off (no management actions either)', async () => {
    const svc = new UserService();
    const node = track({ config: { cache: { enabled: false } } });
    node.addService(svc);
    await node.start();
    await node.request('user/get_user', { id: 1 });
    await node.request('user/get_user', { id: 1 });
    expect(svc.calls).toBe(2);
    await expect(node.request('user/cache/clear')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('decorator options apply when nothing else is configured', async () => {
    const store = new TestStore();
    const node = track({ backends: { mystore: store }, config: { cache: { backend: 'mystore' } } });
    node.addService(new UserService());
    await node.start();
    await node.request('user/get_user', { id: 5 });
    expect(ttlOf(store, '/user/get_user:5')).toBe(600);
  });
});

describe('config: files', () => {
  it("loads the spec's example JSON file as is (dht without a network falls back to memory)", async () => {
    const { logger, records } = capturingLogger('warn');
    const svc = new UserService();
    const node = track({ config: fixture('spec-example.json'), logger });
    node.addService(svc);
    await node.start();
    expect(node.cache.settings).toMatchObject({
      enabled: true,
      backend: 'dht',
      ttl: 30,
      replication: 3,
      prefix: 'cache:',
    });
    expect(records.some((r) => r.level === 40 && String(r.msg).includes("'dht'"))).toBe(true);
    await node.request('user/get_user', { id: 1 });
    await node.request('user/get_user', { id: 1 });
    expect(svc.calls).toBe(1);
    expect(await node.request('user/cache/delete', { key: 'get_user:1' })).toEqual({ deleted: true });
  });

  it("the spec example's action TTL (60, from the file) overrides the decorator's 600", async () => {
    const store = new TestStore();
    const node = track({
      config: { file: fixture('spec-example.json'), cache: { backend: 'mystore' } },
      backends: { mystore: store },
    });
    node.addService(new UserService());
    await node.start();
    await node.request('user/get_user', { id: 1 });
    expect(ttlOf(store, 'cache:default/user/get_user:1')).toBe(60);
  });

  it("loads the spec's YAML DHT examples as is", async () => {
    for (const file of ['dht-example.yaml', 'dht-config.yaml']) {
      const node = track({ config: fixture(file) });
      node.addService(new UserService());
      await node.start();
      expect(node.cache.settings).toMatchObject({
        backend: 'dht',
        replication: 3,
        ttl: 3600,
        prefix: 'cache:',
      });
      await node.stop();
    }
  });

  it('CACHE_CONFIG names the file', async () => {
    const store = new TestStore();
    const node = track({
      env: { CACHE_CONFIG: fixture('memory-tuned.yaml') },
      config: { cache: { backend: 'mystore' } },
      backends: { mystore: store },
    });
    node.addService(new UserService());
    await node.start();
    expect(node.cache.settings).toMatchObject({
      ttl: 42,
      prefix: 'file:',
      replication: 5,
      backend: 'mystore',
    });
    await node.request('user/get_user', { id: 2 });
    expect(ttlOf(store, 'file:default/user/get_user:2')).toBe(7);
  });

  it('new Node({ config: path }) wins over CACHE_CONFIG', async () => {
    const node = track({
      env: { CACHE_CONFIG: fixture('memory-tuned.yaml') },
      config: fixture('dht-config.yaml'),
    });
    await node.start();
    expect(node.cache.settings?.ttl).toBe(3600);
  });
});

describe('config: environment', () => {
  it('reads CACHE_ENABLED, CACHE_BACKEND, CACHE_TTL, CACHE_PREFIX, CACHE_REPLICATION, CACHE_REDIS_URL', async () => {
    const store = new TestStore();
    const node = track({
      env: {
        CACHE_ENABLED: 'yes',
        CACHE_BACKEND: 'mystore',
        CACHE_TTL: '0.25',
        CACHE_PREFIX: 'env:',
        CACHE_REPLICATION: '7',
        CACHE_REDIS_URL: 'redis://127.0.0.1:1/0',
      },
      backends: { mystore: store },
    });
    node.addService({ name: 'svc', actions: { a: { cache: true, handler: () => 1 } } });
    await node.start();
    expect(node.cache.settings).toMatchObject({
      enabled: true,
      backend: 'mystore',
      ttl: 0.25,
      prefix: 'env:',
      replication: 7,
    });
    expect(node.cache.settings?.redis?.url).toBe('redis://127.0.0.1:1/0');
    await node.request('svc/a');
    expect(store.ops.find((o) => o.op === 'set')).toEqual({ op: 'set', key: 'env:default/svc/a', ttl: 0.25 });
  });

  it('CACHE_ENABLED=0 disables caching', async () => {
    const svc = new UserService();
    const node = track({ env: { CACHE_ENABLED: '0' } });
    node.addService(svc);
    await node.start();
    await node.request('user/get_user', { id: 1 });
    await node.request('user/get_user', { id: 1 });
    expect(svc.calls).toBe(2);
  });

  it('reads process.env when no env option is given', async () => {
    const node = new Node({ config: { cache: { prefix: 'x:' } } });
    nodes.track(node);
    await node.start();
    expect(node.cache.settings?.prefix).toBe('x:');
  });
});

describe('config: precedence defaults < file < env < code', () => {
  it('each source overrides the one below it, field by field', async () => {
    const file = fixture('memory-tuned.yaml'); // ttl 42, prefix file:, replication 5
    const fileOnly = track({ config: file });
    await fileOnly.start();
    expect(fileOnly.cache.settings).toMatchObject({
      ttl: 42,
      prefix: 'file:',
      replication: 5,
      backend: 'memory',
      maxKeyLength: 200,
    });

    const fileEnv = track({ config: file, env: { CACHE_TTL: '9', CACHE_PREFIX: 'env:' } });
    await fileEnv.start();
    expect(fileEnv.cache.settings).toMatchObject({ ttl: 9, prefix: 'env:', replication: 5 });

    const all = track({
      config: { file, cache: { prefix: 'code:' } },
      env: { CACHE_TTL: '9', CACHE_PREFIX: 'env:' },
    });
    await all.start();
    expect(all.cache.settings).toMatchObject({ ttl: 9, prefix: 'code:', replication: 5 });
  });

  it('code beats the environment for enabled, and the environment beats the file', async () => {
    const svc = new UserService();
    const node = track({ env: { CACHE_ENABLED: 'false' }, config: { cache: { enabled: true } } });
    node.addService(svc);
    await node.start();
    await node.request('user/get_user', { id: 1 });
    await node.request('user/get_user', { id: 1 });
    expect(svc.calls).toBe(1);
    const off = track({ env: { CACHE_ENABLED: 'false' }, config: fixture('spec-example.json') });
    await off.start();
    expect(off.cache.settings?.enabled).toBe(false);
  });

  it('action options: decorator < file < code', async () => {
    const store = new TestStore();
    const base = { backends: { mystore: store } };
    const fileNode = track({
      ...base,
      config: { file: fixture('memory-tuned.yaml'), cache: { backend: 'mystore' } },
    });
    fileNode.addService(new UserService());
    await fileNode.start();
    await fileNode.request('user/get_user', { id: 1 });
    expect(ttlOf(store, 'file:default/user/get_user:1')).toBe(7);
    await fileNode.stop();

    const codeNode = track({
      ...base,
      config: {
        file: fixture('memory-tuned.yaml'),
        cache: { backend: 'mystore', prefix: 'code:' },
        services: { user: { actions: { get_user: { cache: { ttl: 3 } } } } },
      },
    });
    codeNode.addService(new UserService());
    await codeNode.start();
    await codeNode.request('user/get_user', { id: 1 });
    expect(ttlOf(store, 'code:default/user/get_user:1')).toBe(3);
  });

  it('a file can enable caching of an action the code did not cache, and disable one it did', async () => {
    const svc = new UserService();
    const node = track({
      config: {
        services: {
          user: { actions: { list_users: { cache: { ttl: 5 } }, get_user: { cache: { enabled: false } } } },
        },
      },
    });
    node.addService(svc);
    await node.start();
    await node.request('user/list_users');
    await node.request('user/list_users');
    expect(svc.calls).toBe(1);
    await node.request('user/get_user', { id: 1 });
    await node.request('user/get_user', { id: 1 });
    expect(svc.calls).toBe(3);
  });
});

describe('config: invalid input is refused at start with CONFIG_INVALID naming the field', () => {
  it('wrong type in a JSON file: names the field and the file', async () => {
    const node = track({ config: fixture('bad-type.json') });
    const err = await startRejects(node);
    expect(err.message).toContain('cache.ttl');
    expect(err.message).toContain('bad-type.json');
    expect(err.details).toMatchObject({ field: 'cache.ttl' });
  });

  it('wrong type at the action level of a YAML file: names the nested field', async () => {
    const node = track({ config: fixture('bad-action-type.yaml') });
    const err = await startRejects(node);
    expect(err.message).toContain('services.user.actions.get_user.cache.ttl');
    expect(err.message).toContain('bad-action-type.yaml');
  });

  it('unparsable file, missing file, unknown field', async () => {
    // Written at run time: a malformed .json in the repo would break `biome check .`.
    const dir = mkdtempSync(join(tmpdir(), 'meshcache-config-'));
    const badJson = join(dir, 'bad-syntax.json');
    writeFileSync(badJson, '{ "cache": { "enabled": true, }');
    try {
      const err = await startRejects(track({ config: badJson }));
      expect(err.message).toContain('bad-syntax.json');
      expect(err.message).toContain('not valid JSON');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect((await startRejects(track({ config: fixture('missing.yaml') }))).message).toContain(
      'missing.yaml',
    );
    const unknown = await startRejects(track({ config: fixture('unknown-field.yaml') }));
    expect(unknown.message).toContain('tll');
    expect(unknown.message).toContain('unknown-field.yaml');
  });

  it('unknown backend: in a file, in code, per action, through the environment', async () => {
    const fromFile = await startRejects(track({ config: fixture('unknown-backend.json') }));
    expect(fromFile.message).toContain('cache.backend');
    expect(fromFile.message).toContain('nosuchstore');
    expect(fromFile.message).toContain('unknown-backend.json');

    const fromEnv = await startRejects(track({ env: { CACHE_BACKEND: 'nosuchstore' } }));
    expect(fromEnv.message).toContain('nosuchstore');

    const perAction = track({});
    perAction.addService({
      name: 'svc',
      actions: { a: { cache: { backend: 'elsewhere' }, handler: () => 1 } },
    });
    const err = await startRejects(perAction);
    expect(err.message).toContain('backend');
    expect(err.message).toContain('elsewhere');
  });

  it('bad environment values name the variable', async () => {
    const cases: Array<[string, string]> = [
      ['CACHE_TTL', 'soon'],
      ['CACHE_TTL', '-1'],
      ['CACHE_ENABLED', 'maybe'],
      ['CACHE_REPLICATION', '0'],
      ['CACHE_REPLICATION', '2.5'],
      ['CACHE_REDIS_URL', 'http://localhost'],
    ];
    for (const [name, value] of cases) {
      const err = await startRejects(track({ env: { [name]: value } }));
      expect(err.message).toContain(name);
    }
  });

  it('wrong types in code: config object, decorator options, addService options', async () => {
    const code = await startRejects(track({ config: { cache: { ttl: '5' } } as never }));
    expect(code.message).toContain('cache.ttl');

    const svcLevel = track({ config: { services: { user: { cache: { keys: 'id' } } } } as never });
    expect((await startRejects(svcLevel)).message).toContain('services.user.cache.keys');

    @service('bad')
    class Bad {
      @action({ cache: { ttl: -5 } })
      a() {
        return 1;
      }
    }
    const decorated = track({});
    decorated.addService(new Bad());
    const err = await startRejects(decorated);
    expect(err.message).toContain("'bad/a'");
    expect(err.message).toContain('ttl');

    const plain = track({});
    plain.addService({ name: 'p', actions: { a: { cache: { keys: [1] } as never, handler: () => 1 } } });
    expect((await startRejects(plain)).message).toContain('keys');
  });

  it('staleTtl without a ttl is refused', async () => {
    const err = await startRejects(track({ config: { cache: { ttl: 0, staleTtl: 5 } } }));
    expect(err.message).toContain('staleTtl');
  });
});

describe('config: negative or non-finite TTLs are refused with one rule', () => {
  const RULE = 'a finite number of seconds >= 0 (0 = no expiry)';
  const BAD = [-1, -0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];

  /** Writes a YAML config file for one case (at run time, in a temporary folder). */
  function yamlFile(text: string): { path: string; done: () => void } {
    const dir = mkdtempSync(join(tmpdir(), 'meshcache-ttl-'));
    const path = join(dir, 'meshcache.yaml');
    writeFileSync(path, text);
    return { path, done: () => rmSync(dir, { recursive: true, force: true }) };
  }

  async function refused(node: Node, field: string): Promise<MeshError> {
    const err = await startRejects(node);
    expect(err.details.field).toBe(field);
    expect(err.message).toContain(field);
    expect(err.message).toContain(RULE);
    return err;
  }

  it('global cache.ttl and cache.staleTtl, from a config object and from a file', async () => {
    for (const bad of BAD) {
      await refused(track({ config: { cache: { ttl: bad } } }), 'cache.ttl');
      await refused(track({ config: { cache: { ttl: 10, staleTtl: bad } } }), 'cache.staleTtl');
    }
    for (const [text, field] of [
      ['cache:\n  ttl: -1\n', 'cache.ttl'],
      ['cache:\n  ttl: .inf\n', 'cache.ttl'],
      ['cache:\n  ttl: .nan\n', 'cache.ttl'],
      ['cache:\n  ttl: 10\n  staleTtl: -5\n', 'cache.staleTtl'],
    ] as const) {
      const file = yamlFile(text);
      try {
        const err = await refused(track({ config: file.path }), field);
        expect(err.message).toContain(file.path);
      } finally {
        file.done();
      }
    }
  });

  it('service-level and action-level ttl and staleTtl in a config object and in a file', async () => {
    const paths = [
      (v: number) => ({ services: { user: { cache: { ttl: v } } } }),
      (v: number) => ({ services: { user: { cache: { staleTtl: v } } } }),
      (v: number) => ({ services: { user: { actions: { get_user: { cache: { ttl: v } } } } } }),
      (v: number) => ({ services: { user: { actions: { get_user: { cache: { staleTtl: v } } } } } }),
    ];
    const fields = [
      'services.user.cache.ttl',
      'services.user.cache.staleTtl',
      'services.user.actions.get_user.cache.ttl',
      'services.user.actions.get_user.cache.staleTtl',
    ];
    for (const bad of BAD) {
      for (const [i, config] of paths.entries()) {
        const node = track({ config: config(bad) });
        node.addService(new UserService());
        await refused(node, fields[i]!);
      }
    }
    const file = yamlFile(
      'services:\n  user:\n    actions:\n      get_user:\n        cache:\n          ttl: -3\n',
    );
    try {
      const node = track({ config: file.path });
      node.addService(new UserService());
      await refused(node, 'services.user.actions.get_user.cache.ttl');
    } finally {
      file.done();
    }
    const svcFile = yamlFile('services:\n  user:\n    cache:\n      staleTtl: -.inf\n');
    try {
      await refused(track({ config: svcFile.path }), 'services.user.cache.staleTtl');
    } finally {
      svcFile.done();
    }
  });

  it('declared in code: addService at service and action level, @service, @action and @cached', async () => {
    for (const bad of BAD) {
      for (const option of ['ttl', 'staleTtl'] as const) {
        const svcLevel = track({});
        svcLevel.addService({ name: 'p', cache: { [option]: bad }, actions: { a: () => 1 } });
        const e1 = await refused(svcLevel, option);
        expect(e1.message).toContain("service 'p'");

        const actLevel = track({});
        actLevel.addService({ name: 'p', actions: { a: { cache: { [option]: bad }, handler: () => 1 } } });
        const e2 = await refused(actLevel, option);
        expect(e2.message).toContain("action 'p/a'");
      }
    }

    @service({ name: 'decorated', cache: { ttl: -1 } })
    class BadService {
      @action()
      a() {
        return 1;
      }
    }
    @service('decorated2')
    class BadAction {
      @action({ cache: { ttl: Number.POSITIVE_INFINITY } })
      a() {
        return 1;
      }
    }
    @service('decorated3')
    class BadCached {
      @cached({ ttl: 10, staleTtl: Number.NaN })
      a() {
        return 1;
      }
    }
    const n1 = track({});
    n1.addService(new BadService());
    expect((await refused(n1, 'ttl')).message).toContain("service 'decorated'");
    const n2 = track({});
    n2.addService(new BadAction());
    expect((await refused(n2, 'ttl')).message).toContain("action 'decorated2/a'");
    const n3 = track({});
    n3.addService(new BadCached());
    expect((await refused(n3, 'staleTtl')).message).toContain("action 'decorated3/a'");
  });

  it('CACHE_TTL uses the same rule; ttl 0 and fractional ttls are still accepted', async () => {
    for (const value of ['-1', 'Infinity', 'NaN']) {
      const err = await startRejects(track({ env: { CACHE_TTL: value } }));
      expect(err.message).toContain('CACHE_TTL');
      expect(err.message).toContain(RULE);
    }
    const store = new TestStore();
    const node = track({ backends: { mystore: store }, config: { cache: { backend: 'mystore', ttl: 0 } } });
    node.addService({
      name: 'svc',
      actions: {
        forever: { cache: true, handler: () => 'a' },
        brief: { cache: { ttl: 0.25, staleTtl: 0.5 }, handler: () => 'b' },
      },
    });
    await node.start();
    await node.request('svc/forever');
    await node.request('svc/brief');
    expect(ttlOf(store, '/svc/forever')).toBe(0);
    expect(ttlOf(store, '/svc/brief')).toBe(0.75);
  });
});
