/**
 * Refuses unknown keys in the options of decorators and `addService`: a
 * misspelt `cahce` would otherwise be accepted and cache nothing.
 */
import { MeshError } from '../errors.js';
import { unknownName } from './suggest.js';

/** Keys of `@action(...)` and of an action in `addService({ actions })` (plus `handler` there). */
export const ACTION_OPTION_KEYS = ['cache', 'timeout', 'meta'] as const;
/** Keys of `@service({...})`. */
export const SERVICE_DECORATOR_KEYS = ['name', 'cache', 'events'] as const;
/** Keys of a plain-object service given to `addService`. */
export const SERVICE_DEFINITION_KEYS = ['name', 'cache', 'actions', 'events', 'started', 'stopped'] as const;

/** Throws CONFIG_INVALID naming the first key of `value` that is not in `valid`. */
export function checkOptionKeys(value: unknown, valid: readonly string[], where: string): void {
  if (value === null || typeof value !== 'object') return;
  for (const key of Object.keys(value)) {
    if (valid.includes(key)) continue;
    throw new MeshError('CONFIG_INVALID', `${where}: ${unknownName('option', key, valid)}`, {
      field: key,
      where,
      valid: [...valid],
    });
  }
}
