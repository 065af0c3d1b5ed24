/** `lease`: acquire, renew, release or wait for a lease kept by the key's first holder (leases.ts). */
import * as v from 'valibot';
import type { MessageKind } from './kind.js';
import { isKey } from './kind.js';

const LEASE_OPS = ['acquire', 'renew', 'release', 'wait'] as const;
/** Longest lease or wait a member accepts, ms (a bound on what a peer can make it keep). */
export const MAX_LEASE_MS = 10 * 60_000;
const MAX_TOKEN = 128;

export interface LeaseRequest {
  t: 'lease';
  op: (typeof LEASE_OPS)[number];
  k: string;
  tok: string;
  /** The lease's length, or the longest wait. */
  ms: number;
}

export const leaseKind: MessageKind<LeaseRequest> = {
  t: 'lease',
  schema: v.object({
    t: v.literal('lease'),
    op: v.picklist(LEASE_OPS),
    k: v.pipe(v.string(), v.minLength(1), v.maxLength(8192)),
    tok: v.pipe(v.string(), v.maxLength(MAX_TOKEN)),
    ms: v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(MAX_LEASE_MS)),
  }),
  parse: (m) =>
    isKey(m.k) &&
    (LEASE_OPS as readonly unknown[]).includes(m.op) &&
    typeof m.tok === 'string' &&
    m.tok.length <= MAX_TOKEN &&
    typeof m.ms === 'number' &&
    Number.isFinite(m.ms) &&
    m.ms >= 0 &&
    m.ms <= MAX_LEASE_MS
      ? { t: 'lease', op: m.op as LeaseRequest['op'], k: m.k, tok: m.tok, ms: m.ms }
      : undefined,
  answer: (c, req) => c.leases.answer(req),
};
