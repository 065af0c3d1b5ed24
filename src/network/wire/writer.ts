/**
 * Frames written to one stream in one turn of the event loop leave together:
 * the first is sent at once (a lone request waits for nothing), and the ones
 * that follow it in the same turn are joined into one send right after the
 * turn's I/O callbacks (setImmediate): one yamux frame, one encryption and one
 * socket write for the batch instead of one of each per message (with 100
 * calls in flight the socket writes were most of the time a call took).
 */
import type { Stream } from '@libp2p/interface';

export class BatchedWriter {
  private queue: Uint8Array[] = [];
  private size = 0;
  /** True from a send until the end of its turn: frames written meanwhile wait for the flush. */
  private batching = false;

  constructor(
    private readonly stream: Stream,
    /** A send that failed (the stream is unusable). */
    private readonly onError: (err: Error) => void,
  ) {}

  write(bytes: Uint8Array): void {
    if (this.batching) {
      this.queue.push(bytes);
      this.size += bytes.byteLength;
      return;
    }
    this.batching = true;
    setImmediate(this.flush);
    this.send(bytes);
  }

  private readonly flush = (): void => {
    this.batching = false;
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
