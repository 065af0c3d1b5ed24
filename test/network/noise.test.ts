/**
 * The changes to @libp2p/noise's secured streams (src/network/noise.ts): they
 * apply to every connection (a later version of the library that renames the
 * fields they rely on fails here), and messages still arrive whole: small
 * ones, several in one chunk, and one larger than a Noise message (split
 * into several ciphertexts, then joined into one write).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeshNetwork } from '../../src/network/index.js';
import { noiseTweaks } from '../../src/network/noise.js';
import { startCluster, stopAll } from '../helpers/p2p.js';

describe('Noise with one write per message and no exception per chunk', () => {
  let a: MeshNetwork;
  let b: MeshNetwork;
  beforeAll(async () => {
    [a, b] = (await startCluster(2, { id: 'noise-tweaks' })) as [MeshNetwork, MeshNetwork];
  });
  afterAll(async () => {
    await stopAll([a, b]);
  });

  it('changes every secured connection, both ends', () => {
    const { changed, skipped } = noiseTweaks();
    expect(skipped).toBe(0);
    // Each of the two nodes secured its side of at least one connection.
    expect(changed).toBeGreaterThanOrEqual(2);
  });

  it('carries small, batched and multi-ciphertext messages intact', async () => {
    const sizes = [0, 1, 100, 65_519, 65_520, 200_000, 1_000_000];
    b.direct.serve((req) => {
      const n = req.t === 'get' ? Number(req.k.slice(2)) : 0;
      // Every byte differs from its neighbours: a reordered or dropped chunk shows.
      let s = '';
      for (let i = 0; s.length < n; i++) s += String.fromCharCode(97 + (i % 26));
      return { ok: true, r: s.slice(0, n) };
    });
    const replies = await Promise.all(
      sizes.map((n) => a.direct.request(b.peerId, { t: 'get', k: `k:${n}` }, AbortSignal.timeout(10_000))),
    );
    replies.forEach((reply, i) => {
      const n = sizes[i] as number;
      expect(reply.ok).toBe(true);
      expect(reply.r).toHaveLength(n);
      if (n > 27) expect(reply.r?.slice(0, 27)).toBe('abcdefghijklmnopqrstuvwxyza');
      if (n > 0) expect(reply.r?.at(-1)).toBe(String.fromCharCode(97 + ((n - 1) % 26)));
    });
  });
});
