/**
 * Turns decorated class instances and plain-object definitions into one
 * normalized form, and keeps the services and the route table of a node.
 */
import { MeshError } from '../errors.js';
import { serviceMetadataOf } from './decorators.js';
import type { ActionInfo, ActionInvoker } from './interceptors.js';
import { ACTION_OPTION_KEYS, checkOptionKeys, SERVICE_DEFINITION_KEYS } from './option-keys.js';
import type {
  ActionDefinition,
  ActionHandler,
  ActionOptions,
  EventHandler,
  PartOptions,
  ServiceDefinition,
} from './types.js';

const NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
const ACTION_NAME = /^[A-Za-z0-9_-]+(?:[./][A-Za-z0-9_-]+)*$/;

/** An action as the node keeps it. */
export interface ActionEntry extends ActionInfo {
  readonly handler: ActionHandler;
  /** The handler wrapped in the interceptor chain; rebuilt when interceptors change. */
  invoker: ActionInvoker;
}

/** A service as the node keeps it. */
export interface ServiceEntry {
  readonly name: string;
  readonly cache: object | undefined;
  readonly actions: Map<string, ActionEntry>;
  readonly events: ReadonlyArray<{ topic: string; handler: EventHandler }>;
  readonly injections: ReadonlyArray<{ field: string | symbol; token: string }>;
  readonly instance: object | undefined;
  readonly started?: (node: unknown) => unknown;
  readonly stopped?: (node: unknown) => unknown;
}

function checkName(kind: 'service' | 'action', name: unknown, service?: string): asserts name is string {
  const re = kind === 'service' ? NAME : ACTION_NAME;
  if (typeof name !== 'string' || name.length > 128 || !re.test(name)) {
    const where = service === undefined ? '' : ` in service '${service}'`;
    throw new MeshError('INVALID_PARAMS', `invalid ${kind} name ${JSON.stringify(name)}${where}`, { name });
  }
}

function normalizeCache(cache: PartOptions | undefined): object | undefined {
  return typeof cache === 'boolean' ? { enabled: cache } : cache;
}

function actionEntry(
  service: string,
  name: string,
  options: ActionOptions,
  handler: ActionHandler,
): ActionEntry {
  checkName('action', name, service);
  if (name === 'cache' || name.startsWith('cache/')) {
    throw new MeshError(
      'CONFLICT',
      `action name '${name}' of service '${service}' is reserved for cache management`,
    );
  }
  if (typeof handler !== 'function') {
    throw new MeshError('INVALID_PARAMS', `action '${service}/${name}' has no handler function`);
  }
  const info = { service, name, path: `${service}/${name}`, options, internal: false };
  return { ...info, handler, invoker: handler as ActionInvoker };
}

/** Builds the entry of a decorated class instance or a plain-object service. */
export function toServiceEntry(input: object): ServiceEntry {
  if (input === null || typeof input !== 'object') {
    throw new MeshError(
      'INVALID_PARAMS',
      'a service is a @service class instance or an object { name, actions, events }',
    );
  }
  const meta = serviceMetadataOf(input);
  if (meta !== undefined) return fromInstance(input, meta);
  return fromDefinition(input as ServiceDefinition);
}

function fromInstance(
  instance: object,
  meta: NonNullable<ReturnType<typeof serviceMetadataOf>>,
): ServiceEntry {
  const name = meta.name;
  if (name === undefined) {
    throw new MeshError(
      'INVALID_PARAMS',
      `class ${instance.constructor.name} has @action methods but no @service decorator`,
    );
  }
  checkName('service', name);
  const target = instance as Record<string | symbol, unknown>;
  const actions = new Map<string, ActionEntry>();
  for (const { name: method, options } of meta.actions.values()) {
    const fn = target[method];
    if (typeof fn !== 'function') throw new MeshError('INVALID_PARAMS', `${name}.${method} is not a method`);
    actions.set(method, actionEntry(name, method, options, fn.bind(instance) as ActionHandler));
  }
  const events = meta.subscriptions.map(({ topic, method }) => {
    const fn = target[method];
    if (typeof fn !== 'function')
      throw new MeshError('INVALID_PARAMS', `${name}.${String(method)} is not a method`);
    return { topic, handler: fn.bind(instance) as EventHandler };
  });
  const hook = (key: 'started' | 'stopped') => {
    const fn = target[key];
    return typeof fn === 'function' ? (node: unknown) => fn.call(instance, node) : undefined;
  };
  return {
    name,
    cache: normalizeCache(meta.cache),
    actions,
    events,
    injections: meta.injections,
    instance,
    started: hook('started'),
    stopped: hook('stopped'),
  };
}

function fromDefinition(def: ServiceDefinition): ServiceEntry {
  checkName('service', def.name);
  checkOptionKeys(def, SERVICE_DEFINITION_KEYS, `addService '${def.name}'`);
  const actions = new Map<string, ActionEntry>();
  for (const [actionName, value] of Object.entries(def.actions ?? {})) {
    const { handler, options } = splitAction(def.name, actionName, value);
    actions.set(actionName, actionEntry(def.name, actionName, options, handler));
  }
  const events = Object.entries(def.events ?? {}).map(([topic, handler]) => {
    if (typeof handler !== 'function') {
      throw new MeshError(
        'INVALID_PARAMS',
        `event handler '${topic}' of service '${def.name}' is not a function`,
      );
    }
    return { topic, handler };
  });
  return {
    name: def.name,
    cache: normalizeCache(def.cache),
    actions,
    events,
    injections: [],
    instance: undefined,
    started: def.started === undefined ? undefined : (node) => def.started?.call(def, node as never),
    stopped: def.stopped === undefined ? undefined : (node) => def.stopped?.call(def, node as never),
  };
}

function splitAction(
  service: string,
  name: string,
  value: ActionDefinition,
): { handler: ActionHandler; options: ActionOptions } {
  if (typeof value === 'function') return { handler: value, options: {} };
  if (value !== null && typeof value === 'object' && typeof value.handler === 'function') {
    checkOptionKeys(value, [...ACTION_OPTION_KEYS, 'handler'], `addService '${service}', action '${name}'`);
    const { handler, ...options } = value;
    return { handler, options };
  }
  throw new MeshError(
    'INVALID_PARAMS',
    `action '${service}/${name}' must be a function or { handler, ...options }`,
  );
}
