/**
 * @libp2p/noise with two changes to a secured connection, both measured with
 * bench/onehop-before-after.ts (CPU of a one-hop read, both ends, loopback):
 *
 * - Receiving: its length-prefix reader learns that a chunk holds no further
 *   whole message by catching a RangeError its length decoder throws, an
 *   Error with a captured stack per chunk received (~10 µs). Here the decoder
 *   answers "a message of length 0", which the reader cannot complete from
 *   fewer than 2 bytes, so it stops the same way without an exception
 *   (125 -> 97 µs).
 * - Sending: a message's 2-byte length and its ciphertext went to TCP as two
 *   buffers, and TCP writes each with a system call; here they leave as one
 *   (91 -> 77 µs).
 *
 * The handshake is untouched. Both rely on field names of the secured stream
 * (`decoder.lengthDecoder`, `encrypt`); where a later version renames them
 * nothing is changed and `noiseTweaks().skipped` counts it (a test fails on it).
 */
import type { SecuredConnection } from '@libp2p/interface';
import { noise } from '@libp2p/noise';

type Bytes = Uint8Array | { readonly length: number; getUint16(offset: number): number };

/** Noise's 2-byte big-endian length, or 0 ("not enough yet") while fewer than 2 bytes are buffered. */
function readLength(data: Bytes): number {
  if (data.length < 2) return 0;
  if (data instanceof Uint8Array) return ((data[0] as number) << 8) | (data[1] as number);
  return data.getUint16(0);
}
readLength.bytes = 2;

const counts = { changed: 0, skipped: 0 };

/** Secured connections changed, and those whose shape was not recognised. */
export function noiseTweaks(): { readonly changed: number; readonly skipped: number } {
  return { ...counts };
}

interface EncryptedShape {
  decoder?: { lengthDecoder?: ((data: Bytes) => number) & { bytes?: number } };
  encrypt?: (chunk: unknown) => Uint8Array | { readonly bufs?: unknown[]; subarray(): Uint8Array };
}

function tweak<S extends SecuredConnection>(secured: S): S {
  const stream = secured.connection as EncryptedShape;
  const decoder = stream.decoder;
  const encrypt = stream.encrypt;
  if (
    typeof decoder?.lengthDecoder === 'function' &&
    decoder.lengthDecoder.bytes === 2 &&
    typeof encrypt === 'function'
  ) {
    decoder.lengthDecoder = readLength;
    // Each message's length and ciphertext leave as one buffer: TCP writes every buffer of a
    // list with a socket write of its own, two system calls a message otherwise.
    stream.encrypt = (chunk) => {
      const out = encrypt.call(stream, chunk);
      return out instanceof Uint8Array || (out.bufs?.length ?? 0) < 2 ? out : out.subarray();
    };
    counts.changed++;
  } else counts.skipped++;
  return secured;
}

/** `noise()` for libp2p's `connectionEncrypters`, with the changes above. */
export function meshNoise(): ReturnType<typeof noise> {
  const make = noise();
  return (components) => {
    const encrypter = make(components);
    const inbound = encrypter.secureInbound.bind(encrypter);
    const outbound = encrypter.secureOutbound.bind(encrypter);
    encrypter.secureInbound = async (connection, options) => tweak(await inbound(connection, options));
    encrypter.secureOutbound = async (connection, options) => tweak(await outbound(connection, options));
    return encrypter;
  };
}
