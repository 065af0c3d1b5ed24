/**
 * Time from `import` to the first cached hit, in a fresh process
 * each run: meshcache (the built package as a user imports it: `dist/bundle/`,
 * memory backend, no config file) beside
 * BentoCache (memory driver) and lru-cache. Also the import time of the
 * libraries meshcache depends on, to show where start-up goes. Needs
 * `npm run build` first (run.ts does it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 7);

/** meshcache's script; `appLogger`: the app hands in its own (already loaded) logger, so pino is not imported. */
function nodeScript(appLogger: boolean): string {
  const logger = appLogger
    ? "{ level: 'silent', levelVal: Infinity, trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child() { return this; } }"
    : 'undefined';
  return `
    const t0 = performance.now();
    const { Node } = await import(${JSON.stringify(`${ROOT}dist/bundle/meshcache.js`)});
    const node = new Node({ env: {}, logger: ${logger} });
    node.addService({ name: 'user', actions: { get_user: { cache: { ttl: 60, keys: ['id'] }, handler: (_c, p) => ({ id: p.id }) } } });
    await node.start();
    await node.request('user/get_user', { id: 1 });
    const hit = await node.request('user/get_user', { id: 1 });
    if (hit.id !== 1 || node.cache.stats().hits !== 1) throw new Error('no hit');
    console.log(performance.now() - t0);
    await node.stop();`;
}

const SCRIPTS: Record<string, string> = {
  'meshcache Node (memory backend, default pino logger)': nodeScript(false),
  'meshcache Node (memory backend, a logger of the app)': nodeScript(true),
  'BentoCache 1.6 (memory driver)': `
    const t0 = performance.now();
    const { BentoCache, bentostore } = await import('bentocache');
    const { memoryDriver } = await import('bentocache/drivers/memory');
    const bento = new BentoCache({ default: 'm', stores: { m: bentostore().useL1Layer(memoryDriver({ maxItems: 1000 })) } });
    const factory = () => ({ id: 1 });
    await bento.getOrSet({ key: 'get_user:1', factory, ttl: '60s' });
    await bento.getOrSet({ key: 'get_user:1', factory, ttl: '60s' });
    console.log(performance.now() - t0);
    await bento.disconnectAll();`,
  'lru-cache 11': `
    const t0 = performance.now();
    const { LRUCache } = await import('lru-cache');
    const lru = new LRUCache({ max: 1000, ttl: 60000 });
    const get = async (id) => lru.get('get_user:' + id) ?? (lru.set('get_user:' + id, { id }), lru.get('get_user:' + id));
    await get(1); await get(1);
    console.log(performance.now() - t0);`,
};

const IMPORTS = ['valibot', 'pino', 'yaml', 'prom-client', 'ioredis', 'libp2p'];

function timeScript(source: string): number {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', source], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '', LOG_LEVEL: 'silent' },
  });
  return Number(out.trim().split('\n').at(-1));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchStartup(): Promise<string> {
  if (!existsSync(`${ROOT}dist/bundle/meshcache.js`)) {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  }
  const times: Record<string, number[]> = {};
  for (let r = 0; r < RUNS; r++) {
    // Interleaved: every library sees the same machine state.
    for (const [name, script] of Object.entries(SCRIPTS)) {
      times[name] ??= [];
      times[name].push(timeScript(script));
    }
  }
  const rows = Object.entries(times).map(
    ([name, xs]) => `| ${name} | ${median(xs).toFixed(1)} | ${Math.min(...xs).toFixed(1)} |`,
  );
  const imports: string[] = [];
  for (const mod of IMPORTS) {
    try {
      const xs = Array.from({ length: 3 }, () =>
        timeScript(
          `const t0 = performance.now(); await import(${JSON.stringify(mod)}); console.log(performance.now() - t0);`,
        ),
      );
      imports.push(`| ${mod} | ${median(xs).toFixed(1)} |`);
    } catch {
      imports.push(`| ${mod} | (not installed) |`);
    }
  }
  return [
    `### Import to first cached hit, fresh process (median of ${RUNS})`,
    '',
    '| library | median ms | best ms |',
    '|---|---:|---:|',
    ...rows,
    '',
    '### Import time of one dependency, fresh process (median of 3)',
    '',
    '| module | ms |',
    '|---|---:|',
    ...imports,
  ].join('\n');
}
