/**
 * Frames written to one stream in one turn of the event loop leave as one
 * send: one yamux frame, one encryption and one socket write for a batch of
 * requests or replies, instead of one of each per message (with 100 calls in
 * flight, the socket writes were most of the time a call took). The flush runs
 * in the same loop iteration (setImmediate: right after the I/O callbacks that
 * queued the frames), so a lone request waits for nothing.
 */
import type { Stream } from '@libp2p/interface';

export class BatchedWriter {
  private queue: Uint8Array[] = [];
  private size = 0;
  private scheduled = false;

  constructor(
    private readonly stream: Stream,
    /** A send that failed (the stream is unusable). */
    private readonly onError: (err: Error) => void,
  ) {}

  write(bytes: Uint8Array): void {
    this.queue.push(bytes);
    this.size += bytes.byteLength;
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const queue = this.queue;
    if (queue.length === 0) return;
    const size = this.size;
    this.queue = [];
    this.size = 0;
    if (this.stream.writeStatus !== 'writable') {
      this.onError(new Error(`direct stream not writable (${this.stream.writeStatus})`));
      return;
    }
    try {
      this.stream.send(queue.length === 1 ? (queue[0] as Uint8Array) : Buffer.concat(queue, size));
    } catch (err) {
      this.onError(err as Error);
    }
  };
}
