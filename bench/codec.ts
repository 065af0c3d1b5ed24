/**
 * The value codec (Redis, DHT, network events) beside well-kept
 * serializers: v8's structured clone (`node:v8`), msgpackr 2 (plain and with
 * `structuredClone`), devalue 6 and superjson 2. Encode and decode of a typical
 * ~200-byte object and a ~100 KB one, encoded size, and which kinds of values
 * come back as they went in. All cases run interleaved in one process.
 */
import v8 from 'node:v8';
import * as devalue from 'devalue';
import { Packr } from 'msgpackr';
import superjson from 'superjson';
import { decodeValue, encodeValue } from '../src/codec/index.js';
import { type Case, measure, table } from './harness.js';

interface Codec {
  name: string;
  encode: (v: unknown) => string | Uint8Array;
  decode: (e: string | Uint8Array) => unknown;
}

const packr = new Packr();
const packrClone = new Packr({ structuredClone: true });

const CODECS: Codec[] = [
  { name: 'meshcache codec (JSON text)', encode: encodeValue, decode: (e) => decodeValue(e) },
  {
    name: 'v8 serialize (bytes)',
    encode: (v) => v8.serialize(v),
    decode: (e) => v8.deserialize(e as Buffer),
  },
  {
    name: 'v8 serialize + base64 (text)',
    encode: (v) => v8.serialize(v).toString('base64'),
    decode: (e) => v8.deserialize(Buffer.from(e as string, 'base64')),
  },
  { name: 'msgpackr (bytes)', encode: (v) => packr.pack(v), decode: (e) => packr.unpack(e as Buffer) },
  {
    name: 'msgpackr structuredClone (bytes)',
    encode: (v) => packrClone.pack(v),
    decode: (e) => packrClone.unpack(e as Buffer),
  },
  { name: 'devalue (text)', encode: (v) => devalue.stringify(v), decode: (e) => devalue.parse(e as string) },
  {
    name: 'superjson (text)',
    encode: (v) => superjson.stringify(v),
    decode: (e) => superjson.parse(e as string),
  },
];

/** A typical cached row: ~200 bytes as JSON, one Date. */
function row(i: number) {
  return {
    id: i,
    name: `User number ${i}`,
    email: `user${i}@example.com`,
    active: i % 3 !== 0,
    roles: ['reader', 'writer'],
    score: i * 1.5,
    createdAt: new Date(1_767_225_600_000 + i * 1000),
    address: { city: 'London', zip: `N${i % 9} 9GU` },
  };
}
const SMALL = row(42);
/** ~100 KB: a page of 500 rows. */
const LARGE = { page: 1, total: 500, items: Array.from({ length: 500 }, (_, i) => row(i)) };

const bytes = (e: string | Uint8Array) => (typeof e === 'string' ? Buffer.byteLength(e) : e.byteLength);

const fmt = new Intl.NumberFormat('en-US');

/** Kinds of values and how to tell that one came back intact. */
const KINDS: [string, () => unknown, (back: any) => boolean][] = [
  ['Date', () => new Date(5), (b) => b instanceof Date && b.getTime() === 5],
  ['BigInt', () => 2n ** 70n, (b) => b === 2n ** 70n],
  ['Map', () => new Map([[1, 'a']]), (b) => b instanceof Map && b.get(1) === 'a'],
  ['Set', () => new Set([1]), (b) => b instanceof Set && b.has(1)],
  ['Buffer', () => Buffer.from([1, 2]), (b) => Buffer.isBuffer(b) && b[1] === 2],
  ['Float64Array', () => new Float64Array([1.5]), (b) => b instanceof Float64Array && b[0] === 1.5],
  [
    'NaN, ±Infinity, -0',
    () => [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0],
    (b) =>
      Number.isNaN(b[0]) &&
      b[1] === Number.POSITIVE_INFINITY &&
      b[2] === Number.NEGATIVE_INFINITY &&
      Object.is(b[3], -0),
  ],
  ['undefined in object', () => ({ u: undefined }), (b) => Object.hasOwn(b, 'u') && b.u === undefined],
  ['undefined in array', () => [undefined], (b) => b.length === 1 && 0 in b && b[0] === undefined],
  // biome-ignore lint/suspicious/noSparseArray: the kind measured
  ['sparse array hole', () => [1, , 3], (b) => b.length === 3 && !(1 in b) && b[2] === 3],
  ['boxed String', () => new String('ab'), (b) => b instanceof String && b.valueOf() === 'ab'],
  [
    'own __proto__ keys (untrusted JSON)',
    () => JSON.parse('{"a":{"__proto__":{"x":1}},"__proto__":{"p":true},"b":1}'),
    (b) =>
      Reflect.ownKeys(b).join() === 'a,__proto__,b' &&
      Reflect.ownKeys(b.a).join() === '__proto__' &&
      Object.getPrototypeOf(b) === Object.prototype &&
      ({} as { p?: unknown }).p === undefined,
  ],
  ['lone surrogate', () => '\uD800', (b) => b === '\uD800'],
  ['toJSON(key) honoured', () => ({ k: { toJSON: (key: string) => `key=${key}` } }), (b) => b.k === 'key=k'],
];

function survival(): string {
  const lines = [
    '### Which values survive a round trip',
    '',
    `| value | ${CODECS.map((c) => c.name).join(' | ')} |`,
    `|---|${CODECS.map(() => ':---:').join('|')}|`,
  ];
  const totals = CODECS.map(() => 0);
  for (const [kind, make, ok] of KINDS) {
    const cells = CODECS.map((c, i) => {
      try {
        if (ok(c.decode(c.encode(make())))) {
          totals[i]++;
          return 'yes';
        }
        return 'no';
      } catch {
        return 'throws';
      }
    });
    lines.push(`| ${kind} | ${cells.join(' | ')} |`);
  }
  lines.push(`| **total (of ${KINDS.length})** | ${totals.map((t) => `**${t}**`).join(' | ')} |`);
  return lines.join('\n');
}

function sizes(): string {
  const lines = [
    '### Encoded size (bytes)',
    '',
    '| codec | ~200 B object | ~100 KB object |',
    '|---|---:|---:|',
  ];
  for (const c of CODECS)
    lines.push(
      `| ${c.name} | ${fmt.format(bytes(c.encode(SMALL)))} | ${fmt.format(bytes(c.encode(LARGE)))} |`,
    );
  return lines.join('\n');
}

function cases(value: unknown, op: 'encode' | 'decode'): Case[] {
  return CODECS.map((c) => {
    const encoded = c.encode(value);
    let sink: unknown;
    return {
      name: c.name,
      run:
        op === 'encode'
          ? (n) => {
              for (let i = 0; i < n; i++) sink = c.encode(value);
            }
          : (n) => {
              for (let i = 0; i < n; i++) sink = c.decode(encoded);
              if (sink === Symbol.iterator) throw new Error('unreachable');
            },
    };
  });
}

export async function benchCodec(): Promise<string> {
  const base = CODECS[0].name;
  const out = [survival(), sizes()];
  out.push(table('Encode, ~200 B object (one Date)', await measure(cases(SMALL, 'encode')), base));
  out.push(table('Decode, ~200 B object', await measure(cases(SMALL, 'decode')), base));
  out.push(
    table('Encode, ~100 KB object (500 rows, 500 Dates)', await measure(cases(LARGE, 'encode')), base),
  );
  out.push(table('Decode, ~100 KB object', await measure(cases(LARGE, 'decode')), base));
  return out.join('\n\n');
}
