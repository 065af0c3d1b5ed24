/**
 * Remote calls between two processes on 127.0.0.1: meshcache (libp2p: TCP,
 * noise encryption, yamux) beside Moleculer 0.14 with its TCP transporter (no
 * encryption, no broker server), one after the other on the same machine:
 * uncached calls one at a time and with 100 in flight, and a cached action
 * (Moleculer caches on the hosting node). The libp2p stream round trip (a
 * one-hop record request, no service framework) is the floor of ours.
 * meshcache runs the built package (`npm run build` first; done here when
 * dist/bundle/ is missing). BENCH_ROUNDS pairs of each framework alternate
 * (default 3); each row is the median round, with the range of the ratios.
 *
 *   npx tsx bench/remote-calls.ts        (or npm run bench -- remote)
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { machine } from './harness.js';

const MS = process.env.BENCH_MS ?? '2000';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

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

/** The round whose calls/s is the median, per row, and the lowest and highest ratio of the rounds. */
function medianRow(
  ours: Record<string, Rate>[],
  theirs: Record<string, Rate>[],
  row: string,
  theirRow = row,
): { m: Rate | undefined; o: Rate | undefined; range: string } {
  const mid = <T>(xs: T[], by: (x: T) => number) =>
    [...xs].sort((a, b) => by(a) - by(b))[Math.floor(xs.length / 2)];
  const m = mid(ours.map((r) => r[row]).filter((x) => x !== undefined) as Rate[], (x) => x.perSec);
  const o = mid(theirs.map((r) => r[theirRow]).filter((x) => x !== undefined) as Rate[], (x) => x.perSec);
  const ratios = ours
    .map((r, i) => (r[row]?.perSec ?? Number.NaN) / (theirs[i]?.[theirRow]?.perSec ?? Number.NaN))
    .filter((x) => Number.isFinite(x));
  const range =
    ratios.length > 1 ? `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}x` : '-';
  return { m, o, range };
}

export async function benchRemoteCalls(): Promise<string> {
  if (!existsSync(new URL('../dist/bundle/meshcache.js', import.meta.url)))
    execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  const redis = await startRedisServer();
  const ours: Record<string, Rate>[] = [];
  const theirs: Record<string, Rate>[] = [];
  const shared: Record<string, Rate>[] = [];
  try {
    // Alternating, so both frameworks see the same machine state.
    for (let r = 0; r < ROUNDS; r++) {
      ours.push(await pair('meshcache'));
      theirs.push(await pair('moleculer'));
      shared.push(await pair('meshcache', ['--redis', redis.url]));
    }
  } finally {
    await redis.stop();
  }
  const fmt = (name: string, { m, o, range }: ReturnType<typeof medianRow>) =>
    `| ${name} | ${m ? Math.round(m.perSec).toLocaleString('en') : '-'} | ${m ? us(m.p50us) : '-'} | ${o ? Math.round(o.perSec).toLocaleString('en') : '-'} | ${o ? us(o.p50us) : '-'} | ${m && o ? (m.perSec / o.perSec).toFixed(2) : '-'}x | ${range} |`;
  return [
    `Machine: ${machine()}; two processes per framework on 127.0.0.1, ${MS} ms per row, median of ${ROUNDS} alternating rounds.`,
    '',
    '| remote call | meshcache calls/s | p50 µs | Moleculer TCP calls/s | p50 µs | meshcache / Moleculer | rounds |',
    '|---|---:|---:|---:|---:|---:|---:|',
    fmt('uncached, sequential', medianRow(ours, theirs, 'sequential')),
    fmt('uncached, 100 in flight', medianRow(ours, theirs, 'inFlight100')),
    fmt('cached action, cached on the host (sequential)', medianRow(ours, theirs, 'cachedSequential')),
    fmt(
      'cached action, Redis shared, caller near copy (sequential)',
      medianRow(shared, theirs, 'cachedSequential'),
    ),
    fmt('libp2p stream round trip (floor)', medianRow(ours, [], 'floor')),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await benchRemoteCalls());
