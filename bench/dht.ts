/**
 * DHT cache benchmark: N node processes (examples/dht-node.ts) on loopback, for
 * N = 5 and N = 20 (override: `BENCH_NODES=5,20`), all measured in the same run:
 *
 * - p50/p99 of a DHT hit (a node that never read the key: full kad lookup), a
 *   DHT miss, and a put (lookup + PUT_VALUE to the `replication` closest), beside
 *   raw kad-dht `get`/`put` of the same payload on the same network;
 * - a Redis hit and set through node.request on a local redis-server;
 * - invalidation reach: `revoke` on one node until every node has applied it
 *   (p50/p99 over rounds of the slowest node, and over all node samples);
 * - reachability under churn: keys still readable after killing 30-40% of the
 *   nodes, right away and after replication upkeep;
 * - memory (RSS) per node and start-up time.
 *
 * Node processes run the built JavaScript (dist/ via dist-bench/, built first
 * with `npm run build:bench`; BENCH_NO_BUILD=1 skips it). A bare libp2p
 * network with the same services (bench/bare-node.ts) runs beside the DHT
 * network for the invalidation-reach floor and the node weight.
 *
 *   npx tsx bench/dht.ts            # prints a markdown table
 *   BENCH_SAVE=1 npx tsx bench/dht.ts   # also writes bench/results/dht.md
 */
import '../src/polyfills.js';
import { execFileSync, execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { Node } from '../src/index.js';
import {
  BARE_NODE_SCRIPT,
  NodeProcess,
  startProcesses,
  stopProcesses,
  waitForMesh,
} from '../test/helpers/cluster.js';
import { RedisServer } from '../test/helpers/redis-server.js';

/** Redis hit and set through node.request on a local redis-server (same run, same machine). */
async function redisBaseline(): Promise<{ hit: number[]; set: number[] }> {
  const server = await RedisServer.start();
  const node = new Node({
    config: {
      // near tier off: the baseline is a Redis round trip, as the DHT hit below is a network round trip
      cache: {
        enabled: true,
        backend: 'redis',
        near: { enabled: false },
        redis: { url: `redis://127.0.0.1:${server.port}` },
      },
    },
  });
  const value = { id: 1, name: 'x'.repeat(100) };
  node.addService({
    name: 'r',
    actions: { get: { cache: { enabled: true, ttl: 600, keys: ['id'] }, handler: async () => value } },
  });
  await node.start();
  const hit: number[] = [];
  const set: number[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      let t = performance.now();
      await node.request('r/get', { id: i }); // miss: handler (no I/O) + SET
      set.push(performance.now() - t);
      t = performance.now();
      await node.request('r/get', { id: i });
      hit.push(performance.now() - t);
    }
  } finally {
    await node.stop();
    await server.stop();
  }
  return { hit: hit.slice(20), set: set.slice(20) };
}

interface Stat {
  n: number;
  p50: number;
  p99: number;
  mean: number;
}

const sizes = (process.env.BENCH_NODES ?? '5,20').split(',').map(Number);
const REPLICATION = 3;

function pct(samples: number[], q: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}

const progress = (msg: string) =>
  process.stderr.write(`  [${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const ms = (v: number) => (v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(1));

async function time(
  p: NodeProcess,
  op: string,
  keys: string[],
  extra: Record<string, unknown> = {},
): Promise<Stat> {
  const r = await p.call({ cmd: 'time', op, keys, ...extra }, 300_000);
  return r.stats as Stat;
}

interface Result {
  nodes: number;
  rows: Array<[string, string, string, string]>;
  notes: string[];
}

async function runSize(n: number): Promise<Result> {
  const rows: Result['rows'] = [];
  const notes: string[] = [];
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ');
  notes.push(`load average (1/5/15 min) before: ${load()}`);
  const t0 = performance.now();
  const procs = await startProcesses(n, {
    network: `bench-${n}`,
    replication: REPLICATION,
    concurrency: 4,
    near: false,
    built: true,
  });
  const wall = performance.now() - t0;
  try {
    progress(`${n} processes up in ${(wall / 1000).toFixed(1)} s`);
    const want = n - 1;
    await waitForMesh(procs, Math.min(want, 4), 240_000);
    // Let discovery settle (full mesh on small networks).
    await waitForMesh(procs, want, 20_000).catch(() =>
      notes.push('not every node connected to all others within 20 s'),
    );
    // One-hop reads and writes need a membership settled for oneHop.settleMs (5 s) after the last join.
    await new Promise((r) => setTimeout(r, 5_500));
    const infos = await Promise.all(procs.map((p) => p.call({ cmd: 'info' })));
    const peerCounts = infos.map((i) => (i.peers as string[]).length);
    notes.push(`peers per node: min ${Math.min(...peerCounts)}, max ${Math.max(...peerCounts)} (of ${want})`);

    const writers = procs.slice(0, 3);
    const readers = procs.slice(3, 6).length > 0 ? procs.slice(3, 6) : procs.slice(1, 2);
    const perNode = n <= 5 ? 60 : 40;
    const keysOf = (w: number, kind: string) =>
      Array.from({ length: perNode }, (_, i) => `cache:bench/svc/${kind}-${w}-${i}`);
    const idsOf = (w: number) => Array.from({ length: perNode }, (_, i) => String(10_000 * (w + 1) + i));
    // Warm-up: JIT, connections.
    await Promise.all(writers.map((w, i) => time(w, 'set', keysOf(i, 'warm').slice(0, 20))));
    // As many warm-up reads as the Redis baseline below gets (the JIT needs them on both sides).
    for (let round = 0; round < 10; round++)
      await Promise.all(
        readers.map((r, i) => time(r, 'get', keysOf(i % writers.length, 'warm').slice(0, 20))),
      );

    progress('warm-up done');
    // Operations interleaved in chunks of 10 keys (A, B, A, B, ...) so both sides of each comparison see the same load.
    const chunks = (keys: string[]) =>
      Array.from({ length: Math.ceil(keys.length / 10) }, (_, i) => keys.slice(i * 10, i * 10 + 10));
    const samples: Record<string, number[]> = {
      put: [],
      putPrimary: [],
      putYamux: [],
      hitYamux: [],
      hitDeferred: [],
      putDeferred: [],
      warm: [],
      rawPut: [],
      hit: [],
      hitRemote: [],
      hitParallel: [],
      hitSingle: [],
      reqHit: [],
      rawGet: [],
      miss: [],
    };
    const failures: Record<string, number> = {};
    const run = async (p: NodeProcess, op: string, keys: string[], into: string) => {
      const r = await p.call({ cmd: 'time', op, keys }, 300_000);
      const st = r.stats as { samples: number[]; failures: number };
      samples[into]?.push(...(st.samples ?? []));
      failures[into] = (failures[into] ?? 0) + (st.failures ?? 0);
    };
    for (const [i, w] of writers.entries()) {
      const vk = chunks(keysOf(i, 'v'));
      const rk = chunks(keysOf(i, 'raw'));
      for (let c = 0; c < vk.length; c++) {
        await run(w, 'set', vk[c] as string[], 'put');
        // The same writes acknowledged by the closest holder only (writeAck: 'primary').
        await w.call({ cmd: 'ack-mode', mode: 'primary' });
        await run(
          w,
          'set',
          (vk[c] as string[]).map((k) => `${k}-p`),
          'putPrimary',
        );
        await w.call({ cmd: 'ack-mode', mode: 'all' });
        // And with yamux's window update after every frame (before), on every node. A mode
        // switch re-opens every stream: a warm-up write and read first (not counted).
        const reader = readers[0] as NodeProcess;
        const keysAs = (tag: string) => (vk[c] as string[]).map((k) => `${k}-${tag}`);
        await Promise.all(procs.map((p) => p.call({ cmd: 'window-mode', mode: 'yamux' })));
        await run(w, 'set', keysAs('yw'), 'warm');
        await run(reader, 'getRemote', vk[c] as string[], 'warm');
        await run(w, 'set', keysAs('y'), 'putYamux');
        await run(reader, 'getRemote', vk[c] as string[], 'hitYamux');
        await Promise.all(procs.map((p) => p.call({ cmd: 'window-mode', mode: 'deferred' })));
        await run(w, 'set', keysAs('dw'), 'warm');
        await run(reader, 'getRemote', vk[c] as string[], 'warm');
        await run(w, 'set', keysAs('d'), 'putDeferred');
        await run(reader, 'getRemote', vk[c] as string[], 'hitDeferred');
        // Raw kad-dht puts take seconds each at 20 processes on 2 cores: fewer samples there.
        if (n <= 5 || c < 2) await run(w, 'rawPut', rk[c] as string[], 'rawPut');
      }
      // Entries of get_user written through node.request (misses), read by the readers below.
      await w.call({ cmd: 'time', op: 'request', keys: idsOf(i) }, 300_000);
    }
    progress('puts done');
    // Hits from nodes that never saw the keys (no near cache entry): full lookups.
    for (const [i, r] of readers.entries()) {
      const w = (i + 1) % writers.length;
      const vk = chunks(keysOf(w, 'v'));
      const rk = chunks(keysOf(w, 'raw'));
      const ak = chunks(keysOf(w, 'absent'));
      const ids = chunks(idsOf(w));
      for (let c = 0; c < vk.length; c++) {
        await run(r, 'get', vk[c] as string[], 'hit');
        await run(r, 'getRemote', vk[c] as string[], 'hitRemote');
        await r.call({ cmd: 'read-mode', mode: 'parallel' });
        await run(r, 'getRemote', vk[c] as string[], 'hitParallel');
        await r.call({ cmd: 'read-mode', mode: 'hedged' });
        await r.call({ cmd: 'direct-mode', mode: 'single' });
        await run(r, 'getRemote', vk[c] as string[], 'hitSingle');
        await r.call({ cmd: 'direct-mode', mode: 'mux' });
        if (n <= 5 || c < 2) await run(r, 'rawGet', rk[c] as string[], 'rawGet');
        await run(r, 'get', ak[c] as string[], 'miss');
        await run(r, 'request', ids[c] as string[], 'reqHit');
      }
    }
    progress('gets done');
    const stat = (xs: number[] | undefined): Stat => ({
      n: xs?.length ?? 0,
      p50: pct(xs ?? [], 0.5),
      p99: pct(xs ?? [], 0.99),
      mean: 0,
    });
    const counters = (await Promise.all(procs.map((p) => p.call({ cmd: 'info' })))).map(
      (i) => i.dht as Record<string, number>,
    );
    const sum = (k: string) => counters.reduce((a, c) => a + (c[k] ?? 0), 0);
    notes.push(
      `one hop: ${sum('directReads')} direct reads, ${sum('directWrites')} direct writes, ${sum('fallbacks')} fallbacks to kad-dht (all nodes)`,
    );
    const failed = Object.entries(failures).filter(([, v]) => v > 0);
    if (failed.length > 0)
      notes.push(`failed or timed-out operations (5 s): ${failed.map(([k, v]) => `${k} ${v}`).join(', ')}`);
    /** A table row: the p50 and p99 of `st`, and a note. */
    const row = (label: string, st: Stat, note: string) => rows.push([label, ms(st.p50), ms(st.p99), note]);
    const H = stat(samples.hit);
    const RG = stat(samples.rawGet);
    const P = stat(samples.put);
    const RP = stat(samples.rawPut);
    const M = stat(samples.miss);
    const HR = stat(samples.hitRemote);
    const HP = stat(samples.hitParallel);
    row(
      'DHT hit (one hop, near tier off; the reader holds a copy of some keys)',
      H,
      `${(H.p50 / RG.p50).toFixed(2)}x raw get (p50)`,
    );
    row(
      'DHT hit, reader holds no copy (hedged: the closest holder first)',
      HR,
      `${(RG.p50 / HR.p50).toFixed(1)}x faster than raw get (p50)`,
    );
    row(
      'DHT hit, reader holds no copy (parallel: every holder at once)',
      HP,
      `same keys, interleaved; hedged/parallel = ${(HR.p50 / HP.p50).toFixed(2)} (p50)`,
    );
    const HS = stat(samples.hitSingle);
    const RQ = stat(samples.reqHit);
    row(
      'DHT hit, reader holds no copy, a new stream per request (protocol 1.0.0, before)',
      HS,
      `same keys, interleaved; long-lived stream (hedged) = ${(HS.p50 / HR.p50).toFixed(1)}x faster (p50)`,
    );
    row('DHT hit through node.request (get_user, one hop, near cache off)', RQ, '');
    row('raw kad-dht get', RG, `${(RG.p50 / H.p50).toFixed(1)}x the DHT hit (p50)`);
    const redis = await redisBaseline();
    const RH = stat(redis.hit);
    const RS = stat(redis.set);
    row(
      'Redis hit (node.request, local redis-server)',
      RH,
      `DHT hit = ${(H.p50 / RH.p50).toFixed(2)}x, with no copy ${(HR.p50 / RH.p50).toFixed(2)}x, through node.request ${(RQ.p50 / RH.p50).toFixed(2)}x Redis hit (p50)`,
    );
    row('Redis miss+set (node.request)', RS, `DHT put = ${(P.p50 / RS.p50).toFixed(2)}x Redis set (p50)`);
    row('DHT miss', M, `${(M.p50 / RG.p50).toFixed(2)}x raw get (p50)`);
    row(
      `DHT put (replication ${REPLICATION}; every holder acknowledged: writeAck all, the default)`,
      P,
      `${(P.p50 / RP.p50).toFixed(2)}x raw put (p50)`,
    );
    const PP = stat(samples.putPrimary);
    const PY = stat(samples.putYamux);
    const HY = stat(samples.hitYamux);
    const HD = stat(samples.hitDeferred);
    const PD = stat(samples.putDeferred);
    row(
      "DHT put, writeAck: 'primary' (the closest holder acknowledged; the others not waited for)",
      PP,
      `same writer, interleaved; ${(PP.p50 / RS.p50).toFixed(2)}x Redis set (p50)`,
    );
    row(
      'DHT put, yamux window update after every frame (before)',
      PY,
      `same writer right after, deferred updates: ${ms(PD.p50)} ms p50 (${(PY.p50 / PD.p50).toFixed(2)}x faster)`,
    );
    row(
      'DHT hit, reader holds no copy, yamux window update after every frame (before)',
      HY,
      `same reader and keys right after, deferred updates: ${ms(HD.p50)} ms p50 (${(HY.p50 / HD.p50).toFixed(2)}x faster)`,
    );
    row('raw kad-dht put (k = 20 closest)', RP, '');

    // Invalidation reach: every node holds the key in its near cache, one node revokes.
    const rounds = n <= 5 ? 40 : 40;
    const slowest: number[] = [];
    const all: number[] = [];
    const slowestBoth: number[] = [];
    const missedBoth = { count: 0 };
    const missedFallback = { count: 0 };
    const allBoth: number[] = [];
    // A bare libp2p + gossipsub network of the same size, up during the same rounds (same machine load).
    progress(`starting ${n} bare libp2p nodes`);
    const bare = await startProcesses(n, { network: `bare-${n}`, script: BARE_NODE_SCRIPT, concurrency: 4 });
    const bareSlowest: number[] = [];
    const bareAll: number[] = [];
    try {
      await waitForMesh(bare, n - 1, 60_000).catch(() =>
        notes.push('bare network: not fully meshed in 60 s'),
      );
      const gossipReady = async () =>
        (await Promise.all(bare.map((p) => p.call({ cmd: 'info' })))).every(
          (i) => (i.gossipPeers as string[]).length >= Math.min(n - 1, 4),
        );
      for (let t = 0; t < 80 && !(await gossipReady()); t++) await new Promise((r) => setTimeout(r, 250));
    } catch (err) {
      notes.push(`bare network failed: ${(err as Error).message}`);
    }
    for (let r = 0; r < rounds; r++) {
      const bo = bare[(r * 7 + 1) % n];
      if (bare.length === n && bo !== undefined) {
        const key = `b${r}`;
        const ws = await Promise.all(bare.filter((p) => p !== bo).map((p) => p.watch({ key }, 30_000)));
        const sent = Number((await bo.call({ cmd: 'publish', key })).at);
        const got = (await Promise.all(ws.map((w) => w.applied.catch(() => Number.NaN)))).map(
          (t) => t - sent,
        );
        bareSlowest.push(Math.max(...got));
        bareAll.push(...got);
      }
      const key = `cache:bench/inv/get_user:${r}`;
      await procs[0]?.call({ cmd: 'dht', op: 'set', key, value: '"v"', ttl: 600 });
      await Promise.all(procs.map((p) => p.call({ cmd: 'dht', op: 'get', key })));
      const watches = await Promise.all(procs.map((p) => p.watch({ key }, 10_000)));
      const origin = procs[(r * 7 + 1) % n] as NodeProcess;
      // Even rounds: direct sends and gossip (the default); odd: gossip only as a fallback (a
      // benchmark knob: it misses nodes the origin is not connected to), interleaved.
      const both = r % 2 === 0;
      await origin.call({ cmd: 'control-mode', mode: both ? 'always' : 'fallback' });
      const reply = await origin.call({
        cmd: 'dht',
        op: 'revoke',
        prefix: 'cache:bench/inv/',
        pattern: `get_user:${r}`,
      });
      const at = Number(reply.at);
      // A node never reached (10 s) counts as missed, not as a sample.
      const applied = await Promise.all(watches.map((w) => w.applied.catch(() => Number.NaN)));
      const reach = applied.map((t) => t - at);
      const missed = reach.filter((x) => Number.isNaN(x)).length;
      if (missed > 0) {
        (both ? missedBoth : missedFallback).count += missed;
        continue;
      }
      (both ? slowestBoth : slowest).push(Math.max(...reach));
      (both ? allBoth : all).push(...reach.filter((_, i) => procs[i] !== origin));
      // Check: nobody serves it any more.
      const after = await Promise.all(procs.map((p) => p.call({ cmd: 'dht', op: 'get', key })));
      if (after.some((a) => a.value !== undefined && a.value !== '{"$mc":"undef","v":null}'))
        notes.push(`round ${r}: a node still served the key`);
    }
    rows.push([
      `invalidation reach, slowest of ${n} nodes (direct sends; gossip only as fallback: not the default)`,
      ms(pct(slowest, 0.5)),
      ms(pct(slowest, 0.99)),
      `${slowest.length} revokes; ${missedFallback.count} node(s) never reached (rounds left out)`,
    ]);
    rows.push([
      'invalidation reach, any node (direct sends; gossip only as fallback: not the default)',
      ms(pct(all, 0.5)),
      ms(pct(all, 0.99)),
      `${all.length} samples`,
    ]);
    rows.push([
      `invalidation reach, slowest of ${n} nodes (direct sends and gossip: the default)`,
      ms(pct(slowestBoth, 0.5)),
      ms(pct(slowestBoth, 0.99)),
      `${slowestBoth.length} revokes, interleaved with the rows above; ${missedBoth.count} node(s) never reached`,
    ]);
    rows.push([
      'invalidation reach, any node (direct sends and gossip: the default)',
      ms(pct(allBoth, 0.5)),
      ms(pct(allBoth, 0.99)),
      `${allBoth.length} samples`,
    ]);
    rows.push([
      `bare gossipsub publish reach, slowest of ${n} (plain libp2p processes, same rounds)`,
      ms(pct(bareSlowest, 0.5)),
      ms(pct(bareSlowest, 0.99)),
      `${bareSlowest.length} publishes, interleaved with the revokes`,
    ]);
    rows.push([
      'bare gossipsub publish reach, any node',
      ms(pct(bareAll, 0.5)),
      ms(pct(bareAll, 0.99)),
      `${bareAll.length} samples`,
    ]);
    const bareInfo = await Promise.all(bare.map((p) => p.call({ cmd: 'info' }).catch(() => undefined)));
    const bareRss = bareInfo.flatMap((i) => (i ? [(i.memory as { rss: number }).rss / 2 ** 20] : []));
    await stopProcesses(bare);

    progress('invalidation rounds done');
    // Memory and start-up.
    const mem2 = await Promise.all(procs.map((p) => p.call({ cmd: 'info' })));
    const rss = mem2.map((i) => (i.memory as { rss: number }).rss / 2 ** 20);
    const heap = mem2.map((i) => (i.memory as { heapUsed: number }).heapUsed / 2 ** 20);
    const starts = procs.map((p) => p.ready.startMs);
    const spawns = procs.map((p) => p.spawnMs);
    rows.push([
      'RSS per node (MiB)',
      rss.reduce((a, b) => a + b, 0) / n > 0 ? (rss.reduce((a, b) => a + b, 0) / n).toFixed(0) : '-',
      Math.max(...rss).toFixed(0),
      `mean / max; heap used mean ${(heap.reduce((a, b) => a + b, 0) / n).toFixed(0)} MiB`,
    ]);
    rows.push([
      'RSS per bare libp2p node (MiB)',
      (bareRss.reduce((a, b) => a + b, 0) / Math.max(1, bareRss.length)).toFixed(0),
      Math.max(...bareRss).toFixed(0),
      'mean / max, same services, after the same rounds',
    ]);
    rows.push([
      'node.start() (ms)',
      ms(pct(starts, 0.5)),
      ms(Math.max(...starts)),
      'p50 / max: libp2p + DHT + gossip + services',
    ]);
    rows.push([
      'process spawn to ready (ms)',
      ms(pct(spawns, 0.5)),
      ms(Math.max(...spawns)),
      `p50 / max, built code (dist/); all ${n} up in ${(wall / 1000).toFixed(1)} s`,
    ]);

    // Reachability under churn: kill ~30% of the nodes (not the reader), read 100 keys from a node that never read them.
    const keys = Array.from({ length: 100 }, (_, i) => `cache:bench/churn/k${i}`);
    await time(procs[0] as NodeProcess, 'set', keys);
    const kill = n <= 5 ? 2 : 6;
    const reader = procs[n - 1] as NodeProcess;
    const victims = procs.slice(1, 1 + kill);
    const survivors = procs.filter((p) => !victims.includes(p));
    const copies = async () => {
      const held = await Promise.all(survivors.map((p) => p.call({ cmd: 'holds', keys })));
      return (held.reduce((a, h) => a + Number(h.count), 0) / keys.length).toFixed(2);
    };
    const readable = async () => {
      let ok = 0;
      // The reader's near cache is bypassed: these keys were never read there.
      for (const k of keys)
        if ((await reader.call({ cmd: 'dht', op: 'get', key: k })).value !== '{"$mc":"undef","v":null}') ok++;
      return ok;
    };
    for (const v of victims) v.child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const copiesRight = await copies();
    const right = await readable();
    await new Promise((r) => setTimeout(r, 4000));
    const copiesLater = await copies();
    notes.push(
      `churn: killed ${kill} of ${n} nodes (SIGKILL): right after, ${right}/100 keys readable and ${copiesRight} copies per key on the survivors; 4 s later (upkeep) ${copiesLater} copies per key (target ${REPLICATION})`,
    );
    notes.push(
      `load average after: ${load()} (other jobs share this 2-core machine; ${n} node processes plus the harness)`,
    );
    return { nodes: n, rows, notes };
  } finally {
    await stopProcesses(procs);
  }
}

function machine(): string {
  const cpu = cpus();
  let kernel = '';
  try {
    kernel = execSync('uname -sr').toString().trim();
  } catch {}
  return `${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${kernel}, Node ${process.version}`;
}

if (process.env.BENCH_NO_BUILD !== '1') {
  progress('npm run build:bench');
  execFileSync('npm', ['run', '-s', 'build:bench'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Start-up and RSS of one process alone, several kinds interleaved (all but tsx run the built code). */
async function weight(): Promise<Result> {
  const kinds: Array<[string, () => Promise<NodeProcess>]> = [
    [
      'meshcache node, no network (dist)',
      () => NodeProcess.spawn({ network: 'none', name: 'w', built: true }),
    ],
    [
      'meshcache node, network joined alone (dist)',
      () => NodeProcess.spawn({ network: 'w', name: 'w', built: true }),
    ],
    [
      'bare libp2p node, same services (dist-bench)',
      () => NodeProcess.spawn({ network: 'w', name: 'w', script: BARE_NODE_SCRIPT }),
    ],
    [
      'meshcache node, network joined alone (tsx, sources)',
      () => NodeProcess.spawn({ network: 'w', name: 'w' }),
    ],
  ];
  const out: Record<string, { spawn: number[]; start: number[]; rss: number[] }> = {};
  for (let r = 0; r < 3; r++) {
    for (const [name, start] of kinds) {
      const p = await start();
      await new Promise((res) => setTimeout(res, 1_000)); // timers, first GC
      const info = await p.call({ cmd: 'info' });
      out[name] ??= { spawn: [], start: [], rss: [] };
      const o = out[name];
      o.spawn.push(p.spawnMs);
      o.start.push(p.ready.startMs);
      o.rss.push((info.memory as { rss: number }).rss / 2 ** 20);
      await p.stop();
    }
  }
  const med = (xs: number[]) => pct(xs, 0.5);
  return {
    nodes: 1,
    rows: Object.entries(out).map(([name, o]) => [
      name,
      `${med(o.rss).toFixed(0)} MiB`,
      `${ms(med(o.start))} ms`,
      `spawn to ready ${ms(med(o.spawn))} ms (median of 3)`,
    ]),
    notes: [
      `load average (1/5/15 min): ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' / ')}`,
    ],
  };
}

const results: Result[] = [];
if (process.env.BENCH_WEIGHT !== '0') {
  process.stderr.write('node weight...\n');
  results.push(await weight());
}
for (const n of sizes) {
  process.stderr.write(`running ${n} nodes...\n`);
  const r = await runSize(n);
  results.push(r);
  // Each size as it completes (a later size may fail under load).
  process.stderr.write(
    `${[...r.rows.map((row) => `| ${row.join(' | ')} |`), ...r.notes.map((x) => `- ${x}`)].join('\n')}\n`,
  );
}

const lines: string[] = [];
lines.push('# DHT cache benchmark');
lines.push('');
lines.push(
  `Machine: ${machine()}. Command: \`npm run bench -- dht\` (BENCH_NODES=${sizes.join(',')}; ${new Date().toISOString().slice(0, 10)}).`,
);
lines.push(
  `Each node is a separate process (examples/dht-node.ts built to dist-bench/, on dist/) on 127.0.0.1; replication ${REPLICATION}; latencies measured inside the node, 10 operations per command (ms unless noted).`,
);
for (const r of results) {
  lines.push('');
  lines.push(r.nodes === 1 ? '## Node weight (one process alone)' : `## ${r.nodes} nodes`);
  lines.push('');
  lines.push(r.nodes === 1 ? '| process | RSS | node.start() | note |' : '| operation | p50 | p99 | note |');
  lines.push('|---|---:|---:|---|');
  for (const row of r.rows) lines.push(`| ${row.join(' | ')} |`);
  lines.push('');
  for (const note of r.notes) lines.push(`- ${note}`);
}
const text = lines.join('\n');
console.log(text);
if (process.env.BENCH_SAVE === '1') writeFileSync(new URL('./results/dht.md', import.meta.url), `${text}\n`);
