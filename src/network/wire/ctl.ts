/** `ctl`: a control message (an invalidation notice) sent straight to a member, besides gossip. */
import * as v from 'valibot';
import type { MessageKind } from './kind.js';

export interface CtlRequest {
  t: 'ctl';
  m: Record<string, unknown>;
}

export const ctlKind: MessageKind<CtlRequest> = {
  t: 'ctl',
  schema: v.object({ t: v.literal('ctl'), m: v.record(v.string(), v.unknown()) }),
  parse: (m) =>
    m.m !== null && typeof m.m === 'object' && !Array.isArray(m.m)
      ? { t: 'ctl', m: m.m as Record<string, unknown> }
      : undefined,
  answer: (c, req, from) => {
    c.control.deliver(req.m, from);
    return { ok: true };
  },
};
