/**
 * Checks the `logger` given to `new Node`: meshcache calls pino's methods
 * (`child`, the level methods) deep inside handlers and backends, where a
 * logger missing one would fail far from its cause (`this.node.logger.child
 * is not a function`). So it is checked once, when the node is created.
 */
import type { Logger } from 'pino';
import { MeshError } from '../errors.js';

const METHODS = ['child', 'trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** The logger itself when it has every method meshcache calls; CONFIG_INVALID naming the missing ones otherwise. */
export function checkLogger(logger: unknown): Logger {
  const target = logger as Record<string, unknown> | null;
  const missing =
    target === null || typeof target !== 'object'
      ? [...METHODS]
      : METHODS.filter((m) => typeof target[m] !== 'function');
  if (missing.length === 0) return logger as Logger;
  throw new MeshError(
    'CONFIG_INVALID',
    `logger: a pino-compatible logger is needed (pino(), or an object with ${METHODS.join(', ')}); this one lacks ${missing.join(', ')}`,
    { field: 'logger', missing },
  );
}
