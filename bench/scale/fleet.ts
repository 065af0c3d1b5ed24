/**
 * Every process the scale benchmark started, so that all of them stop: a
 * bounded stop at the end of each size, and SIGKILL for whatever is left on
 * Ctrl-C, SIGTERM, a failure or the harness's own exit.
 */
import { NodeProcess, type SpawnOptions } from '../../test/helpers/cluster.js';

export class Fleet {
  private readonly live = new Set<NodeProcess>();
  /** The pid of every process ever started (checked gone at the end). */
  readonly pids: number[] = [];

  /** Spawns one process and keeps it until it is stopped. */
  async spawn(options: SpawnOptions): Promise<NodeProcess> {
    const p = await NodeProcess.spawn(options);
    if (p.child.pid !== undefined) this.pids.push(p.child.pid);
    this.live.add(p);
    p.child.once('exit', () => this.live.delete(p));
    return p;
  }

  /**
   * Spawns `count` processes, `concurrency` at a time; `options(i)` gives the
   * i-th one's (0-based). A failure stops nothing here: the caller's stop does.
   */
  async spawnMany(
    count: number,
    concurrency: number,
    /** The options of the i-th process, given those already up. */
    options: (i: number, up: readonly NodeProcess[]) => SpawnOptions,
  ): Promise<NodeProcess[]> {
    const out: NodeProcess[] = [];
    for (let i = 0; i < count; i += concurrency) {
      const batch = Array.from({ length: Math.min(concurrency, count - i) }, (_, j) =>
        this.spawn(options(i + j, out)),
      );
      const settled = await Promise.allSettled(batch);
      for (const s of settled) if (s.status === 'fulfilled') out.push(s.value);
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
    return out;
  }

  /** Stops `procs` (all live ones by default): asked to stop, killed after `timeoutMs`. */
  async stop(procs: Iterable<NodeProcess> = this.live, timeoutMs = 10_000): Promise<void> {
    await Promise.allSettled([...procs].map((p) => p.stop(timeoutMs)));
  }

  /** SIGKILL to every live process, at once (signal handlers, exit). */
  killAll(): void {
    for (const p of this.live) {
      try {
        p.child.kill('SIGKILL');
      } catch {}
    }
  }

  get size(): number {
    return this.live.size;
  }
}

/** Kills the fleet's processes when this process is interrupted or exits; returns the remover. */
export function killOnExit(fleet: Fleet): () => void {
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`\n${sig}: killing ${fleet.size} node processes\n`);
    fleet.killAll();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  const onExit = () => fleet.killAll();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onExit);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  };
}
