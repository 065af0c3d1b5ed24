/**
 * Requests that cross nodes, on real libp2p nodes in this process (the
 * multi-process tests are in remote-processes.test.ts): a request reaches the
 * member that hosts the service, values and errors cross through the codec and
 * the error catalog, deadlines travel, bad input is refused where it starts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MeshError, Node, type RequestContext } from '../../src/index.js';
import { testLogger, waitFor } from '../helpers/p2p.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).map((n) => n.stop()));
});

async function start(
  id: string,
  options: { bootstrap?: string[]; maxMessageBytes?: number; identity?: string } = {},
  ...services: object[]
): Promise<Node> {
  const node = new Node({ logger: testLogger(), env: {}, network: { id, ...options } });
  nodes.push(node);
  for (const s of services) node.addService(s);
  await node.start();
  return node;
}

/** Waits until `node` can route `path` (the catalog of its host arrived). */
async function reachable(node: Node, service: string): Promise<void> {
  await waitFor(() => node.network!.catalogs.hostsOf(service).length > 0, 15_000, `${service} reachable`);
}

const userService = {
  name: 'user',
  actions: {
    get_user: (ctx: RequestContext, params: { id: number }) => ({
      id: params.id,
      peer: ctx.peer,
      meta: ctx.meta,
      remaining: ctx.remainingMs,
      requestId: ctx.requestId,
      caller: ctx.caller,
    }),
    echo: (_ctx: RequestContext, params: Record<string, unknown>) => params,
    fail: () => {
      throw new MeshError('CONFLICT', 'taken', { name: 'ada', when: new Date(5) });
    },
    fail_plain: () => {
      throw Object.assign(new RangeError('out of range'), { code: 'E_RANGE' });
    },
    slow: (_ctx: RequestContext, params: { ms: number }) =>
      new Promise((r) => setTimeout(() => r('late'), params.ms)),
    big: (_ctx: RequestContext, params: { bytes: number }) => 'x'.repeat(params.bytes),
  },
};

describe('remote requests (two nodes in one process)', () => {
  it('a request on B reaches the service on A; ctx.peer is B, meta crosses, values keep their types', async () => {
    const a = await start('rc-basic', {}, userService);
    const b = await start('rc-basic', { bootstrap: a.network!.addresses() });
    await reachable(b, 'user');
    const got = await b.request<Record<string, unknown>>(
      'user/get_user',
      { id: 1 },
      { meta: { tenant: 't1' } },
    );
    expect(got).toMatchObject({ id: 1, peer: b.network!.peerId, meta: { tenant: 't1' } });
    expect(got.remaining).toBeUndefined();
    // A local call has no peer.
    expect(await a.request<Record<string, unknown>>('user/get_user', { id: 2 })).toMatchObject({
      peer: undefined,
    });
    const value = {
      when: new Date(1_700_000_000_000),
      big: 2n ** 70n,
      map: new Map<unknown, unknown>([
        [1, 'one'],
        ['k', new Set([1, 2])],
      ]),
      bytes: Buffer.from([1, 2, 3]),
      nothing: undefined,
    };
    const withProto = JSON.parse('{"__proto__": {"x": 1}, "y": 2}');
    const back = await b.request<typeof value>('user/echo', { ...value, withProto });
    expect(back.when).toEqual(value.when);
    expect(back.big).toBe(value.big);
    expect(back.map).toEqual(value.map);
    expect(Buffer.from(back.bytes)).toEqual(value.bytes);
    expect(Object.hasOwn(back, 'nothing')).toBe(true);
    const proto = (back as unknown as { withProto: object }).withProto;
    expect(Object.hasOwn(proto, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
  });

  it('errors cross with code, message and details; other errors keep name, message and code', async () => {
    const a = await start('rc-errors', {}, userService);
    const b = await start('rc-errors', { bootstrap: a.network!.addresses() });
    await reachable(b, 'user');
    const err = await b.request('user/fail').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshError);
    expect(err).toMatchObject({
      code: 'CONFLICT',
      message: 'taken',
      details: { name: 'ada', when: new Date(5) },
    });
    const plain = (await b.request('user/fail_plain').catch((e: unknown) => e)) as Error & { code?: string };
    expect(plain).not.toBeInstanceOf(MeshError);
    expect([plain.name, plain.message, plain.code]).toEqual(['RangeError', 'out of range', 'E_RANGE']);
    await expect(b.request('user/nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(b.request('nobody/here')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('deadlines travel: the callee sees the time left, and the caller never waits past its deadline', async () => {
    const a = await start('rc-deadline', {}, userService);
    const b = await start('rc-deadline', { bootstrap: a.network!.addresses() });
    await reachable(b, 'user');
    const got = await b.request<{ remaining: number }>('user/get_user', { id: 1 }, { timeout: 5_000 });
    expect(got.remaining).toBeGreaterThan(3_000);
    expect(got.remaining).toBeLessThanOrEqual(5_000);
    const t0 = Date.now();
    await expect(b.request('user/slow', { ms: 2_000 }, { timeout: 200 })).rejects.toMatchObject({
      code: 'TIMEOUT',
    });
    expect(Date.now() - t0).toBeLessThan(1_000);
    // Nested: a local action with a 300 ms deadline calling the remote one.
    b.addService({
      name: 'front',
      actions: { go: (ctx: RequestContext) => ctx.request('user/slow', { ms: 2_000 }) },
    });
    const t1 = Date.now();
    await expect(b.request('front/go', {}, { timeout: 300 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(Date.now() - t1).toBeLessThan(1_200);
  });

  it('params that cannot cross are refused before sending; a message past the limit fails alone', async () => {
    const a = await start('rc-bad', { maxMessageBytes: 64 * 1024 }, userService);
    const b = await start('rc-bad', { bootstrap: a.network!.addresses(), maxMessageBytes: 64 * 1024 });
    await reachable(b, 'user');
    const sentBefore = b.network!.calls.sent;
    await expect(b.request('user/echo', { f: () => 1 })).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    await expect(b.request('user/echo', { s: Symbol('x') })).rejects.toMatchObject({
      code: 'INVALID_PARAMS',
    });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    await expect(b.request('user/echo', { cycle })).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    expect(b.network!.calls.sent).toBe(sentBefore);
    // Too large to send, too large a reply: each fails with TOO_LARGE, the stream serves on.
    await expect(b.request('user/echo', { s: 'y'.repeat(100_000) })).rejects.toMatchObject({
      code: 'TOO_LARGE',
    });
    await expect(b.request('user/big', { bytes: 100_000 })).rejects.toMatchObject({ code: 'TOO_LARGE' });
    expect(await b.request('user/big', { bytes: 1_000 })).toHaveLength(1_000);
  });

  it('a service added to a running node becomes reachable from the others', async () => {
    const a = await start('rc-added', {});
    const b = await start('rc-added', { bootstrap: a.network!.addresses() });
    await waitFor(() => b.network!.peers().length > 0, 15_000, 'joined');
    await expect(b.request('late/hello')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    a.addService({ name: 'late', actions: { hello: () => 'hi' } });
    await reachable(b, 'late');
    expect(await b.request('late/hello')).toBe('hi');
  });

  it('network.identity keeps the peer id across restarts; a file that is not a key is CONFIG_INVALID', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshcache-id-'));
    try {
      const path = join(dir, 'sub', 'node.key');
      const first = await start('rc-id', { identity: path });
      const id = first.network!.peerId;
      await first.stop();
      const second = await start('rc-id', { identity: path });
      expect(second.network!.peerId).toBe(id);
      const bad = join(dir, 'bad.key');
      writeFileSync(bad, 'not a key');
      await expect(start('rc-id', { identity: bad })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
