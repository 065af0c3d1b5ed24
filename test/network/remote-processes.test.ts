/**
 * An application split over node processes on 127.0.0.1 (examples/app-node.ts):
 * `front` calls `orders`, which calls `user`, each in its own process; many
 * concurrent calls and a large result; a host killed under load while its twin
 * serves the same service.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from '../../src/codec/index.js';
import { APP_NODE_SCRIPT, NodeProcess, stopProcesses } from '../helpers/cluster.js';

async function spawn(name: string, services: string, bootstrap?: string[]): Promise<NodeProcess> {
  return NodeProcess.spawn({
    network: 'remote-procs',
    name,
    source: APP_NODE_SCRIPT,
    args: ['--services', services],
    ...(bootstrap === undefined ? {} : { bootstrap }),
  });
}

async function request(
  proc: NodeProcess,
  path: string,
  params: Record<string, unknown> = {},
  options: Record<string, unknown> = {},
): Promise<{ result?: unknown; failed?: { code: string; message: string }; ms: number }> {
  const r = await proc.call({ cmd: 'request', path, params: encodeValue(params), options });
  return {
    ...(r.result === undefined ? {} : { result: decodeValue(String(r.result)) }),
    ...(r.failed === undefined ? {} : { failed: r.failed as { code: string; message: string } }),
    ms: Number(r.ms),
  };
}

/** Waits until `proc` can reach each service. */
async function reaches(proc: NodeProcess, services: string[], timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const info = await proc.call({ cmd: 'info' });
    if (services.every((s) => (info.reachable as string[]).includes(s))) return;
    if (Date.now() > until) throw new Error(`${proc.name} does not reach ${services.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('an application split over three node processes', () => {
  let user: NodeProcess;
  let orders: NodeProcess;
  let front: NodeProcess;
  const extra: NodeProcess[] = [];
  beforeAll(async () => {
    user = await spawn('user-1', 'user');
    [orders, front] = await Promise.all([
      spawn('orders-1', 'orders', user.ready.addresses),
      spawn('front-1', 'front', user.ready.addresses),
    ]);
    await Promise.all([reaches(front, ['user', 'orders']), reaches(orders, ['user'])]);
  }, 120_000);
  afterAll(async () => {
    await stopProcesses([user, orders, front, ...extra].filter((p) => p !== undefined));
  });

  it('a call nested across three processes: front -> orders -> user', async () => {
    const r = await request(front, 'front/order_page', { userId: 7 }, { timeout: 10_000 });
    expect(r.failed).toBeUndefined();
    const page = r.result as {
      servedBy: string;
      orders: {
        servedBy: string;
        remaining: number;
        owner: { servedBy: string; at: Date };
        orders: Array<{ total: bigint }>;
      };
    };
    expect(page.servedBy).toBe('front-1');
    expect(page.orders.servedBy).toBe('orders-1');
    expect(page.orders.owner.servedBy).toBe('user-1');
    expect(page.orders.owner.at).toBeInstanceOf(Date);
    expect(page.orders.orders[0]?.total).toBe(10n ** 20n);
    // The deadline travelled: orders saw what was left of front's 10 s.
    expect(page.orders.remaining).toBeGreaterThan(5_000);
    expect(page.orders.remaining).toBeLessThanOrEqual(10_000);
  });

  it('errors arrive with their code; a call never outlives its deadline', async () => {
    expect((await request(front, 'user/missing')).failed?.code).toBe('NOT_FOUND');
    expect((await request(front, 'nobody/here')).failed?.code).toBe('NOT_FOUND');
    const slow = await request(front, 'user/slow', { ms: 3_000 }, { timeout: 300 });
    expect(slow.failed?.code).toBe('TIMEOUT');
    expect(slow.ms).toBeLessThan(1_000);
  });

  it('1,000 concurrent remote calls, and a 1 MB result', async () => {
    const r = await front.call(
      { cmd: 'load', path: 'user/whoami', n: 1_000, concurrency: 1_000, options: { timeout: 20_000 } },
      60_000,
    );
    const outcomes = r.outcomes as Array<[number, number, string]>;
    expect(outcomes).toHaveLength(1_000);
    expect(outcomes.filter((o) => o[2] !== 'ok:user-1')).toEqual([]);
    const big = await request(front, 'user/big', { bytes: 1_000_000 }, { timeout: 20_000 });
    expect(big.failed).toBeUndefined();
    expect((big.result as { data: string }).data).toHaveLength(1_000_000);
  });

  it('a host killed under load: calls fail with a code, none past its deadline, its twin serves within 1.5 s', async () => {
    const twin = await spawn('user-2', 'user', user.ready.addresses);
    extra.push(twin);
    const until = Date.now() + 30_000;
    for (;;) {
      const who = await front.call({ cmd: 'load', path: 'user/whoami', n: 40, concurrency: 4 });
      const served = new Set((who.outcomes as Array<[number, number, string]>).map((o) => o[2]));
      if (served.has('ok:user-2')) break;
      if (Date.now() > until) throw new Error('the twin never served');
      await new Promise((r) => setTimeout(r, 200));
    }
    const timeout = 2_000;
    const load = front.call(
      {
        cmd: 'load',
        path: 'user/slow',
        params: encodeValue({ ms: 20 }),
        n: 1_500,
        concurrency: 10,
        pauseMs: 10,
        options: { timeout },
      },
      60_000,
    );
    await new Promise((r) => setTimeout(r, 800));
    const killedAt = Date.now();
    user.child.kill('SIGKILL');
    const r = await load;
    const t0 = Number(r.t0);
    const outcomes = r.outcomes as Array<[number, number, string]>;
    expect(outcomes).toHaveLength(1_500);
    for (const [start, end, what] of outcomes) {
      expect(end - start, `${what} took ${end - start} ms`).toBeLessThanOrEqual(timeout + 250);
      expect(what).toMatch(/^(ok:user-[12]|err:(UNAVAILABLE|TIMEOUT))$/);
    }
    const late = outcomes.filter(([start]) => t0 + start > killedAt + 1_500);
    expect(late.length).toBeGreaterThan(50);
    expect(late.filter((o) => o[2] !== 'ok:user-2')).toEqual([]);
  });
});
