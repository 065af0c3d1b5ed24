/**
 * The cluster demo (`npm run demo -- --nodes 3 --backend dht`): starts N node
 * processes (examples/dht-node.ts) on loopback, then shows a miss on one node
 * becoming a hit on another, and an event-driven invalidation reaching all of
 * them. It has its own small process driver (the tests' and benchmark's
 * harness, with timeouts and kill handling, is test/helpers/cluster.ts).
 */
import '../polyfills.js';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeValue } from '../codec/index.js';

const NODE_SCRIPT = fileURLToPath(new URL('../../examples/dht-node.ts', import.meta.url));

type Reply = Record<string, unknown> & { ok: boolean; error?: string };

/** One demo node process, driven with JSON-line commands. */
class DemoProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private readonly listening = new Map<number, () => void>();

  private constructor(
    readonly name: string,
    readonly child: ChildProcessWithoutNullStreams,
    readonly ready: { peerId: string; addresses: string[]; startMs: number },
    readonly spawnMs: number,
  ) {}

  static spawn(name: string, args: string[]): Promise<DemoProcess> {
    const started = performance.now();
    const child = spawn(process.execPath, [
      '--conditions=development',
      '--import',
      'tsx',
      NODE_SCRIPT,
      '--name',
      name,
      ...args,
    ]);
    return new Promise((resolve, reject) => {
      let proc: DemoProcess | undefined;
      let buffer = '';
      let errors = '';
      child.stderr.on('data', (d: Buffer) => {
        errors += d.toString();
      });
      child.on('exit', (code) => {
        if (proc === undefined) reject(new Error(`node ${name} exited with ${code}: ${errors}`));
      });
      child.stdout.on('data', (d: Buffer) => {
        buffer += d.toString();
        for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          let msg: Record<string, unknown>;
          try {
            msg = JSON.parse(line) as Record<string, unknown>;
          } catch {
            continue;
          }
          if (msg.type === 'ready' && proc === undefined) {
            proc = new DemoProcess(name, child, msg as never, performance.now() - started);
            resolve(proc);
          } else if (msg.type === 'watching') proc?.listening.get(Number(msg.id))?.();
          else if (msg.type === 'reply') proc?.waiting.get(Number(msg.id))?.(msg as Reply);
        }
      });
    });
  }

  async call(cmd: Record<string, unknown>): Promise<Reply> {
    const id = this.nextId++;
    const reply = new Promise<Reply>((resolve) => this.waiting.set(id, resolve));
    this.child.stdin.write(`${JSON.stringify({ ...cmd, id })}\n`);
    const r = await reply;
    this.waiting.delete(id);
    if (!r.ok) throw new Error(`node ${this.name}: ${String(cmd.cmd)} failed: ${r.error}`);
    return r;
  }

  async request(path: string, params: Record<string, unknown>) {
    const r = await this.call({ cmd: 'request', path, params });
    return { result: decodeValue(String(r.result)), ran: Number(r.ran) > 0, ms: Number(r.ms) };
  }

  /** Resolves once the process listens for an invalidation of `key`, with a promise of when it applied it. */
  async watch(key: string): Promise<{ applied: Promise<number> }> {
    const id = this.nextId;
    const listening = new Promise<void>((resolve) => this.listening.set(id, resolve));
    const applied = this.call({ cmd: 'watch', key }).then((r) => Number(r.at));
    await listening;
    return { applied };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.call({ cmd: 'stop' }).catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

export interface ClusterDemoOptions {
  nodes: number;
  backend?: 'dht' | 'memory' | string;
  /** Where to print (default console.log). */
  print?: (line: string) => void;
}

async function startDemoProcesses(n: number, args: string[]): Promise<DemoProcess[]> {
  const first = await DemoProcess.spawn('node-1', args);
  const procs = [first];
  const boot = ['--bootstrap', first.ready.addresses.join(',')];
  const rest = await Promise.allSettled(
    Array.from({ length: n - 1 }, (_, i) => DemoProcess.spawn(`node-${i + 2}`, [...args, ...boot])),
  );
  for (const r of rest) if (r.status === 'fulfilled') procs.push(r.value);
  const failed = rest.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.allSettled(procs.map((p) => p.stop()));
    throw (failed as PromiseRejectedResult).reason;
  }
  return procs;
}

async function waitForMesh(procs: DemoProcess[], count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const infos = await Promise.all(procs.map((p) => p.call({ cmd: 'info' })));
    if (infos.every((i) => (i.peers as string[]).length >= count)) return;
    if (Date.now() > deadline) throw new Error('the nodes did not all connect in time');
    await new Promise((r) => setTimeout(r, 250));
  }
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
  const procs = await startDemoProcesses(n, ['--network', 'demo', '--backend', backend, '--db', db]).catch(
    (err) => {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    },
  );
  try {
    await waitForMesh(procs, n - 1);
    for (const p of procs)
      print(
        `  ${p.name}  ${p.ready.peerId.slice(0, 16)}...  ready in ${Math.round(p.spawnMs)} ms (node.start ${Math.round(p.ready.startMs)} ms)`,
      );
    const show = (p: DemoProcess, r: { result: unknown; ran: boolean; ms: number }) =>
      `${p.name}: user/get_user {id: 1} -> ${JSON.stringify(r.result)}  ${r.ran ? 'MISS (handler ran here)' : 'HIT  (no handler run)'}  ${r.ms.toFixed(1)} ms`;
    const a = procs[0] as DemoProcess;
    const last = procs[procs.length - 1] as DemoProcess;

    print('\n1. A miss on one node becomes a hit on another');
    print(`  ${show(a, await a.request('user/get_user', { id: 1 }))}`);
    print(`  ${show(last, await last.request('user/get_user', { id: 1 }))}`);
    for (const p of procs.slice(1, -1)) print(`  ${show(p, await p.request('user/get_user', { id: 1 }))}`);
    print(`  ${show(last, await last.request('user/get_user', { id: 1 }))}  (near cache)`);

    print('\n2. An event-driven invalidation reaches every node');
    const key = 'cache:demo/user/get_user:1';
    const watches = backend === 'dht' ? await Promise.all(procs.map((p) => p.watch(key))) : [];
    const updater = procs[Math.min(1, procs.length - 1)] as DemoProcess;
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
    await Promise.allSettled(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
  print('\nAll node processes stopped.');
}
