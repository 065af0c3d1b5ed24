/**
 * Remote calls between two processes on 127.0.0.1: meshcache (libp2p: TCP,
 * noise encryption, yamux) beside Moleculer 0.14 with its TCP transporter (no
 * encryption, no broker server), one after the other on the same machine:
 * uncached calls one at a time and with 100 in flight, and a cached action
 * (Moleculer caches on the hosting node). The libp2p stream round trip (a
 * one-hop record request, no service framework) is the floor of ours.
 *
 *   npx tsx bench/remote-calls.ts        (or npm run bench -- remote)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { machine } from './harness.js';

const MS = process.env.BENCH_MS ?? '2000';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function run(args: string[]): { child: ChildProcess; line: Promise<Record<string, unknown>> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/remote-peer.ts', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = new Promise<Record<string, unknown>>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no output from ${args.join(' ')}`)), 120_000);
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}`));
    });
  });
  return { child, line };
}

type Rate = { perSec: number; p50us: number };
const us = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(0));

async function pair(fw: 'meshcache' | 'moleculer', extra: string[] = []): Promise<Record<string, Rate>> {
  const [serverPort, clientPort] = [await freePort(), await freePort()];
  const server = run(['--fw', fw, '--role', 'server', '--port', String(serverPort), '--ms', MS, ...extra]);
  try {
    const ready = await server.line;
    const client = run([
      '--fw',
      fw,
      '--role',
      'client',
      '--port',
      String(clientPort),
      '--peer',
      String(ready.address),
      '--ms',
      MS,
      ...extra,
    ]);
    return (await client.line) as Record<string, Rate>;
  } finally {
    server.child.kill('SIGKILL');
  }
}

export async function benchRemoteCalls(): Promise<string> {
  const redis = await startRedisServer();
  let ours: Record<string, Rate>;
  let shared: Record<string, Rate>;
  let theirs: Record<string, Rate>;
  try {
    ours = await pair('meshcache');
    theirs = await pair('moleculer');
    shared = await pair('meshcache', ['--redis', redis.url]);
  } finally {
    await redis.stop();
  }
  const row = (name: string, m: Rate | undefined, o: Rate | undefined) =>
    `| ${name} | ${m ? Math.round(m.perSec).toLocaleString('en') : '-'} | ${m ? us(m.p50us) : '-'} | ${o ? Math.round(o.perSec).toLocaleString('en') : '-'} | ${o ? us(o.p50us) : '-'} | ${m && o ? (m.perSec / o.perSec).toFixed(2) : '-'}x |`;
  return [
    `Machine: ${machine()}; two processes per framework on 127.0.0.1, ${MS} ms per row.`,
    '',
    '| remote call | meshcache calls/s | p50 µs | Moleculer TCP calls/s | p50 µs | meshcache / Moleculer |',
    '|---|---:|---:|---:|---:|---:|',
    row('uncached, sequential', ours.sequential, theirs.sequential),
    row('uncached, 100 in flight', ours.inFlight100, theirs.inFlight100),
    row('cached action, cached on the host (sequential)', ours.cachedSequential, theirs.cachedSequential),
    row(
      'cached action, Redis shared, caller near copy (sequential)',
      shared.cachedSequential,
      theirs.cachedSequential,
    ),
    row('libp2p stream round trip (floor)', ours.floor, undefined),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await benchRemoteCalls());
