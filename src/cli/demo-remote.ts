/**
 * The cluster demo's network-wide part: a request served by the one node that
 * hosts a service, and its cache managed from nodes that do not host it
 * (one allowed by `cache.access.peers`, one denied).
 */
import type { DemoProcess } from './demo-process.js';
import { waitForAll } from './demo-process.js';

/** The service only node 1 hosts (examples/report-service.ts). */
export const REMOTE_SERVICE = 'report';

interface Report {
  servedBy: string;
  run: number;
}

export interface RemoteRoles {
  /** Hosts `report` and lists `allowed` in its cache.access.peers. */
  host: DemoProcess;
  /** Calls `report` remotely (the last node). */
  caller: DemoProcess;
  /** Its peer id is in the host's cache.access.peers. */
  allowed: DemoProcess;
  /** Not listed (absent with two nodes). */
  denied: DemoProcess | undefined;
}

const short = (peerId: string) => `${peerId.slice(0, 12)}...`;

/** Section 3: a request that only another node can serve. */
export async function showRemoteRequest(
  roles: RemoteRoles,
  others: DemoProcess[],
  print: (line: string) => void,
): Promise<void> {
  const { host, caller } = roles;
  // A request is routed by the catalogs members announce: wait until every node has the host's.
  await waitForAll(
    others,
    (info) => (info.reachable as string[] | undefined)?.includes(REMOTE_SERVICE) === true,
    `${REMOTE_SERVICE} reachable from every node`,
  );
  print('\n3. A request served by another node');
  print(`  Only ${host.name} hosts the service "${REMOTE_SERVICE}"; ${caller.name} has no handler for it,`);
  print(`  so node.request('report/daily') on ${caller.name} reaches ${host.name} over the network.`);
  const params = { day: '2025-01-31' };
  const first = await caller.request('report/daily', params);
  const one = first.result as Report;
  print(
    `  ${caller.name}: report/daily {day: "${params.day}"} -> served by ${one.servedBy} in ${first.ms.toFixed(1)} ms (computed there)`,
  );
  const second = await caller.request('report/daily', params);
  const two = second.result as Report;
  print(
    `  ${caller.name}: report/daily {day: "${params.day}"} -> ${two.servedBy}'s result in ${second.ms.toFixed(1)} ms (${two.run === one.run ? 'cached: no handler ran' : 'computed again'})`,
  );
}

/** Section 4: `report/cache/delete` from a node the host allows, and from one it does not. */
export async function showRemoteManagement(roles: RemoteRoles, print: (line: string) => void): Promise<void> {
  const { host, allowed, denied } = roles;
  const params = { day: '2025-01-31' };
  const del = { action: 'daily', params };
  const what = `report/cache/delete {action: "daily", params: {day: "${params.day}"}}`;
  print('\n4. Managing a cache from a node that does not host the service');
  print(
    `  ${host.name} started with cache.access.peers: ['${short(allowed.ready.peerId)}'] (${allowed.name}'s peer id,`,
  );
  print(`  known in advance: ${allowed.name} keeps its key in a file, network.identity).`);
  print(`  A node that is not listed may not clear, delete or revoke ${host.name}'s cache entries.`);
  await host.request('report/daily', params); // make sure the entry is cached before the calls
  const check = async (why: string) => {
    const r = await host.request('report/daily', params);
    print(`  ${host.name}: report/daily -> ${r.ran ? 'MISS: computed again' : 'HIT: still cached'} (${why})`);
  };
  if (denied === undefined) {
    print('  (start 3 or more nodes to also see a denied call)');
  } else {
    const r = await denied.attempt({ cmd: 'request', path: 'report/cache/delete', params: del });
    if (r.ok) throw new Error(`${denied.name}'s management call was allowed; it should have been denied`);
    print(`  ${denied.name}: ${what}`);
    // The message says why and which setting allows it; its hint goes on a line of its own.
    const message = String(r.error);
    const cut = message.indexOf(' (');
    print(`    -> ${r.code}: ${cut < 0 ? message : message.slice(0, cut)}`);
    if (cut >= 0) print(`       ${message.slice(cut + 1)}`);
    await check('the denied call removed nothing');
  }
  const ok = await allowed.request('report/cache/delete', del);
  print(`  ${allowed.name}: ${what}`);
  print(`    -> allowed: ${JSON.stringify(ok.result)}`);
  await check('the allowed call removed the entry');
}
