/** A stored value with metadata: stale-while-revalidate and grace deadlines, tags, copy-on-read. */
export class CacheEnvelope {
  constructor(
    /** The cached value (a frozen copy, or a private copy when `copyOnRead`). */
    readonly value: unknown,
    /** Epoch ms until which the value is fresh; 0: fresh until the backend expires it. */
    readonly freshUntil: number,
    /** Hits must copy `value` before handing it out. */
    readonly copyOnRead: boolean,
    /**
     * Epoch ms until which a stale value is served at once (stale-while-revalidate); past it and
     * until the backend expires the entry, it only answers when the handler fails or is slow (grace).
     * 0: `freshUntil` (no stale window).
     */
    readonly staleUntil = 0,
    /** The full keys of the tag records the entry carries (see src/cache/coherence/tag-records.ts); undefined: untagged. */
    readonly tags: readonly string[] | undefined = undefined,
    /** Tagged entries: when the call that computed the value started (the tag store's clock, epoch ms). */
    readonly writtenAt = 0,
  ) {}
}
