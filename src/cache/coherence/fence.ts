/**
 * The fence: an invalidation raises it on every service it touches before
 * anything else, so a miss already running there answers its callers but
 * does not store its now stale result (read/miss.ts checks the generation and
 * its own place among the in-flight calls).
 */
import type { ServiceCache } from '../read/action-cache.js';

export function fence(services: Iterable<ServiceCache>): void {
  for (const svc of services) {
    svc.generation++;
    for (const ac of svc.actions.values()) ac.inflight.clear();
  }
}
