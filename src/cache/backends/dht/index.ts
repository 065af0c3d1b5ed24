/**
 * The DHT cache backend (`cache.backend: dht`), loaded lazily by the backend
 * registry so that a node without a network never loads libp2p.
 */
export { DhtBackend } from './backend.js';
export { type Control, controlSchema, parseControl } from './control.js';
export { type DhtOptions, dhtOptionsSchema, parseDhtOptions, type ResolvedDhtOptions } from './options.js';
export type { DhtBackendStats, InvalidationInfo } from './state.js';
