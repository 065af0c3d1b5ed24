/**
 * docs/grafana/meshcache.json queries only what meshcache exports: every
 * metric name in its expressions (panels and variables) is one that the
 * Prometheus registry of a started node produces, with labels that metric
 * has; and every metric family meshcache exports has a panel.
 */
import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node } from '../../src/index.js';

/** Labels Prometheus adds to every scraped series. */
const SCRAPE_LABELS = ['job', 'instance'];

interface Dashboard {
  panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
  templating: { list: Array<{ name: string; query?: unknown }> };
}

function expressions(d: Dashboard): string[] {
  const fromPanels = d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const fromVars = d.templating.list.flatMap((v) =>
    v.query !== null && typeof v.query === 'object' ? [String((v.query as { query: string }).query)] : [],
  );
  return [...fromPanels, ...fromVars];
}

/** Exported series names and the labels each carries, from the text exposition. */
function exported(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      const names =
        type[2] === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => type[1] + s) : [type[1]!];
      for (const n of names) if (!out.has(n)) out.set(n, new Set());
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s/.exec(line);
    if (!sample) continue;
    const labels = out.get(sample[1]!) ?? new Set<string>();
    for (const m of (sample[2] ?? '').matchAll(/(\w+)="/g)) labels.add(m[1]!);
    out.set(sample[1]!, labels);
  }
  return out;
}

describe('the Grafana dashboard', () => {
  let node: Node;
  let metrics: Map<string, Set<string>>;
  let dashboard: Dashboard;

  beforeAll(async () => {
    dashboard = JSON.parse(await readFile('docs/grafana/meshcache.json', 'utf8')) as Dashboard;
    node = new Node({ logger: pino({ level: 'silent' }), env: {}, config: { cache: { backend: 'memory' } } });
    node.addService({
      name: 'user',
      actions: { get_user: { cache: { enabled: true, ttl: 60, keys: ['id'] }, handler: (_c, p) => p } },
    });
    await node.start();
    void node.cache.registry;
    for (let i = 0; i < 40; i++) await node.request('user/get_user', { id: i % 4 });
    metrics = exported(await node.cache.metrics());
  });
  afterAll(() => node?.stop());

  it('queries only metrics a node exports, with labels they carry', () => {
    const exprs = expressions(dashboard);
    expect(exprs.length).toBeGreaterThan(15);
    const used = new Set<string>();
    for (const expr of exprs) {
      for (const m of expr.matchAll(/\b(meshcache_\w+)\s*(\{[^}]*\})?/g)) {
        const name = m[1]!;
        used.add(name);
        expect(metrics.has(name), `${name} (in ${expr}) is not exported`).toBe(true);
        const known = new Set([...(metrics.get(name) ?? []), ...SCRAPE_LABELS]);
        for (const l of (m[2] ?? '').matchAll(/(\w+)\s*=~?/g))
          expect(known.has(l[1]!), `label ${l[1]} of ${name} in ${expr}`).toBe(true);
      }
      for (const by of expr.matchAll(/\bby \(([^)]*)\)/g)) {
        for (const label of by[1]!.split(',').map((s) => s.trim())) {
          const somewhere =
            [...metrics.values()].some((ls) => ls.has(label)) || SCRAPE_LABELS.includes(label);
          expect(somewhere, `'by (${label})' in ${expr}`).toBe(true);
        }
      }
    }
    expect(used.size).toBeGreaterThan(10);
  });

  it('has a panel for every metric family meshcache exports', () => {
    const text = expressions(dashboard).join('\n');
    const families = [...metrics.keys()].filter((n) => n.startsWith('meshcache_'));
    expect(families.length).toBeGreaterThan(10);
    for (const name of families) {
      const family = name.replace(/_(bucket|sum|count)$/, '');
      expect(text.includes(family), `${name} has no panel`).toBe(true);
    }
  });
});
