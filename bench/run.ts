/**
 * `npm run bench [-- name...]`: runs the benchmarks (all by default) and prints
 * markdown tables; BENCHMARKS.md records a run.
 */
import '../src/polyfills.js';
import { execFileSync, execSync } from 'node:child_process';
import { machine } from './harness.js';

const suites: Record<string, () => Promise<string>> = {
  request: async () => (await import('./request.js')).benchRequest(),
  'cache-hit': async () => (await import('./cache-hit.js')).benchCacheHit(),
  memory: async () => (await import('./memory-backend.js')).benchMemoryBackend(),
  coalescing: async () => (await import('./coalescing.js')).benchCoalescing(),
  redis: async () => (await import('./redis.js')).benchRedis(),
  startup: async () => (await import('./startup.js')).benchStartup(),
  near: async () => (await import('./near.js')).benchNear(),
  codec: async () => (await import('./codec.js')).benchCodec(),
  policies: async () => (await import('./policies.js')).benchPolicies(),
  // Node processes (built code): only when asked for.
  bus: async () => {
    execSync('npm run build:bench', { stdio: ['ignore', 'ignore', 'inherit'] });
    return (await import('./bus-processes.js')).benchBusProcesses();
  },
  // Node processes on the built code: about a minute, so only when asked for.
  weight: async () => (await import('./weight.js')).benchWeight(),
  // Two processes per framework, beside Moleculer's TCP transporter: about 30 s, only when asked for.
  remote: async () => (await import('./remote-calls.js')).benchRemoteCalls(),
  // Heartbeats of the staleness bound at 5 and 20 node processes: about a minute, only when asked for.
  heartbeats: async () => (await import('./heartbeats.js')).benchHeartbeats(),
  // 5 and 20 node processes: minutes on 2 cores, so only when asked for (`npm run bench -- dht`).
  dht: async () =>
    execFileSync(process.execPath, ['--import', 'tsx', 'bench/dht.ts'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  // Network namespaces (root), Redis and 4 DHT node processes, 5 cuts of 5 s each: minutes, only when asked for.
  partition: async () => (await import('./partition.js')).benchPartition(),
  // 5 to 100 node processes (BENCH_SCALE_NODES): about half an hour on 2 cores, only when asked for.
  scale: async () =>
    execFileSync(process.execPath, ['--import', 'tsx', 'bench/scale.ts'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
};
const DEFAULT = [
  'request',
  'cache-hit',
  'memory',
  'coalescing',
  'redis',
  'codec',
  'policies',
  'near',
  'startup',
];

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length > 0 ? wanted : DEFAULT;
console.log(
  `# meshcache benchmarks\n\nMachine: ${machine()}\nDate: ${new Date().toISOString()}\nCommit: ${safe(() => execSync('git rev-parse --short HEAD').toString().trim())}\n`,
);
for (const name of names) {
  const suite = suites[name];
  if (!suite) {
    console.error(`unknown benchmark '${name}'; known: ${Object.keys(suites).join(', ')}`);
    process.exit(2);
  }
  console.log(`## ${name}\n\n${await suite()}\n`);
}

function safe(f: () => string): string {
  try {
    return f();
  } catch {
    return 'unknown';
  }
}
