/**
 * `cat`: what a member hosts (services, actions, cache declarations as data).
 * Without `r` it asks for this node's catalog (the reply's `r`); with `r` it
 * pushes the sender's own, posted to every member when it changes.
 */
import * as v from 'valibot';
import type { MessageKind } from './kind.js';

export interface CatalogRequest {
  t: 'cat';
  r?: string;
}

export const catalogKind: MessageKind<CatalogRequest> = {
  t: 'cat',
  schema: v.object({ t: v.literal('cat'), r: v.optional(v.string()) }),
  parse: (m) => {
    if (m.r === undefined) return { t: 'cat' };
    return typeof m.r === 'string' ? { t: 'cat', r: m.r } : undefined;
  },
  answer: (c, req, from) => {
    if (req.r === undefined) return c.catalogs.answer();
    c.catalogs.receive(req.r, from);
    return { ok: true };
  },
};
