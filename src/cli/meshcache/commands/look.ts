/**
 * `meshcache keys` and `meshcache get`: what the members hosting a service hold
 * in its cache, through `<service>/cache/keys` and `<service>/cache/get` on
 * each of them (each member may hold its own entries: memory backends), under
 * the operator's identity. The document merges the answers (every key once;
 * the first member holding the entry) and keeps each member's own.
 */
import type { Operator } from '../operator.js';
import { OperationError, type Output, paint, shortPeer } from '../output.js';
import { type Answer, cacheHosts, runOn } from './manage.js';

/** The members offering `<service>/cache/<action>`; NOT_FOUND naming what is missing when none does. */
function offering(op: Operator, service: string, action: 'keys' | 'get'): string[] {
  cacheHosts(op, service);
  const hosts = op.hostsOf(service, `cache/${action}`);
  if (hosts.length === 0) {
    const what = action === 'keys' ? 'list the keys' : 'read an entry';
    throw new OperationError(
      'NOT_FOUND',
      `NOT_FOUND: no member hosting '${service}' can ${what} of its cache (none offers '${service}/cache/${action}'); ` +
        'delete, revoke and clear work without it',
    );
  }
  return hosts;
}

function nodesOf(answers: Answer[]) {
  return answers.map((a) => ({
    peerId: a.peerId,
    ...(a.result ?? {}),
    ...(a.error === undefined ? {} : { error: a.error }),
  }));
}

/** The first failure, as the document's `error` and the command's exit. */
function firstError(answers: Answer[]): { code: string; message: string } | undefined {
  const bad = answers.find((a) => a.error !== undefined);
  return bad === undefined
    ? undefined
    : { code: bad.error!.code, message: `${bad.error!.code}: ${bad.error!.message} (member ${bad.peerId})` };
}

function finish(o: Output, doc: Record<string, unknown>, answers: Answer[], text: () => string): void {
  const error = firstError(answers);
  if (o.json) o.out(JSON.stringify({ ...doc, ...(error === undefined ? {} : { error }) }));
  else {
    o.out(text());
    for (const a of answers)
      if (a.error !== undefined) o.out(paint(o, 'red', `${shortPeer(a.peerId)}  ${a.error.code}`));
  }
  if (error !== undefined) throw new OperationError(error.code, error.message);
}

export async function keys(
  op: Operator,
  o: Output,
  service: string,
  pattern: string | undefined,
): Promise<void> {
  const hosts = offering(op, service, 'keys');
  const answers = await runOn(op, service, 'keys', pattern === undefined ? {} : { pattern }, hosts);
  const all = new Set<string>();
  let truncated = false;
  for (const a of answers) {
    for (const k of (a.result?.keys as string[] | undefined) ?? []) all.add(k);
    if (a.result?.truncated === true) truncated = true;
  }
  const list = [...all].sort();
  finish(o, { service, keys: list, truncated, nodes: nodesOf(answers) }, answers, () =>
    [
      ...list,
      list.length === 0 ? paint(o, 'dim', `no keys in the cache of ${service}`) : '',
      truncated ? paint(o, 'yellow', '(truncated: a member had more keys than it lists at once)') : '',
    ]
      .filter((l) => l !== '')
      .join('\n'),
  );
}

export async function get(op: Operator, o: Output, service: string, key: string): Promise<void> {
  const hosts = offering(op, service, 'get');
  const answers = await runOn(op, service, 'get', { key }, hosts);
  const holder = answers.find((a) => a.result?.found === true);
  const entry =
    holder === undefined
      ? {}
      : { value: holder.result!.value, state: holder.result!.state, peerId: holder.peerId };
  finish(o, { service, key, found: holder !== undefined, ...entry, nodes: nodesOf(answers) }, answers, () =>
    holder === undefined
      ? `${service} ${key}: no such entry`
      : `${JSON.stringify(holder.result!.value, null, 2)}\n${paint(o, 'dim', `(${String(holder.result!.state ?? 'fresh')}, member ${shortPeer(holder.peerId)})`)}`,
  );
}
