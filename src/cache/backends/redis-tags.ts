/**
 * Tags on Redis (docs/tags.md). A tagged entry is stored as
 * `\x01<tag record key>\x02<tag record key>...\x01<codec payload>`; a tag record
 * is a plain key holding its invalidation time in Redis server microseconds
 * (`TIME`), plus one. On a single server one Lua script reads the entry, the
 * records it names and the server clock in the same round trip, so a node
 * that missed an invalidation never serves an invalidated entry, and every
 * node compares times of one clock (the server's).
 *
 * Redis Cluster: a script may only touch keys of one slot, so the entry is read
 * first, then its records (two round trips), and the clock is the client's
 * (microseconds since the epoch): nodes need synchronized clocks there.
 */
import type { Cluster, Redis } from 'ioredis';
import type { TaggedRead } from './backend.js';

const HEAD = '\x01';
const SEP = '\x02';

/**
 * Every key of KEYS: its value, latest record and remaining life (PTTL), then the clock:
 * `{v1, at1, ttl1, ..., vn, atn, ttln, now}`.
 */
const GET_TAGGED = `
local out = {}
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  local maxs = '0'
  if v and string.byte(v, 1) == 1 then
    local e = string.find(v, '\\1', 2, true)
    if e then
      local max = 0
      for tk in string.gmatch(string.sub(v, 2, e - 1), '[^\\2]+') do
        local x = redis.call('GET', tk)
        if x then
          local n = tonumber(x)
          if n and n > max then max = n; maxs = x end
        end
      end
    end
  end
  out[3 * i - 2] = v or false
  out[3 * i - 1] = maxs
  out[3 * i] = v and redis.call('PTTL', KEYS[i]) or -2
end
local t = redis.call('TIME')
out[3 * #KEYS + 1] = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
return out
`;

const INVALIDATE = `
local t = redis.call('TIME')
local at = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]) + 1)
for i = 1, #KEYS do redis.call('SET', KEYS[i], at, 'PX', ARGV[1]) end
return at
`;

type Scripted = Redis & {
  meshcacheGetTagged(...args: (string | number)[]): Promise<Array<string | number | null>>;
  meshcacheInvalidateTags(...args: (string | number)[]): Promise<string>;
};

const defined = new WeakSet<object>();

function scripted(client: Redis): Scripted {
  if (!defined.has(client)) {
    client.defineCommand('meshcacheGetTagged', { lua: GET_TAGGED });
    client.defineCommand('meshcacheInvalidateTags', { lua: INVALIDATE });
    defined.add(client);
  }
  return client as Scripted;
}

/** The stored string of a tagged entry: the header naming its tag records (full keys), then the payload. */
export function taggedString(tagKeys: readonly string[], encoded: string): string {
  return HEAD + tagKeys.join(SEP) + HEAD + encoded;
}

/** The payload of a stored string (the header of a tagged entry removed). */
export function payloadOf(raw: string): { payload: string; tagKeys: string[] } {
  if (raw.charCodeAt(0) !== 1) return { payload: raw, tagKeys: [] };
  const end = raw.indexOf(HEAD, 1);
  if (end < 0) return { payload: raw, tagKeys: [] };
  return { payload: raw.slice(end + 1), tagKeys: raw.slice(1, end).split(SEP).filter(Boolean) };
}

export interface RawTaggedRead {
  raw: string | null;
  invalidatedAt: number;
  now: number;
  /** The entry's remaining life in ms (Infinity: no expiry), for the near tier's fill. */
  ttlMs: number;
}

/** A PTTL reply as a remaining life: -1 (no expiry) is Infinity, -2 (gone) and errors 0. */
function remainingMs(pttl: unknown): number {
  const ms = Number(pttl);
  if (ms === -1) return Number.POSITIVE_INFINITY;
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

interface Waiter {
  key: string;
  resolve: (read: RawTaggedRead) => void;
  reject: (err: unknown) => void;
}

/** At most this many entries per script call. */
const MAX_PER_SCRIPT = 500;

/**
 * Single server: the tagged reads of one tick go in one script call (like the
 * untagged gets' MGET, see redis-batch.ts), so 100 concurrent tagged hits cost
 * one round trip, not 100 script runs.
 */
export class TaggedReader {
  #queue: Waiter[] | undefined;
  readonly #flushNow = () => this.#flush();

  constructor(private readonly client: () => Redis) {}

  read(key: string): Promise<RawTaggedRead> {
    return new Promise((resolve, reject) => {
      if (this.#queue === undefined) {
        this.#queue = [];
        process.nextTick(this.#flushNow);
      }
      this.#queue.push({ key, resolve, reject });
    });
  }

  #flush(): void {
    const all = this.#queue ?? [];
    this.#queue = undefined;
    for (let i = 0; i < all.length; i += MAX_PER_SCRIPT) this.#send(all.slice(i, i + MAX_PER_SCRIPT));
  }

  #send(batch: Waiter[]): void {
    let client: Scripted;
    try {
      client = scripted(this.client());
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    client.meshcacheGetTagged(batch.length, ...batch.map((w) => w.key)).then(
      (out) => {
        const now = Number(out[3 * batch.length]);
        for (let i = 0; i < batch.length; i++)
          batch[i].resolve({
            raw: (out[3 * i] as string | null) ?? null,
            invalidatedAt: Number(out[3 * i + 1]),
            ttlMs: remainingMs(out[3 * i + 2]),
            now,
          });
      },
      (err) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}

/** Cluster: the entry and its PTTL, then its records (two round trips), with the client's clock. */
export async function readTaggedCluster(client: Cluster, key: string): Promise<RawTaggedRead> {
  const now = Date.now() * 1000;
  const replies = (await client.pipeline().get(key).pttl(key).exec()) ?? [];
  const [[getErr, got] = [null, null], [ttlErr, pttl] = [null, -2]] = replies;
  if (getErr || ttlErr) throw getErr ?? ttlErr;
  const raw = (got as string | null) ?? null;
  if (raw === null) return { raw, invalidatedAt: 0, now, ttlMs: 0 };
  const { tagKeys } = payloadOf(raw);
  const times = await Promise.all(tagKeys.map((k) => client.get(k)));
  let max = 0;
  for (const t of times) if (t !== null && Number(t) > max) max = Number(t);
  return { raw, invalidatedAt: max, now, ttlMs: remainingMs(pttl) };
}

/** Writes the invalidation records of `keys` (full keys), kept `retentionMs`. */
export async function writeInvalidation(
  client: Redis | Cluster,
  cluster: boolean,
  keys: readonly string[],
  retentionMs: number,
): Promise<void> {
  if (keys.length === 0) return;
  if (!cluster) {
    await scripted(client as Redis).meshcacheInvalidateTags(keys.length, ...keys, retentionMs);
    return;
  }
  const at = String(Date.now() * 1000 + 1);
  await Promise.all(keys.map((k) => client.set(k, at, 'PX', retentionMs)));
}

export type { TaggedRead };
