/**
 * Pre-shared keys for private networks (libp2p pnet, "swarm.key" v1 format):
 *
 * ```
 * /key/swarm/psk/1.0.0/
 * /base16/
 * <64 hex digits>
 * ```
 *
 * Every connection of a node that holds a key is encrypted with it before the
 * Noise handshake, so a node without the same key cannot even complete a
 * handshake: the key is the network's access control.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MeshError } from '../errors.js';

const HEADER = '/key/swarm/psk/1.0.0/';

/** Creates a new random pre-shared key, as swarm.key text. */
export function generatePsk(): string {
  return `${HEADER}\n/base16/\n${randomBytes(32).toString('hex')}`;
}

/**
 * Reads a pre-shared key given as swarm.key text or as a path to such a file,
 * checks its shape and returns the bytes libp2p's connection protector expects.
 */
export function loadPsk(textOrPath: string): Uint8Array {
  let text = textOrPath.trim();
  if (!text.startsWith('/key/')) {
    try {
      text = readFileSync(textOrPath, 'utf8').trim();
    } catch (err) {
      throw new MeshError(
        'CONFIG_INVALID',
        `network.psk: cannot read the key file ${textOrPath}`,
        { field: 'network.psk' },
        err,
      );
    }
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (
    lines.length !== 3 ||
    lines[0] !== HEADER ||
    lines[1] !== '/base16/' ||
    !/^[0-9a-fA-F]{64}$/.test(lines[2] ?? '')
  ) {
    throw new MeshError(
      'CONFIG_INVALID',
      'network.psk: expected a swarm key ("/key/swarm/psk/1.0.0/", "/base16/", 64 hex digits); create one with generatePsk()',
      { field: 'network.psk' },
    );
  }
  return new TextEncoder().encode(lines.join('\n'));
}
