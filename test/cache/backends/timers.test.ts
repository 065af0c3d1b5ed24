import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../fixtures/scripts/hanging-backend.ts', import.meta.url));

describe('timers that bound awaited work keep the process alive', () => {
  it('a request whose backend never answers is served by the handler in a process with nothing else alive', () => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(child.stderr).not.toMatch(/unsettled top-level await/i);
    expect(child.status).toBe(0);
    const line = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}');
    expect(line.result).toEqual({ done: 7 });
    // Answered at the guard's 250 ms bound, not by an exit.
    expect(line.ms).toBeGreaterThanOrEqual(200);
  }, 40_000);
});
