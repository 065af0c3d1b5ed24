/**
 * Event rules: `{ event: 'user.updated', keys: ['get_user:{id}', 'get_user_profile:*'], tags: ['user:{id}'] }`.
 * When the event is published, each template is filled from the event's data
 * (keys/template.ts); a key with `*` or `?` then revokes by pattern, one
 * without deletes that key; tags are invalidated for the rule's service. A
 * template whose field the data lacks is skipped with a warning; a failure is
 * logged, never thrown at the publisher.
 */
import type { Logger } from 'pino';
import type { RequestContext } from '../../node/context.js';
import { hasWildcard } from '../keys/glob.js';
import { fillTemplate } from '../keys/template.js';
import type { EventRule } from '../setup/options.js';
import type { Invalidator } from './invalidator.js';

/** The handler of one rule of `service`, for the event it names. */
export function ruleHandler(
  invalidator: Invalidator,
  service: string,
  rule: EventRule,
  logger: Logger,
): (ctx: RequestContext, data: unknown) => Promise<void> {
  return async (ctx, data) => {
    const event = ctx.event?.topic;
    const filled = (templates: readonly string[], what: string): string[] => {
      const out: string[] = [];
      for (const template of templates) {
        const f = fillTemplate(template, data);
        if ('missing' in f)
          logger.warn(
            { event, template, field: f.missing },
            `event rule skipped a ${what}: the event data lacks the field`,
          );
        else out.push(f.key);
      }
      return out;
    };
    for (const key of filled(rule.keys ?? [], 'key')) {
      try {
        if (hasWildcard(key)) await invalidator.revoke(service, key);
        else await invalidator.delete(service, key);
      } catch (err) {
        logger.error({ err, event, key }, 'event rule could not invalidate');
      }
    }
    const tags = filled(rule.tags ?? [], 'tag');
    if (tags.length === 0) return;
    try {
      await invalidator.tags(service, tags);
    } catch (err) {
      logger.error({ err, event, tags }, 'event rule could not invalidate tags');
    }
  };
}
