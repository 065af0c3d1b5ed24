/**
 * Resolves the effective cache settings of one action from every level and
 * source (see config.ts for the precedence).
 *
 * `enabled`: `cache.enabled: false` at the global level turns caching off
 * everywhere. Otherwise the action level decides: the most authoritative source
 * that sets `enabled` wins, and an action-level cache object without `enabled`
 * means enabled (`@cached({ ttl: 60 })`). With nothing at the action level, the
 * service level's explicit `enabled` applies (`services.x.cache.enabled: true`
 * caches every action of x). Otherwise the action is not cached. Other options
 * (`ttl`, `keys`, `backend`, ...) take the most specific value found.
 */
import type { ActionEntry, ServiceEntry } from '../node/registry.js';
import { type LevelOptions, type LoadedConfig, level, validateDeclared } from './config.js';
import type { ResultMode } from './interceptor.js';

/** The settings of one cached action. */
export interface ResolvedActionCache {
  ttl: number;
  staleTtl: number;
  keys: readonly string[] | undefined;
  key: LevelOptions['key'];
  condition: LevelOptions['condition'];
  backend: string;
  results: ResultMode;
  /** Where `backend` was set, for error messages. */
  backendField: string;
}

interface Layer {
  options: LevelOptions;
  field: string;
}

/** Service-level layers of a service, lowest source first. */
export function serviceLayers(config: LoadedConfig, service: ServiceEntry): Layer[] {
  const layers: Layer[] = [];
  const declared = validateDeclared('service', service.cache, `the declaration of service '${service.name}'`);
  if (declared) layers.push({ options: declared, field: `service '${service.name}' cache` });
  for (const source of config.layers) {
    const opts = level(source.services?.[service.name]?.cache);
    if (opts) layers.push({ options: opts, field: `services.${service.name}.cache` });
  }
  return layers;
}

/** The settings of an action, or undefined when it is not cached. */
export function resolveAction(
  config: LoadedConfig,
  service: ServiceEntry,
  action: ActionEntry,
  svcLayers: Layer[],
): ResolvedActionCache | undefined {
  const global = config.global;
  if (!global.enabled) return undefined;
  const actLayers: Layer[] = [];
  const declared = validateDeclared(
    'action',
    action.options.cache,
    `the declaration of action '${action.path}'`,
  );
  if (declared) actLayers.push({ options: declared, field: `action '${action.path}' cache` });
  for (const source of config.layers) {
    const opts = level(source.services?.[service.name]?.actions?.[action.name]?.cache);
    if (opts)
      actLayers.push({ options: opts, field: `services.${service.name}.actions.${action.name}.cache` });
  }
  const explicit = (layers: Layer[]) => {
    for (let i = layers.length - 1; i >= 0; i--)
      if (layers[i].options.enabled !== undefined) return layers[i].options.enabled;
    return undefined;
  };
  const enabled = explicit(actLayers) ?? (actLayers.length > 0 ? true : (explicit(svcLayers) ?? false));
  if (!enabled) return undefined;
  const ordered = [...svcLayers, ...actLayers];
  const pick = <K extends keyof LevelOptions>(
    key: K,
  ): { value: LevelOptions[K]; field: string } | undefined => {
    for (let i = ordered.length - 1; i >= 0; i--) {
      const v = ordered[i].options[key];
      if (v !== undefined) return { value: v, field: `${ordered[i].field}.${String(key)}` };
    }
    return undefined;
  };
  const backend = pick('backend');
  return {
    ttl: pick('ttl')?.value ?? global.ttl,
    staleTtl: pick('staleTtl')?.value ?? global.staleTtl ?? 0,
    keys: pick('keys')?.value,
    key: pick('key')?.value,
    condition: pick('condition')?.value,
    backend: backend?.value ?? global.backend,
    results: pick('results')?.value ?? global.results,
    backendField: backend?.field ?? 'cache.backend',
  };
}
