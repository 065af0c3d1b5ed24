/** `get`: the record this node holds under a key (absent `r`: none). */
import * as v from 'valibot';
import type { MessageKind } from './kind.js';
import { isKey } from './kind.js';

export interface GetRequest {
  t: 'get';
  k: string;
}

export const getKind: MessageKind<GetRequest> = {
  t: 'get',
  schema: v.object({ t: v.literal('get'), k: v.pipe(v.string(), v.minLength(1), v.maxLength(8192)) }),
  parse: (m) => (isKey(m.k) ? { t: 'get', k: m.k } : undefined),
  answer: (c, req) => c.records.answerDirect(req),
};
