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
