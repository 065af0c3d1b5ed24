/**
 * `npm run demo -- --nodes 3 --backend dht` end to end, as a newcomer runs it:
 * the request served by the node hosting `report`, the management call
 * allowed by `cache.access.peers` and the one denied; and no node process
 * left behind, neither after a run nor when the demo is interrupted.
 */

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEMO = ['--import', 'tsx', 'src/cli/demo.ts', '--nodes', '3', '--backend', 'dht'];

/** Runs the demo; resolves with its output and exit code, after `onLine` saw each line. */
function runDemo(onLine: (line: string, pid: number) => void = () => {}, timeoutMs = 90_000) {
  const child = spawn(process.execPath, DEMO, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let pending = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    pending += d.toString();
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      onLine(pending.slice(0, nl), child.pid as number);
      pending = pending.slice(nl + 1);
    }
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise<{ out: string; code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ out, code, signal });
    });
  });
}

/** The pids of `pid`'s node processes (its children running examples/dht-node.ts; not tsx's esbuild). */
function childrenOf(pid: number): number[] {
  let pids: number[];
  try {
    pids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((s) => s.length > 0)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
  return pids.filter((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('dht-node');
    } catch {
      return false;
    }
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm run demo -- --nodes 3 --backend dht', () => {
  it('shows a request served by another node, and management allowed and denied by peer id', async () => {
    let children: number[] = [];
    const { out, code } = await runDemo((line, pid) => {
      if (line.startsWith('3. ')) children = childrenOf(pid);
    });
    expect(code, out).toBe(0);
    expect(out).toMatch(/node-3: report\/daily .* -> served by node-1 in [\d.]+ ms/);
    expect(out).toMatch(/node-3: report\/daily .* -> node-1's result in [\d.]+ ms \(cached/);
    expect(out).toMatch(/node-3: report\/cache\/delete .*\n\s+-> ACCESS_DENIED: .*\n.*cache\.access\.peers/);
    expect(out).toMatch(/report\/daily -> HIT: still cached \(the denied call removed nothing\)/);
    expect(out).toMatch(/node-2: report\/cache\/delete .*\n\s+-> allowed: \{"deleted":true[,}]/);
    expect(out).toMatch(/report\/daily -> MISS: computed again \(the allowed call removed the entry\)/);
    expect(out).toContain('All node processes stopped.');
    expect(children).toHaveLength(3);
    expect(children.filter(alive)).toEqual([]);
  }, 100_000);

  it('stops every node process when interrupted', async () => {
    let children: number[] = [];
    let demoPid = 0;
    const { signal, code } = await runDemo((line, pid) => {
      if (!line.startsWith('1. ')) return;
      demoPid = pid;
      children = childrenOf(pid);
      process.kill(pid, 'SIGTERM');
    });
    expect(demoPid).toBeGreaterThan(0);
    expect(signal === 'SIGTERM' || code === 143).toBe(true);
    expect(children).toHaveLength(3);
    // SIGKILLed by the demo as it exits; reaped by init shortly after.
    const deadline = Date.now() + 5_000;
    while (children.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(children.filter(alive)).toEqual([]);
  }, 100_000);
});
