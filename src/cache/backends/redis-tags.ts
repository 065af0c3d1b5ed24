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

const GET_TAGGED = `
local v = redis.call('GET', KEYS[1])
local t = redis.call('TIME')
local now = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
if not v then return {false, '0', now} end
local max = 0
local maxs = '0'
if string.byte(v, 1) == 1 then
  local e = string.find(v, '\\1', 2, true)
  if e then
    for tk in string.gmatch(string.sub(v, 2, e - 1), '[^\\2]+') do
      local x = redis.call('GET', tk)
      if x then
        local n = tonumber(x)
        if n and n > max then max = n; maxs = x end
      end
    end
  end
end
return {v, maxs, now}
`;

const INVALIDATE = `
local t = redis.call('TIME')
local at = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]) + 1)
for i = 1, #KEYS do redis.call('SET', KEYS[i], at, 'PX', ARGV[1]) end
return at
`;

type Scripted = Redis & {
  meshcacheGetTagged(key: string): Promise<[string | null, string, string]>;
  meshcacheInvalidateTags(...args: (string | number)[]): Promise<string>;
};

const defined = new WeakSet<object>();

function scripted(client: Redis): Scripted {
  if (!defined.has(client)) {
    client.defineCommand('meshcacheGetTagged', { numberOfKeys: 1, lua: GET_TAGGED });
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

/** Reads a tagged entry with its records and the clock: `[raw value | null, invalidatedAt, now]`. */
export async function readTagged(
  client: Redis | Cluster,
  cluster: boolean,
  key: string,
): Promise<{ raw: string | null; invalidatedAt: number; now: number }> {
  if (!cluster) {
    const [raw, at, now] = await scripted(client as Redis).meshcacheGetTagged(key);
    return { raw, invalidatedAt: Number(at), now: Number(now) };
  }
  const now = Date.now() * 1000;
  const raw = await client.get(key);
  if (raw === null) return { raw, invalidatedAt: 0, now };
  const { tagKeys } = payloadOf(raw);
  const times = await Promise.all(tagKeys.map((k) => client.get(k)));
  let max = 0;
  for (const t of times) if (t !== null && Number(t) > max) max = Number(t);
  return { raw, invalidatedAt: max, now };
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
