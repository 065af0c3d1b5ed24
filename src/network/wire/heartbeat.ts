/**
 * `hb`: a member's heartbeat, posted to a few members each tick: the epoch and
 * number of its latest invalidation notice (a receiver that holds less missed
 * some), the staleness bound it keeps, what it heard of the other members (a
 * digest: ../heartbeat-digest.ts, in full with its roster's version `h`, or,
 * to a member holding that roster, by position in `c`), its wall clock (`at`: the receivers measure
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
  /** The version of the roster `d` names (with `d`), or that `c` goes by (with `c`). */
  h?: number;
  /** The digest by position in the roster `h`: each member's latest number, then its age (ms), in turn. */
  c?: number[];
  /** With `c`: the roster version `h` is `b`'s with the members of `x` gone and those of `a` appended. */
  b?: number;
  x?: string[];
  a?: Array<[string, string]>;
  /** The sender does not hold this receiver's roster `h` it was sent by position: the next goes in full. */
  r?: 1;
  /** The sender is stopping: not a silence to worry about. */
  bye?: 1;
}

/** Longest bound a member may keep (an hour), ms. */
const MAX_WANT_MS = 3_600_000;
/** Most entries of a digest (members of one network). */
const MAX_DIGEST = 10_000;

/** A member's peer id, and a notice epoch, as a digest may carry them. */
const isPeer = (p: unknown): p is string => typeof p === 'string' && p.length <= 128;
const isEpoch = (e: unknown): e is string => typeof e === 'string' && e.length <= 64;

const entry = (x: unknown): boolean =>
  Array.isArray(x) &&
  x.length === 4 &&
  isPeer(x[0]) &&
  isEpoch(x[1]) &&
  count(x[2], Number.MAX_SAFE_INTEGER) &&
  count(x[3], MAX_WANT_MS);

const count = (n: unknown, max: number): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;

/** A digest by position: pairs of a notice number and an age. */
const positions = (c: unknown): c is number[] =>
  Array.isArray(c) &&
  c.length % 2 === 0 &&
  c.length <= 2 * MAX_DIGEST &&
  c.every((x, i) => count(x, i % 2 === 0 ? Number.MAX_SAFE_INTEGER : MAX_WANT_MS));

/** A roster's members gone: peer ids. */
const gone = (x: unknown): boolean => Array.isArray(x) && x.length <= MAX_DIGEST && x.every(isPeer);

/** A roster's members appended: [peer id, notice epoch]. */
const appended = (a: unknown): boolean =>
  Array.isArray(a) &&
  a.length <= MAX_DIGEST &&
  a.every((y) => Array.isArray(y) && y.length === 2 && isPeer(y[0]) && isEpoch(y[1]));

/** Schemas of the same rules, for the wire catalog. */
const whole = (max: number) => v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(max));
const peerSchema = v.pipe(v.string(), v.maxLength(128));
const epochSchema = v.pipe(v.string(), v.maxLength(64));

export const heartbeatKind: MessageKind<HeartbeatRequest> = {
  t: 'hb',
  schema: v.pipe(
    v.object({
      t: v.literal('hb'),
      e: epochSchema,
      s: whole(Number.MAX_SAFE_INTEGER),
      w: whole(MAX_WANT_MS),
      at: v.optional(whole(Number.MAX_SAFE_INTEGER)),
      d: v.optional(
        v.pipe(
          v.array(v.tuple([peerSchema, epochSchema, whole(Number.MAX_SAFE_INTEGER), whole(MAX_WANT_MS)])),
          v.maxLength(MAX_DIGEST),
        ),
      ),
      h: v.optional(whole(Number.MAX_SAFE_INTEGER)),
      c: v.optional(
        v.pipe(
          v.array(whole(Number.MAX_SAFE_INTEGER)),
          v.maxLength(2 * MAX_DIGEST),
          v.check((c) => c.length % 2 === 0 && c.every((x, i) => i % 2 === 0 || x <= MAX_WANT_MS)),
        ),
      ),
      r: v.optional(v.literal(1)),
      b: v.optional(whole(Number.MAX_SAFE_INTEGER)),
      x: v.optional(v.pipe(v.array(peerSchema), v.maxLength(MAX_DIGEST))),
      a: v.optional(v.pipe(v.array(v.tuple([peerSchema, epochSchema])), v.maxLength(MAX_DIGEST))),
      bye: v.optional(v.literal(1)),
    }),
    // Positions mean nothing without the roster they go by, nor a roster's change without positions.
    v.check(
      (m) =>
        (m.c === undefined || m.h !== undefined) &&
        (m.b === undefined || m.c !== undefined) &&
        ((m.x === undefined && m.a === undefined) || m.b !== undefined),
    ),
  ),
  parse: (m) => {
    if (!isEpoch(m.e)) return undefined;
    if (!count(m.s, Number.MAX_SAFE_INTEGER) || !count(m.w, MAX_WANT_MS)) return undefined;
    if (m.bye !== undefined && m.bye !== 1) return undefined;
    if (m.at !== undefined && !count(m.at, Number.MAX_SAFE_INTEGER)) return undefined;
    if (m.h !== undefined && !count(m.h, Number.MAX_SAFE_INTEGER)) return undefined;
    if (m.r !== undefined && m.r !== 1) return undefined;
    if (m.c !== undefined && (!positions(m.c) || m.h === undefined)) return undefined;
    if (m.b !== undefined && (!count(m.b, Number.MAX_SAFE_INTEGER) || m.c === undefined)) return undefined;
    if ((m.x !== undefined || m.a !== undefined) && m.b === undefined) return undefined;
    if (m.x !== undefined && !gone(m.x)) return undefined;
    if (m.a !== undefined && !appended(m.a)) return undefined;
    if (m.bye === 1) return { t: 'hb', e: m.e, s: m.s, w: m.w, bye: 1 };
    const req: HeartbeatRequest = { t: 'hb', e: m.e, s: m.s, w: m.w };
    if (m.at !== undefined) req.at = m.at;
    if (m.h !== undefined) req.h = m.h;
    if (m.r === 1) req.r = 1;
    if (m.c !== undefined) req.c = m.c;
    if (m.b !== undefined) req.b = m.b;
    if (m.x !== undefined) req.x = m.x as string[];
    if (m.a !== undefined) req.a = m.a as Array<[string, string]>;
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
