/**
 * Compile-time checks (run by `npm run typecheck`): the hand-written public
 * option interfaces, documented field by field with `@default`, accept exactly
 * what the validating schemas accept.
 */
import type * as v from 'valibot';
import type { MemoryBackendOptions, memoryOptionsSchema } from '../src/cache/backends/memory-options.js';
import type { NetworkOptions, networkOptionsSchema } from '../src/network/options.js';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Expect<T extends true> = T;

export type Checks = [
  Expect<Same<NetworkOptions, v.InferInput<typeof networkOptionsSchema>>>,
  // The configurable part of the memory options (sizeOf and now are code only).
  Expect<
    Same<
      Pick<MemoryBackendOptions, 'maxEntries' | 'maxBytes' | 'sweepIntervalMs'>,
      v.InferInput<typeof memoryOptionsSchema>
    >
  >,
];
