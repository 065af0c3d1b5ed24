/**
 * Event topics are dot-separated segments (`user.updated`). Subscriptions may
 * use wildcards: `*` matches exactly one segment (`user.*` matches
 * `user.updated`, not `user.profile.updated`), `**` matches any number of
 * segments, including none (`user.**` matches `user`, `user.updated` and
 * `user.profile.updated`; `**` alone matches every topic).
 */
import { MeshError } from '../errors.js';

const SEGMENT = /^[A-Za-z0-9_\-:$@]+$/;

/** Validates a published topic (no wildcards). */
export function assertTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > 512) {
    throw new MeshError(
      'INVALID_PARAMS',
      'event topic must be a non-empty string of at most 512 characters',
      { topic },
    );
  }
  for (const seg of topic.split('.')) {
    if (!SEGMENT.test(seg)) {
      throw new MeshError('INVALID_PARAMS', `invalid event topic '${topic}': segment '${seg}'`, { topic });
    }
  }
}

/** Compiles a subscription pattern into a predicate; throws INVALID_PARAMS for a malformed one. */
export function compileTopicPattern(pattern: unknown): (topic: string) => boolean {
  if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > 512) {
    throw new MeshError('INVALID_PARAMS', 'subscription topic must be a non-empty string', {
      topic: pattern,
    });
  }
  const segments = pattern.split('.');
  if (!segments.includes('*') && !segments.includes('**')) {
    assertTopic(pattern);
    return (topic) => topic === pattern;
  }
  for (const seg of segments) {
    if (seg !== '*' && seg !== '**' && !SEGMENT.test(seg)) {
      throw new MeshError('INVALID_PARAMS', `invalid subscription topic '${pattern}': segment '${seg}'`, {
        topic: pattern,
      });
    }
  }
  return (topic) => matchSegments(segments, topic.split('.'));
}

/** Segment-wise match with `*` (one segment) and `**` (any number); dynamic programming, O(p x t). */
function matchSegments(pattern: readonly string[], topic: readonly string[]): boolean {
  // reach[j]: pattern[0..i) can match topic[0..j)
  let reach = new Array<boolean>(topic.length + 1).fill(false);
  reach[0] = true;
  for (const seg of pattern) {
    const next = new Array<boolean>(topic.length + 1).fill(false);
    for (let j = 0; j <= topic.length; j++) {
      if (seg === '**') next[j] = reach[j] || (j > 0 && next[j - 1]);
      else if (j > 0 && reach[j - 1]) next[j] = seg === '*' || seg === topic[j - 1];
    }
    reach = next;
  }
  return reach[topic.length];
}
