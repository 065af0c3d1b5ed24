/**
 * `v.strictObject` whose messages speak of options, not of the validator:
 * an unknown key names the nearest valid ones (`unknown option 'tll' (did you
 * mean ttl? ...)`), a missing one says it is missing.
 */
import * as v from 'valibot';
import { unknownName } from '../../node/suggest.js';

type Entries = v.ObjectEntries;

/** The message of a strict object's own issues (unknown key, missing key, not an object). */
function message(entries: Entries) {
  const valid = Object.keys(entries);
  return (issue: v.BaseIssue<unknown>): string => {
    const key = issue.path?.at(-1)?.key;
    if (issue.expected === 'never' && typeof key === 'string') return unknownName('option', key, valid);
    if (typeof key === 'string' && issue.received === 'undefined')
      return `missing (required: ${valid.join(', ')})`;
    return `expected an object with ${valid.join(', ')}, got ${issue.received}`;
  };
}

/** A strict object schema with messages in the user's words. */
export function strict<const E extends Entries>(entries: E) {
  return v.strictObject(entries, message(entries));
}
