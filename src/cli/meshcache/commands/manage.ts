/**
 * The management subcommands: each runs `<service>/cache/<operation>` on every
 * member hosting the service (each member may hold its own entries: memory
 * backends, near copies), under the operator's identity, and sums the answers.
 * A member that refuses (ACCESS_DENIED) makes the command fail; the others'
 * answers are still printed.
 */
import { failure, type Operator } from '../operator.js';
import { OperationError, type Output, paint, shortPeer, table } from '../output.js';

export type Answer = {
  peerId: string;
  service: string;
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
};

/** The members hosting a cached service; NOT_FOUND when none. */
export function cacheHosts(op: Operator, service: string): string[] {
  const hosts = op.hostsOf(service);
  if (hosts.length === 0)
    throw new OperationError('NOT_FOUND', `NOT_FOUND: no member of the network hosts service '${service}'`);
  const cached = op.hostsOf(service, 'cache/clear');
  if (cached.length === 0)
    throw new OperationError(
      'NOT_FOUND',
      `NOT_FOUND: service '${service}' has no cached action on any member`,
    );
  return cached;
}

/** Runs one management action on every host of `service`. */
export async function runOn(
  op: Operator,
  service: string,
  operation: string,
  params: Record<string, unknown>,
  hosts = cacheHosts(op, service),
): Promise<Answer[]> {
  return Promise.all(
    hosts.map(async (peerId): Promise<Answer> => {
      try {
        const result = await op.callOn<Record<string, unknown>>(
          peerId,
          `${service}/cache/${operation}`,
          params,
        );
        return { peerId, service, result };
      } catch (err) {
        return { peerId, service, error: failure(err) };
      }
    }),
  );
}

/** The command's document: the summed figure, each member's answer, and the first failure. */
function summarize(field: string, answers: Answer[], total: unknown) {
  const nodes = answers.map((a) =>
    a.error === undefined
      ? { peerId: a.peerId, service: a.service, [field]: a.result?.[field] }
      : { peerId: a.peerId, service: a.service, error: a.error },
  );
  const bad = answers.find((a) => a.error !== undefined);
  const error =
    bad === undefined
      ? undefined
      : {
          code: bad.error!.code,
          message: `${bad.error!.code}: ${bad.error!.message} (member ${bad.peerId})`,
        };
  return { doc: { [field]: total, nodes, ...(error === undefined ? {} : { error }) }, error };
}

function finish(o: Output, field: string, answers: Answer[], total: unknown, words: string): void {
  const { doc, error } = summarize(field, answers, total);
  if (o.json) o.out(JSON.stringify(doc));
  else {
    o.out(
      table(
        ['NODE', 'SERVICE', field.toUpperCase()],
        answers.map((a) => [
          shortPeer(a.peerId),
          a.service,
          a.error === undefined ? String(a.result?.[field]) : paint(o, 'red', a.error.code),
        ]),
        o,
      ),
    );
    if (error === undefined) o.out(words);
  }
  if (error !== undefined) throw new OperationError(error.code, error.message);
}

export async function deleteKey(op: Operator, o: Output, service: string, key: string): Promise<void> {
  const answers = await runOn(op, service, 'delete', { key });
  const deleted = answers.some((a) => a.result?.deleted === true);
  finish(
    o,
    'deleted',
    answers,
    deleted,
    deleted ? `deleted ${service} ${key}` : `${service} ${key}: no such entry`,
  );
}

export async function revoke(op: Operator, o: Output, service: string, pattern: string): Promise<void> {
  const answers = await runOn(op, service, 'revoke', { pattern });
  const revoked = answers.reduce((n, a) => n + Number(a.result?.revoked ?? 0), 0);
  finish(
    o,
    'revoked',
    answers,
    revoked,
    `revoked ${revoked} entr${revoked === 1 ? 'y' : 'ies'} of ${service}`,
  );
}

export async function clear(op: Operator, o: Output, service: string): Promise<void> {
  const answers = await runOn(op, service, 'clear', {});
  const cleared = answers.reduce((n, a) => n + Number(a.result?.cleared ?? 0), 0);
  finish(
    o,
    'cleared',
    answers,
    cleared,
    `cleared ${cleared} entr${cleared === 1 ? 'y' : 'ies'} of ${service}`,
  );
}

/** Tags are invalidated per service: in `service`, or in every cached service of the network. */
export async function invalidate(
  op: Operator,
  o: Output,
  tags: string[],
  service: string | undefined,
): Promise<void> {
  const services =
    service === undefined
      ? [...new Set(op.members().flatMap((p) => op.servicesOf(p).cached))].sort()
      : [service];
  if (services.length === 0)
    throw new OperationError('NOT_FOUND', 'NOT_FOUND: no member hosts a cached service');
  const answers = (await Promise.all(services.map((s) => runOn(op, s, 'invalidate', { tags })))).flat();
  const ok = answers.every((a) => a.error === undefined);
  finish(
    o,
    'invalidated',
    answers,
    ok ? tags : [],
    `invalidated ${tags.join(', ')} in ${services.join(', ')}`,
  );
}
