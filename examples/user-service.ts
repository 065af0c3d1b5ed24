/**
 * The spec's user service, in meshcache's TypeScript form: cached reads,
 * an update that invalidates by action and by event.
 */
import { action, cached, inject, type RequestContext, service, subscribe } from '../src/index.js';

export interface User {
  id: number;
  name: string;
  email: string;
}

/** A stand-in database that counts its queries and takes a few ms per read. */
export class Db {
  queries = 0;
  private readonly users = new Map<number, User>();

  constructor(seed: User[]) {
    for (const u of seed) this.users.set(u.id, u);
  }

  async findUser(id: number): Promise<User | null> {
    this.queries++;
    await new Promise((r) => setTimeout(r, 5));
    const u = this.users.get(id);
    return u === undefined ? null : { ...u };
  }

  async updateUser(id: number, data: Partial<Omit<User, 'id'>>): Promise<User> {
    this.queries++;
    const current = this.users.get(id);
    if (current === undefined) throw new Error(`no user ${id}`);
    const next = { ...current, ...data };
    this.users.set(id, next);
    return { ...next };
  }
}

@service({ name: 'user', events: [{ event: 'user.updated', keys: ['get_user_profile:{id}'] }] })
export class UserService {
  @inject('db') db!: Db;
  readonly seen: string[] = [];

  /** Cached for 60 s; the key comes from the single param: `get_user:<id>`. */
  @action({ cache: { enabled: true, ttl: 60 } })
  async get_user(_ctx: RequestContext, params: { id: number }) {
    return this.db.findUser(params.id);
  }

  /** Same, with the dedicated decorator and an explicit key param. */
  @action()
  @cached({ ttl: 60, keys: ['id'] })
  async get_user_profile(_ctx: RequestContext, params: { id: number }) {
    const user = await this.db.findUser(params.id);
    return user && { id: user.id, display: `${user.name} <${user.email}>` };
  }

  /** Updates, deletes `get_user:<id>` by action, and publishes `user.updated` (an event rule drops the profile). */
  @action()
  async update_user(ctx: RequestContext, params: { id: number; data: Partial<Omit<User, 'id'>> }) {
    const user = await this.db.updateUser(params.id, params.data);
    await ctx.request('user/cache/delete', { key: `get_user:${params.id}` });
    await ctx.publish('user.updated', { id: params.id });
    return user;
  }

  @subscribe('user.*')
  onUserEvent(ctx: RequestContext, data: unknown) {
    this.seen.push(`${ctx.event?.topic} ${JSON.stringify(data)}`);
  }
}
