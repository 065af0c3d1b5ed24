/**
 * `node.request()` to an uncached local action vs a direct function
 * call vs Moleculer 0.14 `broker.call` (best-speed settings), sequential and
 * with 100 calls in flight.
 */
import { ServiceBroker } from 'moleculer';
import { pino } from 'pino';
import { Node } from '../src/index.js';
import { type Case, LOADS, measure, table } from './harness.js';

export async function benchRequest(): Promise<string> {
  const handler = async (_ctx: unknown, params: { a: number; b: number }) => params.a + params.b;
  const params = { a: 1, b: 2 };

  const node = new Node({ logger: pino({ level: 'silent' }) });
  node.addService({ name: 'math', actions: { add: handler } });
  await node.start();

  const broker = new ServiceBroker({ logger: false, metrics: false, tracing: false });
  broker.createService({
    name: 'math',
    actions: { add: (ctx) => handler(null, ctx.params as typeof params) },
  });
  await broker.start();

  const direct = () => handler(null, params);
  const viaNode = () => node.request('math/add', params);
  const viaMoleculer = () => broker.call('math.add', params);

  const out: string[] = [];
  for (const [label, mode] of LOADS) {
    const cases: Case[] = [
      { name: 'direct async function call', run: mode(direct) },
      { name: 'meshcache node.request()', run: mode(viaNode) },
      { name: 'Moleculer 0.14 broker.call', run: mode(viaMoleculer) },
    ];
    out.push(table(`Uncached local action, ${label}`, await measure(cases), 'Moleculer 0.14 broker.call'));
  }
  await node.stop();
  await broker.stop();
  return out.join('\n\n');
}
