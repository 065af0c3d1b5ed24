/**
 * Fewer yamux window updates on the one-hop streams. js-yamux (@libp2p/yamux 8)
 * answers every data frame it receives with a window-update frame, so each
 * request and each reply of the record protocol cost a second frame: one more
 * encryption, socket write and wake-up of the other process, on the critical
 * path of every one-hop read (BENCHMARKS.md, "Frames per request"). go-yamux
 * sends one only when half of the receive window is used; a stream tuned here
 * does the same. Flow control is unchanged: the update still goes out before
 * the sender could run out of window, and every other case (the SYN/ACK of a
 * new stream, a paused stream) takes yamux's own path.
 */
import type { Stream } from '@libp2p/interface';

/** yamux's `StreamState.Established` (@libp2p/yamux stream.js). */
const ESTABLISHED = 3;

/** The fields of a js-yamux stream this relies on (checked at run time: another muxer is left alone). */
interface YamuxStreamFields {
  state: number;
  recvWindow: number;
  recvWindowCapacity: number;
  sendWindowUpdate(): void;
}

function isYamuxStream(stream: object): stream is YamuxStreamFields {
  const s = stream as Partial<YamuxStreamFields>;
  return (
    typeof s.sendWindowUpdate === 'function' &&
    typeof s.recvWindow === 'number' &&
    typeof s.recvWindowCapacity === 'number' &&
    typeof s.state === 'number'
  );
}

/** Makes `stream` send a window update only once half its receive window is used; false when it is not a yamux stream. */
export function deferWindowUpdates(stream: Stream): boolean {
  if (!isYamuxStream(stream)) return false;
  const s = stream;
  const update = s.sendWindowUpdate.bind(s);
  s.sendWindowUpdate = () => {
    if (s.state === ESTABLISHED && s.recvWindowCapacity > s.recvWindow / 2) return;
    update();
  };
  return true;
}
