/**
 * The one rule for network ids, used by the host and the network part: 1-64
 * characters of [A-Za-z0-9_.-], starting with a letter or digit (ids become
 * part of libp2p protocol names and topics).
 */
import { MeshError } from '../errors.js';

const NETWORK_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** True for a valid network id. */
export function isValidNetworkId(id: unknown): id is string {
  return typeof id === 'string' && NETWORK_ID.test(id);
}

/** Throws CONFIG_INVALID unless `id` is a valid network id. */
export function checkNetworkId(id: unknown, field = 'networkId'): asserts id is string {
  if (!isValidNetworkId(id)) {
    throw new MeshError(
      'CONFIG_INVALID',
      `${field} must be 1-64 characters of [A-Za-z0-9_.-] starting with a letter or digit, got ${JSON.stringify(id)}`,
      { field },
    );
  }
}
