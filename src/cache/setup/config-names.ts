/**
 * Configuration entries that name a service or an action the node does not
 * host would be silently ignored (`services.usr`): they are reported once the
 * node started, with the names it does host.
 */
import type { Logger } from 'pino';
import { nearestNames } from '../../node/suggest.js';
import type { LoadedConfig } from './config.js';

/** One line per configured service or action that this node does not host. */
export function unknownConfigNames(
  config: LoadedConfig,
  hosted: ReadonlyMap<string, readonly string[]>,
): string[] {
  const out: string[] = [];
  const services = [...hosted.keys()];
  const hint = (name: string, valid: readonly string[]) => {
    const near = nearestNames(name, valid);
    return near.length === 0 ? '' : `did you mean ${near.join(' or ')}? `;
  };
  config.layers.forEach((layer, i) => {
    const source = i === 0 ? `file ${config.file ?? ''}`.trim() : 'the config passed to new Node';
    for (const [service, entry] of Object.entries(layer.services ?? {})) {
      const actions = hosted.get(service);
      if (actions === undefined) {
        out.push(
          `services.${service} (${source}): this node hosts no service '${service}' (${hint(service, services)}hosted: ${services.join(', ') || 'none'})`,
        );
        continue;
      }
      for (const action of Object.keys(entry?.actions ?? {})) {
        if (actions.includes(action)) continue;
        out.push(
          `services.${service}.actions.${action} (${source}): service '${service}' has no action '${action}' (${hint(action, actions)}actions: ${actions.join(', ') || 'none'})`,
        );
      }
    }
  });
  return out;
}

/**
 * Logs, once the node started, each unknown name, and a `CACHE_REDIS_URL` that nothing uses
 * (it does not choose the backend; memory would be used without a word).
 */
export function startNotes(
  config: LoadedConfig,
  hosted: ReadonlyMap<string, readonly string[]>,
  env: Record<string, string | undefined>,
  openBackends: readonly string[],
  logger: Logger,
): void {
  for (const line of unknownConfigNames(config, hosted))
    logger.warn(`cache configuration names something this node does not host: ${line}`);
  if (env.CACHE_REDIS_URL && !openBackends.includes('redis'))
    logger.warn(
      `CACHE_REDIS_URL is set but nothing caches in Redis (cache.backend is '${config.global.backend}'): set CACHE_BACKEND=redis to use it`,
    );
}
