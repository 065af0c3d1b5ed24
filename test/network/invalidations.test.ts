/** Invalidation notices as received from peers: shape checks (untrusted JSON) and gap detection. */
import { describe, expect, it } from 'vitest';
import {
  checkNotice,
  InvalidationSequencer,
  MAX_NOTICE_TAG_LENGTH,
  MAX_NOTICE_TAGS,
} from '../../src/network/invalidations.js';

describe('invalidation notices', () => {
  it('accepts the four ops in their documented shape', () => {
    for (const n of [
      { scope: 's/', op: 'delete', keys: ['a', 'b'] },
      { scope: 's/', op: 'clear' },
      { scope: 's/', op: 'revoke', pattern: 'get_*' },
      { scope: 't/*/', op: 'tags', tags: ['user:1', 'org:2'] },
    ])
      expect(checkNotice(n)).toBe(n);
  });

  it('refuses what a peer may send that is not a notice', () => {
    const long = 'x'.repeat(MAX_NOTICE_TAG_LENGTH + 1);
    const many = Array.from({ length: MAX_NOTICE_TAGS + 1 }, (_, i) => `t${i}`);
    for (const n of [
      null,
      'tags',
      [],
      { op: 'clear' },
      { scope: 1, op: 'clear' },
      { scope: 's/', op: 'drop' },
      { scope: 's/', op: 'delete', keys: 'a' },
      { scope: 's/', op: 'delete', keys: [1] },
      { scope: 's/', op: 'revoke' },
      { scope: 't/', op: 'tags' },
      { scope: 't/', op: 'tags', tags: [] },
      { scope: 't/', op: 'tags', tags: ['ok', ''] },
      { scope: 't/', op: 'tags', tags: ['ok', 7] },
      { scope: 't/', op: 'tags', tags: { 0: 'a', length: 1 } },
      { scope: 't/', op: 'tags', tags: [long] },
      { scope: 't/', op: 'tags', tags: many },
    ])
      expect(checkNotice(n)).toBeUndefined();
  });

  it('a malformed notice is dropped, and the next one from that publisher shows the gap', () => {
    const sender = new InvalidationSequencer();
    const receiver = new InvalidationSequencer();
    const first = sender.wrap({ scope: 't/*/', op: 'tags', tags: ['a'] });
    expect(receiver.unwrap(first, 'peer')).toEqual({ notice: first.n, gap: false });
    const bad = sender.wrap({ scope: 't/*/', op: 'tags', tags: [] });
    expect(receiver.unwrap(bad, 'peer')).toBeUndefined();
    const third = sender.wrap({ scope: 't/*/', op: 'tags', tags: ['b'] });
    expect(receiver.unwrap(third, 'peer')?.gap).toBe(true);
  });
});
