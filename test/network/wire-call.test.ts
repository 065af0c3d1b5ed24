/** The `call` message's hand checks agree with its schema, the trace context carrier (`tc`) included. */
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { directRequestSchema, parseDirectRequest } from '../../src/network/wire/index.js';

const base = { t: 'call', p: 'user/get_user', a: '{"id":1}', d: 0 };
const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('call on the wire', () => {
  it('checks calls as the schema does', () => {
    const calls = [
      base,
      { ...base, tc: { traceparent } },
      { ...base, tc: { traceparent, tracestate: 'vendor=1' } },
      { ...base, tc: {} },
      { ...base, tc: null },
      { ...base, tc: 'traceparent' },
      { ...base, tc: [traceparent] },
      { ...base, tc: { traceparent: 7 } },
      { ...base, tc: { '': 'x' } },
      { ...base, tc: { traceparent: 'x'.repeat(1025) } },
      { ...base, tc: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`h${i}`, 'v'])) },
      { ...base, c: 'bypass', rid: 'r1', from: 'web/home', tc: { traceparent } },
    ];
    for (const c of calls)
      expect(parseDirectRequest(c) !== undefined, JSON.stringify(c)).toBe(
        v.safeParse(directRequestSchema, c).success,
      );
  });

  it('keeps the carrier, and only its entries', () => {
    expect(parseDirectRequest({ ...base, tc: { traceparent, tracestate: 'a=b' } })).toEqual({
      ...base,
      tc: { traceparent, tracestate: 'a=b' },
    });
    expect(parseDirectRequest({ ...base, tc: { traceparent: 7 } })).toBeUndefined();
  });
});
