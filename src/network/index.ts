/**
 * The P2P layer of meshcache: a node joins one network (by id), finds its peers
 * from a bootstrap list, shares a Kademlia DHT with them and exchanges events
 * over gossipsub, all on protocols and topics named after the network id.
 *
 * ```ts
 * const network = new MeshNetwork({ id: 'default', bootstrap: ['/ip4/10.0.0.1/tcp/4001/p2p/12D3…'] }, logger);
 * await network.start();
 * network.onEvent((topic, data, from) => …);
 * await network.publishEvent('user.updated', { id: 1 });
 * network.on('peer:join', (peerId) => …);
 * ```
 *
 * Events (node:events EventEmitter): `peer:join` / `peer:leave` (peer id) when
 * a member of this network connects / disconnects; `online` / `offline` when
 * the node goes from no member to one, and back.
 */
import '../polyfills.js';
import { EventEmitter } from 'node:events';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Message } from '@libp2p/gossipsub';
import type { IdentifyResult, PeerId, PrivateKey } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import type { Logger } from 'pino';
import { decodeValue, encodeValue } from '../codec/index.js';
import { fromZodError, MeshError } from '../errors.js';
import { ClockWatch } from './clock.js';
import { MeshDht } from './dht.js';
import {
  INVALIDATION_MARK,
  type InvalidationHandler,
  type InvalidationNotice,
  InvalidationSequencer,
} from './invalidations.js';
import { createMeshLibp2p, type MeshLibp2p } from './libp2p.js';
import { LwwDatastore, type WriteFilter } from './lww-datastore.js';
import { controlTopic, eventsTopic, kadProtocol } from './names.js';
import { NETWORK_DEFAULTS, type NetworkOptions, networkOptionsSchema, validateAddresses } from './options.js';
import { loadPsk } from './psk.js';
import { SyncService } from './sync.js';

export { ClockWatch, DEFAULT_CLOCK_TOLERANCE_MS } from './clock.js';
export { MeshDht, sortByDistance } from './dht.js';
export type { InvalidationHandler, InvalidationMeta, InvalidationNotice } from './invalidations.js';
export type { LocalRecord, WriteFilter } from './lww-datastore.js';
export { controlTopic, eventsTopic, kadProtocol } from './names.js';
export { type NetworkOptions, networkOptionsSchema } from './options.js';
export { generatePsk, loadPsk } from './psk.js';
export { compareRecords, isExpired, type StoredRecord, writeClock } from './record.js';

/** Receives an application event published by another node of the network. */
export type EventHandler = (topic: string, data: unknown, fromPeer: string) => void;
/** Receives a control message (an object) published by another node of the network. */
export type ControlHandler = (message: Record<string, unknown>, fromPeer: string) => void;

export interface MeshNetworkEvents {
  'peer:join': [peerId: string];
  'peer:leave': [peerId: string];
  online: [];
  offline: [];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class MeshNetwork extends EventEmitter<MeshNetworkEvents> {
  readonly networkId: string;
  private readonly options: Required<Omit<NetworkOptions, 'psk'>> & { psk?: Uint8Array };
  private readonly logger: Logger;
  /** Clock offsets of the peers (measured from what they send; see docs/dht.md, "Clocks"). */
  readonly clock = new ClockWatch();
  private readonly datastore = new LwwDatastore(this.clock);
  private privateKey: PrivateKey | undefined;
  private selfId: string | undefined;
  private node: MeshLibp2p | undefined;
  private meshDht: MeshDht | undefined;
  private readonly members = new Set<string>();
  private readonly eventHandlers = new Set<EventHandler>();
  private readonly controlHandlers = new Set<ControlHandler>();
  private readonly invalidationHandlers = new Set<InvalidationHandler>();
  private readonly sequencer = new InvalidationSequencer();
  private redialTimer: NodeJS.Timeout | undefined;
  private discoverTimer: NodeJS.Timeout | undefined;
  private discovering = false;
  private detach: (() => void) | undefined;
  readonly sync: SyncService;

  constructor(options: NetworkOptions, logger: Logger) {
    super();
    const parsed = networkOptionsSchema.safeParse(options);
    if (!parsed.success) {
      throw fromZodError(parsed.error, { code: 'CONFIG_INVALID', fieldPrefix: 'network.' });
    }
    const o = parsed.data;
    this.networkId = o.id;
    this.options = {
      id: o.id,
      listen: o.listen ?? [...NETWORK_DEFAULTS.listen],
      bootstrap: o.bootstrap ?? [],
      allow: o.allow ?? [...NETWORK_DEFAULTS.allow],
      dialTimeoutMs: o.dialTimeoutMs ?? NETWORK_DEFAULTS.dialTimeoutMs,
      redialIntervalMs: o.redialIntervalMs ?? NETWORK_DEFAULTS.redialIntervalMs,
      discoveryIntervalMs: o.discoveryIntervalMs ?? NETWORK_DEFAULTS.discoveryIntervalMs,
      ...(o.psk === undefined ? {} : { psk: loadPsk(o.psk) }),
    };
    validateAddresses('listen', this.options.listen);
    validateAddresses('bootstrap', this.options.bootstrap);
    this.logger = logger.child({ component: 'network', networkId: this.networkId });
    this.clock.logger = this.logger;
    this.sync = new SyncService(this.networkId, this.logger);
  }

  /** True between `start()` and `stop()`. */
  get started(): boolean {
    return this.node !== undefined;
  }

  /** This node's peer id (known after the first start; stable across stop/start of the same instance). */
  get peerId(): string {
    if (this.selfId === undefined)
      throw new MeshError('NOT_STARTED', `network ${this.networkId} was never started`);
    return this.selfId;
  }

  /** The DHT primitives (for the DHT cache backend). */
  get dht(): MeshDht {
    if (this.meshDht === undefined) throw new MeshError('NOT_STARTED', 'the network is not started');
    return this.meshDht;
  }

  /** The libp2p node (advanced use; undefined when stopped). */
  get libp2p(): MeshLibp2p | undefined {
    return this.node;
  }

  /** Multiaddrs other nodes can dial, each ending with `/p2p/<peer id>`. */
  addresses(): string[] {
    return this.requireNode()
      .getMultiaddrs()
      .map((ma) => ma.toString());
  }

  /** Peer ids of the connected members of this network. */
  peers(): string[] {
    return [...this.members];
  }

  async start(): Promise<void> {
    if (this.node !== undefined) return;
    this.privateKey ??= await generateKeyPair('Ed25519');
    const node = await createMeshLibp2p({
      networkId: this.networkId,
      privateKey: this.privateKey,
      datastore: this.datastore,
      listen: this.options.listen,
      allow: this.options.allow,
      dialTimeoutMs: this.options.dialTimeoutMs,
      ...(this.options.psk === undefined ? {} : { psk: this.options.psk }),
    });
    try {
      await node.start();
    } catch (err) {
      await Promise.resolve(node.stop()).catch(() => {});
      throw new MeshError(
        'NETWORK_ERROR',
        `network ${this.networkId}: cannot start: ${(err as Error).message}`,
        {},
        err,
      );
    }
    this.node = node;
    this.selfId = node.peerId.toString();
    this.meshDht = new MeshDht(
      node.services.dht,
      this.datastore,
      node.peerId.toString(),
      this.logger,
      this.clock,
    );
    this.detach = this.attach(node);
    await this.sync.start(node);
    node.services.pubsub.subscribe(eventsTopic(this.networkId));
    node.services.pubsub.subscribe(controlTopic(this.networkId));
    this.logger.info({ peerId: this.peerId, addresses: this.addresses() }, 'network started');
    await this.dialBootstrap(true);
    let ticks = 0;
    const discoverEvery = Math.max(
      1,
      Math.round(this.options.discoveryIntervalMs / this.options.redialIntervalMs),
    );
    this.redialTimer = setInterval(() => {
      void this.dialBootstrap(false);
      if (++ticks % discoverEvery === 0 || this.members.size === 0) this.discoverSoon();
    }, this.options.redialIntervalMs);
    this.redialTimer.unref();
  }

  async stop(): Promise<void> {
    const node = this.node;
    if (node === undefined) return;
    clearInterval(this.redialTimer);
    clearTimeout(this.discoverTimer);
    this.discoverTimer = undefined;
    this.detach?.();
    this.node = undefined;
    this.meshDht = undefined;
    const hadMembers = this.members.size > 0;
    this.members.clear();
    await this.sync.stop(node);
    await node.stop();
    if (hadMembers) this.emit('offline');
    this.logger.info('network stopped');
  }

  /** Publishes an application event to every other node of this network. */
  async publishEvent(topic: string, data: unknown): Promise<void> {
    const payload = JSON.stringify({ t: topic, d: encodeValue(data) });
    await this.publish(eventsTopic(this.networkId), payload);
  }

  /** Subscribes to events published by other nodes; returns an unsubscribe function. */
  onEvent(handler: EventHandler): () => void {
    this.eventHandlers.add(handler);
    return () => this.eventHandlers.delete(handler);
  }

  /** Publishes a control message (a JSON object) to every other node of this network. */
  async publishControl(message: Record<string, unknown>): Promise<void> {
    await this.publish(controlTopic(this.networkId), JSON.stringify(message));
  }

  /** Subscribes to control messages from other nodes; returns an unsubscribe function. */
  onControl(handler: ControlHandler): () => void {
    this.controlHandlers.add(handler);
    return () => this.controlHandlers.delete(handler);
  }

  /**
   * Publishes an invalidation notice to every other member (on the control
   * topic, numbered: see ./invalidations.ts). With no member connected nothing
   * is sent, but the number is used, so members that come back see the gap.
   */
  async publishInvalidation(notice: InvalidationNotice): Promise<void> {
    if (this.node === undefined || this.members.size === 0) {
      this.sequencer.skip();
      return;
    }
    await this.publishControl(this.sequencer.wrap(notice));
  }

  /** Subscribes to the invalidation notices of the other members; returns an unsubscribe function. */
  onInvalidation(handler: InvalidationHandler): () => void {
    this.invalidationHandlers.add(handler);
    return () => this.invalidationHandlers.delete(handler);
  }

  /** Peer ids of the members that subscribed to this network's gossip topics (event delivery reaches them directly). */
  gossipPeers(): string[] {
    const node = this.node;
    if (node === undefined) return [];
    const subscribers: PeerId[] = node.services.pubsub.getSubscribers(eventsTopic(this.networkId));
    return subscribers.map((p) => p.toString()).filter((p) => this.members.has(p));
  }

  /** Adds a filter that can refuse incoming DHT records (kept across restarts); returns a remover. */
  addWriteFilter(filter: WriteFilter): () => void {
    return this.datastore.addWriteFilter(filter);
  }

  /**
   * Waits until at least `count` members are connected and in the DHT routing
   * table (so lookups reach them), or throws TIMEOUT.
   */
  async waitForPeers(count: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const ready = () => {
      if (this.members.size < count) return false;
      const rt = this.meshDht?.routingTableSize ?? 0;
      return rt < 0 || rt >= count;
    };
    while (!ready()) {
      if (Date.now() >= deadline) {
        throw new MeshError(
          'TIMEOUT',
          `network ${this.networkId}: ${this.members.size} of ${count} peers after ${timeoutMs} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async publish(topic: string, payload: string): Promise<void> {
    const node = this.requireNode();
    try {
      await node.services.pubsub.publish(topic, encoder.encode(payload));
    } catch (err) {
      throw new MeshError(
        'NETWORK_ERROR',
        `network ${this.networkId}: publish failed: ${(err as Error).message}`,
        { topic },
        err,
      );
    }
  }

  private requireNode(): MeshLibp2p {
    if (this.node === undefined)
      throw new MeshError('NOT_STARTED', `network ${this.networkId} is not started`);
    return this.node;
  }

  private attach(node: MeshLibp2p): () => void {
    const kad = kadProtocol(this.networkId);
    const onIdentify = (evt: CustomEvent<IdentifyResult>) => {
      const id = evt.detail.peerId.toString();
      if (this.members.has(id) || !evt.detail.protocols.includes(kad)) return;
      if (node.getConnections(evt.detail.peerId).length === 0) return;
      this.members.add(id);
      this.logger.debug({ peer: id }, 'peer joined');
      if (this.members.size === 1) this.emit('online');
      this.emit('peer:join', id);
      this.discoverSoon();
    };
    const onDisconnect = (evt: CustomEvent<PeerId>) => {
      const id = evt.detail.toString();
      if (!this.members.delete(id)) return;
      this.logger.debug({ peer: id }, 'peer left');
      this.emit('peer:leave', id);
      if (this.members.size === 0) this.emit('offline');
    };
    const events = eventsTopic(this.networkId);
    const control = controlTopic(this.networkId);
    const onMessage = (evt: CustomEvent<Message>) => {
      const msg = evt.detail;
      if (msg.topic !== events && msg.topic !== control) return;
      const from = msg.type === 'signed' ? msg.from.toString() : '';
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(decoder.decode(msg.data)) as Record<string, unknown>;
        if (body === null || typeof body !== 'object') return;
      } catch {
        this.logger.warn({ peer: from, topic: msg.topic }, 'dropped an unreadable message');
        return;
      }
      if (msg.topic === control) {
        if (body.c === INVALIDATION_MARK) {
          const got = this.sequencer.unwrap(body, from);
          if (got === undefined) return;
          const meta = { from, gap: got.gap };
          for (const handler of this.invalidationHandlers) this.safely(() => handler(got.notice, meta));
          return;
        }
        for (const handler of this.controlHandlers) this.safely(() => handler(body, from));
        return;
      }
      if (typeof body.t !== 'string' || typeof body.d !== 'string') return;
      let data: unknown;
      try {
        data = decodeValue(body.d);
      } catch {
        this.logger.warn({ peer: from, topic: body.t }, 'dropped an event with an unreadable payload');
        return;
      }
      for (const handler of this.eventHandlers) this.safely(() => handler(body.t as string, data, from));
    };
    node.addEventListener('peer:identify', onIdentify);
    node.addEventListener('peer:disconnect', onDisconnect);
    node.services.pubsub.addEventListener('message', onMessage);
    return () => {
      node.removeEventListener('peer:identify', onIdentify);
      node.removeEventListener('peer:disconnect', onDisconnect);
      node.services.pubsub.removeEventListener('message', onMessage);
    };
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ err }, 'network message handler failed');
    }
  }

  /**
   * Peer discovery: a lookup of this node's own id reaches (and connects to) the
   * members closest to it, so each node ends up connected to its neighbourhood,
   * all members in a small network, not only to its bootstrap peers. Runs
   * shortly after a member joins and every `discoveryIntervalMs`.
   */
  private discoverSoon(): void {
    if (this.discoverTimer !== undefined || this.discovering || this.meshDht === undefined) return;
    this.discoverTimer = setTimeout(() => {
      this.discoverTimer = undefined;
      const dht = this.meshDht;
      if (dht === undefined || this.members.size === 0) return;
      this.discovering = true;
      dht
        .selfLookup(AbortSignal.timeout(this.options.dialTimeoutMs))
        .catch((err: Error) => this.logger.debug({ err: err.message }, 'peer discovery lookup failed'))
        .finally(() => {
          this.discovering = false;
        });
    }, 200);
    this.discoverTimer.unref();
  }

  /** Dials bootstrap peers we are not connected to (all of them on start, the missing ones later). */
  private async dialBootstrap(initial: boolean): Promise<void> {
    const node = this.node;
    if (node === undefined || this.options.bootstrap.length === 0) return;
    const connected = new Set(node.getPeers().map((p) => p.toString()));
    const self = node.peerId.toString();
    const targets = this.options.bootstrap.filter((addr) => {
      const id = multiaddr(addr)
        .getComponents()
        .find((c) => c.name === 'p2p')?.value;
      if (id === self) return false;
      return id === undefined ? initial || this.members.size === 0 : !connected.has(id);
    });
    const results = await Promise.allSettled(
      targets.map((addr) =>
        node.dial(multiaddr(addr), { signal: AbortSignal.timeout(this.options.dialTimeoutMs) }),
      ),
    );
    const failures: Array<{ address: string; reason: string }> = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      const address = targets[i] as string;
      const reason = dialFailureReason(r.reason);
      failures.push({ address, reason });
      // On start every failure is a warning; later redials (every redialIntervalMs) stay at debug.
      if (initial) this.logger.warn({ address, reason }, `bootstrap peer ${address} unreachable: ${reason}`);
      else this.logger.debug({ address, reason }, `bootstrap dial failed: ${address}: ${reason}`);
    });
    if (initial && targets.length > 0 && failures.length === targets.length) {
      const list = failures.map((f) => `${f.address} (${f.reason})`).join(', ');
      this.logger.warn(
        { bootstrap: targets, failures },
        `no bootstrap peer reachable: running alone until one is: ${list}`,
      );
    }
  }
}

/** The message of a dial error (AggregateErrors carry theirs in `errors`). */
function dialFailureReason(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    const inner = [...new Set(err.errors.map(dialFailureReason))].join('; ');
    return err.message ? `${err.message}: ${inner}` : inner;
  }
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
