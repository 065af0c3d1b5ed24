/**
 * What tracing costs on the hit path, in one process, interleaved: a node
 * started before an OpenTelemetry SDK is registered (it decides at start: no
 * tracing code) and one started after (a span per cached call, sampled and
 * handed to a span processor that drops it), on the memory backend and on an
 * async store (a backend span per get too); plus `node.request` of an uncached
 * action on both.
 *
 *   npx tsx --expose-gc bench/tracing.ts
 *
 * (BENCH_ROUNDS rounds of BENCH_MS of CPU time per case; the median is shown.)
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { type CacheBackend, Node } from '../src/index.js';
import { TestStore } from '../test/helpers/stores.js';
import { type Case, sequential } from './harness.js';

const KEYS = 100;
const silent = pino({ level: 'silent' });

async function userNode(backend?: CacheBackend): Promise<Node> {
  const node = new Node({
    logger: silent,
    env: {},
    ...(backend === undefined ? {} : { backends: { store: backend } }),
    config: { cache: { ttl: 3600, ...(backend === undefined ? {} : { backend: 'store' }) } },
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
  await node.start();
  for (let id = 0; id < KEYS; id++) await node.request('user/get_user', { id });
  return node;
}

const untraced = { memory: await userNode(), store: await userNode(new TestStore({ async: true })) };
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new NoopSpanProcessor()] }));
const traced = { memory: await userNode(), store: await userNode(new TestStore({ async: true })) };

const params = Array.from({ length: KEYS }, (_, id) => ({ id }));
let i = 0;
const next = () => {
  i = (i + 1) % KEYS;
  return params[i];
};
const cases: Case[] = [];
for (const path of ['memory', 'store'] as const)
  for (const [side, nodes] of Object.entries({ 'no SDK': untraced, 'SDK registered': traced }))
    cases.push({
      name: `${path} hit | ${side}`,
      run: sequential(() => nodes[path].request('user/get_user', next())),
    });
for (const [side, nodes] of Object.entries({ 'no SDK': untraced, 'SDK registered': traced }))
  cases.push({
    name: `node.request (uncached) | ${side}`,
    run: sequential(() => nodes.memory.request('user/add', { a: 1, b: 2 })),
  });

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
for (const c of cases) await usPerOp(c); // warm-up
const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (let k = 0; k < cases.length; k += 2) {
    const pair = r % 2 === 0 ? [cases[k], cases[k + 1]] : [cases[k + 1], cases[k]];
    for (const c of pair) samples.get(c!.name)!.push(await usPerOp(c!));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows = new Map<string, Record<string, number>>();
for (const c of cases) {
  const [what, side] = c.name.split(' | ') as [string, string];
  rows.set(what, { ...rows.get(what), [side]: median(samples.get(c.name)!) });
}
console.log('| path | no SDK µs/op (CPU) | SDK registered µs/op (CPU) | traced vs untraced |');
console.log('|---|---:|---:|---:|');
for (const [what, r] of rows) {
  const off = r['no SDK']!;
  const on = r['SDK registered']!;
  console.log(
    `| ${what} | ${off.toFixed(3)} | ${on.toFixed(3)} | ${(((on - off) / off) * 100).toFixed(1)}% |`,
  );
}
for (const n of [...Object.values(untraced), ...Object.values(traced)]) await n.stop();
