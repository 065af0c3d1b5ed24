/**
 * The measurement of a partition, shared by test/network/partition.test.ts and
 * bench/partition.ts. `runCut`: every node of a scenario (./partition-setup.ts)
 * requests the key in a loop, the victim's link is cut, another node deletes
 * the entry (after the shared "database" moved to a new version), the link
 * comes back, and each node's answers are measured against the time the delete
 * resolved. All processes run on one machine, so their Date.now() agree.
 */
import type { NodeProcess } from './cluster.js';
import type { NetnsLab } from './netns.js';
import type { SharedDb } from './partition-setup.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * A loop's request failing after this long counts as failed. Generous: a DHT
 * miss while a holder is unreachable legitimately takes a read and a write
 * bound (about 4.5 s); this only catches requests that hang.
 */
const REQUEST_TIMEOUT_MS = 15_000;

export interface Sample {
  at: number;
  ms: number;
  version?: number;
  ran?: boolean;
  error?: string;
}

/** What one node answered during a cut, measured against the delete. */
export interface NodeReport {
  answers: number;
  failures: Sample[];
  /** Answers with the old value before the cut (the node had something stale to serve). */
  oldBeforeCut: number;
  answersDuringCut: number;
  /** Last answer with the old value after the delete resolved, ms after it (0: none). */
  staleWindowMs: number;
  /** Last answer with the old value after the delete was called, ms after the call (0: none). */
  staleFromCallMs: number;
  /** Answers with the old value after the link came back. */
  staleAfterRestore: number;
  /** The last answer of the loop was still the old value: the window is at least what it says. */
  staleAtEnd: boolean;
  slowestMs: number;
}

export interface CutReport {
  cutAt: number;
  deleteStartedAt: number;
  deletedAt: number;
  restoredAt: number;
  deleteResult: Record<string, unknown>;
  /** Log records at warn or above the deleter wrote from the cut to the end. */
  deleterWarnings: Array<Record<string, unknown>>;
  nodes: Record<string, NodeReport>;
}

export interface CutOptions {
  lab: NetnsLab;
  /** Participant name → its node process (the victim and the deleter among them). */
  nodes: Record<string, NodeProcess>;
  victim: string;
  deleter: string;
  db: SharedDb;
  id: number;
  cutMs: number;
  /** After the cut, before the delete (the victim has not noticed anything yet). */
  deleteAfterMs?: number;
  /** How long the loops keep reading after the link came back. */
  afterRestoreMs?: number;
  everyMs?: number;
}

/** Runs one cut (see the file comment); the link is restored even when a step fails. */
export async function runCut(o: CutOptions): Promise<CutReport> {
  const entries = Object.entries(o.nodes);
  const deleter = o.nodes[o.deleter]!;
  const oldVersion = o.db.version;
  const params = { id: o.id };
  const stderrBefore = deleter.stderr.length;
  await Promise.all(
    entries.map(([, n]) =>
      n.call({
        cmd: 'loop',
        path: 'user/get',
        params,
        everyMs: o.everyMs ?? 20,
        timeoutMs: REQUEST_TIMEOUT_MS,
      }),
    ),
  );
  let restored: Promise<number> | undefined;
  try {
    await sleep(300);
    const cutAt = await o.lab.cut(o.victim);
    restored = sleep(Math.max(0, cutAt + o.cutMs - Date.now())).then(() => o.lab.restore(o.victim));
    await sleep(o.deleteAfterMs ?? 250);
    o.db.set(oldVersion + 1);
    const del = await deleter.call({ cmd: 'delete', key: `get:${o.id}` }, 60_000);
    const restoredAt = await restored;
    await sleep(o.afterRestoreMs ?? 5000);
    const results = await Promise.all(entries.map(([, n]) => n.call({ cmd: 'stopLoop' }, 30_000)));
    const times = { cutAt, deleteStartedAt: Number(del.startedAt), deletedAt: Number(del.at), restoredAt };
    const nodes: Record<string, NodeReport> = {};
    entries.forEach(([name], i) => {
      nodes[name] = analyse(results[i]!.samples as Sample[], oldVersion, times);
    });
    return {
      ...times,
      deleteResult: del.result as Record<string, unknown>,
      deleterWarnings: warnings(deleter.stderr.slice(stderrBefore)),
      nodes,
    };
  } finally {
    // A failed step must not leave the victim cut off for the next case.
    if (restored === undefined) await o.lab.restore(o.victim).catch(() => {});
    else await restored.catch(() => o.lab.restore(o.victim).catch(() => {}));
  }
}

/** One node's answers against the cut, the delete and the restore. */
export function analyse(
  samples: Sample[],
  oldVersion: number,
  t: { cutAt: number; deleteStartedAt: number; deletedAt: number; restoredAt: number },
): NodeReport {
  const old = samples.filter(
    (s) => s.error === undefined && s.version !== undefined && s.version <= oldVersion,
  );
  const lastAfter = (from: number) =>
    Math.max(from, ...old.filter((s) => s.at > from).map((s) => s.at)) - from;
  return {
    answers: samples.length,
    failures: samples.filter((s) => s.error !== undefined),
    oldBeforeCut: old.filter((s) => s.at <= t.cutAt).length,
    answersDuringCut: samples.filter((s) => s.at > t.cutAt && s.at <= t.restoredAt).length,
    staleWindowMs: lastAfter(t.deletedAt),
    staleFromCallMs: lastAfter(t.deleteStartedAt),
    staleAfterRestore: old.filter((s) => s.at > t.restoredAt).length,
    staleAtEnd: samples.length > 0 && old.includes(samples[samples.length - 1]!),
    slowestMs: Math.max(0, ...samples.map((s) => s.ms)),
  };
}

/** The pino records at warn (40) or above in a process's stderr chunks. */
function warnings(chunks: string[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of chunks.join('').split('\n')) {
    try {
      const rec = JSON.parse(line) as Record<string, unknown>;
      if (Number(rec.level) >= 40) out.push(rec);
    } catch {}
  }
  return out;
}

/** A one-line summary of a cut, for the test log and the benchmark. */
export function describeCut(label: string, r: CutReport): string {
  const parts = Object.entries(r.nodes).map(
    ([name, n]) =>
      `${name}: stale ${n.staleAtEnd ? '>= ' : ''}${n.staleWindowMs} ms after delete ` +
      `(${n.staleFromCallMs} ms after its call), ` +
      `${n.staleAfterRestore} stale after restore, ` +
      `${n.answersDuringCut} answers in cut, ${n.failures.length} failed, slowest ${n.slowestMs.toFixed(0)} ms`,
  );
  const del = `delete took ${r.deletedAt - r.deleteStartedAt} ms -> ${JSON.stringify(r.deleteResult)}`;
  return `[partition] ${label}: ${del}; ${parts.join('; ')}`;
}
