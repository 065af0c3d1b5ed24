import { createRequire } from 'node:module';
import type { Logger } from 'pino';

/**
 * The default logger: pino at `LOG_LEVEL` (default `info`), silent under test
 * runners (`VITEST`, `NODE_ENV=test`) unless `LOG_LEVEL` is set. Pass your own
 * pino logger with `new Node({ logger })`. pino is loaded here, not imported at
 * the top, so a node given a logger never pays its ~40 ms import.
 */
export function defaultLogger(): Logger {
  const env = process.env;
  const quiet = env.VITEST !== undefined || env.NODE_ENV === 'test';
  const level = env.LOG_LEVEL ?? (quiet ? 'silent' : 'info');
  const { pino } = createRequire(import.meta.url)('pino') as typeof import('pino');
  return pino({ level, base: { name: 'meshcache' } });
}
