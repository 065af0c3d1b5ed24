/**
 * A real network of Linux network namespaces for partition tests: one
 * namespace holding a bridge, one namespace per participant, a veth pair from
 * each participant to the bridge, addresses from 10.213.<n>.0/24 inside the
 * participants only. The root namespace is never touched (no address, route
 * or link of it changes). `cut(name)` sets the participant's port on the
 * bridge down: its packets are dropped silently, as in a real partition.
 *
 * Names are `mcnet<pid>x<seq>-<participant>`, so two runs never collide and a
 * later run can sweep what a crashed one left (`sweepStaleLabs`). Every
 * process runs under `timeout` (bounded even if the test runner dies), and
 * `destroy()` (also on process exit) kills whatever runs in the namespaces
 * and deletes them.
 *
 * `netnsAvailable()`: false with a loud note when namespaces cannot be made
 * (not root, no `ip`); throws under `CI=true`, so CI fails rather than skips.
 */
import { type ChildProcess, execFile, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const PREFIX = 'mcnet';
const OWNED = new RegExp(`^${PREFIX}(\\d+)x\\d+-`);
/** Longest any command of the harness (`ip ...`) may take. */
const IP_TIMEOUT_MS = 10_000;

/** Runs `ip` with the given arguments; rejects with its stderr on failure or after IP_TIMEOUT_MS. */
async function ip(...args: string[]): Promise<string> {
  try {
    return (await exec('ip', args, { timeout: IP_TIMEOUT_MS })).stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`ip ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

/** Why namespaces cannot be made here, or undefined when they can (tries one). */
export function netnsUnsupportedReason(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces need root (this process is not uid 0)';
  if (!['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].some((p) => existsSync(p)))
    return '`ip` (iproute2) not found: apt-get install iproute2';
  if (!existsSync('/usr/bin/timeout') && !existsSync('/bin/timeout'))
    return '`timeout` (coreutils) not found';
  const probe = `${PREFIX}${process.pid}x0-probe`;
  const made = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8', timeout: IP_TIMEOUT_MS });
  if (made.status !== 0) return `\`ip netns add\` failed: ${(made.stderr || String(made.error)).trim()}`;
  spawnSync('ip', ['netns', 'del', probe], { timeout: IP_TIMEOUT_MS });
  return undefined;
}

let warned = false;

/** True when namespaces can be made; otherwise a loud note and false, or a throw under `CI=true`. */
export function netnsAvailable(): boolean {
  const reason = netnsUnsupportedReason();
  if (reason === undefined) return true;
  const msg = `network-namespace partition tests cannot run: ${reason}`;
  if (process.env.CI === 'true') throw new Error(`${msg}; failing because CI=true`);
  if (!warned) {
    warned = true;
    console.warn(`\n${'!'.repeat(100)}\n!!! SKIPPING PARTITION TESTS: ${msg}\n${'!'.repeat(100)}\n`);
  }
  return false;
}

/** Names of the namespaces that exist now. */
function listNamespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: IP_TIMEOUT_MS });
  return (r.stdout ?? '')
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

/** Kills every process inside `ns`, then deletes it (synchronous: also usable in an exit hook). */
function removeNamespaceSync(ns: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: IP_TIMEOUT_MS });
  for (const pid of (pids.stdout ?? '').split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {}
  }
  spawnSync('ip', ['netns', 'del', ns], { timeout: IP_TIMEOUT_MS });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Deletes the namespaces (and kills their processes) of meshcache test runs
 * whose process is gone: leftovers of a run that crashed. Never touches the
 * labs of a run still alive, nor any namespace without the prefix.
 */
export function sweepStaleLabs(): string[] {
  const swept = listNamespaces().filter((ns) => {
    const owner = OWNED.exec(ns)?.[1];
    return owner !== undefined && Number(owner) !== process.pid && !alive(Number(owner));
  });
  for (const ns of swept) removeNamespaceSync(ns);
  return swept;
}

const liveLabs = new Set<NetnsLab>();
let exitHook = false;

export interface LabProcessOptions extends Pick<SpawnOptions, 'env' | 'stdio'> {
  /** The process is killed after this many seconds whatever happens (default 300). */
  lifetimeSec?: number;
}

/** One network of namespaces: a bridge and the participants named at creation. */
export class NetnsLab {
  private static seq = 0;
  /** Every namespace of this lab starts with this (`mcnet<pid>x<seq>-`). */
  readonly id: string;
  readonly subnet: string;
  private readonly bridgeNs: string;
  private readonly members = new Map<string, { ns: string; address: string; port: string }>();
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  private constructor(readonly names: readonly string[]) {
    this.id = `${PREFIX}${process.pid}x${++NetnsLab.seq}-`;
    // Namespaces isolate labs from each other; the third octet only makes captures easier to read.
    this.subnet = `10.213.${(process.pid % 250) + 1}`;
    this.bridgeNs = `${this.id}br`;
    names.forEach((name, i) => {
      if (!/^[a-z][a-z0-9]{0,10}$/.test(name))
        throw new Error(`participant name ${name}: [a-z][a-z0-9]{0,10}`);
      this.members.set(name, { ns: this.id + name, address: `${this.subnet}.${10 + i}`, port: `to-${name}` });
    });
  }

  /** Builds the bridge and one namespace per participant; removes what it made if a step fails. */
  static async create(names: readonly string[]): Promise<NetnsLab> {
    sweepStaleLabs();
    const lab = new NetnsLab(names);
    liveLabs.add(lab);
    if (!exitHook) {
      exitHook = true;
      const cleanup = () => {
        for (const l of liveLabs) l.destroySync();
      };
      process.once('exit', cleanup);
      // A signal ends the process without 'exit': clean up, then let the signal do what it would have.
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
        process.once(sig, () => {
          cleanup();
          if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
        });
    }
    try {
      await lab.build();
      return lab;
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  }

  private async build(): Promise<void> {
    const br = this.bridgeNs;
    await ip('netns', 'add', br);
    await ip('-n', br, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', br, 'link', 'set', 'br0', 'up');
    for (const m of this.members.values()) {
      await ip('netns', 'add', m.ns);
      await ip('-n', m.ns, 'link', 'set', 'lo', 'up');
      // Both ends are created where they live: nothing ever appears in the root namespace.
      await ip('-n', br, 'link', 'add', m.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', m.ns);
      await ip('-n', br, 'link', 'set', m.port, 'master', 'br0');
      await ip('-n', br, 'link', 'set', m.port, 'up');
      await ip('-n', m.ns, 'addr', 'add', `${m.address}/24`, 'dev', 'eth0');
      await ip('-n', m.ns, 'link', 'set', 'eth0', 'up');
    }
  }

  private member(name: string) {
    const m = this.members.get(name);
    if (m === undefined) throw new Error(`no participant ${name} in lab ${this.id}`);
    return m;
  }

  /** The participant's address (10.213.x.y). */
  address(name: string): string {
    return this.member(name).address;
  }

  /** The participant's namespace name. */
  namespace(name: string): string {
    return this.member(name).ns;
  }

  /** The leading words that run a command in the participant's namespace, killed after `lifetimeSec`. */
  wrap(name: string, lifetimeSec = 300): string[] {
    return ['ip', 'netns', 'exec', this.namespace(name), 'timeout', '--kill-after=5', `${lifetimeSec}s`];
  }

  /** Starts a process in the participant's namespace; it is killed by `destroy()` at the latest. */
  spawn(name: string, command: string, args: string[], options: LabProcessOptions = {}): ChildProcess {
    if (this.destroyed) throw new Error(`lab ${this.id} was destroyed`);
    const [cmd, ...lead] = this.wrap(name, options.lifetimeSec);
    const child = spawn(cmd as string, [...lead, command, ...args], {
      stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    this.adopt(child);
    return child;
  }

  /** Tracks a process started elsewhere with `wrap()`, so `destroy()` stops it. */
  adopt(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  }

  /** Runs a command to completion in the participant's namespace; resolves its stdout. */
  async run(name: string, command: string, args: string[], timeoutMs = IP_TIMEOUT_MS): Promise<string> {
    const [cmd, ...lead] = this.wrap(name, Math.ceil(timeoutMs / 1000) + 1);
    return (await exec(cmd as string, [...lead, command, ...args], { timeout: timeoutMs })).stdout;
  }

  /** Partitions the participant: its bridge port goes down and every packet to or from it is dropped. */
  async cut(name: string): Promise<number> {
    await ip('-n', this.bridgeNs, 'link', 'set', this.member(name).port, 'down');
    return Date.now();
  }

  /** Ends the partition of the participant. */
  async restore(name: string): Promise<number> {
    await ip('-n', this.bridgeNs, 'link', 'set', this.member(name).port, 'up');
    return Date.now();
  }

  /** Whether a TCP connection from the participant to `address:port` opens within `timeoutMs`. */
  async canConnect(name: string, address: string, port: number, timeoutMs = 1000): Promise<boolean> {
    const secs = (timeoutMs / 1000).toFixed(3);
    const probe = `exec 3<>/dev/tcp/${address}/${port}`;
    try {
      await this.run(name, 'timeout', [secs, 'bash', '-c', probe], timeoutMs + 2000);
      return true;
    } catch {
      return false;
    }
  }

  /** Whether the participant's port is up. */
  async linked(name: string): Promise<boolean> {
    const out = await ip('-n', this.bridgeNs, '-o', 'link', 'show', this.member(name).port);
    return /[<,]UP[,>]/.test(out);
  }

  /** The namespaces of this lab that exist now (empty after `destroy()`). */
  existing(): string[] {
    return listNamespaces().filter((ns) => ns.startsWith(this.id));
  }

  /** Stops every process (SIGTERM, SIGKILL after `graceMs`), then deletes the namespaces. */
  async destroy(graceMs = 3000): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const exits = [...this.children].map(
      (c) =>
        new Promise<void>((resolve) =>
          c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()),
        ),
    );
    for (const c of this.children) c.kill('SIGTERM');
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, graceMs))]);
    this.destroySync();
  }

  /** Kills what is left and deletes the namespaces, synchronously (the exit hook). */
  private destroySync(): void {
    this.destroyed = true;
    for (const c of this.children) c.kill('SIGKILL');
    for (const m of this.members.values()) removeNamespaceSync(m.ns);
    removeNamespaceSync(this.bridgeNs);
    liveLabs.delete(this);
  }
}
