/**
 * Runs the `meshcache` command as a child process (under tsx, on the
 * sources), bounded in time, against node processes started from
 * examples/app-node.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeValue } from '../../src/codec/index.js';
import { APP_NODE_SCRIPT, NodeProcess } from './cluster.js';

export const CLI_SCRIPT = fileURLToPath(new URL('../../src/cli/meshcache/main.ts', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts the command; the caller waits on `done` (killed with SIGKILL past `timeoutMs`). */
export function startCli(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): { child: ChildProcess; done: Promise<CliResult>; stdout: () => string } {
  const child = spawn(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', CLI_SCRIPT, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', ...env },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done, stdout: () => stdout };
}

export function runCli(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<CliResult> {
  return startCli(args, env, timeoutMs).done;
}

/** The one JSON document a `--json` run printed. */
export function json<T = Record<string, unknown>>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not one JSON document (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

/** A temporary directory holding the operators' identities and config; removed by `cleanup`. */
export async function operatorHome(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'meshcache-cli-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Creates (or reads) the key at `identity` and returns its peer id, through the command itself. */
export async function peerIdOf(identity: string, home: string): Promise<string> {
  const r = await runCli(['identity', '--json'], { MESHCACHE_IDENTITY: identity, XDG_CONFIG_HOME: home });
  if (r.code !== 0) throw new Error(`meshcache identity failed: ${r.stderr}`);
  return json<{ peerId: string }>(r).peerId;
}

export function spawnAppNode(
  network: string,
  name: string,
  services: string,
  options: { bootstrap?: string[]; accessPeers?: string[] } = {},
): Promise<NodeProcess> {
  return NodeProcess.spawn({
    network,
    name,
    source: APP_NODE_SCRIPT,
    args: [
      '--services',
      services,
      ...(options.accessPeers === undefined ? [] : ['--access-peers', options.accessPeers.join(',')]),
    ],
    ...(options.bootstrap === undefined ? {} : { bootstrap: options.bootstrap }),
  });
}

/** Calls an action on a node process; fails the test on an error. */
export async function call(proc: NodeProcess, path: string, params: Record<string, unknown>): Promise<void> {
  const r = await proc.call({ cmd: 'request', path, params: encodeValue(params) });
  if (r.failed !== undefined) throw new Error(`${path} failed: ${JSON.stringify(r.failed)}`);
}

/** How many times the process ran `user/get_user`'s handler (a miss runs it, a hit does not). */
export async function ranGetUser(proc: NodeProcess): Promise<number> {
  const info = await proc.call({ cmd: 'info' });
  return (info.ran as { get_user: number }).get_user;
}

/** Waits until every process sees `count` members. */
export async function waitForMembers(procs: NodeProcess[], count: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const infos = await Promise.all(procs.map((p) => p.call({ cmd: 'info' })));
    if (infos.every((i) => (i.peers as string[]).length >= count)) return;
    if (Date.now() > until) throw new Error('the node processes did not see each other');
    await new Promise((r) => setTimeout(r, 100));
  }
}
