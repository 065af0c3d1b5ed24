/**
 * Cache configuration: schema (zod), sources and precedence.
 *
 * Sources, lowest to highest: built-in defaults < file (`config: 'path'`, or
 * `CACHE_CONFIG`) < environment (`CACHE_*`) < code (`config: { cache, services }`
 * passed to `new Node`). Levels: global (`cache`), service
 * (`services.<name>.cache`), action (`services.<name>.actions.<action>.cache`);
 * the more specific level wins, and within a level the options declared on the
 * service itself (decorators, `addService`) are the lowest source, so a file can
 * tune them without a code change.
 */
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { fromZodError, MeshError } from '../errors.js';
import type { DhtOptions } from './backends/dht-options.js';
import type { MemoryBackendOptions } from './backends/memory-options.js';
import type { RedisBackendOptions } from './backends/redis-options.js';
import { policyShape, tagListSchema } from './policies/schema.js';
import { isValidTtl, TTL_RULE } from './ttl.js';

/** A TTL in seconds, by the rule of `./ttl.ts` (finite, >= 0, fractions allowed; 0 = no expiry). */
const ttlError = (issue: { input?: unknown }) =>
  `expected ${TTL_RULE}, got ${typeof issue.input === 'string' ? JSON.stringify(issue.input) : String(issue.input)}`;
const ttlSchema = z.number({ error: ttlError }).refine(isValidTtl, { error: ttlError });

const fn = z.custom<(...args: any[]) => unknown>((v) => typeof v === 'function', 'expected a function');

const eventRuleSchema = z
  .strictObject({
    event: z.string().min(1),
    keys: z.array(z.string().min(1)).min(1).optional(),
    tags: tagListSchema.min(1).optional(),
    services: z.array(z.string().min(1)).optional(),
  })
  .refine((r) => r.keys !== undefined || r.tags !== undefined, {
    error: 'an event rule needs keys, tags or both',
  });

/** Options shared by all three levels. */
const commonShape = {
  enabled: z.boolean().optional(),
  ttl: ttlSchema.optional(),
  staleTtl: ttlSchema.optional(),
  backend: z.string().min(1).optional(),
  /** `frozen` (default): hits share one deep-frozen copy; `copy`: every call gets its own copy. */
  results: z.enum(['frozen', 'copy']).optional(),
  ...policyShape,
};

const actionObjectSchema = z.strictObject({
  ...commonShape,
  keys: z.array(z.string().min(1)).optional(),
  key: fn.optional(),
  condition: fn.optional(),
});
const actionCacheSchema = z.union([z.boolean(), actionObjectSchema]);
/** Declared in code on an action: `ttl` and `tags` may also be functions (never in a file). */
const declaredActionCacheSchema = z.union([
  z.boolean(),
  actionObjectSchema.extend({
    ttl: z
      .custom<number | ((...args: any[]) => unknown)>(
        (v) => typeof v === 'function' || isValidTtl(v as number),
        {
          error: (issue) => `${ttlError(issue)} or a function of the result`,
        },
      )
      .optional(),
    tags: z.union([tagListSchema, fn]).optional(),
  }),
]);

const serviceCacheSchema = z.union([
  z.boolean(),
  z.strictObject({
    ...commonShape,
    keys: z.array(z.string().min(1)).optional(),
    events: z.array(eventRuleSchema).optional(),
  }),
]);

const failureSchema = z.strictObject({
  /** Longest a backend operation may take before it counts as failed, in ms. */
  opTimeoutMs: z.number().int().positive().optional(),
  /** Consecutive failures that make the node skip a backend. */
  failureThreshold: z.number().int().positive().optional(),
  /** How long a failing backend is skipped before it is tried again, in ms. */
  cooldownMs: z.number().int().positive().optional(),
  /** Longest a management operation (clear, delete, revoke) may take on one backend, in ms. */
  managementTimeoutMs: z.number().int().positive().optional(),
});

const accessSchema = z.strictObject({
  /** Services allowed to call any service's cache management actions (`'*'`: every caller). */
  allow: z.array(z.string().min(1)).optional(),
  /** Code only: decides every management call; overrides `allow`. */
  authorize: fn.optional(),
});

const globalCacheSchema = z.strictObject({
  ...commonShape,
  /** Prefix of every stored key. */
  prefix: z.string().max(64).optional(),
  /** Copies of each entry in the DHT. */
  replication: z.number().int().min(1).max(20).optional(),
  /** Action keys longer than this are shortened with a hash. */
  maxKeyLength: z.number().int().min(32).max(4096).optional(),
  // The spec's example file carries this section; only the values describing what meshcache does are accepted.
  consistency: z
    .strictObject({
      strategy: z.literal('eventual').optional(),
      conflict_resolution: z.literal('last_write_wins').optional(),
    })
    .optional(),
  events: z.array(eventRuleSchema).optional(),
  access: accessSchema.optional(),
  failure: failureSchema.optional(),
});

const serviceSchema = z.strictObject({
  cache: serviceCacheSchema.optional(),
  actions: z.record(z.string(), z.strictObject({ cache: actionCacheSchema.optional() })).optional(),
});

const fileSchema = z.strictObject({
  cache: globalCacheSchema.optional(),
  services: z.record(z.string(), serviceSchema).optional(),
});

/** Options sections of the built-in backends (each validated by its backend's registered schema). */
interface BuiltinSections {
  /** The memory backend's options. */
  memory?: Pick<MemoryBackendOptions, 'maxEntries' | 'maxBytes' | 'sweepIntervalMs'>;
  /** The Redis backend's options (see docs/redis.md). */
  redis?: RedisBackendOptions;
  /** The DHT backend's options (see docs/dht.md). */
  dht?: DhtOptions;
}

/** The global `cache` section; a custom backend defined with an options schema adds its own `cache.<name>`. */
export type GlobalCacheConfig = z.input<typeof globalCacheSchema> & BuiltinSections & Record<string, unknown>;
/** The whole configuration, as in a file. */
export type CacheConfigFile = Omit<z.input<typeof fileSchema>, 'cache'> & { cache?: GlobalCacheConfig };
/** What `new Node({ config })` accepts inline: the file's shape, plus `file` to load one beneath it. */
export type ConfigInput = CacheConfigFile & { file?: string };

/** Schemas of the backends' options sections, by backend name (from the backend registry). */
export type SectionSchemas = Readonly<Record<string, z.ZodType>>;

const schemaCache = new WeakMap<
  SectionSchemas,
  { file: z.ZodType<FileConfig>; input: z.ZodType<InputConfig> }
>();

/** The file and inline schemas with one optional section per registered backend. */
function schemasFor(sections: SectionSchemas) {
  let found = schemaCache.get(sections);
  if (found === undefined) {
    const shape = Object.fromEntries(
      Object.entries(sections).map(([name, schema]) => [name, schema.optional()]),
    );
    const file = fileSchema.extend({ cache: globalCacheSchema.extend(shape).optional() });
    found = {
      file: file as unknown as z.ZodType<FileConfig>,
      input: file.extend({ file: z.string().min(1).optional() }) as unknown as z.ZodType<InputConfig>,
    };
    schemaCache.set(sections, found);
  }
  return found;
}

type GlobalConfig = z.output<typeof globalCacheSchema> & Record<string, Record<string, unknown> | undefined>;
type FileConfig = Omit<z.output<typeof fileSchema>, 'cache'> & { cache?: GlobalConfig };
type InputConfig = FileConfig & { file?: string };
/** Options of one level as the resolver sees them (booleans expanded). */
export type LevelOptions = Exclude<z.output<typeof declaredActionCacheSchema>, boolean> & {
  events?: z.output<typeof eventRuleSchema>[];
};

/** Built-in defaults of the global level. */
export const DEFAULTS = {
  enabled: true,
  ttl: 30,
  backend: 'memory',
  prefix: 'cache:',
  replication: 3,
  maxKeyLength: 200,
  failure: { failureThreshold: 5, cooldownMs: 5_000, managementTimeoutMs: 30_000 },
} as const;

/** The global level after merging every source, with defaults filled in. */
export interface ResolvedGlobal {
  enabled: boolean;
  results: 'frozen' | 'copy';
  ttl: number;
  staleTtl: number | undefined;
  /** Issue 11 policies at the global level (defaults of every action). */
  grace: number | undefined;
  softTimeoutMs: number | undefined;
  tags: string[] | undefined;
  coalesce: 'node' | 'cluster' | undefined;
  backend: string;
  prefix: string;
  replication: number;
  maxKeyLength: number;
  /** Every registered backend's options section, merged over the backend's defaults; undefined when none. */
  sections: Record<string, Record<string, unknown> | undefined>;
  /** Shorthands of `sections.memory`, `sections.redis` and `sections.dht`. */
  memory: MemoryBackendOptions;
  redis: RedisBackendOptions | undefined;
  dht: DhtOptions | undefined;
  events: z.output<typeof eventRuleSchema>[];
  access: { allow: string[]; authorize?: (...args: any[]) => unknown };
  /** `opTimeoutMs` stays undefined unless configured: see `GuardedBackend` for the default. */
  failure: {
    opTimeoutMs?: number;
    failureThreshold: number;
    cooldownMs: number;
    managementTimeoutMs: number;
  };
}

/** A validated configuration: the merged global level, plus per-source service layers. */
export interface LoadedConfig {
  readonly global: ResolvedGlobal;
  /** Service and action layers, lowest source first: file, then code. */
  readonly layers: readonly FileConfig[];
  /** Where the file came from, for messages. */
  readonly file: string | undefined;
}

function invalid(message: string, details: Record<string, unknown>): MeshError {
  return new MeshError('CONFIG_INVALID', message, details);
}

function formatIssue(err: z.ZodError, source: string): MeshError {
  const e = fromZodError(err, { code: 'CONFIG_INVALID', source });
  return invalid(`invalid cache configuration in ${e.message}`, { ...e.details });
}

/** Reads and validates a JSON or YAML configuration file. */
export function loadConfigFile(path: string, sections: SectionSchemas = {}): FileConfig {
  const full = resolve(path);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (err) {
    throw invalid(`cannot read cache configuration file ${full}: ${(err as Error).message}`, {
      file: full,
      field: 'file',
    });
  }
  let data: unknown;
  try {
    data = extname(full) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw invalid(
      `cache configuration file ${full} is not valid ${extname(full) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
      {
        file: full,
        field: '(root)',
      },
    );
  }
  const parsed = schemasFor(sections).file.safeParse(data ?? {});
  if (!parsed.success) {
    const e = formatIssue(parsed.error, `file ${full}`);
    throw invalid(e.message, { ...e.details, file: full });
  }
  return parsed.data;
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

/** The global options set by `CACHE_*` environment variables. */
export function configFromEnv(env: Record<string, string | undefined>): GlobalConfig {
  const out: GlobalConfig = {};
  const bad = (name: string, expected: string) =>
    invalid(`environment variable ${name}=${JSON.stringify(env[name])} is invalid: expected ${expected}`, {
      field: name,
      source: 'environment',
    });
  const has = (name: string) => env[name] !== undefined && env[name] !== '';
  if (has('CACHE_ENABLED')) {
    const v = env.CACHE_ENABLED!.toLowerCase();
    if (TRUE.has(v)) out.enabled = true;
    else if (FALSE.has(v)) out.enabled = false;
    else throw bad('CACHE_ENABLED', 'true/false, 1/0, yes/no or on/off');
  }
  if (has('CACHE_BACKEND')) out.backend = env.CACHE_BACKEND!;
  if (has('CACHE_TTL')) {
    const n = Number(env.CACHE_TTL);
    if (!isValidTtl(n)) throw bad('CACHE_TTL', TTL_RULE);
    out.ttl = n;
  }
  if (env.CACHE_PREFIX !== undefined) {
    if (env.CACHE_PREFIX.length > 64) throw bad('CACHE_PREFIX', 'at most 64 characters');
    out.prefix = env.CACHE_PREFIX;
  }
  if (has('CACHE_REPLICATION')) {
    const n = Number(env.CACHE_REPLICATION);
    if (!Number.isInteger(n) || n < 1 || n > 20) throw bad('CACHE_REPLICATION', 'an integer from 1 to 20');
    out.replication = n;
  }
  if (has('CACHE_REDIS_URL')) {
    if (!/^rediss?:\/\//.test(env.CACHE_REDIS_URL!))
      throw bad('CACHE_REDIS_URL', 'a redis:// or rediss:// URL');
    out.redis = { url: env.CACHE_REDIS_URL };
  }
  return out;
}

/** Backend options sections by name, and the defaults each backend registered. */
export type SectionDefaults = Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>>;

/** Merges the global sections, higher sources last; nested sections merge field by field. */
function mergeGlobal(sources: GlobalConfig[], defaults: SectionDefaults): ResolvedGlobal {
  const pick = <K extends keyof GlobalConfig>(key: K): GlobalConfig[K] | undefined => {
    let value: GlobalConfig[K] | undefined;
    for (const s of sources) if (s[key] !== undefined) value = s[key];
    return value;
  };
  const nested = (key: string) =>
    Object.assign({}, ...sources.map((s) => s[key] ?? {})) as Record<string, unknown>;
  const sections: ResolvedGlobal['sections'] = {};
  const names = new Set([...Object.keys(defaults), ...sources.flatMap((s) => Object.keys(s))]);
  for (const name of names) {
    if (name in globalCacheSchema.shape) continue;
    const given = sources.some((s) => s[name] !== undefined);
    sections[name] = given || defaults[name] ? { ...defaults[name], ...nested(name) } : undefined;
  }
  return {
    enabled: pick('enabled') ?? DEFAULTS.enabled,
    results: pick('results') ?? 'frozen',
    ttl: pick('ttl') ?? DEFAULTS.ttl,
    staleTtl: pick('staleTtl'),
    grace: pick('grace'),
    softTimeoutMs: pick('softTimeoutMs'),
    tags: pick('tags'),
    coalesce: pick('coalesce'),
    backend: pick('backend') ?? DEFAULTS.backend,
    prefix: pick('prefix') ?? DEFAULTS.prefix,
    replication: pick('replication') ?? DEFAULTS.replication,
    maxKeyLength: pick('maxKeyLength') ?? DEFAULTS.maxKeyLength,
    sections,
    memory: (sections.memory ?? {}) as MemoryBackendOptions,
    redis: sections.redis as RedisBackendOptions | undefined,
    dht: sections.dht as DhtOptions | undefined,
    failure: { ...DEFAULTS.failure, ...(nested('failure') as GlobalConfig['failure']) },
    events: sources.flatMap((s) => s.events ?? []),
    access: { allow: [], ...(nested('access') as GlobalConfig['access']) },
  };
}

/** Validates and merges every source. Throws `CONFIG_INVALID` naming the field and the source. */
export function loadConfig(
  input: string | ConfigInput | undefined,
  env: Record<string, string | undefined>,
  backends: { sections: SectionSchemas; defaults: SectionDefaults } = { sections: {}, defaults: {} },
): LoadedConfig {
  let code: FileConfig = {};
  let file = env.CACHE_CONFIG || undefined;
  if (typeof input === 'string') file = input;
  else if (input !== undefined) {
    if (input === null || typeof input !== 'object')
      throw invalid('config must be a file path or an object', { field: 'config' });
    const parsed = schemasFor(backends.sections).input.safeParse(input);
    if (!parsed.success) throw formatIssue(parsed.error, 'the config passed to new Node');
    const { file: nestedFile, ...rest } = parsed.data;
    code = rest;
    if (nestedFile !== undefined) file = nestedFile;
  }
  const fromFile = file === undefined ? {} : loadConfigFile(file, backends.sections);
  const fromEnv = configFromEnv(env);
  const global = mergeGlobal([fromFile.cache ?? {}, fromEnv, code.cache ?? {}], backends.defaults);
  if (global.staleTtl !== undefined && global.ttl === 0) {
    throw invalid('cache.staleTtl needs a ttl > 0', { field: 'cache.staleTtl' });
  }
  return { global, layers: [fromFile, code], file: file === undefined ? undefined : resolve(file) };
}

/** Validates options declared in code on a service or action (decorators, `addService`). */
export function validateDeclared(
  kind: 'service' | 'action',
  value: unknown,
  where: string,
): LevelOptions | undefined {
  if (value === undefined) return undefined;
  const parsed = (kind === 'service' ? serviceCacheSchema : declaredActionCacheSchema).safeParse(value);
  if (!parsed.success) throw formatIssue(parsed.error, where);
  const v = parsed.data;
  return typeof v === 'boolean' ? { enabled: v } : (v as LevelOptions);
}

/** Expands `true`/`false` shorthands of a level. */
export function level(
  value: z.output<typeof actionCacheSchema> | z.output<typeof serviceCacheSchema> | undefined,
): LevelOptions | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'boolean' ? { enabled: value } : (value as LevelOptions);
}
