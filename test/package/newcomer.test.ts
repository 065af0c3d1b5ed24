/**
 * A newcomer's first hour, from the packed tarball: a fresh project with the
 * README's tsconfig.json installs the package, compiles the README's examples
 * (each `ts` block is the examples/ file it names), runs the quick start, then
 * the multi-process examples on the DHT and on Redis, and times each process's
 * exit after `stop()`. The README's and docs' relative links must resolve in
 * the installed package.
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ExampleProcess } from '../helpers/example-process.js';
import { RedisServer, redisAvailable } from '../helpers/redis-server.js';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** How long a process may live on once `stop()` resolved. */
const EXIT_MS = 200;

async function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  try {
    const r = await run(cmd, args, {
      cwd,
      timeout: 300_000,
      maxBuffer: 32 << 20,
      env: { ...process.env, ...env },
    });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      out: `${e.stdout ?? ''}${e.stderr ?? e.message}`,
    };
  }
}

const must = async (p: ReturnType<typeof sh>, what: string) => {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}):\n${r.out}`);
  return r;
};

/** The README's fenced blocks of one language, in order. */
function blocks(markdown: string, lang: string): string[] {
  const re = new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, 'gm');
  return [...markdown.matchAll(re)].map((m) => m[1]);
}

const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('a newcomer with the packed package and the README alone', () => {
  let dir: string;
  let project: string;
  const processes: ExampleProcess[] = [];
  let compiled: { code: number; out: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshcache-newcomer-'));
    await must(sh(npm, ['run', 'build'], root), 'npm run build');
    await must(sh(npm, ['pack', '--pack-destination', dir, '--silent'], root), 'npm pack');
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack left no tarball in ${dir}`);
    project = join(dir, 'app');
    mkdirSync(join(project, 'src'), { recursive: true });
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'app', private: true, type: 'module' }),
    );
    const [tsconfig] = blocks(readme, 'jsonc');
    writeFileSync(join(project, 'tsconfig.json'), tsconfig);
    for (const block of blocks(readme, 'ts')) {
      const name = /^\/\/ examples\/([\w-]+\.ts)/.exec(block)?.[1];
      if (name !== undefined) writeFileSync(join(project, 'src', name), block);
    }
    await must(
      sh(
        npm,
        [
          'install',
          '--no-audit',
          '--no-fund',
          '--prefer-offline',
          '--loglevel=error',
          join(dir, tarball),
          'typescript@5.9',
          '@types/node@22',
        ],
        project,
      ),
      'npm install of the tarball',
    );
    compiled = await sh(
      process.execPath,
      [join(project, 'node_modules/typescript/bin/tsc'), '-p', '.'],
      project,
    );
  }, 420_000);

  afterEach(() => {
    for (const p of processes.splice(0)) p.kill();
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows only whole files in ts blocks, each the examples/ file it names', () => {
    const ts = blocks(readme, 'ts');
    expect(ts.length).toBeGreaterThanOrEqual(3);
    for (const block of ts) {
      const name = /^\/\/ (examples\/[\w-]+\.ts)/.exec(block)?.[1];
      expect(name, `a ts block of README.md names no examples/ file:\n${block.slice(0, 200)}`).toBeDefined();
      expect(block).toBe(readFileSync(join(root, name!), 'utf8'));
    }
    const [tsconfig] = blocks(readme, 'jsonc');
    expect(tsconfig).toMatch(/"experimentalDecorators": false/);
  });

  it("compiles the README's examples with the README's tsconfig", () => {
    expect(compiled.code, compiled.out).toBe(0);
    for (const f of ['quickstart.js', 'redis-node.js', 'p2p-node.js'])
      expect(existsSync(join(project, 'dist', f))).toBe(true);
  });

  it('runs the quick start: one query for two reads, and an update with a string id is seen', async () => {
    const r = await sh(process.execPath, ['dist/quickstart.js'], project, { LOG_LEVEL: 'warn' });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/queries after two reads: 1/);
    expect(r.out).toMatch(/name: 'Ada Lovelace'/);
    // The README's update_user with id '1': its delete found the entry cached for { id: '1' }.
    expect(r.out).toMatch(/name: 'Ada King'/);
  });

  it('runs three P2P processes: the later two read what the first computed, each exits at once after stop()', async () => {
    const a = new ExampleProcess(project, ['dist/p2p-node.js', 'a']);
    processes.push(a);
    const address = (await a.waitFor(/^a: listening on (\S+)$/)).match[1];
    await a.waitFor(/^a: get_user 1 computed by a$/);
    const others = ['b', 'c'].map((n) => new ExampleProcess(project, ['dist/p2p-node.js', n, address]));
    processes.push(...others);
    await others[0].waitFor(/^b: get_user 1 computed by a$/);
    await others[1].waitFor(/^c: get_user 1 computed by a$/);
    const exits = [await others[0].interrupt('b'), await others[1].interrupt('c'), await a.interrupt('a')];
    for (const ms of exits)
      expect(ms, [a, ...others].map((p) => p.output).join('\n---\n')).toBeLessThan(EXIT_MS);
    expect(a.output).not.toMatch(/"level":50|Error/);
  }, 90_000);

  it.skipIf(!redisAvailable())(
    'runs two Redis processes: the second reads what the first computed',
    async () => {
      const server = await RedisServer.start();
      try {
        const env = { CACHE_BACKEND: 'redis', CACHE_REDIS_URL: server.url };
        const a = new ExampleProcess(project, ['dist/redis-node.js', 'a'], env);
        processes.push(a);
        await a.waitFor(/^a: get_user 1 computed by a$/);
        const b = new ExampleProcess(project, ['dist/redis-node.js', 'b'], env);
        processes.push(b);
        await b.waitFor(/^b: get_user 1 computed by a$/);
        expect(await b.interrupt('b')).toBeLessThan(EXIT_MS);
        expect(await a.interrupt('a')).toBeLessThan(EXIT_MS);
        expect(a.output).not.toMatch(/127\.0\.0\.1:6379/);
      } finally {
        await server.stop();
      }
    },
    90_000,
  );

  it('resolves every relative link of README.md and docs/ inside the installed package', () => {
    const pkg = join(project, 'node_modules', 'meshcache');
    const pages = [
      'README.md',
      ...readdirSync(join(pkg, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    const dead: string[] = [];
    for (const page of pages) {
      const text = readFileSync(join(pkg, page), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s#]+)(#[^)\s]*)?\)/g)) {
        const target = m[1];
        if (/^[a-z]+:/.test(target)) continue;
        if (!existsSync(join(pkg, dirname(page), target))) dead.push(`${page} -> ${target}`);
      }
    }
    expect(pages.length).toBeGreaterThan(5);
    expect(dead).toEqual([]);
  });
});
