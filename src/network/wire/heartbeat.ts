/**
 * `hb`: a member's heartbeat, posted to every member on an interval: the
 * epoch and number of its latest invalidation notice (a receiver that holds
 * less missed some), the interval it wants to hear the others at, and `bye`
 * when it leaves on purpose.
 */
import * as v from 'valibot';
import type { MessageKind } from './kind.js';

export interface HeartbeatRequest {
  t: 'hb';
  /** The sender's notice epoch and latest notice number. */
  e: string;
  s: number;
  /** The interval, ms, at which the sender wants heartbeats (0: it needs none). */
  w: number;
  /** The sender is stopping: not a silence to worry about. */
  bye?: 1;
}

/** Longest interval a member may ask for (an hour), ms. */
const MAX_WANT_MS = 3_600_000;

const count = (n: unknown, max: number): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;

export const heartbeatKind: MessageKind<HeartbeatRequest> = {
  t: 'hb',
  schema: v.object({
    t: v.literal('hb'),
    e: v.pipe(v.string(), v.maxLength(64)),
    s: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
    w: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_WANT_MS)),
    bye: v.optional(v.literal(1)),
  }),
  parse: (m) => {
    if (typeof m.e !== 'string' || m.e.length > 64) return undefined;
    if (!count(m.s, Number.MAX_SAFE_INTEGER) || !count(m.w, MAX_WANT_MS)) return undefined;
    if (m.bye !== undefined && m.bye !== 1) return undefined;
    return m.bye === 1 ? { t: 'hb', e: m.e, s: m.s, w: m.w, bye: 1 } : { t: 'hb', e: m.e, s: m.s, w: m.w };
  },
  answer: (c, req, from) => {
    c.heartbeats.receive(req, from);
    return { ok: true };
  },
};
