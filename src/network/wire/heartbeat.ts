/**
 * `hb`: a member's heartbeat, posted to a few members each tick: the epoch and
 * number of its latest invalidation notice (a receiver that holds less missed
 * some), the staleness bound it keeps, what it heard of the other members (a
 * digest: ../heartbeat-digest.ts), its wall clock (`at`: the receivers measure
 * its clock offset from it, as from a clock beacon), and `bye` when it leaves
 * on purpose.
 */
import * as v from 'valibot';
import type { MessageKind } from './kind.js';

export interface HeartbeatRequest {
  t: 'hb';
  /** The sender's notice epoch and latest notice number. */
  e: string;
  s: number;
  /** The sender's staleness bound, ms (0: it needs none). */
  w: number;
  /** The sender's wall clock at sending, ms since the epoch (receivers measure its clock offset). */
  at?: number;
  /** What the sender heard of other members: [peer, epoch, latest number, age ms]. */
  d?: Array<[string, string, number, number]>;
  /** The sender is stopping: not a silence to worry about. */
  bye?: 1;
}

/** Longest bound a member may keep (an hour), ms. */
const MAX_WANT_MS = 3_600_000;
/** Most entries of a digest (members of one network). */
const MAX_DIGEST = 10_000;

const entry = (x: unknown): boolean =>
  Array.isArray(x) &&
  x.length === 4 &&
  typeof x[0] === 'string' &&
  x[0].length <= 128 &&
  typeof x[1] === 'string' &&
  x[1].length <= 64 &&
  count(x[2], Number.MAX_SAFE_INTEGER) &&
  count(x[3], MAX_WANT_MS);

const count = (n: unknown, max: number): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;

export const heartbeatKind: MessageKind<HeartbeatRequest> = {
  t: 'hb',
  schema: v.object({
    t: v.literal('hb'),
    e: v.pipe(v.string(), v.maxLength(64)),
    s: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
    w: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_WANT_MS)),
    at: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER))),
    d: v.optional(
      v.pipe(
        v.array(
          v.tuple([
            v.pipe(v.string(), v.maxLength(128)),
            v.pipe(v.string(), v.maxLength(64)),
            v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
            v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_WANT_MS)),
          ]),
        ),
        v.maxLength(MAX_DIGEST),
      ),
    ),
    bye: v.optional(v.literal(1)),
  }),
  parse: (m) => {
    if (typeof m.e !== 'string' || m.e.length > 64) return undefined;
    if (!count(m.s, Number.MAX_SAFE_INTEGER) || !count(m.w, MAX_WANT_MS)) return undefined;
    if (m.bye !== undefined && m.bye !== 1) return undefined;
    if (m.at !== undefined && !count(m.at, Number.MAX_SAFE_INTEGER)) return undefined;
    if (m.bye === 1) return { t: 'hb', e: m.e, s: m.s, w: m.w, bye: 1 };
    const req: HeartbeatRequest = { t: 'hb', e: m.e, s: m.s, w: m.w };
    if (m.at !== undefined) req.at = m.at;
    if (m.d === undefined) return req;
    if (!Array.isArray(m.d) || m.d.length > MAX_DIGEST || !m.d.every(entry)) return undefined;
    req.d = m.d as Array<[string, string, number, number]>;
    return req;
  },
  answer: (c, req, from) => {
    c.heartbeats.receive(req, from);
    return { ok: true };
  },
};
