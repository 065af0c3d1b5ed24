/** What the host refuses, and why: the messages of its errors, and `@inject` resolution. */
import { MeshError } from '../errors.js';
import type { ServiceEntry } from './registry.js';

/** NOT_STARTED before `start()`, STOPPED after `stop()`. */
export function notRunning(state: string): MeshError {
  if (state === 'stopped' || state === 'stopping')
    return new MeshError('STOPPED', 'node is stopped: requests are refused');
  return new MeshError('NOT_STARTED', 'node is not started: call await node.start() first');
}

/** Why `path` routes nowhere: a malformed path, an unknown service, or an unknown action. */
export function routeError(path: unknown, services: ReadonlyMap<string, unknown>): MeshError {
  if (typeof path !== 'string' || !/^[^/]+\/.+$/.test(path)) {
    return new MeshError(
      'INVALID_PARAMS',
      `invalid action path ${JSON.stringify(path)}: expected '<service>/<action>'`,
      {
        path,
      },
    );
  }
  const service = path.slice(0, path.indexOf('/'));
  if (!services.has(service))
    return new MeshError('NOT_FOUND', `service '${service}' not found`, { path, service });
  return new MeshError('NOT_FOUND', `action '${path}' not found`, { path, service });
}

/** Fills a service's `@inject` fields from what was provided; `required`: a missing token is NOT_FOUND. */
export function inject(entry: ServiceEntry, provided: ReadonlyMap<string, unknown>, required: boolean): void {
  for (const { field, token } of entry.injections) {
    if (provided.has(token))
      (entry.instance as Record<string | symbol, unknown>)[field] = provided.get(token);
    else if (required) {
      throw new MeshError(
        'NOT_FOUND',
        `service '${entry.name}' injects '${token}', but nothing was provided: call node.provide('${token}', value)`,
        { service: entry.name, token },
      );
    }
  }
}
