/**
 * Resolves the effective cache settings of one action from every level and
 * source.
 *
 * Global values (`cache`: defaults < file < environment < code) are defaults.
 * Above them, lowest to highest:
 *
 *   1. the service's own declaration, service level (`@service({ cache })`, `addService({ cache })`)
 *   2. the service's own declaration, action level (`@action({ cache })`, `@cached`, `actions.x.cache`)
 *   3. the file, service level (`services.<s>.cache`)
 *   4. the file, action level (`services.<s>.actions.<a>.cache`)
 *   5. the code passed to `new Node`, service level
 *   6. the code passed to `new Node`, action level
 *
 * So within one source the more specific level wins, and what an operator
 * writes in the file (or passes in code) overrides what the service declares,
 * at either level: `services.user.cache.enabled: false` in a file turns off a
 * decorated `@cached` action without a code change.
 *
 * `enabled`: `cache.enabled: false` at the global level turns caching off
 * everywhere. Otherwise the highest layer with an opinion decides: an
 * action-level cache object means enabled unless it says `enabled: false`; a
 * service-level object has an opinion only when it sets `enabled`. No opinion:
 * not cached. Other options take the highest layer that sets them, else the
 * global value.
 */

import type { RequestContext } from '../../node/context.js';
import type { ActionEntry, ServiceEntry } from '../../node/registry.js';
import { type LevelOptions, type LoadedConfig, level, validateDeclared } from './config.js';
import type { ResultMode } from './options.js';

/** The settings of one cached action. */
export interface ResolvedActionCache {
  /** The fixed TTL; 0 (no expiry) when `ttlOf` decides per entry. */
  ttl: number;
  /** Grace, soft timeout, adaptive TTL, tags, coalesce. */
  policies: Policies;
  staleTtl: number;
  keys: readonly string[] | undefined;
  key: LevelOptions['key'];
  condition: LevelOptions['condition'];
  backend: string;
  results: ResultMode;
  /** False when a level says `near: false` (no near tier for this action). */
  near: boolean;
  /** Where `backend` was set, for error messages. */
  backendField: string;
}

/** One level of one source. */
export interface Layer {
  kind: 'service' | 'action';
  options: LevelOptions;
  field: string;
}

/**
 * Service-level layers of a service: index 0 is its own declaration, then one
 * per source (file, code); undefined where a source says nothing.
 */
export function serviceLayers(config: LoadedConfig, service: ServiceEntry): Array<Layer | undefined> {
  const declared = validateDeclared('service', service.cache, `the declaration of service '${service.name}'`);
  const layers: Array<Layer | undefined> = [
    declared && { kind: 'service', options: declared, field: `service '${service.name}' cache` },
  ];
  for (const source of config.layers) {
    const opts = level(source.services?.[service.name]?.cache);
    layers.push(opts && { kind: 'service', options: opts, field: `services.${service.name}.cache` });
  }
  return layers;
}

/** Every layer of an action, lowest first (see the module comment), given its service's layers. */
function actionLayers(
  config: LoadedConfig,
  service: ServiceEntry,
  action: ActionEntry,
  svc: Array<Layer | undefined>,
): Layer[] {
  const declared = validateDeclared(
    'action',
    action.options.cache,
    `the declaration of action '${action.path}'`,
  );
  const layers = [
    svc[0],
    declared && { kind: 'action' as const, options: declared, field: `action '${action.path}' cache` },
  ];
  config.layers.forEach((source, i) => {
    const opts = level(source.services?.[service.name]?.actions?.[action.name]?.cache);
    layers.push(
      svc[i + 1],
      opts && {
        kind: 'action',
        options: opts,
        field: `services.${service.name}.actions.${action.name}.cache`,
      },
    );
  });
  return layers.filter((l): l is Layer => l !== undefined);
}

function isEnabled(layers: Layer[]): boolean {
  for (let i = layers.length - 1; i >= 0; i--) {
    const { kind, options } = layers[i];
    if (options.enabled !== undefined) return options.enabled;
    if (kind === 'action') return true;
  }
  return false;
}

/** The settings of an action, or undefined when it is not cached. */
export function resolveAction(
  config: LoadedConfig,
  service: ServiceEntry,
  action: ActionEntry,
  svcLayers: Array<Layer | undefined>,
): ResolvedActionCache | undefined {
  const global = config.global;
  if (!global.enabled) return undefined;
  const layers = actionLayers(config, service, action, svcLayers);
  if (!isEnabled(layers)) return undefined;
  const pick = <K extends keyof LevelOptions>(
    key: K,
  ): { value: LevelOptions[K]; field: string } | undefined => {
    for (let i = layers.length - 1; i >= 0; i--) {
      const v = layers[i].options[key];
      if (v !== undefined) return { value: v, field: `${layers[i].field}.${String(key)}` };
    }
    return undefined;
  };
  const backend = pick('backend');
  const ttl = pick('ttl')?.value ?? global.ttl;
  return {
    ttl: typeof ttl === 'number' ? ttl : 0,
    policies: resolvePolicies(
      ttl,
      pick('grace')?.value ?? global.grace,
      pick('softTimeoutMs')?.value ?? global.softTimeoutMs,
      pick('tags')?.value ?? global.tags,
      pick('coalesce')?.value ?? global.coalesce,
    ),
    staleTtl: pick('staleTtl')?.value ?? global.staleTtl ?? 0,
    keys: pick('keys')?.value,
    key: pick('key')?.value,
    condition: pick('condition')?.value,
    backend: backend?.value ?? global.backend,
    results: pick('results')?.value ?? global.results,
    backendField: backend?.field ?? 'cache.backend',
    near: pick('near')?.value ?? true,
  };
}

/** The policy settings of one action, from the values picked per level. */
export type TtlFunction = (result: unknown, params: any, ctx: RequestContext) => number;
export type TagFunction = (params: any, result: unknown, ctx: RequestContext) => readonly string[];

export interface Policies {
  /** Adaptive TTL: decides each entry's TTL from its value (code only). */
  readonly ttlOf: TtlFunction | undefined;
  /** Seconds an expired entry is kept past ttl + staleTtl to answer when the handler fails (0: off). */
  readonly grace: number;
  /** ms after which a caller with a stale value at hand gets it (0: off). */
  readonly softTimeoutMs: number;
  /** Tag templates (`user:{id}`) or a function; undefined: untagged. */
  readonly tags: readonly string[] | TagFunction | undefined;
  readonly coalesce: 'node' | 'cluster';
}

export function resolvePolicies(
  ttl: unknown,
  grace: number | undefined,
  softTimeoutMs: number | undefined,
  tags: unknown,
  coalesce: 'node' | 'cluster' | undefined,
): Policies {
  return {
    ttlOf: typeof ttl === 'function' ? (ttl as TtlFunction) : undefined,
    grace: grace ?? 0,
    softTimeoutMs: softTimeoutMs ?? 0,
    tags:
      typeof tags === 'function'
        ? (tags as TagFunction)
        : Array.isArray(tags) && tags.length > 0
          ? (tags as string[])
          : undefined,
    coalesce: coalesce ?? 'node',
  };
}
