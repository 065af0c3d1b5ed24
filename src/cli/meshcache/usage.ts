/**
 * The command line: every option, which subcommand takes which, the usage
 * texts, and the parse (node:util parseArgs over the union of the options, so
 * connection options may come before or after the subcommand).
 */
import { parseArgs } from 'node:util';
import { defaultIdentityPath } from './operator.js';
import { UsageError } from './output.js';

const OPTIONS = {
  network: { type: 'string' },
  bootstrap: { type: 'string', multiple: true },
  psk: { type: 'string' },
  identity: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  service: { type: 'string' },
  watch: { type: 'boolean' },
  interval: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
} as const;

type OptionName = keyof typeof OPTIONS;
const COMMON: OptionName[] = ['network', 'bootstrap', 'psk', 'identity', 'timeout', 'json', 'help'];

interface CommandSpec {
  args: string;
  /** Positionals: fewest and most (Infinity: any number). */
  min: number;
  max: number;
  summary: string;
  extra?: OptionName[];
  details?: string;
}

export const COMMANDS: Record<string, CommandSpec> = {
  identity: { args: '', min: 0, max: 0, summary: "print the operator's peer id (nothing is joined)" },
  nodes: {
    args: '',
    min: 0,
    max: 0,
    summary: 'list the members: services, cached services, backends, uptime',
  },
  stats: {
    args: '',
    min: 0,
    max: 0,
    summary: 'hit rate, hits, misses and latency per action and per member',
    extra: ['service', 'watch', 'interval'],
    details: [
      '  --service <s>     only the actions of service s',
      '  --watch           refresh every --interval seconds until Ctrl-C (with --json: one document per line)',
      '  --interval <s>    seconds between refreshes (default 2)',
    ].join('\n'),
  },
  keys: {
    args: '<service> [pattern]',
    min: 1,
    max: 2,
    summary: "list a service's cache keys (where the members can list them)",
  },
  get: {
    args: '<service> <key>',
    min: 2,
    max: 2,
    summary: 'show one cached entry (where the members can read it)',
  },
  delete: { args: '<service> <key>', min: 2, max: 2, summary: 'remove one entry, e.g. get_user:42' },
  revoke: {
    args: '<service> <pattern>',
    min: 2,
    max: 2,
    summary: "remove the entries matching a glob, e.g. 'get_user:*'",
  },
  clear: { args: '<service>', min: 1, max: 1, summary: "remove every entry of a service's cache" },
  invalidate: {
    args: '<tag>...',
    min: 1,
    max: Number.POSITIVE_INFINITY,
    summary: 'invalidate the entries carrying any of the tags',
    extra: ['service'],
    details: '  --service <s>     only in service s (default: every cached service)',
  },
  dashboard: {
    args: '',
    min: 0,
    max: 0,
    summary: 'serve a live page of the network on 127.0.0.1 (its URL carries a random token)',
    extra: ['host', 'port', 'interval'],
    details: [
      '  --host <addr>     address to listen on (default 127.0.0.1)',
      '  --port <n>        port (default 0: any free port)',
      '  --interval <s>    seconds between samples of the members (default 2)',
    ].join('\n'),
  },
};

const CONNECTION_HELP = `Connection (each also from the environment):
  --network <id>         network id                       MESHCACHE_NETWORK
  --bootstrap <addr>     multiaddr of a member, repeatable  MESHCACHE_BOOTSTRAP (comma-separated)
  --psk <file>           pre-shared key of the network    MESHCACHE_PSK
  --identity <file>      operator key (created if missing) MESHCACHE_IDENTITY
                         default: ${defaultIdentityPath()}
  --timeout <ms>         wait for the network, and for each call (default 10000)
Output:
  --json                 print exactly one JSON document
  -h, --help             this help`;

export function usage(command?: string): string {
  const spec = command === undefined ? undefined : COMMANDS[command];
  if (command !== undefined && spec !== undefined) {
    return [
      `usage: meshcache ${command}${spec.args ? ` ${spec.args}` : ''} [options]`,
      '',
      `  ${spec.summary}`,
      ...(spec.details ? ['', spec.details] : []),
      '',
      CONNECTION_HELP,
    ].join('\n');
  }
  const width = Math.max(...Object.entries(COMMANDS).map(([n, s]) => `${n} ${s.args}`.length));
  const lines = Object.entries(COMMANDS).map(
    ([name, s]) => `  ${`${name} ${s.args}`.padEnd(width)}  ${s.summary}`,
  );
  return [
    'usage: meshcache <command> [args] [options]',
    '',
    'Joins a meshcache network as a member that hosts nothing, under your own identity:',
    "the nodes' cache.access.peers decides what you may do.",
    '',
    'Commands:',
    ...lines,
    '',
    CONNECTION_HELP,
    '',
    'Exit codes: 0 done, 1 the operation failed (the message names the code), 2 bad usage.',
    "Run 'meshcache <command> --help' for a command's options.",
  ].join('\n');
}

export interface Parsed {
  command: string | undefined;
  args: string[];
  help: boolean;
  json: boolean;
  values: {
    network?: string;
    bootstrap: string[];
    psk?: string;
    identity: string;
    timeoutMs: number;
    service?: string;
    watch: boolean;
    intervalMs: number;
    host: string;
    port: number;
  };
}

function number(name: string, text: string | undefined, fallback: number, min: number, max: number) {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max)
    throw new UsageError(`--${name} must be a number from ${min} to ${max}, got '${text}'`);
  return n;
}

export function parse(argv: string[], env: NodeJS.ProcessEnv = process.env): Parsed {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  const guess = argv.find((a) => !a.startsWith('-') && a in COMMANDS);
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message, guess);
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (command !== undefined && !(command in COMMANDS)) throw new UsageError(`unknown command '${command}'`);
  const spec = command === undefined ? undefined : COMMANDS[command]!;
  if (spec !== undefined && !values.help) {
    const allowed = new Set<string>([...COMMON, ...(spec.extra ?? [])]);
    for (const name of Object.keys(values))
      if (!allowed.has(name)) throw new UsageError(`'${command}' takes no --${name}`, command);
    if (args.length < spec.min)
      throw new UsageError(`'${command}' needs ${spec.args.split(' ')[args.length]}`, command);
    if (args.length > spec.max)
      throw new UsageError(
        `'${command}' takes at most ${spec.max} argument(s): ${spec.args || 'none'}`,
        command,
      );
  }
  const bootstrap = values.bootstrap ?? (env.MESHCACHE_BOOTSTRAP ?? '').split(',');
  const psk = values.psk ?? (env.MESHCACHE_PSK || undefined);
  const network = values.network ?? (env.MESHCACHE_NETWORK || undefined);
  const service = values.service;
  return {
    command,
    args,
    help: values.help === true,
    json: values.json === true,
    values: {
      bootstrap: bootstrap.map((s) => s.trim()).filter((s) => s.length > 0),
      identity: values.identity ?? (env.MESHCACHE_IDENTITY || defaultIdentityPath(env)),
      timeoutMs: number('timeout', values.timeout, 10_000, 100, 600_000),
      watch: values.watch === true,
      intervalMs: number('interval', values.interval, 2, 0.2, 3600) * 1000,
      host: values.host ?? '127.0.0.1',
      port: number('port', values.port, 0, 0, 65_535),
      ...(network === undefined ? {} : { network }),
      ...(psk === undefined ? {} : { psk }),
      ...(service === undefined ? {} : { service }),
    },
  };
}
