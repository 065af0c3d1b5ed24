/**
 * Per-tick command batching for a single Redis server.
 *
 * Every `get` / `set` / `del` issued during one tick (the current macrotask and
 * all the promise continuations it triggers) is collected and sent when the
 * tick ends (`process.nextTick` scheduled from a microtask runs after the whole
 * microtask queue has drained):
 *
 * - one command alone is sent as is (no pipeline object, lowest latency);
 * - only gets: one `MGET`;
 * - a mix: one pipeline, in issue order, each run of consecutive gets folded
 *   into one `MGET`: one socket write and one round trip for the whole tick.
 *
 * Unlike ioredis auto-pipelining (which waits for `setImmediate` and keeps at most
 * one pipeline in flight), batches of consecutive ticks overlap on the wire.
 */
import type { ChainableCommander, Redis } from 'ioredis';

/** The most keys one MGET carries; a larger tick is split. */
const MAX_MGET = 1000;

type Settle = (err: unknown, value: unknown) => void;

interface Item {
  readonly kind: 'get' | 'set' | 'del';
  readonly key: string;
  readonly value?: string;
  readonly px?: number;
  readonly settle: Settle;
}

export class TickBatcher {
  #items: Item[] | undefined;
  #gets = 0;
  readonly #flushNow = () => this.#flush();

  /** `client()` returns a ready client or throws the error every waiter gets. */
  constructor(private readonly client: () => Redis) {}

  /**
   * GET `key`, folded with the neighbouring gets of this tick into one MGET. The
   * reply (or error) goes through `onValue` (or `onError`, whose result rejects)
   * before the promise settles, which saves a promise per call on the hot path.
   */
  get<T>(key: string, onValue: (raw: string | null) => T, onError: (err: unknown) => unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      this.#gets++;
      this.#queue({
        kind: 'get',
        key,
        settle: (err, v) => (err ? reject(onError(err)) : resolve(onValue(v as string | null))),
      });
    });
  }

  /** SET `key` `value` [PX `px`] (px 0: no expiry), pipelined with this tick's other commands. */
  set(key: string, value: string, px: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue({ kind: 'set', key, value, px, settle: (err) => (err ? reject(err) : resolve()) });
    });
  }

  /** DEL `key`; resolves with the number removed (0 or 1). */
  del(key: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#queue({ kind: 'del', key, settle: (err, n) => (err ? reject(err) : resolve(n as number)) });
    });
  }

  /** Fails every command not sent yet (used by close). */
  abort(err: unknown): void {
    const items = this.#items;
    this.#items = undefined;
    this.#gets = 0;
    if (items) for (const it of items) it.settle(err, undefined);
  }

  #queue(item: Item): void {
    if (this.#items === undefined) {
      this.#items = [item];
      process.nextTick(this.#flushNow);
    } else this.#items.push(item);
  }

  #flush(): void {
    const items = this.#items;
    const gets = this.#gets;
    this.#items = undefined;
    this.#gets = 0;
    if (items === undefined) return;
    let client: Redis;
    try {
      client = this.client();
    } catch (err) {
      for (const it of items) it.settle(err, undefined);
      return;
    }
    if (items.length === 1) {
      const it = items[0];
      send(client, it).then(
        (v) => it.settle(null, v),
        (e) => it.settle(e, undefined),
      );
    } else if (gets === items.length && gets <= MAX_MGET) {
      client.mget(items.map((it) => it.key)).then(
        (values) => {
          for (let i = 0; i < items.length; i++) items[i].settle(null, values[i]);
        },
        (e) => {
          for (const it of items) it.settle(e, undefined);
        },
      );
    } else this.#pipeline(client, items);
  }

  /**
   * Mixed commands in issue order, in one pipeline; each run of consecutive gets
   * becomes one MGET, so a get issued after a set of the same key sees it.
   */
  #pipeline(client: Redis, items: Item[]): void {
    const p = client.pipeline();
    const runs: Array<[number, number]> = []; // [first item, end) of each pipeline command
    for (let i = 0; i < items.length; ) {
      let end = i + 1;
      if (items[i].kind === 'get') {
        while (end < items.length && end - i < MAX_MGET && items[end].kind === 'get') end++;
        if (end - i > 1) p.mget(items.slice(i, end).map((it) => it.key));
        else p.get(items[i].key);
      } else queue(p, items[i]);
      runs.push([i, end]);
      i = end;
    }
    p.exec().then(
      (results) => {
        for (let r = 0; r < runs.length; r++) {
          const [from, to] = runs[r];
          const [err, value] = results?.[r] ?? [new Error('missing pipeline result'), null];
          if (to - from === 1) items[from].settle(err, value);
          else
            for (let i = from; i < to; i++)
              items[i].settle(err, err ? undefined : (value as unknown[])[i - from]);
        }
      },
      (e) => {
        for (const it of items) it.settle(e, undefined);
      },
    );
  }
}

function send(client: Redis, it: Item): Promise<unknown> {
  if (it.kind === 'get') return client.get(it.key);
  if (it.kind === 'del') return client.del(it.key);
  return it.px ? client.set(it.key, it.value!, 'PX', it.px) : client.set(it.key, it.value!);
}

function queue(p: ChainableCommander, it: Item): void {
  if (it.kind === 'del') p.del(it.key);
  else if (it.px) p.set(it.key, it.value!, 'PX', it.px);
  else p.set(it.key, it.value!);
}
