import { type Logger, pino } from 'pino';

/**
 * The default logger: pino at `LOG_LEVEL` (default `info`), silent under test
 * runners (`VITEST`, `NODE_ENV=test`) unless `LOG_LEVEL` is set. Pass your own
 * pino logger with `new Node({ logger })`.
 */
export function defaultLogger(): Logger {
  const env = process.env;
  const quiet = env.VITEST !== undefined || env.NODE_ENV === 'test';
  const level = env.LOG_LEVEL ?? (quiet ? 'silent' : 'info');
  return pino({ level, base: { name: 'meshcache' } });
}
