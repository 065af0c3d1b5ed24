/**
 * The cluster demo's node processes (examples/dht-node.ts), driven with
 * JSON-line commands over stdin/stdout. A small driver of its own (the tests'
 * and benchmarks' harness is test/helpers/cluster.ts), with deadlines so that
 * a stuck node fails the demo instead of hanging it, and a registry of the
 * children so that every one of them is stopped, whatever happens.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { decodeValue } from '../codec/index.js';

const NODE_SCRIPT = fileURLToPath(new URL('../../examples/dht-node.ts', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const CALL_TIMEOUT_MS = 30_000;

export type Reply = Record<string, unknown> & { ok: boolean; error?: string; code?: string };

/** Every child still running: killed if the demo itself is interrupted. */
const live = new Set<ChildProcessWithoutNullStreams>();

/** Kills every node process still running (the demo was interrupted or failed hard). */
export function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
}

export class DemoProcess {
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
    live.add(child);
    return new Promise((resolve, reject) => {
      let proc: DemoProcess | undefined;
      let buffer = '';
      let errors = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`node ${name} was not ready within ${START_TIMEOUT_MS / 1000} s: ${errors}`));
      }, START_TIMEOUT_MS);
      child.stderr.on('data', (d: Buffer) => {
        errors += d.toString();
      });
      child.on('exit', (code) => {
        live.delete(child);
        clearTimeout(timer);
        if (proc === undefined) reject(new Error(`node ${name} exited with ${code}: ${errors}`));
        // A reply that will never come: fail the commands still waiting rather than hang.
        for (const answer of proc?.waiting.values() ?? [])
          answer({ ok: false, error: `node ${name} exited (${code}): ${errors.slice(-500)}` });
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
            clearTimeout(timer);
            proc = new DemoProcess(name, child, msg as never, performance.now() - started);
            resolve(proc);
          } else if (msg.type === 'watching') proc?.listening.get(Number(msg.id))?.();
          else if (msg.type === 'reply') proc?.waiting.get(Number(msg.id))?.(msg as Reply);
        }
      });
    });
  }

  /** Sends a command; resolves with the reply, failed or not. */
  async attempt(cmd: Record<string, unknown>, timeoutMs = CALL_TIMEOUT_MS): Promise<Reply> {
    const id = this.nextId++;
    let timer: NodeJS.Timeout | undefined;
    const reply = new Promise<Reply>((resolve) => {
      this.waiting.set(id, resolve);
      timer = setTimeout(
        () => resolve({ ok: false, error: `no reply within ${timeoutMs / 1000} s` }),
        timeoutMs,
      );
    });
    this.child.stdin.write(`${JSON.stringify({ ...cmd, id })}\n`);
    const r = await reply;
    clearTimeout(timer);
    this.waiting.delete(id);
    return r;
  }

  /** Sends a command; throws when it failed. */
  async call(cmd: Record<string, unknown>): Promise<Reply> {
    const r = await this.attempt(cmd);
    if (!r.ok) throw new Error(`node ${this.name}: ${String(cmd.cmd)} failed: ${r.error}`);
    return r;
  }

  async request(path: string, params: Record<string, unknown> = {}) {
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
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.attempt({ cmd: 'stop' }, 10_000).catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Starts node 1, then the others bootstrapped from it; stops the started ones if any fails. */
export async function startDemoProcesses(n: number, argsOf: (i: number) => string[]): Promise<DemoProcess[]> {
  const first = await DemoProcess.spawn('node-1', argsOf(1));
  const procs = [first];
  const boot = ['--bootstrap', first.ready.addresses.join(',')];
  const rest = await Promise.allSettled(
    Array.from({ length: n - 1 }, (_, i) => DemoProcess.spawn(`node-${i + 2}`, [...argsOf(i + 2), ...boot])),
  );
  for (const r of rest) if (r.status === 'fulfilled') procs.push(r.value);
  const failed = rest.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.allSettled(procs.map((p) => p.stop()));
    throw (failed as PromiseRejectedResult).reason;
  }
  return procs;
}

/** Resolves once `test(info)` holds for every process (polling `info`), or throws after `timeoutMs`. */
export async function waitForAll(
  procs: DemoProcess[],
  test: (info: Reply) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const infos = await Promise.all(procs.map((p) => p.call({ cmd: 'info' })));
    if (infos.every(test)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
