/**
 * Compatibility re-export: src/cache/config.ts (being edited on another branch)
 * imports the DHT options type from here. Remove once config.ts imports
 * './backends/dht/options.js'.
 */
export type { DhtOptions } from './dht/options.js';
