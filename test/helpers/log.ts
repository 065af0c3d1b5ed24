import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';

/** A pino logger that keeps every record in memory, for assertions on logs. */
export function captureLogger(level = 'debug'): {
  logger: Logger;
  records: Array<Record<string, any>>;
  /** The `msg` of every record so far. */
  messages: () => string[];
} {
  const records: Array<Record<string, any>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) records.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level }, stream), records, messages: () => records.map((r) => String(r.msg)) };
}

/** Polls `check` every `everyMs` until it returns something truthy; fails after `timeoutMs`. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 5_000, everyMs = 5): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
