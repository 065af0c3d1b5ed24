/**
 * Before/after one change, in one process, interleaved: the same hit paths
 * and `node.request` measured on two built copies of meshcache (`dist/`
 * folders), so both see the same machine state; then import to first hit,
 * one fresh process per run, alternating.
 *
 *   tsx --expose-gc bench/before-after.ts <before-dist> <after-dist>
 *
 * (BENCH_ROUNDS rounds of BENCH_MS of CPU time per case; BENCH_ONLY=memory,near keeps the
 * paths naming one of those words; BENCH_STARTUP_RUNS processes per side.)
 *
 * (build the older commit into its own worktree first: `git worktree add
 * /tmp/before <commit>`, `npm run build` there).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import type { Node as NodeType } from '../src/index.js';
import { RedisServer } from '../test/helpers/redis-server.js';
import { type Case, sequential } from './harness.js';

const [beforeDir, afterDir] = process.argv.slice(2).map((d) => resolve(d));
if (beforeDir === undefined || afterDir === undefined) {
  console.error('usage: bench/before-after.ts <before-dist> <after-dist>');
  process.exit(2);
}
// What `import 'meshcache'` loads in that build: the bundle where the build makes one.
const entryOf = (dir: string) =>
  pathToFileURL(existsSync(`${dir}/bundle/meshcache.js`) ? `${dir}/bundle/meshcache.js` : `${dir}/index.js`)
    .href;
const KEYS = 100;
const silent = pino({ level: 'silent' });
type NodeClass = typeof NodeType;

function userNode(Node: NodeClass, cache: Record<string, unknown>, network?: Record<string, unknown>) {
  const node = new Node({
    logger: silent,
    env: {},
    ...(network ? { network: network as never } : {}),
    config: { cache: { ttl: 3600, failure: { opTimeoutMs: 5000 }, ...cache } },
  });
  node.addService({
    name: 'user',
    actions: {
      get_user: {
        cache: { keys: ['id'] },
        handler: async (_c: unknown, p: { id: number }) => ({ id: p.id }),
      },
      add: (_c: unknown, p: { a: number; b: number }) => p.a + p.b,
    },
  });
  return node;
}

async function nodesOf(dir: string, redisUrl: string, tag: string) {
  const { Node } = (await import(entryOf(dir))) as { Node: NodeClass };
  const redis = { url: redisUrl, operationTimeoutMs: 2000 };
  const nodes = {
    memory: userNode(Node, { backend: 'memory' }),
    'redis + near tier': userNode(Node, { backend: 'redis', redis, prefix: `${tag}:` }),
    'redis, near off': userNode(Node, {
      backend: 'redis',
      redis,
      prefix: `${tag}n:`,
      near: { enabled: false },
    }),
    'dht + near tier (bus)': userNode(Node, { backend: 'dht' }, { id: `ba-${tag}` }),
    'dht, near off': userNode(Node, { backend: 'dht', near: { enabled: false } }, { id: `ban-${tag}` }),
  };
  for (const n of Object.values(nodes)) await n.start();
  const params = Array.from({ length: KEYS }, (_, id) => ({ id }));
  for (const n of Object.values(nodes))
    for (let k = 0; k < 2; k++) for (const p of params) await n.request('user/get_user', p);
  return { nodes, params };
}

const server = await RedisServer.start();
const sides = {
  before: await nodesOf(beforeDir, server.url, 'b'),
  after: await nodesOf(afterDir, server.url, 'a'),
};
let i = 0;
const nextParams = (params: Array<{ id: number }>) => {
  i = (i + 1) % KEYS;
  return params[i];
};
const cases: Case[] = [];
for (const path of Object.keys(sides.before.nodes) as Array<keyof typeof sides.before.nodes>) {
  for (const [side, { nodes, params }] of Object.entries(sides)) {
    const node = nodes[path];
    cases.push({
      name: `${path} hit | ${side}`,
      run: sequential(() => node.request('user/get_user', nextParams(params))),
    });
  }
}
for (const [side, { nodes }] of Object.entries(sides)) {
  const node = nodes.memory;
  const p = { a: 1, b: 2 };
  cases.push({
    name: `node.request (uncached) | ${side}`,
    run: sequential(() => node.request('user/add', p)),
  });
}
// BENCH_ONLY=memory,near: only the paths whose name contains one of these words (and import to first hit).
const only = process.env.BENCH_ONLY?.split(',');
const kept = only ? cases.filter((c) => only.some((w) => c.name.includes(w))) : cases;
// CPU time, not wall time: on a shared machine a busy neighbour stretches wall time, not the
// CPU this process spends. Rounds alternate which side of a pair goes first (the second one
// pays for garbage the first left); each figure is the median over the rounds.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const SLICE_MS = Number(process.env.BENCH_MS ?? 200);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
async function usPerOp(c: Case): Promise<number> {
  let ops = 0;
  let batch = 256;
  const start = cpuMs();
  while (cpuMs() - start < SLICE_MS) {
    await c.run(batch);
    ops += batch;
    if (batch < 65_536) batch *= 2;
  }
  return ((cpuMs() - start) * 1000) / ops;
}
for (const c of kept) await usPerOp(c); // warm-up
const samples = new Map<string, number[]>(kept.map((c) => [c.name, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (let k = 0; k < kept.length; k += 2) {
    const pair = r % 2 === 0 ? [kept[k], kept[k + 1]] : [kept[k + 1], kept[k]];
    for (const c of pair) samples.get(c.name)!.push(await usPerOp(c));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = kept.map((c) => ({ name: c.name, usPerOp: median(samples.get(c.name)!) }));
const rows = new Map<string, Record<string, number>>();
for (const r of results) {
  const [what, side] = r.name.split(' | ');
  rows.set(what, { ...rows.get(what), [side]: r.usPerOp });
}
const out = ['| path | before µs/op (CPU) | after µs/op (CPU) | after vs before |', '|---|---:|---:|---:|'];
for (const [what, { before, after }] of rows)
  out.push(
    `| ${what} | ${before.toFixed(3)} | ${after.toFixed(3)} | ${(((after - before) / before) * 100).toFixed(1)}% |`,
  );
for (const side of Object.values(sides)) for (const n of Object.values(side.nodes)) await n.stop();
await server.stop();

// Import to first hit: a fresh process per run, before and after alternating.
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 9);
const script = (dir: string) => `
  const t0 = performance.now();
  const { Node } = await import(${JSON.stringify(entryOf(dir))});
  const node = new Node({ env: {} });
  node.addService({ name: 'user', actions: { get_user: { cache: { ttl: 60, keys: ['id'] }, handler: (_c, p) => ({ id: p.id }) } } });
  await node.start();
  await node.request('user/get_user', { id: 1 });
  const hit = await node.request('user/get_user', { id: 1 });
  if (hit.id !== 1 || node.cache.stats().hits !== 1) throw new Error('no hit');
  console.log(performance.now() - t0);
  await node.stop();`;
const times: Record<string, number[]> = { before: [], after: [] };
for (let r = 0; r < RUNS; r++) {
  // Alternating which goes first, for the same reason.
  const order = [
    ['before', beforeDir],
    ['after', afterDir],
  ] as const;
  for (const [side, dir] of r % 2 === 0 ? order : [...order].reverse()) {
    const text = execFileSync(process.execPath, ['--input-type=module', '-e', script(dir)], {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '', LOG_LEVEL: 'silent' },
    });
    times[side].push(Number(text.trim().split('\n').at(-1)));
  }
}
const [b, a] = [median(times.before), median(times.after)];
out.push(
  `| import to first hit (ms, median of ${RUNS} processes) | ${b.toFixed(1)} | ${a.toFixed(1)} | ${(((a - b) / b) * 100).toFixed(1)}% |`,
);
console.log(out.join('\n'));
