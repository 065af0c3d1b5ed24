/**
 * `call`: a request to a service this node hosts, from another member. The
 * params, meta and result cross as value-codec text; an error crosses in the
 * catalog's serialized form (`e` of the reply).
 */
import * as v from 'valibot';
import type { CallWire, MessageKind } from './kind.js';

const MAX_PATH = 1024;
const MAX_ID = 256;
const isShort = (s: unknown, max: number): s is string => typeof s === 'string' && s.length <= max;
/** A trace context carrier: a few short headers (`traceparent` is 55 characters, `tracestate` at most 32 entries). */
const MAX_CARRIER_ENTRIES = 8;
const MAX_CARRIER_NAME = 64;
const MAX_CARRIER_VALUE = 1024;

function parseCarrier(tc: unknown): Record<string, string> | undefined {
  if (tc === null || typeof tc !== 'object' || Array.isArray(tc)) return undefined;
  const entries = Object.entries(tc);
  if (entries.length > MAX_CARRIER_ENTRIES) return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of entries) {
    if (name.length === 0 || name.length > MAX_CARRIER_NAME || !isShort(value, MAX_CARRIER_VALUE))
      return undefined;
    out[name] = value;
  }
  return out;
}

export const callKind: MessageKind<CallWire> = {
  t: 'call',
  schema: v.object({
    t: v.literal('call'),
    p: v.pipe(v.string(), v.minLength(3), v.maxLength(MAX_PATH)),
    a: v.string(),
    d: v.pipe(v.number(), v.finite(), v.minValue(0)),
    m: v.optional(v.string()),
    c: v.optional(v.picklist(['bypass', 'refresh'])),
    rid: v.optional(v.pipe(v.string(), v.maxLength(MAX_ID))),
    from: v.optional(v.pipe(v.string(), v.maxLength(MAX_PATH))),
    tc: v.optional(
      v.pipe(
        // valibot's record takes an array as an object of its indices; a carrier is never one.
        v.custom<object>((x) => x !== null && typeof x === 'object' && !Array.isArray(x), 'an object'),
        v.record(
          v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_CARRIER_NAME)),
          v.pipe(v.string(), v.maxLength(MAX_CARRIER_VALUE)),
        ),
        v.check((r) => Object.keys(r).length <= MAX_CARRIER_ENTRIES, 'at most 8 trace context entries'),
      ),
    ),
  }),
  parse: (m) => {
    if (!isShort(m.p, MAX_PATH) || m.p.length < 3 || typeof m.a !== 'string') return undefined;
    if (typeof m.d !== 'number' || !Number.isFinite(m.d) || m.d < 0) return undefined;
    if (m.m !== undefined && typeof m.m !== 'string') return undefined;
    if (m.c !== undefined && m.c !== 'bypass' && m.c !== 'refresh') return undefined;
    if (m.rid !== undefined && !isShort(m.rid, MAX_ID)) return undefined;
    if (m.from !== undefined && !isShort(m.from, MAX_PATH)) return undefined;
    const tc = m.tc === undefined ? undefined : parseCarrier(m.tc);
    if (m.tc !== undefined && tc === undefined) return undefined;
    const out: CallWire = { t: 'call', p: m.p, a: m.a, d: m.d };
    if (m.m !== undefined) out.m = m.m as string;
    if (m.c !== undefined) out.c = m.c as 'bypass' | 'refresh';
    if (m.rid !== undefined) out.rid = m.rid as string;
    if (m.from !== undefined) out.from = m.from as string;
    if (tc !== undefined) out.tc = tc;
    return out;
  },
  answer: (c, req, from) => c.calls.answer(req, from),
};
