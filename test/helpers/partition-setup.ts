/**
 * The processes of a partition scenario, inside the namespaces of a `NetnsLab`
 * (./netns.ts): a redis-server on its namespace's address, node processes
 * running test/fixtures/scripts/partition-node.ts, and the shared "database"
 * file their handler reads. `redisScenario()` and `dhtScenario()` start a
 * whole one and ready a key for each cut; ./partition.ts measures the cut.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeProcess, stopProcesses, waitForMesh } from './cluster.js';
import { NetnsLab } from './netns.js';
import { findRedisBinaries } from './redis-server.js';

export const PARTITION_NODE_SCRIPT = fileURLToPath(
  new URL('../fixtures/scripts/partition-node.ts', import.meta.url),
);
/** The port redis-server listens on inside its own namespace (never the machine's 6379). */
export const REDIS_PORT = 6479;
/** The port every DHT node listens on, on its namespace's address. */
export const P2P_PORT = 4001;
/** How long any process of a scenario may live, s. */
const LIFETIME_SEC = 600;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The "database" every process reads: `{ version }` in a JSON file, replaced atomically. */
export class SharedDb {
  readonly dir = mkdtempSync(join(tmpdir(), 'meshcache-partition-'));
  readonly file = join(this.dir, 'db.json');
  version = 0;

  constructor() {
    this.set(1);
  }

  set(version: number): void {
    this.version = version;
    writeFileSync(`${this.file}.tmp`, JSON.stringify({ version }));
    renameSync(`${this.file}.tmp`, this.file);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts redis-server in the participant's namespace, on its address; resolves its URL once it answers. */
export async function startRedisIn(lab: NetnsLab, name: string, dir: string): Promise<string> {
  const bins = findRedisBinaries();
  if (bins === undefined) throw new Error('redis-server / redis-cli not found');
  const address = lab.address(name);
  const child = lab.spawn(name, bins.server, [
    ...['--bind', address, '--port', String(REDIS_PORT), '--save', '', '--appendonly', 'no'],
    ...['--dir', dir, '--daemonize', 'no', '--protected-mode', 'no'],
  ]);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const until = Date.now() + 10_000;
  for (;;) {
    const pong = await lab
      .run(name, bins.cli, ['-h', address, '-p', String(REDIS_PORT), 'PING'], 2000)
      .catch(() => '');
    if (pong.trim() === 'PONG') return `redis://${address}:${REDIS_PORT}`;
    if (child.exitCode !== null || Date.now() > until)
      throw new Error(`redis-server in ${lab.namespace(name)} did not answer: ${stderr}`);
    await sleep(50);
  }
}

export interface PartitionNodeOptions {
  backend: 'redis' | 'dht';
  db: SharedDb;
  redisUrl?: string;
  /** DHT: the network id, and the multiaddrs to bootstrap from. */
  network?: string;
  bootstrap?: string[];
  replication?: number;
  maxStalenessMs?: number;
}

/** Starts one partition node in the participant's namespace. */
export async function startNodeIn(
  lab: NetnsLab,
  name: string,
  o: PartitionNodeOptions,
): Promise<NodeProcess> {
  const args = ['--backend', o.backend, '--max-staleness-ms', String(o.maxStalenessMs ?? 1000)];
  if (o.redisUrl !== undefined) args.push('--redis-url', o.redisUrl);
  if (o.backend === 'dht') args.push('--listen', `/ip4/${lab.address(name)}/tcp/${P2P_PORT}`);
  const proc = await NodeProcess.spawn({
    network: o.network ?? 'none',
    name,
    source: PARTITION_NODE_SCRIPT,
    wrap: lab.wrap(name, LIFETIME_SEC),
    db: o.db.file,
    ...(o.bootstrap === undefined ? {} : { bootstrap: o.bootstrap }),
    ...(o.replication === undefined ? {} : { replication: o.replication }),
    args,
    readyTimeoutMs: 90_000,
  });
  lab.adopt(proc.child);
  return proc;
}

/** Waits until every node's near tier is live (its coherence channel is up). */
export async function waitNearLive(nodes: NodeProcess[], timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const infos = await Promise.all(nodes.map((n) => n.call({ cmd: 'info' })));
    if (infos.every((i) => (i.near as { live?: boolean } | null)?.live === true)) return;
    if (Date.now() > until)
      throw new Error(`near tiers not live: ${infos.map((i) => JSON.stringify(i.near)).join(' ')}`);
    await sleep(100);
  }
}

/** A started scenario: the lab, its node processes by participant, and how to ready a key. */
export interface Scenario {
  readonly lab: NetnsLab;
  readonly db: SharedDb;
  readonly nodes: Record<string, NodeProcess>;
  /** Whether the nodes run with `cache.coherence` (false: this build refuses the option). */
  readonly coherenceOption: boolean;
  /**
   * Readies a fresh key for a cut of `victim` (A): A has read it, so it holds
   * the current version (a near copy; on the DHT also a record, as a holder).
   */
  prepare(): Promise<Prepared>;
  /** Stops every process and removes the lab; resolves the namespaces still there (none). */
  close(): Promise<string[]>;
}

export interface Prepared {
  id: number;
  /** The victim's second read was a hit (the handler did not run). */
  victimHit: boolean;
  /** DHT: the victim holds a live record of the key. */
  victimHolds?: boolean;
}

const coherenceOf = (p: NodeProcess) => (p.ready as { coherenceOption?: boolean }).coherenceOption !== false;

async function closeAll(lab: NetnsLab, db: SharedDb, nodes: Record<string, NodeProcess>): Promise<string[]> {
  await stopProcesses(Object.values(nodes));
  await lab.destroy();
  db.remove();
  return lab.existing();
}

/** Redis in its namespace, nodes `a` (the victim) and `c` (the deleter) in theirs. */
export async function redisScenario(maxStalenessMs: number): Promise<Scenario> {
  const lab = await NetnsLab.create(['redis', 'a', 'c']);
  const db = new SharedDb();
  const nodes: Record<string, NodeProcess> = {};
  try {
    const redisUrl = await startRedisIn(lab, 'redis', db.dir);
    const started = await Promise.all(
      ['a', 'c'].map((n) => startNodeIn(lab, n, { backend: 'redis', redisUrl, db, maxStalenessMs })),
    );
    Object.assign(nodes, { a: started[0], c: started[1] });
  } catch (err) {
    await closeAll(lab, db, nodes);
    throw err;
  }
  const a = nodes.a!;
  let next = 0;
  return {
    lab,
    db,
    nodes,
    coherenceOption: coherenceOf(a),
    async prepare() {
      const id = ++next;
      await waitNearLive(Object.values(nodes));
      await a.request('user/get', { id });
      return { id, victimHit: !(await a.request('user/get', { id })).ran };
    },
    close: () => closeAll(lab, db, nodes),
  };
}

/** Four DHT nodes (`b` the bootstrap, `a` the victim, `c` the deleter, `d`), replication 3. */
export async function dhtScenario(maxStalenessMs: number): Promise<Scenario> {
  const lab = await NetnsLab.create(['b', 'a', 'c', 'd']);
  const db = new SharedDb();
  const network = `partition-${process.pid}`;
  const nodes: Record<string, NodeProcess> = {};
  const options = { backend: 'dht' as const, db, network, replication: 3, maxStalenessMs };
  try {
    const b = await startNodeIn(lab, 'b', options);
    nodes.b = b;
    const bootstrap = [`/ip4/${lab.address('b')}/tcp/${P2P_PORT}/p2p/${b.ready.peerId}`];
    const rest = await Promise.all(
      ['a', 'c', 'd'].map((n) => startNodeIn(lab, n, { ...options, bootstrap })),
    );
    Object.assign(nodes, { a: rest[0], c: rest[1], d: rest[2] });
  } catch (err) {
    await closeAll(lab, db, nodes);
    throw err;
  }
  const all = Object.values(nodes);
  const a = nodes.a!;
  const keyOf = (id: number) => `cache:${network}/user/get:${id}`;
  let next = 0;
  /** The next id whose entry A holds (one of its `replication` closest peers). */
  async function keyHeldByA(): Promise<number> {
    for (let tries = 0; tries < 200; tries++) {
      const id = ++next;
      const r = await a.call({ cmd: 'holders', key: keyOf(id) });
      if ((r.holders as string[] | null)?.includes(String(r.self))) return id;
    }
    throw new Error('no key among 200 has A as a holder');
  }
  return {
    lab,
    db,
    nodes,
    coherenceOption: coherenceOf(a),
    async prepare() {
      await waitForMesh(all, all.length - 1, 60_000); // A is back from the previous cut
      await waitNearLive(all);
      const id = await keyHeldByA();
      await nodes.c!.request('user/get', { id }); // computed elsewhere, stored on the holders
      const victimHit = !(await a.request('user/get', { id })).ran;
      const victimHolds = (await a.call({ cmd: 'holders', key: keyOf(id) })).holds === true;
      return { id, victimHit, victimHolds };
    },
    close: () => closeAll(lab, db, nodes),
  };
}
