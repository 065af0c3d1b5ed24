/**
 * Test harness: a Redis Sentinel setup on free loopback ports: a primary, a
 * replica (`--replicaof`) and three `redis-server --sentinel` processes, each
 * with a generated config file in its own temp dir (a sentinel rewrites its
 * config, so it must be writable). Short `down-after-milliseconds` and
 * `failover-timeout` so a killed primary is replaced within a few seconds.
 * `stop()` kills every process and removes every dir.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  findRedisBinaries,
  freePort,
  ping,
  type RedisServer,
  startRedisServer,
  track,
  waitUntil,
} from './redis-server.js';

/** One `redis-server --sentinel` process. */
class SentinelProcess {
  readonly host = '127.0.0.1';
  #child: ChildProcess | undefined;

  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  async start(): Promise<void> {
    const conf = join(this.dir, 'sentinel.conf');
    const child = spawn(findRedisBinaries()!.server, [conf, '--sentinel'], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    track(child);
    this.#child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(new Error(`redis-sentinel exited (${code ?? signal}) on port ${this.port}`)),
      ),
    );
    exited.catch(() => {});
    await Promise.race([waitUntil(`sentinel on ${this.port}`, () => ping(this.port), 10_000), exited]);
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await gone;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface SentinelSetOptions {
  /** The monitored primary's name. */
  readonly name?: string;
  readonly downAfterMs?: number;
  readonly failoverTimeoutMs?: number;
}

/** A primary, one replica and three sentinels (quorum 2). */
export class RedisSentinelSet {
  private constructor(
    readonly name: string,
    readonly primary: RedisServer,
    readonly replica: RedisServer,
    private readonly sentinelProcs: SentinelProcess[],
  ) {}

  static async start(opts: SentinelSetOptions = {}): Promise<RedisSentinelSet> {
    const name = opts.name ?? 'meshprimary';
    const started: Array<{ stop(): Promise<void> }> = [];
    try {
      const primary = await startRedisServer();
      started.push(primary);
      const replica = await startRedisServer({ args: ['--replicaof', primary.host, String(primary.port)] });
      started.push(replica);
      await waitUntil(
        'the replica in sync',
        async () => (await replica.cli('INFO', 'replication')).includes('master_link_status:up'),
        10_000,
      );
      const sentinels: SentinelProcess[] = [];
      for (let i = 0; i < 3; i++) {
        const dir = mkdtempSync(join(tmpdir(), 'meshcache-sentinel-'));
        const port = await freePort();
        writeFileSync(
          join(dir, 'sentinel.conf'),
          [
            `port ${port}`,
            'bind 127.0.0.1',
            'daemonize no',
            'protected-mode no',
            `dir ${dir}`,
            `logfile ${join(dir, 'sentinel.log')}`,
            `sentinel monitor ${name} ${primary.host} ${primary.port} 2`,
            `sentinel down-after-milliseconds ${name} ${opts.downAfterMs ?? 500}`,
            `sentinel failover-timeout ${name} ${opts.failoverTimeoutMs ?? 2000}`,
            `sentinel parallel-syncs ${name} 1`,
            '',
          ].join('\n'),
        );
        const s = new SentinelProcess(port, dir);
        started.push(s);
        await s.start();
        sentinels.push(s);
      }
      const set = new RedisSentinelSet(name, primary, replica, sentinels);
      // A failover needs the sentinels to know each other (hello messages every 2 s) and the replica.
      await waitUntil(
        'the sentinels to know each other and the replica',
        async () => {
          const states = await Promise.all(sentinels.map((s) => set.masterInfo(s).catch(() => undefined)));
          return states.every((m) => m?.['num-other-sentinels'] === '2' && m['num-slaves'] === '1');
        },
        15_000,
      );
      return set;
    } catch (err) {
      await Promise.all(started.map((s) => s.stop().catch(() => {})));
      throw err;
    }
  }

  /** `{ host, port }` of each sentinel, for `cache.redis.sentinels`. */
  get sentinels(): Array<{ host: string; port: number }> {
    return this.sentinelProcs.map((s) => ({ host: s.host, port: s.port }));
  }

  /** Runs `redis-cli` against a sentinel (the first by default). */
  async sentinelCli(args: string[], sentinel = this.sentinelProcs[0]!): Promise<string> {
    const { stdout } = await promisify(execFile)(findRedisBinaries()!.cli, [
      '-h',
      sentinel.host,
      '-p',
      String(sentinel.port),
      ...args,
    ]);
    return stdout;
  }

  private async masterInfo(sentinel: SentinelProcess): Promise<Record<string, string>> {
    const lines = (await this.sentinelCli(['SENTINEL', 'MASTER', this.name], sentinel)).trim().split('\n');
    const info: Record<string, string> = {};
    for (let i = 0; i + 1 < lines.length; i += 2) info[lines[i]!] = lines[i + 1]!;
    return info;
  }

  /** The port of the primary as the first sentinel sees it. */
  async primaryPort(): Promise<number> {
    const out = await this.sentinelCli(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name]);
    return Number(out.trim().split('\n')[1]);
  }

  /** Waits until every sentinel names the replica as the primary and the replica says it is one. */
  async waitPromoted(timeoutMs = 20_000): Promise<void> {
    await waitUntil(
      'the replica promoted',
      async () => {
        const seen = await Promise.all(
          this.sentinelProcs.map((s) => this.masterInfo(s).catch(() => undefined)),
        );
        if (!seen.every((m) => m?.port === String(this.replica.port))) return false;
        return (await this.replica.cli('ROLE')).startsWith('master');
      },
      timeoutMs,
    );
  }

  /** Kills every process and removes every temp dir. */
  async stop(): Promise<void> {
    await Promise.all([...this.sentinelProcs.map((s) => s.stop()), this.primary.stop(), this.replica.stop()]);
  }
}

/** Convenience: `RedisSentinelSet.start(opts)`. */
export function startRedisSentinelSet(opts: SentinelSetOptions = {}): Promise<RedisSentinelSet> {
  return RedisSentinelSet.start(opts);
}
