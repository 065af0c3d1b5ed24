/**
 * One process of the README's examples (`node dist/p2p-node.js a ...`), run as
 * a user would run it: its output lines are collected, waited for by pattern,
 * and the time it lives on after the `stopped` line it prints once `node.stop()`
 * resolved is measured inside it (exit-timer.mjs).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const EXIT_TIMER = fileURLToPath(new URL('./exit-timer.mjs', import.meta.url));

export class ExampleProcess {
  readonly lines: Array<{ at: number; text: string }> = [];
  exitedAt: number | undefined;
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();

  constructor(cwd: string, args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, ['--import', EXIT_TIMER, ...args], {
      cwd,
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffer = '';
    const take = (d: Buffer) => {
      buffer += d.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        this.lines.push({ at: performance.now(), text: buffer.slice(0, nl) });
        buffer = buffer.slice(nl + 1);
      }
      for (const w of this.waiters) w();
    };
    this.child.stdout?.on('data', take);
    this.child.stderr?.on('data', take);
    // 'close', not 'exit': every line is read by then, so the `stopped` line is never missed.
    this.child.on('close', () => {
      this.exitedAt = performance.now();
      for (const w of this.waiters) w();
    });
  }

  get output(): string {
    return this.lines.map((l) => l.text).join('\n');
  }

  /** The first line matching `re` (waits for it; rejects on exit or after `timeoutMs`). */
  waitFor(re: RegExp, timeoutMs = 30_000): Promise<{ at: number; match: RegExpExecArray }> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (const line of this.lines) {
          const match = re.exec(line.text);
          if (match !== null) return done(() => resolve({ at: line.at, match }));
        }
        if (this.exitedAt !== undefined)
          done(() => reject(new Error(`exited before ${re}:\n${this.output}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`no ${re} in ${timeoutMs} ms:\n${this.output}`))),
        timeoutMs,
      );
      const done = (then: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        then();
      };
      this.waiters.add(check);
      check();
    });
  }

  /**
   * Sends SIGINT (the examples stop their node on it); resolves with the ms the process lived
   * on once `node.stop()` resolved (measured inside it, see exit-timer.mjs).
   */
  async interrupt(name: string, timeoutMs = 10_000): Promise<number> {
    this.child.kill('SIGINT');
    await this.waitFor(new RegExp(`^${name}: stopped$`), timeoutMs);
    const { match } = await this.waitFor(/^exit-after-stop ([\d.]+)$/, timeoutMs);
    await this.exited(timeoutMs);
    return Number(match[1]);
  }

  exited(timeoutMs = 10_000): Promise<void> {
    if (this.exitedAt !== undefined) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`did not exit in ${timeoutMs} ms:\n${this.output}`)),
        timeoutMs,
      );
      this.child.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Ends the process if a test failed before it could stop it. */
  kill(): void {
    if (this.exitedAt === undefined) this.child.kill('SIGKILL');
  }
}
