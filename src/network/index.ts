/**
 * The P2P layer of meshcache (barrel): a node joins one network (by id), finds
 * its peers from a bootstrap list, shares a Kademlia DHT with them and exchanges
 * events over gossipsub, all on protocols and topics named after the network id.
 * The class is in mesh-network.ts; membership and discovery in membership.ts.
 */
export { ClockWatch, DEFAULT_CLOCK_TOLERANCE_MS } from './clock.js';
export { MeshDht, sortByDistance } from './dht.js';
export type { InvalidationHandler, InvalidationMeta, InvalidationNotice } from './invalidations.js';
export type { LocalRecord, WriteFilter } from './lww-datastore.js';
export {
  type ControlHandler,
  type EventHandler,
  MeshNetwork,
  type MeshNetworkEvents,
} from './mesh-network.js';
export { controlTopic, eventsTopic, kadProtocol } from './names.js';
export { type NetworkOptions, networkOptionsSchema } from './options.js';
export { generatePsk, loadPsk } from './psk.js';
export { compareRecords, isExpired, type StoredRecord, writeClock } from './record.js';
