import '../src/polyfills.js';
import { pino } from 'pino';
import { Node } from '../src/index.js';
const node = new Node({ logger: pino({ level: 'silent' }) });
node.addService({ name: 'user', actions: { get_user: { cache: { ttl: 3600, keys: ['id'] }, handler: async (_c, p: {id:number}) => ({ id: p.id }) } } });
await node.start();
const params = Array.from({ length: 1000 }, (_, id) => ({ id }));
for (const p of params) await node.request('user/get_user', p);
let t = performance.now();
for (let r = 0; r < 5; r++) {
  t = performance.now();
  for (let i = 0; i < 3_000_000; i++) await node.request('user/get_user', params[i % 1000]);
  console.log(((3_000_000 / (performance.now() - t)) * 1000).toFixed(0), 'hits/s');
}
await node.stop();
