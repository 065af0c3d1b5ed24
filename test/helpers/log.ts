import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';

/** A pino logger that keeps every record in memory, for assertions on logs. */
export function captureLogger(level = 'debug'): { logger: Logger; records: Array<Record<string, any>> } {
  const records: Array<Record<string, any>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) records.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level }, stream), records };
}
