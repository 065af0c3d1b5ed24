/**
 * Runtime gaps of Node 20 that meshcache and its dependencies rely on. Imported
 * first by the package entry point, so it runs before any decorated class is
 * defined and before libp2p loads.
 *
 * - `Symbol.metadata`: TypeScript 5 standard decorators keep per-class metadata
 *   there; without it `context.metadata` is undefined on Node 20.
 * - `Promise.withResolvers`: called by libp2p 3 (native from Node 22).
 */
const sym = Symbol as { metadata?: symbol };
sym.metadata ??= Symbol.for('Symbol.metadata');

const P = Promise as unknown as { withResolvers?: unknown };
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

export {};
