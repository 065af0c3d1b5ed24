/**
 * The slot storage of the memory backend: parallel arrays indexed by slot
 * (key, value, expiry, size, LRU links), a free list, and the doubly linked
 * LRU list threaded through `next`/`prev`. Arrays grow by doubling up to
 * `maxEntries`; nothing here allocates per operation once grown.
 */

/** No slot (end of the LRU list). */
export const NONE = 0xffffffff;

export abstract class LruSlots {
  protected keyList: (string | undefined)[] = [];
  protected valList: unknown[] = [];
  protected expires: Float64Array;
  protected sizes: Uint32Array;
  protected next: Uint32Array;
  protected prev: Uint32Array;
  protected capacity: number;
  protected used = 0;
  protected readonly free: number[] = [];
  protected head = NONE;
  protected tail = NONE;

  constructor(
    protected readonly maxEntries: number,
    protected readonly maxBytes: number,
  ) {
    this.capacity = Math.min(maxEntries, 1024);
    this.expires = new Float64Array(this.capacity);
    this.sizes = new Uint32Array(maxBytes > 0 ? this.capacity : 0);
    this.next = new Uint32Array(this.capacity);
    this.prev = new Uint32Array(this.capacity);
  }

  /** Forgets every slot (the arrays keep their size). */
  protected resetSlots(): void {
    this.keyList = [];
    this.valList = [];
    this.free.length = 0;
    this.used = 0;
    this.head = NONE;
    this.tail = NONE;
  }

  protected allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.used === this.capacity) this.grow();
    return this.used++;
  }

  protected grow(): void {
    const cap = Math.min(this.maxEntries, this.capacity * 2);
    const resize = <T extends Float64Array | Uint32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.expires = resize(this.expires, (n) => new Float64Array(n));
    this.next = resize(this.next, (n) => new Uint32Array(n));
    this.prev = resize(this.prev, (n) => new Uint32Array(n));
    if (this.maxBytes > 0) this.sizes = resize(this.sizes, (n) => new Uint32Array(n));
    this.capacity = cap;
  }

  protected linkHead(i: number): void {
    this.prev[i] = NONE;
    this.next[i] = this.head;
    if (this.head !== NONE) this.prev[this.head] = i;
    this.head = i;
    if (this.tail === NONE) this.tail = i;
  }

  protected unlink(i: number): void {
    const p = this.prev[i];
    const n = this.next[i];
    if (p !== NONE) this.next[p] = n;
    else this.head = n;
    if (n !== NONE) this.prev[n] = p;
    else this.tail = p;
  }

  protected toHead(i: number): void {
    this.unlink(i);
    this.linkHead(i);
  }
}
