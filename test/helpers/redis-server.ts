/**
 * Test harness: real redis-server processes on free loopback ports, each with its
 * own temporary directory, no persistence, cleaned up on stop (and killed if the
 * test process exits first). Never touches the system Redis on 6379.
 *
 * - `startRedisServer()`: one server; `kill()` (SIGKILL, a crash), `start()` again on
 *   the same port, `restart()`, `stop()`.
 * - `startRedisServer({ tls: true })`: TLS only, with a self-signed certificate made
 *   by openssl (throws `TlsUnsupportedError` when the build or openssl lack TLS).
 * - `startRedisCluster()`: 3 masters joined by `redis-cli --cluster create`.
 * - `redisAvailable()`: false (with a loud warning) when the binaries are missing;
 *   throws instead when `CI=true`, so CI fails rather than skips.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Paths of redis-server and redis-cli, or undefined when either is missing. */
export function findRedisBinaries(): { server: string; cli: string } | undefined {
  const server = which('redis-server');
  const cli = which('redis-cli');
  return server && cli ? { server, cli } : undefined;
}

function which(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/usr/local/bin', '/usr/sbin']);
  for (const dir of dirs) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

let warned = false;

/**
 * True when redis-server and redis-cli are installed. Otherwise prints a loud
 * warning and returns false (tests skip), except under `CI=true` where it throws.
 */
export function redisAvailable(): boolean {
  if (findRedisBinaries()) return true;
  const msg =
    'redis-server / redis-cli not found: the Redis tests need them (apt-get install redis-server redis-tools)';
  if (process.env.CI === 'true') throw new Error(`${msg}; failing because CI=true`);
  if (!warned) {
    warned = true;
    console.warn(`\n${'!'.repeat(100)}\n!!! SKIPPING REDIS TESTS: ${msg}\n${'!'.repeat(100)}\n`);
  }
  return false;
}

/** Thrown by `startRedisServer({ tls: true })` when TLS cannot be tested here. */
export class TlsUnsupportedError extends Error {
  override readonly name = 'TlsUnsupportedError';
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
export function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

/**
 * A loopback port that is free now. Plain servers get one from the OS (its
 * ephemeral range); cluster nodes (`withBus`: port + 10000 free too) get one in
 * 10000-21999, below that range, so the two never collide.
 */
export async function freePort(withBus = false): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = withBus ? 10000 + Math.floor(Math.random() * 12000) : await ephemeral();
    if ((await canBind(port)) && (!withBus || (await canBind(port + 10000)))) return port;
  }
  throw new Error('no free loopback port found');
}

/**
 * A port where nothing listens, for "Redis is down" tests: in 2000-9999, outside
 * the OS ephemeral range and the cluster range, so no server that another test
 * starts meanwhile can appear there and answer a client meant to find it dead.
 */
export async function deadPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 2000 + Math.floor(Math.random() * 8000);
    if (port !== 6379 && (await canBind(port))) return port;
  }
  throw new Error('no free loopback port found');
}

function ephemeral(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Sends PING over a fresh connection; true on `+PONG` within `timeoutMs`. */
export function ping(port: number, opts: { tls?: boolean; timeoutMs?: number } = {}): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(ok);
    };
    const socket: net.Socket = opts.tls
      ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      : net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(opts.timeoutMs ?? 500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once(opts.tls ? 'secureConnect' : 'connect', () => socket.write('PING\r\n'));
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) finish(buf.startsWith('+PONG'));
    });
  });
}

export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Certificate files for a TLS server. */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  /** The PEM text of the (self-signed) certificate, to trust as a CA. */
  readonly ca: string;
}

/** Makes a self-signed certificate for 127.0.0.1 / localhost with openssl. */
export function makeSelfSignedCert(dir: string): TlsFiles {
  if (!which('openssl')) throw new TlsUnsupportedError('openssl not found: cannot make a test certificate');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new TlsUnsupportedError(`openssl failed: ${r.stderr}`);
  return { cert, key, ca: readFileSync(cert, 'utf8') };
}

export interface RedisServerOptions {
  /** Serve TLS only (plain port disabled). */
  readonly tls?: boolean;
  /** A fixed port (default: a free one). */
  readonly port?: number;
  /** Cluster mode (for `startRedisCluster`). */
  readonly cluster?: boolean;
  /** Extra `--name value` arguments. */
  readonly args?: readonly string[];
}

/** One redis-server process under test control. */
export class RedisServer {
  readonly host = '127.0.0.1';
  readonly dir: string;
  readonly tlsFiles?: TlsFiles;
  #child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly opts: RedisServerOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'meshcache-redis-'));
    if (opts.tls) this.tlsFiles = makeSelfSignedCert(this.dir);
  }

  /** Starts a server on a free loopback port and waits until it answers PING. */
  static async start(opts: RedisServerOptions = {}): Promise<RedisServer> {
    if (!findRedisBinaries()) throw new Error('redis-server not installed');
    for (let attempt = 0; ; attempt++) {
      const port = opts.port ?? (await freePort(opts.cluster));
      const server = new RedisServer(port, opts);
      try {
        await server.start();
        return server;
      } catch (err) {
        await server.stop();
        // Another process took the port between the probe and the bind: try another one.
        if (opts.port !== undefined || attempt >= 3 || err instanceof TlsUnsupportedError) throw err;
      }
    }
  }

  /** `redis://127.0.0.1:<port>` or `rediss://...` for a TLS server. */
  get url(): string {
    return `${this.opts.tls ? 'rediss' : 'redis'}://${this.host}:${this.port}`;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Starts the process (again) on the same port and waits for PING. */
  async start(): Promise<void> {
    if (this.running) return;
    const bins = findRedisBinaries();
    if (!bins) throw new Error('redis-server not installed');
    const args = [
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      this.dir,
      '--logfile',
      join(this.dir, 'redis.log'),
      '--daemonize',
      'no',
      '--protected-mode',
      'no',
    ];
    if (this.opts.tls && this.tlsFiles) {
      args.push('--port', '0', '--tls-port', String(this.port));
      args.push('--tls-cert-file', this.tlsFiles.cert, '--tls-key-file', this.tlsFiles.key);
      args.push('--tls-auth-clients', 'no');
    } else {
      args.push('--port', String(this.port));
    }
    if (this.opts.cluster) {
      args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(this.dir, 'nodes.conf'));
      args.push('--cluster-node-timeout', '2000');
    }
    args.push(...(this.opts.args ?? []));
    const child = spawn(bins.server, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    track(child);
    this.#child = child;
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += d.toString();
    });
    const exited = new Promise<never>((_, reject) => {
      child.once('exit', (code, signal) => {
        const log = this.#logTail();
        const text = `${stderr}\n${log}`;
        if (this.opts.tls && /tls|Bad directive/i.test(text) && !/Address already in use/.test(text)) {
          reject(new TlsUnsupportedError(`redis-server does not accept TLS options: ${text.trim()}`));
        } else
          reject(new Error(`redis-server exited (${code ?? signal}) on port ${this.port}: ${text.trim()}`));
      });
    });
    exited.catch(() => {});
    const up = waitUntil(
      `redis-server on ${this.port}`,
      () => ping(this.port, { tls: this.opts.tls }),
      10_000,
    );
    await Promise.race([up, exited]);
  }

  #logTail(): string {
    try {
      return readFileSync(join(this.dir, 'redis.log'), 'utf8').split('\n').slice(-8).join('\n');
    } catch {
      return '';
    }
  }

  /** SIGKILL: a crash, nothing flushed. Resolves when the process is gone. */
  kill(): Promise<void> {
    return this.#signal('SIGKILL');
  }

  /** SIGSTOP: the server stops answering (a slow / hung Redis) until `resume()`. */
  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  /** SIGCONT after `pause()`. */
  resume(): void {
    this.#child?.kill('SIGCONT');
  }

  /** Stops the process, keeps the temp dir (for `start()` on the same port). */
  async halt(): Promise<void> {
    await this.#signal('SIGTERM', 3000);
  }

  /** Stops and starts again on the same port. */
  async restart(): Promise<void> {
    await this.halt();
    await this.start();
  }

  /** Stops the process and removes its temp dir. */
  async stop(): Promise<void> {
    await this.halt();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async #signal(signal: NodeJS.Signals, killAfterMs?: number): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGCONT'); // a paused server would not handle SIGTERM
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    if (killAfterMs) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    await gone;
    clearTimeout(timer);
  }

  /** Runs a redis-cli command against this server and returns its stdout. */
  async cli(...args: string[]): Promise<string> {
    const bins = findRedisBinaries()!;
    const conn = ['-h', this.host, '-p', String(this.port)];
    if (this.opts.tls && this.tlsFiles) conn.push('--tls', '--cacert', this.tlsFiles.cert);
    const { stdout } = await run(bins.cli, [...conn, ...args], { maxBuffer: 64 << 20 });
    return stdout;
  }
}

/** Convenience: `RedisServer.start(opts)`. */
export function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  return RedisServer.start(opts);
}

/** True when this redis-server build accepts TLS options (starts a throwaway TLS server). */
export async function redisTlsSupported(): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    const s = await RedisServer.start({ tls: true });
    await s.stop();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/** A Redis Cluster of masters on loopback ports. */
export class RedisCluster {
  private constructor(readonly servers: RedisServer[]) {}

  /**
   * Starts `masters` cluster-enabled servers (and `replicasPerMaster` replicas of each),
   * joins them, waits for cluster_state:ok everywhere.
   */
  static async start(masters = 3, replicasPerMaster = 0): Promise<RedisCluster> {
    const servers: RedisServer[] = [];
    try {
      for (let i = 0; i < masters * (1 + replicasPerMaster); i++)
        servers.push(await RedisServer.start({ cluster: true }));
      const cluster = new RedisCluster(servers);
      const bins = findRedisBinaries()!;
      const addrs = servers.map((s) => `${s.host}:${s.port}`);
      const replicas = String(replicasPerMaster);
      await run(
        bins.cli,
        ['--cluster', 'create', ...addrs, '--cluster-replicas', replicas, '--cluster-yes'],
        {
          timeout: 30_000,
        },
      );
      await cluster.waitOk();
      // A replica that never finished its first sync does not take over from a dead master.
      await waitUntil(
        'the replicas in sync',
        async () => {
          const infos = await Promise.all(servers.map((s) => s.cli('INFO', 'replication').catch(() => '')));
          const synced = infos.filter((i) => i.includes('master_link_status:up')).length;
          return synced === masters * replicasPerMaster;
        },
        20_000,
      );
      return cluster;
    } catch (err) {
      await Promise.all(servers.map((s) => s.stop()));
      throw err;
    }
  }

  /** Seed nodes for `RedisBackend({ cluster })`. */
  get nodes(): Array<{ host: string; port: number }> {
    return this.servers.map((s) => ({ host: s.host, port: s.port }));
  }

  /** Waits until every node reports cluster_state:ok and knows all slots. */
  async waitOk(timeoutMs = 20_000): Promise<void> {
    await waitUntil(
      'cluster_state:ok',
      async () => {
        const infos = await Promise.all(this.servers.map((s) => s.cli('CLUSTER', 'INFO').catch(() => '')));
        return infos.every(
          (i) => i.includes('cluster_state:ok') && i.includes('cluster_slots_assigned:16384'),
        );
      },
      timeoutMs,
    );
  }

  /** Number of keys on each master (DBSIZE). */
  async dbsizes(): Promise<number[]> {
    return Promise.all(this.servers.map(async (s) => Number((await s.cli('DBSIZE')).trim())));
  }

  /** Stops every server and removes their temp dirs. */
  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }
}

/** Convenience: `RedisCluster.start(masters, replicasPerMaster)`. */
export function startRedisCluster(masters = 3, replicasPerMaster = 0): Promise<RedisCluster> {
  return RedisCluster.start(masters, replicasPerMaster);
}

/** A pino logger that keeps its records in memory (see ./log.ts). */
export { captureLogger } from './log.js';
