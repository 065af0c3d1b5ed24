/**
 * The wall clock of expiry: epoch milliseconds that stay right while the event
 * loop is blocked, read in a few nanoseconds.
 *
 * A small worker thread writes `Date.now()` into shared memory every
 * millisecond; `wallNow()` reads that slot. Reading `Date.now()` on every hit
 * costs ~100 ns on this kind of machine (a third of a cached hit), and a value
 * cached by the event loop (a 1 ms timer, as lru-cache does with `ttlResolution`)
 * goes stale in a long synchronous stretch: entries are served after they expired.
 * The worker is another OS thread, so the event loop cannot hold it back.
 *
 * The worker starts on the first read and parks after a second without reads
 * (no CPU while the cache is idle); a read that finds it parked wakes it and
 * answers with `Date.now()` meanwhile. It is `unref`'d and never keeps the
 * process alive. Where no worker can be started, every read is `Date.now()`.
 * Resolution: about 1 ms, plus whatever delay the OS imposes on the thread.
 */
import { Worker } from 'node:worker_threads';

const shared = new SharedArrayBuffer(192);
/** The time the worker last wrote; 0 while it is parked or not started. */
const NOW = new Float64Array(shared, 0, 1);
/** 0: ticking, 1: parked (separate cache line from NOW). */
const STATE = new Int32Array(shared, 64, 1);
/** Bumped by every read, so the worker can tell an idle process (own cache line). */
const READS = new Int32Array(shared, 128, 1);

const TICKING = 0;
const PARKED = 1;
/** Ticks (ms) without a read before the worker parks. */
const IDLE_TICKS = 1000;

// CommonJS, evaluated in the worker: no loader, no import of ours.
const WORKER_SOURCE = `
const { workerData: shared } = require('node:worker_threads');
const NOW = new Float64Array(shared, 0, 1);
const STATE = new Int32Array(shared, 64, 1);
const READS = new Int32Array(shared, 128, 1);
let seen = -1;
let idle = 0;
for (;;) {
  NOW[0] = Date.now();
  Atomics.wait(STATE, 0, ${TICKING}, 1);
  const reads = READS[0];
  if (reads !== seen) { seen = reads; idle = 0; continue; }
  if (++idle < ${IDLE_TICKS}) continue;
  Atomics.store(STATE, 0, ${PARKED});
  NOW[0] = 0;
  while (Atomics.load(STATE, 0) === ${PARKED}) Atomics.wait(STATE, 0, ${PARKED});
  idle = 0;
}`;

let worker: Worker | undefined;
/** Set when the worker could not start or has exited: every read is `Date.now()`. */
let unavailable = false;

function startWorker(): void {
  try {
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: shared,
      execArgv: [],
      stdout: false,
      stderr: false,
      // No resourceLimits: a worker's bootstrap alone outgrows a 4 MB old generation.
    });
    worker.unref();
    worker.on('error', stopUsingWorker);
    worker.on('exit', stopUsingWorker);
  } catch {
    stopUsingWorker();
  }
}

function stopUsingWorker(): void {
  unavailable = true;
  worker = undefined;
  NOW[0] = 0;
}

/** The slow path: the worker is parked, booting, or gone. */
function wake(): number {
  if (!unavailable) {
    if (worker === undefined) startWorker();
    else if (Atomics.load(STATE, 0) === PARKED) {
      Atomics.store(STATE, 0, TICKING);
      Atomics.notify(STATE, 0);
    }
  }
  return Date.now();
}

/** Where reads come from now: the worker's slot, or `Date.now()` (not started, parked, or unavailable). */
export function clockSource(): 'worker' | 'date' {
  return NOW[0] !== 0 ? 'worker' : 'date';
}

/** Epoch ms, right to about 1 ms however long the event loop has been blocked. */
export function wallNow(): number {
  READS[0]++;
  const t = NOW[0];
  return t !== 0 ? t : wake();
}
