/**
 * What Linux says about a process (/proc/<pid>): CPU time (utime + stime),
 * resident memory and bytes read and written (sockets and pipes alike). The
 * scale benchmark reads them from outside, so measuring costs the node nothing.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** Clock ticks per second of utime/stime (CLK_TCK, 100 on Linux). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

export interface ProcSample {
  /** When read (performance.now() of this process), ms. */
  readonly at: number;
  /** utime + stime, seconds. */
  readonly cpuSeconds: number;
  readonly rssBytes: number;
  /** rchar + wchar: every read and write syscall (TCP to peers, and the pipes of the harness). */
  readonly ioBytes: number;
}

/** Reads `pid` now; undefined when it is gone. */
export function sample(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (in parentheses, which may hold spaces): state is field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const rssPages = Number(fields[21]);
    let ioBytes = Number.NaN;
    try {
      const io = readFileSync(`/proc/${pid}/io`, 'utf8');
      const get = (k: string) => Number(new RegExp(`^${k}: (\\d+)$`, 'm').exec(io)?.[1] ?? Number.NaN);
      ioBytes = get('rchar') + get('wchar');
    } catch {}
    return {
      at: performance.now(),
      cpuSeconds: (utime + stime) / clockTicks(),
      rssBytes: rssPages * 4096,
      ioBytes,
    };
  } catch {
    return undefined;
  }
}

/** CPU between two samples, % of one core. */
export function cpuPercent(a: ProcSample, b: ProcSample): number {
  return ((b.cpuSeconds - a.cpuSeconds) / ((b.at - a.at) / 1000)) * 100;
}

/** True while `pid` exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** `uptime` (load averages), for the record. */
export function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return 'uptime unavailable';
  }
}
