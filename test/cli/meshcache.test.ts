/**
 * The `meshcache` command against node processes on 127.0.0.1: every
 * subcommand with --json, an operator the nodes do not list (denied, nothing
 * removed), usage errors, and `stats --watch` ended by SIGINT.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeProcess } from '../helpers/cluster.js';
import {
  type CliResult,
  call,
  json,
  operatorHome,
  peerIdOf,
  ranGetUser,
  runCli,
  spawnAppNode,
  startCli,
  waitForMembers,
} from '../helpers/meshcache-cli.js';

const NETWORK = 'cli-ops';

// Each command is a process that joins the network (about 2 s): seven of them outlast the default 30 s on a busy machine.
describe('meshcache against a network of node processes', { timeout: 90_000 }, () => {
  let home: Awaited<ReturnType<typeof operatorHome>>;
  let operator: string;
  let users: NodeProcess;
  let orders: NodeProcess;
  let env: Record<string, string>;
  let deniedEnv: Record<string, string>;

  const cli = (args: string[], e = env) => runCli(args, e);

  beforeAll(async () => {
    home = await operatorHome();
    operator = await peerIdOf(join(home.dir, 'operator.key'), home.dir);
    users = await spawnAppNode(NETWORK, 'users-1', 'user', { accessPeers: [operator] });
    orders = await spawnAppNode(NETWORK, 'orders-1', 'orders', {
      bootstrap: users.ready.addresses,
      accessPeers: [operator],
    });
    await waitForMembers([users, orders], 1);
    env = {
      XDG_CONFIG_HOME: home.dir,
      MESHCACHE_NETWORK: NETWORK,
      MESHCACHE_BOOTSTRAP: users.ready.addresses.join(','),
      MESHCACHE_IDENTITY: join(home.dir, 'operator.key'),
    };
    deniedEnv = { ...env, MESHCACHE_IDENTITY: join(home.dir, 'stranger.key') };
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([users?.stop(), orders?.stop()]);
    await home?.cleanup();
  });

  it('identity: the same peer id on every run, from a key file created with mode 0600', async () => {
    const r = await cli(['identity', '--json']);
    expect(r.code).toBe(0);
    expect(json(r)).toMatchObject({ peerId: operator });
    expect((await stat(env.MESHCACHE_IDENTITY!)).mode & 0o777).toBe(0o600);
    const plain = await cli(['identity']);
    expect(plain.stdout.trim()).toBe(operator);
  });

  it('identity defaults to the user config directory', async () => {
    const { MESHCACHE_IDENTITY: _, ...rest } = env;
    const r = await runCli(['identity', '--json'], { ...rest, MESHCACHE_IDENTITY: '' });
    expect(r.code).toBe(0);
    expect(json(r).identity).toBe(join(home.dir, 'meshcache', 'identity.key'));
    expect((await stat(join(home.dir, 'meshcache', 'identity.key'))).isFile()).toBe(true);
  });

  it('nodes: every member with its services, the cached ones, backends and uptime', async () => {
    const r = await cli(['nodes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = json<Array<Record<string, unknown>>>(r);
    const byPeer = new Map(rows.map((row) => [row.peerId, row]));
    expect(byPeer.get(users.ready.peerId)).toMatchObject({ services: ['user'], cached: ['user'] });
    expect(byPeer.get(orders.ready.peerId)).toMatchObject({ services: ['orders'], cached: [] });
    expect(byPeer.get(users.ready.peerId)?.uptimeMs).toBeGreaterThan(0);
    expect(byPeer.get(users.ready.peerId)?.backends).toContain('memory');
    const table = await cli(['nodes']);
    expect(table.stdout).toMatch(/^PEER\s+SERVICES\s+CACHED\s+BACKENDS\s+UPTIME/);
    expect(table.stdout).toContain(users.ready.peerId);
  });

  it("stats: each member's cache.stats(), per action, filtered by --service", async () => {
    await call(users, 'user/get_user', { id: 1 });
    await call(users, 'user/get_user', { id: 1 });
    const r = await cli(['stats', '--json', '--service', 'user']);
    expect(r.code, r.stderr).toBe(0);
    const doc = json<{
      nodes: Array<{ peerId: string; stats: { actions: Record<string, { hits: number; misses: number }> } }>;
    }>(r);
    const mine = doc.nodes.find((n) => n.peerId === users.ready.peerId);
    expect(mine?.stats.actions['user/get_user']).toMatchObject({ hits: 1, misses: 1 });
    expect(doc.nodes.map((n) => n.peerId).sort()).toEqual([users.ready.peerId, orders.ready.peerId].sort());
    const table = await cli(['stats', '--service', 'user']);
    expect(table.stdout).toMatch(/user\/get_user\s+50\.0%\s+1\s+1/);
  });

  it('delete, revoke, clear: the entries go on the hosting member', async () => {
    await call(users, 'user/get_user', { id: 2 });
    const ran = await ranGetUser(users);
    const del = await cli(['delete', 'user', 'get_user:2', '--json']);
    expect(del.code, del.stderr).toBe(0);
    expect(json(del)).toMatchObject({ deleted: true });
    await call(users, 'user/get_user', { id: 2 });
    expect(await ranGetUser(users)).toBe(ran + 1);

    await call(users, 'user/get_user', { id: 3 });
    const revoke = await cli(['revoke', 'user', 'get_user:*', '--json']);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(json(revoke).revoked).toBeGreaterThanOrEqual(2);

    await call(users, 'user/get_user', { id: 4 });
    const clear = await cli(['clear', 'user', '--json']);
    expect(clear.code, clear.stderr).toBe(0);
    expect(json(clear)).toMatchObject({ cleared: 1 });
  });

  it('invalidate: tags invalidated in every cached service', async () => {
    const r = await cli(['invalidate', 'user:1', 'team:7', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ invalidated: ['user:1', 'team:7'] });
  });

  it('keys and get: the keys the members list, one entry as the action answers it', async () => {
    await call(users, 'user/get_user', { id: 21 });
    await call(users, 'user/get_user', { id: 22 });
    const keys = await cli(['keys', 'user', 'get_user:2?', '--json']);
    expect(keys.code, keys.stderr).toBe(0);
    const listed = json<{ keys: string[]; truncated: boolean; nodes: Array<{ peerId: string }> }>(keys);
    expect(listed).toMatchObject({ keys: ['get_user:21', 'get_user:22'], truncated: false });
    expect(listed.nodes.map((n) => n.peerId)).toEqual([users.ready.peerId]);
    const plain = await cli(['keys', 'user']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout.split('\n')).toEqual(expect.arrayContaining(['get_user:21', 'get_user:22']));

    const got = await cli(['get', 'user', 'get_user:21', '--json']);
    expect(got.code, got.stderr).toBe(0);
    expect(json(got)).toMatchObject({
      key: 'get_user:21',
      found: true,
      state: 'fresh',
      value: { id: 21, name: 'user 21', servedBy: 'users-1' },
      peerId: users.ready.peerId,
    });
    const none = await cli(['get', 'user', 'get_user:999', '--json']);
    expect(none.code, none.stderr).toBe(0);
    expect(json(none)).toMatchObject({ found: false });
    expect((await cli(['get', 'user', 'get_user:999'])).stdout).toMatch(/no such entry/);

    const missing = await cli(['keys', 'orders', '--json']);
    expect(missing.code).toBe(1);
    expect(json<{ error: { code: string } }>(missing).error.code).toBe('NOT_FOUND');
  });

  it('an operator the nodes do not list is denied: exit 1, ACCESS_DENIED, nothing removed', async () => {
    await call(users, 'user/get_user', { id: 9 });
    const ran = await ranGetUser(users);
    for (const args of [
      ['delete', 'user', 'get_user:9'],
      ['revoke', 'user', 'get_user:*'],
      ['clear', 'user'],
      ['keys', 'user'],
      ['get', 'user', 'get_user:9'],
    ]) {
      const r = await cli([...args, '--json'], deniedEnv);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain('ACCESS_DENIED');
      expect(json<{ error: { code: string } }>(r).error.code).toBe('ACCESS_DENIED');
    }
    const stats = await cli(['stats', '--json'], deniedEnv);
    expect(stats.code).toBe(1);
    expect(json<{ nodes: Array<{ error?: { code: string } }> }>(stats).nodes[0]?.error?.code).toBe(
      'ACCESS_DENIED',
    );
    await call(users, 'user/get_user', { id: 9 });
    expect(await ranGetUser(users)).toBe(ran);
  });

  it('stats --watch prints until SIGINT, then exits 0', async () => {
    const run = startCli(['stats', '--watch', '--json', '--interval', '0.3'], env, 30_000);
    const until = Date.now() + 20_000;
    while (
      run
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{')).length < 2 &&
      Date.now() < until
    )
      await new Promise((r) => setTimeout(r, 50));
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.signal).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(JSON.parse(line).nodes.length).toBe(2);
  });
});

describe('meshcache usage', () => {
  const env = {
    MESHCACHE_NETWORK: '',
    MESHCACHE_BOOTSTRAP: '',
    XDG_CONFIG_HOME: '/nonexistent-meshcache-test',
  };
  const usage2 = (r: CliResult, what: RegExp) => {
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(what);
    expect(r.stderr).toMatch(/usage: meshcache/);
  };

  it('bad usage exits 2 with a message and the usage', async () => {
    const runs = await Promise.all([
      runCli([], env),
      runCli(['frobnicate'], env),
      runCli(['delete', 'user'], env),
      runCli(['clear', 'user', 'extra'], env),
      runCli(['nodes', '--bogus'], env),
      runCli(['nodes', '--port', '80'], env),
      runCli(['stats', '--interval', 'soon'], env),
      runCli(['nodes'], env),
      runCli(['nodes', '--network', 'x'], env),
    ]);
    usage2(runs[0]!, /which command/);
    usage2(runs[1]!, /unknown command 'frobnicate'/);
    usage2(runs[2]!, /'delete' needs <key>/);
    usage2(runs[3]!, /'clear' takes at most 1/);
    usage2(runs[4]!, /Unknown option '--bogus'/);
    usage2(runs[5]!, /'nodes' takes no --port/);
    usage2(runs[6]!, /--interval must be a number/);
    usage2(runs[7]!, /--network/);
    usage2(runs[8]!, /--bootstrap/);
  });

  it('--help for the command and each subcommand', async () => {
    const [top, del, stats] = await Promise.all([
      runCli(['--help'], env),
      runCli(['delete', '--help'], env),
      runCli(['stats', '-h'], env),
    ]);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Commands:[\s\S]*dashboard/);
    expect(del.code).toBe(0);
    expect(del.stdout).toMatch(/usage: meshcache delete <service> <key>/);
    expect(stats.stdout).toMatch(/--watch/);
  });
});
