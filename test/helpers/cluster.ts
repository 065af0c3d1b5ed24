/**
 * The multi-process harness of the tests and the DHT benchmark: `NodeProcess`
 * runs one node (examples/dht-node.ts) as an OS process on loopback and drives
 * it over its stdin/stdout (JSON lines); `startProcesses` starts a cluster.
 */
import '../../src/polyfills.js';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { decodeValue } from '../../src/codec/index.js';

/** The node script run by each process (under tsx, on the sources: the `development` condition of `#meshcache/*`). */
export const NODE_SCRIPT = fileURLToPath(new URL('../../examples/dht-node.ts', import.meta.url));
/** A node of an application split over processes (examples/app-node.ts). */
export const APP_NODE_SCRIPT = fileURLToPath(new URL('../../examples/app-node.ts', import.meta.url));
/** A bare libp2p node with the same services (bench/bare-node.ts, built by `npm run build:bench`). */
export const BARE_NODE_SCRIPT = fileURLToPath(
  new URL('../../dist-bench/bench/bare-node.js', import.meta.url),
);
/** The same script compiled (`npm run build:bench`), importing the built package (dist/). */
export const BUILT_NODE_SCRIPT = fileURLToPath(
  new URL('../../dist-bench/examples/dht-node.js', import.meta.url),
);

export interface SpawnOptions {
  network: string;
  name: string;
  bootstrap?: string[];
  psk?: string;
  backend?: 'dht' | 'memory';
  replication?: number;
  /** false: no DHT near cache in the process. */
  near?: boolean;
  logLevel?: string;
  /** A JSON file the processes share as their user database. */
  db?: string;
  /** How long to wait for the ready line, ms (default 60 s: tsx compiles on first start). */
  readyTimeoutMs?: number;
  /** Extra modules preloaded with `--import` (test harnesses). */
  imports?: string[];
  /** Extra environment variables of the process. */
  env?: Record<string, string>;
  /** Run the built JavaScript (BUILT_NODE_SCRIPT on dist/) with plain node, not tsx. */
  built?: boolean;
  /** Run this built script instead (e.g. BARE_NODE_SCRIPT), with plain node. */
  script?: string;
  /** Run this TypeScript file instead (under tsx, on the sources), e.g. APP_NODE_SCRIPT. */
  source?: string;
  /** More command-line arguments of the script. */
  args?: string[];
  /** Leading command words the process runs under, e.g. `ip netns exec <ns>` (test/helpers/netns.ts). */
  wrap?: string[];
}

export interface ReadyInfo {
  name: string;
  peerId: string;
  addresses: string[];
  /** `node.start()` duration inside the process. */
  startMs: number;
  /** From process start to ready, as measured by the process. */
  sinceProcessStartMs: number;
  rss: number;
}

export type Reply = Record<string, unknown> & { ok: boolean; error?: string };

/** One node process, driven with JSON-line commands. */
export class NodeProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private readonly watchers = new Map<number, () => void>();
  private exited = false;
  readonly stderr: string[] = [];

  private constructor(
    readonly child: ChildProcessWithoutNullStreams,
    readonly ready: ReadyInfo,
    /** Spawn-to-ready time seen from the parent, ms. */
    readonly spawnMs: number,
  ) {}

  static spawn(options: SpawnOptions): Promise<NodeProcess> {
    const preload = (options.imports ?? []).flatMap((m) => ['--import', m]);
    const entry = options.script
      ? [options.script]
      : options.source
        ? ['--conditions=development', '--import', 'tsx', options.source]
        : options.built
          ? [BUILT_NODE_SCRIPT]
          : ['--conditions=development', '--import', 'tsx', NODE_SCRIPT];
    const args = [...preload, ...entry, '--network', options.network, '--name', options.name];
    if (options.bootstrap?.length) args.push('--bootstrap', options.bootstrap.join(','));
    if (options.psk !== undefined) args.push('--psk', options.psk);
    if (options.db !== undefined) args.push('--db', options.db);
    if (options.backend !== undefined) args.push('--backend', options.backend);
    if (options.replication !== undefined) args.push('--replication', String(options.replication));
    if (options.near === false) args.push('--near', 'off');
    args.push('--log-level', options.logLevel ?? 'warn');
    if (options.args !== undefined) args.push(...options.args);
    const started = performance.now();
    const [command, ...lead] = options.wrap?.length
      ? [...options.wrap, process.execPath]
      : [process.execPath];
    const child = spawn(command as string, [...lead, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
    });
    return new Promise((resolve, reject) => {
      let proc: NodeProcess | undefined;
      let buffer = '';
      const early: string[] = [];
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(
          new Error(
            `node ${options.name} not ready after ${options.readyTimeoutMs ?? 60_000} ms: ${early.join('')}`,
          ),
        );
      }, options.readyTimeoutMs ?? 60_000);
      child.stderr.on('data', (d: Buffer) => {
        const s = d.toString();
        if (proc) proc.stderr.push(s);
        else early.push(s);
      });
      child.stdout.on('data', (d: Buffer) => {
        buffer += d.toString();
        let nl = buffer.indexOf('\n');
        while (nl >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          nl = buffer.indexOf('\n');
          let msg: Record<string, unknown>;
          try {
            msg = JSON.parse(line) as Record<string, unknown>;
          } catch {
            continue;
          }
          if (msg.type === 'ready' && proc === undefined) {
            clearTimeout(timer);
            proc = new NodeProcess(child, msg as unknown as ReadyInfo, performance.now() - started);
            resolve(proc);
          } else proc?.onMessage(msg);
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (proc === undefined)
          reject(new Error(`node ${options.name} exited with ${code}: ${early.join('')}`));
        else proc.onExit(code);
      });
    });
  }

  get name(): string {
    return this.ready.name;
  }

  /** Sends a command and waits for its reply; rejects when the reply is an error. */
  async call(cmd: Record<string, unknown>, timeoutMs = 30_000): Promise<Reply> {
    if (this.exited) throw new Error(`node ${this.name} has exited`);
    const id = this.nextId++;
    const reply = new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`node ${this.name}: no reply to ${String(cmd.cmd)} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
    this.child.stdin.write(`${JSON.stringify({ ...cmd, id })}\n`);
    const r = await reply;
    if (!r.ok) throw new Error(`node ${this.name}: ${String(cmd.cmd)} failed: ${r.error}`);
    return r;
  }

  /** Calls an action; returns its decoded result and whether the handler ran on this node. */
  async request(
    path: string,
    params: Record<string, unknown>,
  ): Promise<{ result: unknown; ran: boolean; ms: number }> {
    const r = await this.call({ cmd: 'request', path, params });
    return { result: decodeValue(String(r.result)), ran: Number(r.ran) > 0, ms: Number(r.ms) };
  }

  /**
   * Starts watching for an invalidation of `key` (or of rules with `prefix`);
   * resolves once the process is listening, with `applied`: a promise of the
   * epoch ms at which the invalidation was applied there.
   */
  async watch(
    target: { key?: string; prefix?: string },
    timeoutMs = 30_000,
    /** `watch`: a DHT invalidation applied; `watchNotice`: another node's near-bus notice arrived. */
    cmd: 'watch' | 'watchNotice' = 'watch',
  ): Promise<{ applied: Promise<number> }> {
    const id = this.nextId;
    const listening = new Promise<void>((resolve) => this.watchers.set(id, resolve));
    const done = this.call({ cmd, ...target }, timeoutMs).then((r) => Number(r.at));
    done.catch(() => {});
    await listening;
    return { applied: done };
  }

  /** Asks the process to stop its node and exit; kills it after `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.call({ cmd: 'stop' }, timeoutMs).catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  private onMessage(msg: Record<string, unknown>): void {
    if (msg.type === 'watching') {
      this.watchers.get(Number(msg.id))?.();
      this.watchers.delete(Number(msg.id));
      return;
    }
    if (msg.type !== 'reply') return;
    const w = this.waiting.get(Number(msg.id));
    if (w === undefined) return;
    this.waiting.delete(Number(msg.id));
    w.resolve(msg as Reply);
  }

  private onExit(code: number | null): void {
    this.exited = true;
    for (const w of this.waiting.values()) w.reject(new Error(`node ${this.name} exited with ${code}`));
    this.waiting.clear();
  }
}

/** Starts `n` node processes on loopback: the first one, then the others bootstrapping from it. */
export async function startProcesses(
  n: number,
  options: Omit<SpawnOptions, 'name' | 'bootstrap'> & { namePrefix?: string; concurrency?: number },
): Promise<NodeProcess[]> {
  const prefix = options.namePrefix ?? 'node';
  const first = await NodeProcess.spawn({ ...options, name: `${prefix}-1` });
  const procs = [first];
  const bootstrap = first.ready.addresses;
  const concurrency = options.concurrency ?? 4;
  try {
    for (let i = 2; i <= n; i += concurrency) {
      const batch = Array.from({ length: Math.min(concurrency, n - i + 1) }, (_, j) =>
        NodeProcess.spawn({ ...options, name: `${prefix}-${i + j}`, bootstrap }),
      );
      const settled = await Promise.allSettled(batch);
      for (const s of settled) if (s.status === 'fulfilled') procs.push(s.value);
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
    return procs;
  } catch (err) {
    await stopProcesses(procs);
    throw err;
  }
}

/** Waits until every process sees at least `count` peers. */
export async function waitForMesh(procs: NodeProcess[], count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const infos = await Promise.all(procs.map((p) => p.call({ cmd: 'info' })));
    if (infos.every((i) => (i.peers as string[]).length >= count)) return;
    if (Date.now() > deadline) {
      throw new Error(`mesh not formed: peers ${infos.map((i) => (i.peers as string[]).length).join(',')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function stopProcesses(procs: NodeProcess[]): Promise<void> {
  await Promise.allSettled(procs.map((p) => p.stop()));
}
