/**
 * The JSON-line protocol of the node processes tests and benchmarks drive:
 * one command per stdin line (`{ id, cmd, ... }`), one reply per stdout line
 * (`{ type: 'reply', id, ok, ... }`); when stdin closes (the driver is gone) or
 * on SIGTERM / SIGINT, `stop` runs and the process exits.
 */
import { createInterface } from 'node:readline';

/** Writes one message line to stdout. */
export function send(msg: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

/** Answers every command line with `handle`'s result (or its error's message and code). */
export function serveCommands(
  handle: (cmd: Record<string, unknown>) => Promise<Record<string, unknown>>,
  stop: () => Promise<unknown>,
): void {
  const exit = () => void stop().finally(() => process.exit(0));
  createInterface({ input: process.stdin })
    .on('line', (line) => {
      let cmd: Record<string, unknown>;
      try {
        cmd = JSON.parse(line) as Record<string, unknown>;
      } catch {
        send({ type: 'error', error: `not JSON: ${line}` });
        return;
      }
      handle(cmd).then(
        (out) => send({ type: 'reply', id: cmd.id, ok: true, ...out }),
        (err: Error) =>
          send({
            type: 'reply',
            id: cmd.id,
            ok: false,
            error: err.message,
            code: (err as { code?: string }).code,
          }),
      );
    })
    .on('close', exit);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, exit);
}

/**
 * `serveCommands` for a process that holds several nodes: `stop` stops them
 * all and exits; any other command goes to the node it names by index
 * (`"node": 2`; the first one without).
 */
export function serveNodeCommands<T>(
  nodes: readonly T[],
  handle: (node: T, cmd: Record<string, unknown>) => Promise<Record<string, unknown>>,
  stop: (node: T) => unknown,
): void {
  const stopAll = () => Promise.allSettled(nodes.map(async (n) => stop(n)));
  serveCommands(async (cmd) => {
    if (cmd.cmd === 'stop') {
      await stopAll();
      setImmediate(() => process.exit(0));
      return {};
    }
    const node = nodes[Number(cmd.node ?? 0)];
    if (node === undefined) throw new Error(`no node ${String(cmd.node)} here (${nodes.length} nodes)`);
    return handle(node, cmd);
  }, stopAll);
}
