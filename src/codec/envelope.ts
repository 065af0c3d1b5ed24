/** A stored value with metadata: stale-while-revalidate deadline and copy-on-read. */
export class CacheEnvelope {
  constructor(
    /** The cached value (a frozen copy, or a private copy when `copyOnRead`). */
    readonly value: unknown,
    /** Epoch ms until which the value is fresh; 0: fresh until the backend expires it. */
    readonly freshUntil: number,
    /** Hits must copy `value` before handing it out. */
    readonly copyOnRead: boolean,
  ) {}
}
