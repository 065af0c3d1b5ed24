/**
 * What the command prints: aligned tables, colour only where a person reads
 * a terminal (never with NO_COLOR), a spinner on stderr while something takes
 * longer than a second, and the two kinds of failure (usage: exit 2; the
 * operation: exit 1 with the error's code).
 */

/** Bad usage: exit 2, with the usage of the command. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

/** The operation failed: exit 1; the message names `code`. */
export class OperationError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Output {
  readonly json: boolean;
  /** Something was printed on stdout (a failure under --json then prints no second document). */
  readonly printed: boolean;
  readonly color: boolean;
  out(text: string): void;
  err(text: string): void;
}

export function consoleOutput(json: boolean, env: NodeJS.ProcessEnv = process.env): Output {
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  const o = {
    json,
    printed: false,
    color: !json && !noColor && process.stdout.isTTY === true,
    out: (text: string) => {
      o.printed = true;
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    err: (text: string) => {
      process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
    },
  };
  return o;
}

const CODES = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1, cyan: 36 } as const;

export function paint(o: Output, style: keyof typeof CODES, text: string): string {
  return o.color ? `\u001b[${CODES[style]}m${text}\u001b[0m` : text;
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const visible = (s: string) => s.replace(ANSI, '').length;

/** Columns padded to their widest cell; numbers right-aligned. */
export function table(head: string[], rows: string[][], o: Output): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ''))));
  const numeric = head.map(
    (_, i) => rows.length > 0 && rows.every((r) => /^[-\d.,%]*$|^-$/.test(r[i] ?? '')),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        const pad = ' '.repeat(Math.max(0, widths[i]! - visible(c)));
        return numeric[i] ? pad + c : c + pad;
      })
      .join('  ')
      .trimEnd();
  return [paint(o, 'bold', line(head)), ...rows.map(line)].join('\n');
}

export const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
export const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(3));
/** The head and tail of a peer id: enough to tell members apart in a table. */
export const shortPeer = (id: string) => (id.length > 16 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id);

export function duration(msTotal: number): string {
  const s = Math.floor(msTotal / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(s / 3600);
  return h < 48 ? `${h}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(h / 24)}d`;
}

/**
 * Runs `work`, showing `label` on stderr once it has taken a second: a
 * spinner on a terminal, one plain line otherwise. `update` changes the label.
 */
export async function withProgress<T>(
  label: string,
  work: (update: (label: string) => void) => Promise<T>,
): Promise<T> {
  const tty = process.stderr.isTTY === true;
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let text = label;
  let shown = false;
  let frame = 0;
  let spin: NodeJS.Timeout | undefined;
  const draw = () => {
    if (tty) process.stderr.write(`\r\u001b[2K${frames[frame++ % frames.length]} ${text}`);
  };
  const start = setTimeout(() => {
    shown = true;
    if (tty) spin = setInterval(draw, 80);
    else process.stderr.write(`${text}…\n`);
  }, 1000);
  try {
    return await work((l) => {
      text = l;
    });
  } finally {
    clearTimeout(start);
    clearInterval(spin);
    if (shown && tty) process.stderr.write('\r\u001b[2K');
  }
}
