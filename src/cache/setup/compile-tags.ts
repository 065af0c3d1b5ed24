/**
 * Compiles an action's `tags` option (templates or a function) into the
 * function the miss path calls to get the tag record keys of a result.
 */
import type { Logger } from 'pino';
import type { RequestContext } from '../../node/context.js';
import { recordKeys, validTag } from '../coherence/tag-records.js';
import { fillTemplate } from '../keys/template.js';
import type { TagFunction } from './policies.js';

/**
 * Compiles an action's tag option into `(params, result, ctx) => record keys`;
 * undefined means "do not cache this call" (a template field is missing, the
 * function threw or returned something else than strings), with a warning.
 */
export function compileTags(
  spec: readonly string[] | TagFunction,
  base: string,
  service: string,
  path: string,
  logger: Logger,
): (params: unknown, result: unknown, ctx: RequestContext) => string[] | undefined {
  const skip = (reason: string, extra: Record<string, unknown>) => {
    logger.warn({ path, ...extra }, `cache tags: ${reason}; this result is not cached`);
    return undefined;
  };
  if (typeof spec === 'function') {
    return (params, result, ctx) => {
      let tags: unknown;
      try {
        tags = spec(params, result, ctx);
      } catch (err) {
        return skip('the tags function threw', { err });
      }
      if (!Array.isArray(tags) || !tags.every(validTag))
        return skip('the tags function must return an array of non-empty strings', { tags });
      return recordKeys(base, service, [...new Set(tags)]);
    };
  }
  return (params) => {
    const tags: string[] = [];
    for (const template of spec) {
      const filled = fillTemplate(template, params);
      if ('missing' in filled)
        return skip('a tag template names a missing param', { template, field: filled.missing });
      if (!validTag(filled.key)) return skip('a tag is empty or holds control characters', { template });
      tags.push(filled.key);
    }
    return recordKeys(base, service, [...new Set(tags)]);
  };
}
