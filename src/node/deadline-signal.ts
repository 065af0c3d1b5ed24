/**
 * An AbortSignal that aborts after `ms`, like `AbortSignal.timeout`, but whose
 * timer keeps the process alive while somebody awaits the work it bounds
 * (Node unref's the timer of `AbortSignal.timeout`, so a process with nothing
 * else alive would exit mid-operation). Call `done()` when the work settles.
 */
export interface DeadlineSignal {
  readonly signal: AbortSignal;
  /** Clears the timer; the signal stays as it is. */
  done(): void;
}

export function deadlineSignal(ms: number): DeadlineSignal {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`the operation took longer than ${ms} ms`, 'TimeoutError')),
    ms,
  );
  return { signal: controller.signal, done: () => clearTimeout(timer) };
}

/** Runs `work` with a deadline signal, clearing its timer when the work settles. */
export async function withDeadline<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = deadlineSignal(ms);
  try {
    return await work(deadline.signal);
  } finally {
    deadline.done();
  }
}
