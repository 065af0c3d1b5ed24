/**
 * OpenTelemetry spans with the SDK's in-memory exporter: a span per cached
 * call with its outcome, a span per backend operation, and a remote cached
 * call across two nodes in this process giving linked client and server spans
 * (one trace, the server span a child of the client span).
 */
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Node, type RequestContext } from '../../../src/index.js';
import { registeredTracer } from '../../../src/node/tracing.js';
import { useNodes } from '../../helpers/nodes.js';
import { testLogger, waitFor } from '../../helpers/p2p.js';
import { TestStore } from '../../helpers/stores.js';

const exporter = new InMemorySpanExporter();
const { started, track } = useNodes();
let noTracerBeforeSdk: unknown = 'not checked';
const before = { calls: 0 };
let startedBeforeSdk: Node | undefined;

beforeAll(async () => {
  noTracerBeforeSdk = await registeredTracer();
  startedBeforeSdk = new Node({ env: {}, logger: testLogger() });
  startedBeforeSdk.addService(userService(before));
  await startedBeforeSdk.start();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
});

afterAll(async () => {
  await startedBeforeSdk?.stop();
  trace.disable();
  propagation.disable();
  context.disable();
});

beforeEach(() => exporter.reset());

const spans = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === name);
const outcomes = (name: string) => spans(name).map((s) => s.attributes['meshcache.cache.outcome']);

function userService(counter: { calls: number }, cache: Record<string, unknown> = { keys: ['id'] }) {
  return {
    name: 'user',
    actions: {
      get_user: {
        cache,
        handler: (_c: RequestContext, p: { id: number }) => ({ id: p.id, call: ++counter.calls }),
      },
    },
  };
}

describe('tracing with an SDK registered', () => {
  it('no tracer before an SDK is registered; a node started then records nothing', async () => {
    expect(noTracerBeforeSdk).toBeUndefined();
    expect(await registeredTracer()).toBeDefined();
    await startedBeforeSdk!.request('user/get_user', { id: 1 });
    await startedBeforeSdk!.request('user/get_user', { id: 1 });
    await startedBeforeSdk!.request('user/cache/clear', {});
    expect(before.calls).toBe(1);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('a local miss then hit: a span per cached call with the outcome and the backend, no key by default', async () => {
    const counter = { calls: 0 };
    const node = await started({}, userService(counter));
    await node.request('user/get_user', { id: 1 });
    await node.request('user/get_user', { id: 1 });
    await node.request('user/get_user', { id: 2 }, { cache: 'bypass' });
    expect(outcomes('cache user/get_user')).toEqual(['miss', 'hit', 'bypass']);
    const [first] = spans('cache user/get_user');
    expect(first?.attributes).toMatchObject({
      'meshcache.cache.backend': 'memory',
      'meshcache.action': 'user/get_user',
    });
    expect(first?.attributes['meshcache.cache.key']).toBeUndefined();
    expect(node.cache.stats().services.user?.actions.get_user).toMatchObject({ hits: 1, misses: 1 });
  });

  it('cache.tracing.keys puts the action key on the span; a stale hit says stale', async () => {
    const counter = { calls: 0 };
    const node = await started(
      { config: { cache: { tracing: { keys: true } } } },
      userService(counter, { keys: ['id'], ttl: 0.05, staleTtl: 30 }),
    );
    await node.request('user/get_user', { id: 7 });
    await new Promise((r) => setTimeout(r, 80));
    await node.request('user/get_user', { id: 7 });
    expect(outcomes('cache user/get_user')).toEqual(['miss', 'stale']);
    expect(spans('cache user/get_user')[0]?.attributes['meshcache.cache.key']).toBe('get_user:7');
  });

  it('an entry within grace answering for a failing handler: grace', async () => {
    let fail = false;
    const node = await started(
      {},
      {
        name: 'user',
        actions: {
          graced: {
            cache: { ttl: 0.05, grace: 5, keys: ['id'] },
            handler: (_c: RequestContext, p: { id: number }) => {
              if (fail) throw new Error('down');
              return { id: p.id };
            },
          },
        },
      },
    );
    await node.request('user/graced', { id: 1 });
    await new Promise((r) => setTimeout(r, 80));
    fail = true;
    expect(await node.request('user/graced', { id: 1 })).toEqual({ id: 1 });
    expect(outcomes('cache user/graced')).toEqual(['miss', 'grace']);
  });

  it('a remote backend: backend operations are spans, children of the cached call', async () => {
    const counter = { calls: 0 };
    const node = await started(
      { backends: { store: new TestStore({ async: true }) }, config: { cache: { backend: 'store' } } },
      userService(counter),
    );
    await node.request('user/get_user', { id: 3 });
    await node.request('user/get_user', { id: 3 });
    await node.request('user/cache/clear', {});
    expect(outcomes('cache user/get_user')).toEqual(['miss', 'hit']);
    const calls = spans('cache user/get_user');
    const gets = spans('cache.get store');
    const sets = spans('cache.set store');
    expect(gets).toHaveLength(2);
    expect(sets).toHaveLength(1);
    expect(gets[0]?.parentSpanContext?.spanId).toBe(calls[0]?.spanContext().spanId);
    expect(sets[0]?.parentSpanContext?.spanId).toBe(calls[0]?.spanContext().spanId);
    expect(gets[1]?.parentSpanContext?.spanId).toBe(calls[1]?.spanContext().spanId);
    expect(spans('cache.clear store')).toHaveLength(1);
    expect(gets[0]?.attributes).toMatchObject({
      'meshcache.cache.backend': 'store',
      'meshcache.cache.operation': 'get',
    });
  });

  it('a remote cached call: linked client and server spans, the cache outcome under the server span', async () => {
    const counter = { calls: 0 };
    const host = track(new Node({ env: {}, logger: testLogger(), network: { id: 'trace-rc' } }));
    host.addService(userService(counter));
    await host.start();
    const caller = track(
      new Node({
        env: {},
        logger: testLogger(),
        network: { id: 'trace-rc', bootstrap: host.network!.addresses() },
      }),
    );
    await caller.start();
    await waitFor(() => caller.network!.catalogs.hostsOf('user').length > 0, 15_000, 'user reachable');
    exporter.reset();

    expect(await caller.request('user/get_user', { id: 5 })).toEqual({ id: 5, call: 1 });
    expect(await caller.request('user/get_user', { id: 5 })).toEqual({ id: 5, call: 1 });

    const clients = spans('user/get_user').filter((s) => s.kind === SpanKind.CLIENT);
    const servers = spans('user/get_user').filter((s) => s.kind === SpanKind.SERVER);
    const cached = spans('cache user/get_user');
    expect(clients).toHaveLength(2);
    expect(servers).toHaveLength(2);
    for (let i = 0; i < 2; i++) {
      const client = clients[i]!;
      const server = servers.find((s) => s.spanContext().traceId === client.spanContext().traceId);
      expect(server, 'server span in the client span trace').toBeDefined();
      expect(server!.parentSpanContext?.spanId).toBe(client.spanContext().spanId);
      expect(server!.parentSpanContext?.isRemote).toBe(true);
      expect(client.attributes).toMatchObject({
        'rpc.system': 'meshcache',
        'rpc.service': 'user',
        'rpc.method': 'get_user',
        'meshcache.peer': host.network!.peerId,
      });
      expect(server!.attributes['meshcache.peer']).toBe(caller.network!.peerId);
      const call = cached.find((s) => s.parentSpanContext?.spanId === server!.spanContext().spanId);
      expect(call?.spanContext().traceId).toBe(client.spanContext().traceId);
      expect(call?.attributes['meshcache.cache.outcome']).toBe(i === 0 ? 'miss' : 'hit');
    }
  });
});
