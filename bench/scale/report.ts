/** The scale benchmark's markdown: latencies and join, per-node cost, messages per kind. */
import type { Latency } from './latency.js';
import type { ScaleResult } from './run-size.js';
import type { Summary, WindowStats } from './window.js';

/** Kinds that carry data (reads, writes, calls and their replies); every other kind is control traffic. */
const DATA = new Set(['rec:get', 'rec:put', 'rec:call', 'rec:lease', 'rec:reply']);

export function controlRate(w: WindowStats): number {
  return Object.entries(w.perKind)
    .filter(([k]) => !DATA.has(k))
    .reduce((a, [, v]) => a + v, 0);
}

const f = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
const ms = (v: number) =>
  !Number.isFinite(v) ? '-' : v < 1 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
const lat = (l: Latency) => `${ms(l.p50)} / ${ms(l.p99)}${l.failures > 0 ? ` (${l.failures} failed)` : ''}`;
const meanMax = (s: Summary, digits = 1) => `${f(s.mean, digits)} (${f(s.max, digits)})`;

export function scaleTables(results: ScaleResult[]): string {
  const out: string[] = [];
  out.push('### Join and latency (ms: p50 / p99)');
  out.push('');
  out.push(
    '| N | node processes | all up (s) | full membership (s) | members per node (min..max) | DHT hit, no copy | DHT miss | DHT put | invalidation reach, slowest node | remote call |',
  );
  out.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const join = Number.isFinite(r.joinMs) ? f(r.joinMs / 1000) : 'not reached';
    out.push(
      `| ${r.nodes} | ${r.processes} | ${f(r.spawnMs / 1000)} | ${join} | ${r.members.min}..${r.members.max} of ${r.nodes - 1} | ${lat(r.dht.hit)} | ${lat(r.dht.miss)} | ${lat(r.dht.put)} | ${lat(r.reach.slowest)} | ${lat(r.call)} |`,
    );
  }
  out.push('');
  out.push('### Per node: mean (max)');
  out.push('');
  out.push(
    '| N | idle CPU % of a core | idle RSS MiB | idle connections | idle control msgs/s | idle KiB/s | load CPU % | load RSS MiB | load connections | load control msgs/s | bare libp2p idle CPU % | bare RSS MiB | bare connections |',
  );
  out.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const b = r.bareIdle;
    out.push(
      `| ${r.nodes} | ${meanMax(r.idle.cpu, 2)} | ${meanMax(r.idle.rssMiB, 0)} | ${meanMax(r.idle.connections)} | ${f(controlRate(r.idle), 2)} | ${meanMax(r.idle.ioKiBs)} | ${meanMax(r.loaded.cpu, 2)} | ${meanMax(r.loaded.rssMiB, 0)} | ${meanMax(r.loaded.connections)} | ${f(controlRate(r.loaded), 1)} | ${b ? meanMax(b.cpu, 2) : '-'} | ${b ? meanMax(b.rssMiB, 0) : '-'} | ${b ? meanMax(b.connections) : '-'} |`,
    );
  }
  out.push('');
  out.push('### Messages per node per second, by kind (sent + received; idle / under load)');
  out.push('');
  const kinds = [
    ...new Set(results.flatMap((r) => [...Object.keys(r.idle.perKind), ...Object.keys(r.loaded.perKind)])),
  ].sort();
  out.push(`| kind | ${results.map((r) => `N = ${r.nodes}`).join(' | ')} |`);
  out.push(`|---|${results.map(() => '---:').join('|')}|`);
  for (const k of kinds)
    out.push(
      `| ${k} | ${results.map((r) => `${f(r.idle.perKind[k] ?? 0, 2)} / ${f(r.loaded.perKind[k] ?? 0, 1)}`).join(' | ')} |`,
    );
  out.push('');
  for (const r of results) {
    const done = Object.entries(r.loadDone)
      .map(([k, v]) => `${k} ${f(v, 1)}/s`)
      .join(', ');
    out.push(
      `- N = ${r.nodes}: idle window ${f(r.idle.seconds)} s, load window ${f(r.loaded.seconds)} s (load done, all nodes: ${done}); reach: ${r.reach.nodesReached}/${r.reach.nodesExpected} node applications, ${r.reach.missedRounds} rounds with a node not reached in 10 s; bare peers ${r.bareConnected.min}..${r.bareConnected.max}; ${r.nodes} meshcache nodes in ${r.processes} processes, bare in ${r.bareProcesses}; processes left after stop: ${r.leftovers}`,
    );
    out.push(`  - uptime before: \`${r.uptimeBefore}\`; after: \`${r.uptimeAfter}\``);
  }
  return out.join('\n');
}
