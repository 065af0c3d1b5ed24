/** Validation of what `node.request` / `ctx.request` are given: INVALID_PARAMS, never a throw. */
import { MeshError } from '../errors.js';
import type { Params, RequestOptions } from './types.js';

/** Params must be a plain object (or nothing): no class instances, no arrays. */
export function isPlainObject(value: unknown): value is Params {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Validates per-request options; returns the error, if any. */
export function checkRequestOptions(path: string, options: RequestOptions): MeshError | undefined {
  if (options === null || typeof options !== 'object') {
    return new MeshError('INVALID_PARAMS', `request options of '${path}' must be an object`, { path });
  }
  const { timeout, cache, meta } = options;
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0))) {
    return new MeshError(
      'INVALID_PARAMS',
      `request option timeout of '${path}' must be a number of ms >= 0`,
      { path, field: 'timeout' },
    );
  }
  if (cache !== undefined && cache !== 'bypass' && cache !== 'refresh') {
    return new MeshError(
      'INVALID_PARAMS',
      `request option cache of '${path}' must be 'bypass' or 'refresh'`,
      { path, field: 'cache' },
    );
  }
  if (meta !== undefined && (meta === null || typeof meta !== 'object')) {
    return new MeshError('INVALID_PARAMS', `request option meta of '${path}' must be an object`, {
      path,
      field: 'meta',
    });
  }
  return undefined;
}
