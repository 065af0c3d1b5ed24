/**
 * Cache configuration: sources and precedence (the schemas: config-schema.ts).
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
import { createRequire } from 'node:module';
import { extname, resolve } from 'node:path';
import * as v from 'valibot';
import { fromIssues, MeshError } from '../../errors.js';
import type { DhtOptions } from '../backends/dht/options.js';
import type { MemoryBackendOptions } from '../backends/memory-options.js';
import type { RedisBackendOptions } from '../backends/redis-options.js';
import { strict } from '../backends/strict.js';
import { isValidTtl, TTL_RULE } from '../backends/ttl.js';
import {
  type AnyFunction,
  type actionCacheSchema,
  declaredActionCacheSchema,
  type eventRuleSchema,
  type fileSchema,
  fileShape,
  globalCacheSchema,
  globalShape,
  name,
  serviceCacheSchema,
} from './schema.js';

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
export type GlobalCacheConfig = v.InferInput<typeof globalCacheSchema> &
  BuiltinSections &
  Record<string, unknown>;
/** The whole configuration, as in a file. */
export type CacheConfigFile = Omit<v.InferInput<typeof fileSchema>, 'cache'> & { cache?: GlobalCacheConfig };
/** What `new Node({ config })` accepts inline: the file's shape, plus `file` to load one beneath it. */
export type ConfigInput = CacheConfigFile & { file?: string };

/** A schema of a backend's options section (any valibot schema). */
export type SectionSchema = v.GenericSchema;
/** Schemas of the backends' options sections, by backend name (from the backend registry). */
export type SectionSchemas = Readonly<Record<string, SectionSchema>>;

const schemaCache = new WeakMap<
  SectionSchemas,
  { file: v.GenericSchema<unknown, FileConfig>; input: v.GenericSchema<unknown, InputConfig> }
>();

/** The file and inline schemas with one optional section per registered backend. */
function schemasFor(sections: SectionSchemas) {
  let found = schemaCache.get(sections);
  if (found === undefined) {
    const shape = Object.fromEntries(
      Object.entries(sections).map(([key, schema]) => [key, v.optional(schema)]),
    );
    const file = { ...fileShape, cache: v.optional(strict({ ...globalShape, ...shape })) };
    found = {
      file: strict(file) as unknown as v.GenericSchema<unknown, FileConfig>,
      input: strict({ ...file, file: v.optional(name) }) as unknown as v.GenericSchema<unknown, InputConfig>,
    };
    schemaCache.set(sections, found);
  }
  return found;
}

type GlobalConfig = v.InferOutput<typeof globalCacheSchema> & { [section: string]: unknown };
type FileConfig = Omit<v.InferOutput<typeof fileSchema>, 'cache'> & { cache?: GlobalConfig };
type InputConfig = FileConfig & { file?: string };
/** Options of one level as the resolver sees them (booleans expanded). */
export type LevelOptions = Exclude<v.InferOutput<typeof declaredActionCacheSchema>, boolean> & {
  events?: v.InferOutput<typeof eventRuleSchema>[];
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
  near: { enabled: true, maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, maxAgeSeconds: 60, redis: 'auto' },
  coherence: { maxStalenessMs: 1000, boundMemory: false },
} as const;

/** The near tier's settings (`cache.near`), defaults filled in. */
export interface NearSettings {
  enabled: boolean;
  maxEntries: number;
  maxBytes: number;
  maxAgeSeconds: number;
  redis: 'auto' | 'tracking' | 'pubsub';
}

/** The global level after merging every source, with defaults filled in. */
export interface ResolvedGlobal {
  enabled: boolean;
  results: 'frozen' | 'copy';
  ttl: number;
  staleTtl: number | undefined;
  /** Policies at the global level (defaults of every action). */
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
  events: v.InferOutput<typeof eventRuleSchema>[];
  access: { allow: string[]; peers?: '*' | string[]; authorize?: AnyFunction };
  /** `opTimeoutMs` stays undefined unless configured: see `GuardedBackend` for the default. */
  failure: {
    opTimeoutMs?: number;
    failureThreshold: number;
    cooldownMs: number;
    managementTimeoutMs: number;
  };
  near: NearSettings;
  coherence: CoherenceSettings;
  tracing: { keys: boolean };
}

/** The staleness bound's settings (`cache.coherence`), defaults filled in. */
export interface CoherenceSettings {
  maxStalenessMs: number;
  boundMemory: boolean;
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

function formatIssue(issues: readonly v.BaseIssue<unknown>[], source: string): MeshError {
  const e = fromIssues(issues, { code: 'CONFIG_INVALID', source });
  return invalid(`invalid cache configuration in ${e.message}`, { ...e.details });
}

/** The YAML parser, loaded only for a YAML file (~50 ms of start-up that JSON and inline configurations skip). */
function parseYaml(text: string): unknown {
  const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yaml.parse(text);
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
  const parsed = v.safeParse(schemasFor(sections).file, data ?? {});
  if (!parsed.success) {
    const e = formatIssue(parsed.issues, `file ${full}`);
    throw invalid(e.message, { ...e.details, file: full });
  }
  return parsed.output;
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
    Object.assign({}, ...sources.map((s) => (s[key] as object | undefined) ?? {})) as Record<string, unknown>;
  const sections: ResolvedGlobal['sections'] = {};
  const names = new Set([...Object.keys(defaults), ...sources.flatMap((s) => Object.keys(s))]);
  for (const name of names) {
    if (name in globalCacheSchema.entries) continue;
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
    near: { ...DEFAULTS.near, ...(nested('near') as Partial<NearSettings>) },
    coherence: { ...DEFAULTS.coherence, ...(nested('coherence') as Partial<CoherenceSettings>) },
    tracing: { keys: false, ...(nested('tracing') as { keys?: boolean }) },
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
    const parsed = v.safeParse(schemasFor(backends.sections).input, input);
    if (!parsed.success) throw formatIssue(parsed.issues, 'the config passed to new Node');
    const { file: nestedFile, ...rest } = parsed.output;
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
  const parsed = v.safeParse(kind === 'service' ? serviceCacheSchema : declaredActionCacheSchema, value);
  if (!parsed.success) throw formatIssue(parsed.issues, where);
  const out = parsed.output;
  return typeof out === 'boolean' ? { enabled: out } : (out as LevelOptions);
}

/** Expands `true`/`false` shorthands of a level. */
export function level(
  value: v.InferOutput<typeof actionCacheSchema> | v.InferOutput<typeof serviceCacheSchema> | undefined,
): LevelOptions | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'boolean' ? { enabled: value } : (value as LevelOptions);
}
