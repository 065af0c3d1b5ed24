/**
 * What a newcomer's mistakes are answered with: unknown options refused where
 * they are written (decorators, addService) with the nearest valid names,
 * configuration typos and missing params in plain words, ACCESS_DENIED naming
 * the setting that allows the call, and a logger checked by `new Node`.
 */
import { describe, expect, it } from 'vitest';
import { action, MeshError, Node, service } from '../../src/index.js';
import { useNodes } from '../helpers/nodes.js';

const { started } = useNodes();

function thrown(fn: () => unknown): MeshError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MeshError) return err;
    throw err;
  }
  throw new Error('did not throw');
}

async function rejected(p: Promise<unknown>): Promise<MeshError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof MeshError) return err;
    throw err;
  }
  throw new Error('did not reject');
}

describe('unknown options', () => {
  it('@action refuses a misspelt key when the class is defined, naming it and the nearest valid one', () => {
    const err = thrown(() => {
      class Users {
        // @ts-expect-error: 'cahce' is not an option of @action (it compiles to nothing otherwise)
        @action({ cahce: { ttl: 60 } })
        get_user() {}
      }
      return Users;
    });
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(/unknown option 'cahce' \(did you mean cache\?/);
    expect(err.details.field).toBe('cahce');
  });

  it('@service refuses an unknown key', () => {
    // @ts-expect-error: 'event' is not an option of @service
    const err = thrown(() => service({ name: 'user', event: [] }));
    expect(err.message).toMatch(/unknown option 'event' \(did you mean events\?/);
  });

  it('addService refuses an unknown service key and an unknown action key', () => {
    const node = new Node({ env: {} });
    const svc = thrown(() =>
      // @ts-expect-error: 'cahce' is not a key of a service definition
      node.addService({ name: 'user', cahce: { ttl: 1 }, actions: { a: () => 1 } }),
    );
    expect(svc.message).toMatch(/addService 'user': unknown option 'cahce' \(did you mean cache\?/);
    const act = thrown(() =>
      // @ts-expect-error: 'tll' is not an action option
      node.addService({ name: 'user', actions: { a: { tll: 5, handler: () => 1 } } }),
    );
    expect(act.message).toMatch(/action 'a': unknown option 'tll'/);
    // Interceptor options of your own go under `meta`.
    node.addService({ name: 'ok', actions: { a: { meta: { untimed: true }, handler: () => 1 } } });
  });

  it('a misspelt cache option reads "unknown option" with the nearest valid names, not validator jargon', async () => {
    const err = await rejected(started({ config: { cache: { tll: 60 } as never } }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(/cache\.tll: unknown option 'tll' \(did you mean ttl\?/);
    expect(err.message).not.toMatch(/Expected never|Invalid key/);
  });
});

describe('management params and access', () => {
  const users = {
    name: 'user',
    actions: { get_user: { cache: { keys: ['id'] }, handler: (_c: unknown, p: { id: number }) => p } },
  };

  it('cache/delete without key or action says what to give', async () => {
    const node = await started({}, users);
    const err = await rejected(node.request('user/cache/delete', {}));
    expect(err.code).toBe('INVALID_PARAMS');
    expect(err.message).toMatch(/give the key \(\{ key: 'get_user:1' \}\) or the action and its params/);
    const empty = await rejected(node.request('user/cache/delete', { key: '' }));
    expect(empty.message).not.toMatch(/Invalid (key|length)/);
    const unknown = await rejected(
      node.request('user/cache/delete', { action: 'get_usr', params: { id: 1 } }),
    );
    expect(unknown.message).toMatch(/'get_usr' is not a cached action of 'user' \(cached: get_user\)/);
  });

  it('ACCESS_DENIED names the setting that would allow the caller', async () => {
    const node = await started({}, users, {
      name: 'admin',
      actions: {
        purge: (ctx: { request: (p: string, x: object) => unknown }) => ctx.request('user/cache/clear', {}),
      },
    });
    const err = await rejected(node.request('admin/purge'));
    expect(err.code).toBe('ACCESS_DENIED');
    expect(err.message).toMatch(/allow it with cache\.access\.allow: \['admin'\]/);
    expect(err.details.setting).toBe('cache.access');
  });
});

describe('the logger', () => {
  it('is checked by new Node: a logger that is not pino-compatible is CONFIG_INVALID naming what it lacks', () => {
    const err = thrown(() => new Node({ env: {}, logger: console as never }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(/a pino-compatible logger is needed/);
    expect(err.message).toMatch(/lacks child, fatal/);
    expect(err.details.field).toBe('logger');
  });
});
