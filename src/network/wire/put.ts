/** `put`: store a record (JSON in the kad-dht record format, with `from`/`sent`) if it is the newest. */
import * as v from 'valibot';
import type { MessageKind } from './kind.js';
import { isKey } from './kind.js';

export interface PutRequest {
  t: 'put';
  k: string;
  r: string;
}

export const putKind: MessageKind<PutRequest> = {
  t: 'put',
  schema: v.object({
    t: v.literal('put'),
    k: v.pipe(v.string(), v.minLength(1), v.maxLength(8192)),
    r: v.string(),
  }),
  parse: (m) => (isKey(m.k) && typeof m.r === 'string' ? { t: 'put', k: m.k, r: m.r } : undefined),
  answer: (c, req) => c.records.answerDirect(req),
};
