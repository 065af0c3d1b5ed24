/**
 * A node's identity on disk (`network.identity`): its private key, so the
 * node keeps its peer id across restarts and can be named in access lists.
 * Created on first start (mode 0600); a file that is not a key is refused.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { MeshError } from '../errors.js';

/** Reads the key at `path`, or creates one there when no file exists. */
export async function loadIdentity(path: string): Promise<PrivateKey> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new MeshError(
        'CONFIG_INVALID',
        `network.identity: cannot read ${path}: ${(err as Error).message}`,
        {
          field: 'network.identity',
          path,
        },
      );
    }
    const key = await generateKeyPair('Ed25519');
    await mkdir(dirname(path), { recursive: true });
    // 'wx': two nodes started at once on one path never overwrite each other's key.
    await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' }).catch(async (e) => {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    });
    return loadIdentity(path);
  }
  try {
    return privateKeyFromProtobuf(bytes);
  } catch (err) {
    throw new MeshError(
      'CONFIG_INVALID',
      `network.identity: ${path} is not a private key file (${(err as Error).message}); remove it to have a new identity created, or point to the node's key file`,
      { field: 'network.identity', path },
    );
  }
}
