/**
 * The invalidation log of the DHT backend: what every node was told to forget,
 * kept for `tombstoneTtlSeconds`. A delete is remembered per key, a clear or a
 * revoke as a rule (key prefix, optional glob on the rest). A record written
 * before a rule that matches it is dead: it is not served (read time), not
 * accepted (store time: the write filter), and removed from the near cache and
 * the local store when the rule arrives. Rules are pulled from a peer when a
 * node comes back after losing all its peers, so it learns what it missed.
 */
import { compileGlob, type Glob } from '../../keys/glob.js';

/** A clear (no pattern) or a revoke (glob on the part of the key after `prefix`). */
export interface Rule {
  readonly prefix: string;
  readonly pattern?: string;
  /** Records written before this time (writer clock, ms) are invalidated. */
  readonly at: number;
}

/** The wire form of the log (sync protocol). */
export interface RuleLogSnapshot {
  readonly deletes: Array<[key: string, at: number]>;
  readonly rules: Rule[];
}

interface CompiledRule extends Rule {
  readonly glob?: Glob;
  readonly expires: number;
}

const MAX_DELETES = 100_000;

export class RuleLog {
  private readonly deletes = new Map<string, { at: number; expires: number }>();
  private rules: CompiledRule[] = [];

  constructor(private readonly retentionMs: number) {}

  get size(): number {
    return this.deletes.size + this.rules.length;
  }

  /** Remembers a delete of `key` at `at`; false when a later one was already known. */
  addDelete(key: string, at: number, now = Date.now()): boolean {
    const known = this.deletes.get(key);
    if (known !== undefined && known.at >= at) return false;
    this.deletes.delete(key);
    this.deletes.set(key, { at, expires: now + this.retentionMs });
    if (this.deletes.size > MAX_DELETES) {
      const oldest = this.deletes.keys().next().value;
      if (oldest !== undefined) this.deletes.delete(oldest);
    }
    return true;
  }

  /** Remembers a clear/revoke rule; returns its matcher, or undefined when the same rule was known. */
  addRule(rule: Rule, now = Date.now()): ((key: string) => boolean) | undefined {
    if (this.rules.some((r) => r.prefix === rule.prefix && r.pattern === rule.pattern && r.at >= rule.at))
      return undefined;
    const compiled: CompiledRule = {
      prefix: rule.prefix,
      at: rule.at,
      expires: now + this.retentionMs,
      ...(rule.pattern === undefined ? {} : { pattern: rule.pattern, glob: compileGlob(rule.pattern) }),
    };
    this.rules = this.rules.filter((r) => !(r.prefix === rule.prefix && r.pattern === rule.pattern));
    this.rules.push(compiled);
    return (key) => matches(compiled, key);
  }

  /** True when a record of `key` written at `writtenAt` was invalidated. */
  invalidates(key: string, writtenAt: number): boolean {
    const d = this.deletes.get(key);
    if (d !== undefined && d.at > writtenAt) return true;
    for (const r of this.rules) if (r.at > writtenAt && matches(r, key)) return true;
    return false;
  }

  /** Forgets entries past their retention. */
  prune(now = Date.now()): void {
    for (const [key, d] of this.deletes) if (d.expires <= now) this.deletes.delete(key);
    this.rules = this.rules.filter((r) => r.expires > now);
  }

  snapshot(): RuleLogSnapshot {
    return {
      deletes: [...this.deletes].map(([k, d]) => [k, d.at]),
      rules: this.rules.map((r) =>
        r.pattern === undefined
          ? { prefix: r.prefix, at: r.at }
          : { prefix: r.prefix, pattern: r.pattern, at: r.at },
      ),
    };
  }
}

function matches(rule: { prefix: string; glob?: Glob }, key: string): boolean {
  if (!key.startsWith(rule.prefix)) return false;
  return rule.glob === undefined || rule.glob.test(key.slice(rule.prefix.length));
}

/** Reads a snapshot received from a peer, dropping malformed parts. */
export function parseRuleLog(raw: unknown): RuleLogSnapshot {
  const out: RuleLogSnapshot = { deletes: [], rules: [] };
  if (raw === null || typeof raw !== 'object') return out;
  const r = raw as { deletes?: unknown; rules?: unknown };
  if (Array.isArray(r.deletes)) {
    for (const d of r.deletes) {
      if (Array.isArray(d) && typeof d[0] === 'string' && typeof d[1] === 'number')
        out.deletes.push([d[0], d[1]]);
    }
  }
  if (Array.isArray(r.rules)) {
    for (const x of r.rules as Array<Record<string, unknown>>) {
      if (x === null || typeof x !== 'object' || typeof x.prefix !== 'string' || typeof x.at !== 'number')
        continue;
      if (x.pattern !== undefined && (typeof x.pattern !== 'string' || x.pattern.length === 0)) continue;
      out.rules.push(
        x.pattern === undefined
          ? { prefix: x.prefix, at: x.at }
          : { prefix: x.prefix, pattern: x.pattern as string, at: x.at },
      );
    }
  }
  return out;
}
