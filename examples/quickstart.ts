// examples/quickstart.ts: one node, the in-memory cache, a service with a cached action.
import { action, Node, type RequestContext, service } from 'meshcache';

interface User {
  id: number;
  name: string;
}

const db = new Map<number, User>([[1, { id: 1, name: 'Ada' }]]);
let queries = 0;

@service('user')
class UserService {
  // Cached 60 s under the key `get_user:<id>`.
  @action({ cache: { ttl: 60, keys: ['id'] } })
  async get_user(_ctx: RequestContext, params: { id: number }): Promise<User | undefined> {
    queries++;
    return db.get(Number(params.id));
  }

  @action()
  async update_user(ctx: RequestContext, params: { id: number; name: string }): Promise<User> {
    const user = { id: Number(params.id), name: params.name };
    db.set(user.id, user);
    // Deletes the entry these params were cached under, whatever their types ('1' or 1).
    await ctx.request('user/cache/delete', { action: 'get_user', params: { id: params.id } });
    return user;
  }
}

const node = new Node();
node.addService(new UserService());
await node.start();

await node.request('user/get_user', { id: 1 }); // a miss: runs the handler
await node.request('user/get_user', { id: 1 }); // a hit: the handler does not run
console.log('queries after two reads:', queries); // 1

await node.request('user/update_user', { id: 1, name: 'Ada Lovelace' });
console.log(await node.request('user/get_user', { id: 1 })); // { id: 1, name: 'Ada Lovelace' }

// Params from HTTP arrive as strings: the same delete finds what was cached for { id: '1' }.
await node.request('user/get_user', { id: '1' });
await node.request('user/update_user', { id: '1', name: 'Ada King' });
console.log(await node.request('user/get_user', { id: '1' })); // { id: 1, name: 'Ada King' }

await node.stop();
