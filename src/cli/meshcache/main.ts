#!/usr/bin/env node
/**
 * `meshcache`: see and steer a meshcache network from a shell. Run
 * `meshcache --help`. Exit codes: 0 done, 1 the operation failed (the message
 * names the error code), 2 bad usage (the usage is printed).
 */
import '../../polyfills.js';
import * as inspect from './commands/inspect.js';
import * as look from './commands/look.js';
import * as manage from './commands/manage.js';
import { failure, Operator, peerIdOf } from './operator.js';
import { consoleOutput, OperationError, type Output, UsageError, withProgress } from './output.js';
import { type Parsed, parse, usage } from './usage.js';

async function connect(p: Parsed): Promise<Operator> {
  const { network, bootstrap, psk, identity, timeoutMs } = p.values;
  if (network === undefined)
    throw new UsageError('which network? give --network <id> (or MESHCACHE_NETWORK)', p.command);
  if (bootstrap.length === 0)
    throw new UsageError(
      'how to reach it? give --bootstrap <multiaddr of a member> (or MESHCACHE_BOOTSTRAP)',
      p.command,
    );
  return withProgress(`joining network '${network}'`, (update) =>
    Operator.connect(
      { network, bootstrap, identity, timeoutMs, ...(psk === undefined ? {} : { psk }) },
      (members) => update(`joining network '${network}': ${members} member(s) seen, reading their catalogs`),
    ),
  );
}

async function run(p: Parsed, o: Output): Promise<void> {
  const [a, b] = p.args;
  if (p.command === 'identity') {
    const peerId = await peerIdOf(p.values.identity);
    o.out(o.json ? JSON.stringify({ peerId, identity: p.values.identity }) : peerId);
    return;
  }
  const op = await connect(p);
  try {
    switch (p.command) {
      case 'nodes':
        return await inspect.nodes(op, o);
      case 'stats':
        if (p.values.watch) return await inspect.watch(op, o, p.values.service, p.values.intervalMs);
        return await withProgress('asking every member for its stats', () =>
          inspect.stats(op, o, p.values.service),
        );
      case 'keys':
        return await look.keys(op, o, a!, b);
      case 'get':
        return await look.get(op, o, a!, b!);
      case 'delete':
        return await manage.deleteKey(op, o, a!, b!);
      case 'revoke':
        return await manage.revoke(op, o, a!, b!);
      case 'clear':
        return await manage.clear(op, o, a!);
      case 'invalidate':
        return await manage.invalidate(op, o, p.args, p.values.service);
      case 'dashboard': {
        const { serveDashboard } = await import('./dashboard/server.js');
        return await serveDashboard(op, o, {
          host: p.values.host,
          port: p.values.port,
          intervalMs: p.values.intervalMs,
        });
      }
    }
  } finally {
    await op.close().catch(() => undefined);
  }
}

async function main(argv: string[]): Promise<number> {
  let p: Parsed;
  try {
    p = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`meshcache: ${err.message}\n\n${usage(err.command)}\n`);
    return 2;
  }
  if (p.help) {
    process.stdout.write(`${usage(p.command)}\n`);
    return 0;
  }
  if (p.command === undefined) {
    process.stderr.write(`meshcache: which command?\n\n${usage()}\n`);
    return 2;
  }
  const o = consoleOutput(p.json);
  try {
    await run(p, o);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`meshcache: ${err.message}\n\n${usage(err.command)}\n`);
      return 2;
    }
    const { code, message } = err instanceof OperationError ? err : failure(err);
    const text = message.startsWith(`${code}:`) ? message : `${code}: ${message}`;
    if (o.json && !o.printed) o.out(JSON.stringify({ error: { code, message: text } }));
    o.err(`meshcache: ${text}`);
    return 1;
  }
}

// libp2p keeps sockets and timers for a while after stop: the command ends when its work does.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`meshcache: unexpected failure: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
