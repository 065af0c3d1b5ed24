/**
 * The cluster demo (`npm run demo -- --nodes 3 --backend dht`): starts N node
 * processes (examples/dht-node.ts) on loopback, then shows a miss on one node
 * becoming a hit on another, and an event-driven invalidation reaching all of
 * them. `NodeProcess` drives one such process over its stdin/stdout; the
 * multi-process tests and the DHT benchmark use it too.
 */
import '../polyfills.js';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeValue } from '../codec/index.js';

/** The node script run by each process. */
export const NODE_SCRIPT = fileURLToPath(new URL('../../examples/dht-node.ts', import.meta.url));

export interface SpawnOptions {
  network: string;
  name: string;
  bootstrap?: string[];
  psk?: string;
  backend?: 'dht' | 'memory';
  replication?: number;
  logLevel?: string;
  /** A JSON file the processes share as their user database. */
  db?: string;
  /** How long to wait for the ready line, ms (default 60 s: tsx compiles on first start). */
  readyTimeoutMs?: number;
  /** Extra modules preloaded with `--import` (test harnesses). */
  imports?: string[];
  /** Extra environment variables of the process. */
  env?: Record<string, string>;
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

type Reply = Record<string, unknown> & { ok: boolean; error?: string };

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
    const args = [
      '--import',
      'tsx',
      ...preload,
      NODE_SCRIPT,
      '--network',
      options.network,
      '--name',
      options.name,
    ];
    if (options.bootstrap?.length) args.push('--bootstrap', options.bootstrap.join(','));
    if (options.psk !== undefined) args.push('--psk', options.psk);
    if (options.db !== undefined) args.push('--db', options.db);
    if (options.backend !== undefined) args.push('--backend', options.backend);
    if (options.replication !== undefined) args.push('--replication', String(options.replication));
    args.push('--log-level', options.logLevel ?? 'warn');
    const started = performance.now();
    const child = spawn(process.execPath, args, {
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
  ): Promise<{ applied: Promise<number> }> {
    const id = this.nextId;
    const listening = new Promise<void>((resolve) => this.watchers.set(id, resolve));
    const done = this.call({ cmd: 'watch', ...target }, timeoutMs).then((r) => Number(r.at));
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

export interface ClusterDemoOptions {
  nodes: number;
  backend?: 'dht' | 'memory' | string;
  /** Where to print (default console.log). */
  print?: (line: string) => void;
}

/** Runs the cluster demo; resolves once every process has exited. */
export async function runClusterDemo(options: ClusterDemoOptions): Promise<void> {
  const print = options.print ?? ((line: string) => console.log(line));
  const n = Math.max(2, Math.min(20, Math.floor(options.nodes)));
  const backend = options.backend === 'memory' ? 'memory' : 'dht';
  if (options.backend !== undefined && options.backend !== 'dht' && options.backend !== 'memory') {
    print(`(backend '${options.backend}' is not shared between processes in this demo; using dht)`);
  }
  print(`Starting ${n} node processes on 127.0.0.1 (network "demo", cache backend: ${backend})...`);
  const dir = mkdtempSync(join(tmpdir(), 'meshcache-demo-'));
  const db = join(dir, 'users.json');
  writeFileSync(db, JSON.stringify({ 1: 'Ada Lovelace', 2: 'Alan Turing' }));
  const procs = await startProcesses(n, { network: 'demo', backend, db }).catch((err) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  try {
    await waitForMesh(procs, n - 1);
    for (const p of procs)
      print(
        `  ${p.name}  ${p.ready.peerId.slice(0, 16)}...  ready in ${Math.round(p.spawnMs)} ms (node.start ${Math.round(p.ready.startMs)} ms)`,
      );
    const show = (p: NodeProcess, r: { result: unknown; ran: boolean; ms: number }) =>
      `${p.name}: user/get_user {id: 1} -> ${JSON.stringify(r.result)}  ${r.ran ? 'MISS (handler ran here)' : 'HIT  (no handler run)'}  ${r.ms.toFixed(1)} ms`;
    const a = procs[0] as NodeProcess;
    const last = procs[procs.length - 1] as NodeProcess;

    print('\n1. A miss on one node becomes a hit on another');
    print(`  ${show(a, await a.request('user/get_user', { id: 1 }))}`);
    print(`  ${show(last, await last.request('user/get_user', { id: 1 }))}`);
    for (const p of procs.slice(1, -1)) print(`  ${show(p, await p.request('user/get_user', { id: 1 }))}`);
    print(`  ${show(last, await last.request('user/get_user', { id: 1 }))}  (near cache)`);

    print('\n2. An event-driven invalidation reaches every node');
    const key = 'cache:demo/user/get_user:1';
    const watches = backend === 'dht' ? await Promise.all(procs.map((p) => p.watch({ key }))) : [];
    const updater = procs[Math.min(1, procs.length - 1)] as NodeProcess;
    const t0 = performance.timeOrigin + performance.now();
    await updater.request('user/update_user', { id: 1, name: 'Ada King' });
    print(
      `  ${updater.name}: user/update_user {id: 1, name: "Ada King"} publishes user.updated; the rule get_user:{id} deletes the entry`,
    );
    if (backend === 'dht') {
      const times = await Promise.all(watches.map((w) => w.applied));
      for (const [i, p] of procs.entries())
        print(
          `  ${p.name}: entry invalidated ${Math.max(0, (times[i] as number) - t0).toFixed(1)} ms after the update`,
        );
    } else {
      await new Promise((r) => setTimeout(r, 300));
    }
    for (const p of procs) print(`  ${show(p, await p.request('user/get_user', { id: 1 }))}`);

    print('\n3. Stats per node');
    for (const p of procs) {
      const info = await p.call({ cmd: 'info' });
      const c = info.cache as { hits: number; misses: number; hitRate: number };
      print(
        `  ${p.name}: hits ${c.hits}, misses ${c.misses}, hit rate ${(c.hitRate * 100).toFixed(0)}%, peers ${(info.peers as string[]).length}`,
      );
    }
  } finally {
    await stopProcesses(procs);
    rmSync(dir, { recursive: true, force: true });
  }
  print('\nAll node processes stopped.');
}
