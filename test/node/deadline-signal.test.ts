import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { deadlineSignal, withDeadline } from '../../src/node/deadline-signal.js';

describe('deadlineSignal', () => {
  it('aborts with a TimeoutError after the bound, and done() stops it', async () => {
    const d = deadlineSignal(30);
    await new Promise((r) => setTimeout(r, 60));
    expect(d.signal.aborted).toBe(true);
    expect((d.signal.reason as DOMException).name).toBe('TimeoutError');
    const e = deadlineSignal(30);
    e.done();
    await new Promise((r) => setTimeout(r, 60));
    expect(e.signal.aborted).toBe(false);
    await expect(withDeadline(1000, async () => 7)).resolves.toBe(7);
  });

  it('keeps a process with nothing else alive until the bound fires (AbortSignal.timeout does not)', () => {
    const url = new URL('../../src/node/deadline-signal.ts', import.meta.url).href;
    const script = (useOurs: boolean) => `
      const { deadlineSignal } = await import(${JSON.stringify(url)});
      const signal = ${useOurs ? 'deadlineSignal(150).signal' : 'AbortSignal.timeout(150)'};
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      console.log('aborted');`;
    const run = (useOurs: boolean) =>
      spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(useOurs)], {
        encoding: 'utf8',
        timeout: 20_000,
      });
    const ours = run(true);
    expect(ours.stdout.trim()).toBe('aborted');
    expect(ours.status).toBe(0);
    const builtin = run(false);
    expect(builtin.stdout.trim()).toBe('');
    expect(builtin.status).toBe(13);
  }, 40_000);
});
