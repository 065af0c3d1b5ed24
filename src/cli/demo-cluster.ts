/**
 * The cluster demo (`npm run demo -- --nodes 3 --backend dht`): starts N node
 * processes (examples/dht-node.ts) on loopback, then shows a miss on one node
 * becoming a hit on another, an event-driven invalidation reaching all of
 * them, a request served by the one node hosting a service, and that
 * service's cache managed from other nodes (allowed and denied by peer id).
 */
import '../polyfills.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { loadIdentity } from '../network/identity.js';
import { type DemoProcess, killAll, startDemoProcesses, waitForAll } from './demo-process.js';
import { REMOTE_SERVICE, type RemoteRoles, showRemoteManagement, showRemoteRequest } from './demo-remote.js';

export interface ClusterDemoOptions {
  nodes: number;
  backend?: 'dht' | 'memory' | string;
  /** Where to print (default console.log). */
  print?: (line: string) => void;
}

/** Interrupted (Ctrl-C, a test's timeout): no node process outlives the demo. */
function onInterrupt(): () => void {
  const stop = (signal: NodeJS.Signals) => {
    killAll();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.once('exit', killAll);
  return () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.off('exit', killAll);
  };
}

/** Runs the cluster demo; resolves once every process has exited. */
export async function runClusterDemo(options: ClusterDemoOptions): Promise<void> {
  const print = options.print ?? ((line: string) => console.log(line));
  const n = Math.max(2, Math.min(20, Math.floor(options.nodes)));
  const backend = options.backend === 'memory' ? 'memory' : 'dht';
  if (options.backend !== undefined && options.backend !== 'dht' && options.backend !== 'memory') {
    print(`(backend '${options.backend}' is not shared between processes in this demo; using dht)`);
  }
  print(`Starting ${n} node processes on 127.0.0.1 (network "demo", cache backend: ${backend})...`);
  const dir = mkdtempSync(join(tmpdir(), 'meshcache-demo-'));
  const db = join(dir, 'users.json');
  writeFileSync(db, JSON.stringify({ 1: 'Ada Lovelace', 2: 'Alan Turing' }));
  const common = ['--network', 'demo', '--backend', backend, '--db', db];
  const cleanUp = onInterrupt();
  let procs: DemoProcess[] = [];
  try {
    // node-2's key is made before anything starts, so node-1 can be told to trust its peer id.
    const key2 = join(dir, 'node-2.key');
    const peer2 = peerIdFromPrivateKey(await loadIdentity(key2)).toString();
    procs = await startDemoProcesses(n, (i) =>
      i === 1
        ? [...common, '--services', `user,${REMOTE_SERVICE}`, '--access-peers', peer2]
        : i === 2
          ? [...common, '--identity', key2]
          : common,
    );
    await waitForAll(procs, (i) => (i.peers as string[]).length >= n - 1, 'the nodes connecting');
    for (const p of procs)
      print(
        `  ${p.name}  ${p.ready.peerId.slice(0, 16)}...  ready in ${Math.round(p.spawnMs)} ms (node.start ${Math.round(p.ready.startMs)} ms)`,
      );
    const show = (p: DemoProcess, r: { result: unknown; ran: boolean; ms: number }) =>
      `${p.name}: user/get_user {id: 1} -> ${JSON.stringify(r.result)}  ${r.ran ? 'MISS (handler ran here)' : 'HIT  (no handler run)'}  ${r.ms.toFixed(1)} ms`;
    const a = procs[0] as DemoProcess;
    const last = procs[procs.length - 1] as DemoProcess;

    print('\n1. A miss on one node becomes a hit on another');
    print(`  ${show(a, await a.request('user/get_user', { id: 1 }))}`);
    print(`  ${show(last, await last.request('user/get_user', { id: 1 }))}`);
    for (const p of procs.slice(1, -1)) print(`  ${show(p, await p.request('user/get_user', { id: 1 }))}`);
    print(`  ${show(last, await last.request('user/get_user', { id: 1 }))}  (near cache)`);

    print('\n2. An event-driven invalidation reaches every node');
    const key = 'cache:demo/user/get_user:1';
    const watches = backend === 'dht' ? await Promise.all(procs.map((p) => p.watch(key))) : [];
    const updater = procs[Math.min(1, procs.length - 1)] as DemoProcess;
    const t0 = performance.timeOrigin + performance.now();
    await updater.request('user/update_user', { id: 1, name: 'Ada King' });
    print(
      `  ${updater.name}: user/update_user {id: 1, name: "Ada King"} publishes user.updated; the rule get_user:{id} deletes the entry`,
    );
    if (backend === 'dht') {
      const times = await Promise.all(watches.map((w) => w.applied));
      for (const [i, p] of procs.entries())
        print(
          `  ${p.name}: entry invalidated ${Math.max(0, (times[i] as number) - t0).toFixed(1)} ms after the update`,
        );
    } else {
      await new Promise((r) => setTimeout(r, 300));
    }
    for (const p of procs) print(`  ${show(p, await p.request('user/get_user', { id: 1 }))}`);

    const roles: RemoteRoles = {
      host: a,
      caller: last,
      allowed: procs[1] as DemoProcess,
      denied: procs.length > 2 ? last : undefined,
    };
    await showRemoteRequest(roles, procs.slice(1), print);
    await showRemoteManagement(roles, print);

    print('\n5. Stats per node');
    for (const p of procs) {
      const info = await p.call({ cmd: 'info' });
      const c = info.cache as { hits: number; misses: number; hitRate: number };
      print(
        `  ${p.name}: hits ${c.hits}, misses ${c.misses}, hit rate ${(c.hitRate * 100).toFixed(0)}%, peers ${(info.peers as string[]).length}`,
      );
    }
  } finally {
    await Promise.allSettled(procs.map((p) => p.stop()));
    killAll(); // any that did not stop (or were still starting when it failed)
    cleanUp();
    rmSync(dir, { recursive: true, force: true });
  }
  print('\nAll node processes stopped.');
}
