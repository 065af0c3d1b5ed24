/**
 * Where the time of a one-hop DHT hit goes, measured in one process (3 loopback
 * networks, no child processes, no command channel): the same read through a
 * new stream per request (protocol 1.0.0) and through the long-lived
 * multiplexed stream (2.0.0), interleaved so both see the same load, plus the
 * local parts of a hit (stream open alone, validation, datastore read, holders,
 * the backend's own work).
 *
 *   npx tsx bench/dht-onehop.ts
 */
import * as v from 'valibot';
import '../src/polyfills.js';
import { loadavg } from 'node:os';
import { peerIdFromString } from '@libp2p/peer-id';
import { DhtBackend } from '../src/cache/backends/dht/index.js';
import { type MeshNetwork, sortByDistance } from '../src/network/index.js';
import {
  directReplySchema,
  directRequestSchema,
  parseDirectReply,
  parseDirectRequest,
  singleShotProtocol,
} from '../src/network/wire/index.js';
import { startCluster, stopAll, testLogger } from '../test/helpers/p2p.js';

const ROUNDS = Number(process.env.ROUNDS ?? 30);
const PER = 10;

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}
const f = (v: number) => (v < 0.01 ? v.toFixed(4) : v < 1 ? v.toFixed(3) : v.toFixed(2));

/** Per-op µs of a synchronous step, over `n` runs. */
function micro(n: number, fn: () => unknown): number {
  for (let i = 0; i < 1000; i++) fn();
  const t = performance.now();
  for (let i = 0; i < n; i++) fn();
  return ((performance.now() - t) * 1000) / n;
}

const load0 = loadavg().map((l) => l.toFixed(1));
const nets = await startCluster(3, { id: 'ohb' });
try {
  const [a, b] = nets as [MeshNetwork, MeshNetwork];
  const backend = new DhtBackend({ replication: 1, oneHop: { settleMs: 0 } });
  await backend.open({ networkId: a.networkId, logger: testLogger(), network: a });
  const value = { id: 1, name: 'x'.repeat(100) };
  // Keys held by b alone (replication 1), so a's read is one request to b.
  const keys: string[] = [];
  for (let i = 0; keys.length < PER; i++) {
    const k = `cache:bench/k${i}`;
    if (a.holdersOf(k, 1)?.[0] === b.peerId) keys.push(k);
  }
  for (const k of keys) await backend.set(k, value, 600);
  const sig = () => AbortSignal.timeout(5_000);
  const series: Record<string, number[]> = {};
  const add = (name: string, v: number) => {
    series[name] ??= [];
    series[name].push(v);
  };
  const timed = async (name: string, fn: () => Promise<unknown>) => {
    const t = performance.now();
    await fn();
    add(name, performance.now() - t);
  };
  const peer = peerIdFromString(b.peerId);
  const node = a.libp2p;
  if (node === undefined) throw new Error('not started');
  // Warm-up.
  for (let i = 0; i < 50; i++) {
    await a.direct.requestOnce(b.peerId, { t: 'get', k: keys[0] as string }, sig());
    await a.direct.request(b.peerId, { t: 'get', k: keys[0] as string }, sig());
    await backend.get(keys[i % PER] as string);
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const k of keys) {
      await timed('open+close a stream only (1.0.0, no request)', async () => {
        const s = await node.dialProtocol(peer, singleShotProtocol(a.networkId), { signal: sig() });
        await s.close();
      });
      await timed('direct get, new stream per request (1.0.0)', () =>
        a.direct.requestOnce(b.peerId, { t: 'get', k }, sig()),
      );
      await timed('direct get, long-lived stream (2.0.0)', () =>
        a.direct.request(b.peerId, { t: 'get', k }, sig()),
      );
      await timed('libp2p ping (one round trip on a new stream)', () =>
        (node.services.ping as { ping(p: unknown, o: object): Promise<number> }).ping(peer, {
          signal: sig(),
        }),
      );
      const wire = JSON.stringify({
        value: '"x"',
        expiresAt: Date.now() + 600_000,
        writtenAt: Date.now(),
        writer: a.peerId,
        from: a.peerId,
        sent: Date.now(),
      });
      await timed('direct put, long-lived stream (2.0.0)', () =>
        a.direct.request(b.peerId, { t: 'put', k: `${k}-p`, r: wire }, sig()),
      );
      await timed('backend.set one hop (replication 1)', () => backend.set(k, value, 600));
      a.direct.mode = 'single';
      await timed('backend.get one hop, 1.0.0 (before)', async () => backend.get(k));
      a.direct.mode = 'mux';
      await timed('backend.get one hop, 2.0.0 (after)', async () => backend.get(k));
    }
  }
  // 100 concurrent reads on one stream vs 100 streams.
  for (let r = 0; r < 5; r++) {
    await timed('100 concurrent gets, 1.0.0 (total)', () =>
      Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          a.direct
            .requestOnce(b.peerId, { t: 'get', k: keys[i % PER] as string }, sig())
            .catch(() => add('failures of 100 concurrent gets, 1.0.0 (count)', 1)),
        ),
      ),
    );
    await timed('100 concurrent gets, 2.0.0 (total)', () =>
      Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          a.direct
            .request(b.peerId, { t: 'get', k: keys[i % PER] as string }, sig())
            .catch(() => add('failures of 100 concurrent gets, 2.0.0 (count)', 1)),
        ),
      ),
    );
  }
  const lines = [
    `load average before ${load0.join(' / ')}, after ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')}; ${ROUNDS * PER} samples per row, interleaved`,
    '',
    '| step | p50 ms | p99 ms |',
    '|---|---:|---:|',
  ];
  for (const [name, xs] of Object.entries(series))
    if (name.startsWith('failures')) lines.push(`| ${name} | ${xs.length} | |`);
    else lines.push(`| ${name} | ${f(pct(xs, 0.5))} | ${f(pct(xs, 0.99))} |`);
  // Local, synchronous parts (µs per op).
  const k = keys[0] as string;
  const reqMsg = JSON.parse(JSON.stringify({ t: 'get', k, i: 1 }));
  const rec = b.dht.readLocal(k);
  const replyMsg = JSON.parse(JSON.stringify(b.dht.answerDirect({ t: 'get', k })));
  const bdht = b.dht;
  const local: Array<[string, number]> = [
    ['schema (valibot) parse of a get request', micro(20_000, () => v.parse(directRequestSchema, reqMsg))],
    ['hand check of a get request', micro(20_000, () => parseDirectRequest(reqMsg))],
    ['schema (valibot) parse of a get reply', micro(20_000, () => v.parse(directReplySchema, replyMsg))],
    ['hand check of a get reply', micro(20_000, () => parseDirectReply(replyMsg))],
    ['JSON frame + parse of a reply', micro(20_000, () => JSON.parse(JSON.stringify(replyMsg)))],
    ['datastore read (readLocal)', micro(20_000, () => bdht.readLocal(k))],
    ['answer a get (readLocal + encode)', micro(20_000, () => bdht.answerDirect({ t: 'get', k }))],
    [
      'answer a put (validate + LWW datastore put)',
      micro(5_000, () =>
        bdht.answerDirect({
          t: 'put',
          k,
          r: JSON.stringify({
            value: '"x"',
            expiresAt: Date.now() + 600_000,
            writtenAt: Date.now(),
            writer: 'w',
            from: a.peerId,
            sent: Date.now(),
          }),
        }),
      ),
    ],
    ['holdersOf (3 members), cached per key', micro(20_000, () => a.holdersOf(k, 3, 0))],
    [
      'holders computed every time (sortByDistance, 3 members)',
      micro(20_000, () => sortByDistance(k, [...a.peers(), a.peerId]).slice(0, 3)),
    ],
  ];
  lines.push('', '| local step | µs/op |', '|---|---:|');
  for (const [name, us] of local) lines.push(`| ${name} | ${us.toFixed(2)} |`);
  lines.push(
    '',
    `record: ${JSON.stringify(rec).length} B JSON; streams opened by the 2.0.0 client: ${a.direct.opened}`,
  );
  console.log(lines.join('\n'));
  await backend.close();
} finally {
  await stopAll(nets);
}
