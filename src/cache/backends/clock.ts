/**
 * The wall clock of expiry: epoch milliseconds that stay right while the event
 * loop is blocked, read in a few nanoseconds when reads are frequent.
 *
 * A small worker thread writes `Date.now()` into shared memory every
 * millisecond; `wallNow()` reads that slot. Reading `Date.now()` on every hit
 * costs ~75-100 ns on this kind of machine (a fifth of a cached hit), and a
 * value cached by the event loop (a 1 ms timer, as lru-cache does with
 * `ttlResolution`) goes stale in a long synchronous stretch: entries are served
 * after they expired. The worker is another OS thread, so the event loop cannot
 * hold it back.
 *
 * The worker is not free: ~7.5 MiB of private memory (a Node environment of its
 * own; `resourceLimits` cannot shrink it, see BENCHMARKS.md "Node weight") and
 * ~25 ms of CPU per second while it ticks. So it runs only while reads are
 * frequent (`tuning`): it starts (or wakes) once 10,000 reads came within a
 * second, parks when a second has fewer than 1,000, and exits after 10 s
 * parked, giving its memory back. Meanwhile reads are
 * `Date.now()`: always right, and cheap at those rates. It is `unref`'d and
 * never keeps the process alive; where no worker can be started, every read is
 * `Date.now()`. Resolution: about 1 ms, plus whatever delay the OS imposes on
 * the thread.
 */
import { Worker } from 'node:worker_threads';

const shared = new SharedArrayBuffer(256);
/** The time the worker last wrote; 0 while it is parked or not started. */
const NOW = new Float64Array(shared, 0, 1);
/** 0: ticking (or booting), 1: parked, 2: exited after a long park (separate cache line from NOW). */
const STATE = new Int32Array(shared, 64, 1);
/** Bumped by every read, so the worker can tell an idle process (own cache line). */
const READS = new Int32Array(shared, 128, 1);
/** The worker's rules, read by it as it goes: [parkReads, exitAfterMs] (own cache line). */
const RULES = new Int32Array(shared, 192, 2);

const TICKING = 0;
const PARKED = 1;
/** Set by the worker as it exits after a long park; the next start makes a new one. */
const GONE = 2;

/** The start and park rates and the linger (tests change them with `tuneClock`). */
const tuning = {
  /** Reads within `WINDOW_MS` that start or wake the worker (10k/s: below, `Date.now()` costs < 1 ms/s). */
  startReads: 10_000,
  /** Reads per ~1 s of ticks below which the worker parks. */
  parkReads: 1_000,
  /** Parked this long, the worker exits. */
  exitAfterMs: 10_000,
};
const WINDOW_MS = 1_000;
RULES[0] = tuning.parkReads;
RULES[1] = tuning.exitAfterMs;

// CommonJS, evaluated in the worker: no loader, no import of ours. Every 1000
// ticks (~1 s) it parks if fewer than RULES[0] reads came; parked RULES[1] ms, it exits.
const WORKER_SOURCE = `
const { workerData: shared } = require('node:worker_threads');
const NOW = new Float64Array(shared, 0, 1);
const STATE = new Int32Array(shared, 64, 1);
const READS = new Int32Array(shared, 128, 1);
const RULES = new Int32Array(shared, 192, 2);
(function run() {
let seen = READS[0];
for (;;) {
  for (let tick = 0; tick < 1000; tick++) {
    NOW[0] = Date.now();
    Atomics.wait(STATE, 0, ${TICKING}, 1);
  }
  const reads = READS[0];
  const recent = (reads - seen) | 0;
  seen = reads;
  if (recent >= RULES[0]) continue;
  Atomics.store(STATE, 0, ${PARKED});
  NOW[0] = 0;
  while (Atomics.load(STATE, 0) === ${PARKED}) {
    if (Atomics.wait(STATE, 0, ${PARKED}, RULES[1]) === 'timed-out' &&
        Atomics.compareExchange(STATE, 0, ${PARKED}, ${GONE}) === ${PARKED}) return;
  }
  seen = READS[0];
}
})();`;

let worker: Worker | undefined;
/** Set when the worker could not start or failed: every read is `Date.now()`. */
let unavailable = false;
/** Reads that found no ticking worker, in the window that began at `windowStart`. */
let slowReads = 0;
let windowStart = 0;

function startWorker(): void {
  try {
    Atomics.store(STATE, 0, TICKING);
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: shared,
      execArgv: [],
      stdout: false,
      stderr: false,
      // No resourceLimits: a worker's bootstrap alone outgrows a 4 MB old generation.
    });
    worker = w;
    w.unref();
    w.on('error', stopUsingWorker);
    w.on('exit', () => {
      if (worker !== w) return;
      worker = undefined;
      // A worker that parked too long exits on purpose (GONE) and may start again; any other exit is a failure.
      if (Atomics.load(STATE, 0) !== GONE) stopUsingWorker();
    });
  } catch {
    stopUsingWorker();
  }
}

function stopUsingWorker(): void {
  unavailable = true;
  worker = undefined;
  NOW[0] = 0;
}

/** The slow path: no worker ticking. Answers `Date.now()` and starts or wakes the worker when reads are frequent. */
function wake(): number {
  const now = Date.now();
  if (unavailable) return now;
  if (now - windowStart >= WINDOW_MS) {
    windowStart = now;
    slowReads = 0;
  }
  if (++slowReads < tuning.startReads) return now;
  slowReads = 0;
  if (worker === undefined || Atomics.load(STATE, 0) === GONE) startWorker();
  else if (Atomics.compareExchange(STATE, 0, PARKED, TICKING) === PARKED) Atomics.notify(STATE, 0);
  return now;
}

/** Tests only: changes the start and park rates and the linger (a running worker follows at once). */
export function tuneClock(change: Partial<typeof tuning>): void {
  Object.assign(tuning, change);
  RULES[0] = tuning.parkReads;
  RULES[1] = tuning.exitAfterMs;
  slowReads = 0;
}

/** Where reads come from now: the worker's slot, or `Date.now()` (not started, parked, or unavailable). */
export function clockSource(): 'worker' | 'date' {
  return NOW[0] !== 0 ? 'worker' : 'date';
}

/** Whether a worker thread exists now (ticking or parked); false once it exited after a long park. */
export function clockWorkerAlive(): boolean {
  return worker !== undefined;
}

/** Epoch ms, right to about 1 ms however long the event loop has been blocked. */
export function wallNow(): number {
  READS[0]++;
  const t = NOW[0];
  return t !== 0 ? t : wake();
}
