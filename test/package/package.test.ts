/**
 * The published package from a separate project: builds, packs the tarball,
 * installs it (dependencies from the npm registry, the local cache first) in a
 * temporary project, and runs the conformance suite there with node:test,
 * importing `meshcache/testing` and `meshcache` by name. Also type-checks a
 * TypeScript user of `meshcache/testing`. Slow (an npm install): `npm run test:package`.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Runs a command; resolves with its output and exit code (never rejects on a non-zero exit). */
async function sh(cmd: string, args: string[], cwd: string, timeout = 180_000) {
  try {
    const { stdout, stderr } = await run(cmd, args, {
      cwd,
      timeout,
      maxBuffer: 32 << 20,
      env: { ...process.env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? e.message,
    };
  }
}

const must = (r: { code: number; stdout: string; stderr: string }, what: string) => {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r;
};

const USER_TEST = `import { test } from 'node:test';
import { MemoryBackend } from 'meshcache';
import { runBackendConformance } from 'meshcache/testing';

runBackendConformance({ name: 'memory', test, create: () => new MemoryBackend() });
`;

const BROKEN_TEST = `import { test } from 'node:test';
import { MemoryBackend } from 'meshcache';
import { runBackendConformance } from 'meshcache/testing';

// A backend whose delete always says it deleted something.
runBackendConformance({
  name: 'always-true-delete',
  test,
  create: () => {
    const inner = new MemoryBackend();
    return {
      get: (k) => inner.get(k),
      set: (k, v, t) => inner.set(k, v, t),
      delete: (k) => (inner.delete(k), true),
      clear: (p) => inner.clear(p),
      close: () => inner.close(),
    };
  },
});
`;

const TS_USER = `import type { CacheBackend } from 'meshcache';
import { type BackendConformanceOptions, runBackendConformance } from 'meshcache/testing';

class MyStore implements CacheBackend {
  readonly map = new Map<string, unknown>();
  get(key: string): unknown { return this.map.get(key); }
  set(key: string, value: unknown): void { this.map.set(key, value); }
  delete(key: string): boolean { return this.map.delete(key); }
  clear(): void { this.map.clear(); }
}
const it = (name: string, fn: () => Promise<void>): void => { void name; void fn; };
const options: BackendConformanceOptions<MyStore> = {
  name: 'mystore',
  test: it,
  create: () => new MyStore(),
  capabilities: { exactCounts: false, clearAll: true },
  timeScale: 2,
};
const names: string[] = runBackendConformance(options);
void names;
`;

const TS_CONFIG = {
  compilerOptions: {
    strict: true,
    noEmit: true,
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    skipLibCheck: true,
    types: [],
  },
  files: ['user.ts'],
};

describe('the packed package, from a separate project', () => {
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshcache-package-'));
    must(await sh(npm, ['run', 'build'], root), 'npm run build');
    must(await sh(npm, ['pack', '--pack-destination', dir, '--silent'], root), 'npm pack');
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack left no tarball in ${dir}`);
    const project = join(dir, 'user');
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'meshcache-package-check', private: true, type: 'module' }, null, 2),
    );
    must(
      await sh(
        npm,
        ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', join(dir, tarball)],
        project,
        300_000,
      ),
      'npm install of the tarball',
    );
    writeFileSync(join(project, 'conformance.test.mjs'), USER_TEST);
    writeFileSync(join(project, 'broken.test.mjs'), BROKEN_TEST);
    writeFileSync(join(project, 'user.ts'), TS_USER);
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(TS_CONFIG, null, 2));
  }, 420_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs the conformance suite under node --test, importing meshcache/testing by name', async () => {
    const r = await sh(
      process.execPath,
      ['--test', '--test-reporter=tap', 'conformance.test.mjs'],
      join(dir, 'user'),
    );
    expect(r.stderr + r.stdout).not.toMatch(/ERR_MODULE_NOT_FOUND|ERR_PACKAGE_PATH_NOT_EXPORTED/);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const pass = Number(/^# pass (\d+)$/m.exec(r.stdout)?.[1]);
    expect(pass).toBeGreaterThanOrEqual(12);
    expect(r.stdout).toMatch(/^# fail 0$/m);
    expect(r.stdout).toMatch(/ok \d+ - memory: get of a key never set is undefined/);
  });

  it('fails there for a broken backend (delete always true)', async () => {
    const r = await sh(
      process.execPath,
      ['--test', '--test-reporter=tap', 'broken.test.mjs'],
      join(dir, 'user'),
    );
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/not ok \d+ - always-true-delete: delete: true when present/);
    expect(Number(/^# fail (\d+)$/m.exec(r.stdout)?.[1])).toBeGreaterThan(0);
  });

  it('gives TypeScript users the types of meshcache/testing (NodeNext resolution)', async () => {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = await sh(process.execPath, [tsc, '-p', 'tsconfig.json'], join(dir, 'user'));
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('installs the meshcache command (npx meshcache): help, and the identity of a new key', async () => {
    const bin = join(dir, 'user', 'node_modules', '.bin', 'meshcache');
    const help = await sh(bin, ['--help'], join(dir, 'user'));
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/usage: meshcache <command>/);
    const id = await sh(bin, ['identity', '--json', '--identity', join(dir, 'op.key')], join(dir, 'user'));
    expect(id.code, id.stderr).toBe(0);
    expect(JSON.parse(id.stdout).peerId).toMatch(/^12D3KooW/);
  });
});
