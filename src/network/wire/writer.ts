/**
 * Frames written to one stream while the current task and its promise
 * callbacks run leave together, as one send (process.nextTick fires once the
 * microtask queue has drained): one yamux frame, one encryption and one
 * socket write for the batch instead of one of each per message (with 100
 * calls in flight the socket writes were most of the time a call took). A
 * lone frame waits for nothing but that drain; setImmediate, used before,
 * cost a lone one-hop read ~6 µs of loop phases (bench/onehop-before-after.ts).
 */
import type { Stream } from '@libp2p/interface';

export class BatchedWriter {
  /** The batch to send (a flush is due whenever it holds anything). */
  private queue: Uint8Array[] = [];
  private size = 0;

  constructor(
    private readonly stream: Stream,
    /** A send that failed (the stream is unusable). */
    private readonly onError: (err: Error) => void,
  ) {}

  write(bytes: Uint8Array): void {
    this.queue.push(bytes);
    this.size += bytes.byteLength;
    if (this.queue.length === 1) process.nextTick(this.flush);
  }

  private readonly flush = (): void => {
    const queue = this.queue;
    if (queue.length === 0) return;
    const size = this.size;
    this.queue = [];
    this.size = 0;
    this.send(queue.length === 1 ? (queue[0] as Uint8Array) : Buffer.concat(queue, size));
  };

  private send(bytes: Uint8Array): void {
    if (this.stream.writeStatus !== 'writable') {
      this.onError(new Error(`direct stream not writable (${this.stream.writeStatus})`));
      return;
    }
    try {
      this.stream.send(bytes);
    } catch (err) {
      this.onError(err as Error);
    }
  }
}
