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
 * ```
 *
 * Events (node:events EventEmitter): `peer:join` / `peer:leave` (peer id) when
 * a member of this network connects / disconnects; `online` / `offline` when
 * the node goes from no member to one, and back.
 */
import '../polyfills.js';
import { EventEmitter } from 'node:events';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import type { Logger } from 'pino';
import { encodeValue } from '../codec/index.js';
import { MeshError } from '../errors.js';
import { registeredTracer } from '../node/tracing.js';
import { ClockWatch } from './clock.js';
import { ConnectionWatch } from './connection-watch.js';
import { type ControlHandler, ControlInbox } from './control.js';
import { bump, controlKind, countStreams, type MessageCounts, newCounts, snapshot } from './counters.js';
import { MeshDht } from './dht.js';
import { DirectService } from './direct.js';
import { type EventHandler, receiveGossip } from './gossip-inbox.js';
import { Heartbeats } from './heartbeats.js';
import { Holders } from './holders.js';
import { loadIdentity } from './identity.js';
import type { InvalidationHandler, InvalidationNotice } from './invalidations.js';
import { Leases } from './leases.js';
import { createMeshLibp2p, type MeshLibp2p } from './libp2p.js';
import { LwwDatastore, type WriteFilter } from './lww-datastore.js';
import { Membership } from './membership.js';
import { controlTopic, eventsTopic } from './names.js';
import { type NetworkOptions, type ResolvedNetworkOptions, resolveNetworkOptions } from './options.js';
import { quickExit } from './quick-exit.js';
import { CatalogExchange } from './services/catalog-exchange.js';
import { ServiceCatalogs } from './services/catalogs.js';
import { type CallTransport, RemoteCalls } from './services/remote-calls.js';
import { SyncService } from './sync.js';
import { dispatcher, postedFrame } from './wire/index.js';

export type { ControlHandler } from './control.js';
export type { EventHandler } from './gossip-inbox.js';

export interface MeshNetworkEvents {
  'peer:join': [peerId: string];
  'peer:leave': [peerId: string];
  online: [];
  offline: [];
  /** In touch with the network, or not any more (heartbeats.ts). */
  touch: [inTouch: boolean];
  /** Invalidation notices of `peer` were missed, or can no longer be accounted for. */
  missed: [peerId: string];
}

const encoder = new TextEncoder();

export class MeshNetwork extends EventEmitter<MeshNetworkEvents> {
  readonly networkId: string;
  private readonly options: ResolvedNetworkOptions;
  private readonly logger: Logger;
  /** Clock offsets of the peers (measured from what they send; see docs/dht.md, "Clocks"). */
  readonly clock = new ClockWatch();
  private readonly datastore = new LwwDatastore(this.clock);
  private privateKey: PrivateKey | undefined;
  private selfId: string | undefined;
  private node: MeshLibp2p | undefined;
  private meshDht: MeshDht | undefined;
  private readonly membership: Membership;
  private readonly eventHandlers = new Set<EventHandler>();
  private detach: (() => void) | undefined;
  /** Clears what libp2p leaves running after stop (quick-exit.ts). */
  private afterStop: (() => void) | undefined;
  private watch: ConnectionWatch | undefined;
  readonly sync: SyncService;
  /** The one-hop record protocol (advanced use, benchmarks). */
  readonly direct: DirectService;
  /** The holders of keys, computed locally (holders.ts). */
  private readonly holders: Holders;
  /** Messages sent and received per kind, shared by the pieces below (counters.ts). */
  private readonly counts = newCounts();
  /** Control messages and invalidation notices from the other members (control.ts). */
  private readonly control: ControlInbox;
  /** How direct control messages use gossip (publishControl); benchmarks compare both. */
  controlGossip: 'fallback' | 'always' = 'always';
  /** Leases kept by each key's first holder (leases.ts: `coalesce: 'cluster'` on the DHT). */
  readonly leases: Leases;
  /** What every member hosts (services/catalogs.ts). */
  readonly catalogs: ServiceCatalogs;
  /** Sends and asks for catalogs (services/catalog-exchange.ts). */
  private readonly catalogExchange: CatalogExchange;
  /** Requests to services other members host, both ways (services/remote-calls.ts); traced from start when an SDK is registered. */
  get calls(): RemoteCalls {
    return this.remoteCalls;
  }
  private remoteCalls: RemoteCalls;
  private callsDecided = false;
  private readonly callTransport: CallTransport;
  /** Who this node heard, and whether it is in touch (heartbeats.ts). */
  private readonly heartbeats: Heartbeats;
  /** Reconciliations under way: held records are not served until they end. */
  private holds = 0;

  constructor(options: NetworkOptions, logger: Logger) {
    super();
    this.options = resolveNetworkOptions(options);
    this.networkId = this.options.id;
    this.logger = logger.child({ component: 'network', networkId: this.networkId });
    this.control = new ControlInbox(() => this.logger, this.counts);
    this.catalogs = new ServiceCatalogs(() => this.logger);
    const network = this;
    this.catalogExchange = new CatalogExchange(
      this.catalogs,
      {
        get started() {
          return network.node !== undefined;
        },
        peers: () => this.membership.peers(),
        isMember: (peer) => this.membership.has(peer),
        post: (peer, frame, signal) => this.direct.post(peer, frame, signal),
        request: (peer, req, signal) => this.direct.request(peer, req, signal),
        timeoutMs: this.options.dialTimeoutMs,
      },
      () => this.logger,
    );
    this.callTransport = {
      request: (peer, req, signal) => this.direct.request(peer, req, signal),
      isMember: (peer) => this.membership.has(peer),
    };
    this.remoteCalls = new RemoteCalls(this.callTransport, this.catalogs, () => this.logger);
    this.clock.logger = this.logger;
    this.heartbeats = new Heartbeats(
      {
        peers: () => this.membership.peers(),
        post: (peer, frame) => {
          if (this.node === undefined) return;
          this.direct.post(peer, frame, this.postSignal()).catch(() => {});
        },
        numbering: () => ({ self: this.selfId ?? '', ...this.control.numbering() }),
        missed: (from, e, s) => this.control.missed(from, e, s),
        numberOf: (peer) => this.control.numberOf(peer),
        observeClock: (peer, sent) => {
          this.clock.observe(peer, sent);
        },
        introduce: (peers, via) => this.membership.introduce(peers, via),
      },
      {
        touch: (inTouch) => {
          this.servingChanged();
          if (!inTouch) this.logger.warn('out of touch with a member: held copies are not served until back');
          else this.logger.info('back in touch with every member');
          this.emit('touch', inTouch);
        },
        missed: (peer) => this.emit('missed', peer),
      },
    );
    this.sync = new SyncService(this.networkId, this.logger);
    this.direct = new DirectService(
      this.networkId,
      this.logger,
      this.options.dialTimeoutMs,
      this.options.maxMessageBytes,
    );
    this.direct.counts = this.counts;
    this.direct.serve(
      dispatcher({
        get records() {
          return network.dht;
        },
        get leases() {
          return network.leases.table;
        },
        control: this.control,
        calls: { answer: (req, from) => this.calls.answer(req, from) },
        catalogs: this.catalogs,
        heartbeats: this.heartbeats,
        members: { addressesOf: (peers) => this.membership.addressesOf(peers) },
      }),
    );
    this.membership = new Membership(
      { networkId: this.networkId, ...this.options },
      {
        join: (id) => {
          this.holders.changed(id, 'join');
          // The stream opens now, not on the first request: an invalidation sent to a member
          // that joined moments ago would otherwise wait for a stream open (or go by gossip).
          this.direct.connect(id);
          this.catalogExchange.ask(id);
          this.heartbeats.joined(id);
          this.emit('peer:join', id);
        },
        leave: (id) => {
          this.holders.changed(id, 'leave');
          this.catalogs.forget(id);
          this.heartbeats.left(id);
          this.emit('peer:leave', id);
        },
        online: () => this.emit('online'),
        offline: () => this.emit('offline'),
        digests: () => this.heartbeats.sending,
      },
      (peer, req, signal) => this.direct.request(peer, req, signal),
      this.logger,
      this.counts,
    );
    this.holders = new Holders(this.membership);
    this.leases = new Leases({
      get selfId() {
        return network.peerId;
      },
      peers: () => this.membership.peers(),
      request: (peer, req, signal) => this.direct.request(peer, req, signal),
    });
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
    return this.membership.peers();
  }

  async start(): Promise<void> {
    if (this.node !== undefined) return;
    // Decided once, at the first start (before anything is served or sent): a restart keeps the calls' state.
    if (!this.callsDecided) {
      this.callsDecided = true;
      const tracer = await registeredTracer();
      if (tracer !== undefined) {
        const { TracedRemoteCalls } = await import('./services/trace-context.js');
        this.remoteCalls = new TracedRemoteCalls(
          tracer,
          this.callTransport,
          this.catalogs,
          () => this.logger,
        );
      }
    }
    this.privateKey ??=
      this.options.identity === undefined
        ? await generateKeyPair('Ed25519')
        : await loadIdentity(this.options.identity);
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
    this.afterStop = quickExit(node);
    this.selfId = node.peerId.toString();
    this.meshDht = new MeshDht(
      node.services.dht,
      this.datastore,
      node.peerId.toString(),
      this.logger,
      this.clock,
      this.direct,
    );
    this.detach = this.attach(node);
    await this.sync.start(node);
    await this.direct.start(node);
    node.services.pubsub.subscribe(eventsTopic(this.networkId));
    node.services.pubsub.subscribe(controlTopic(this.networkId));
    countStreams(node, this.counts);
    this.logger.info({ peerId: this.peerId, addresses: this.addresses() }, 'network started');
    this.heartbeats.start();
    this.watch = new ConnectionWatch({
      node,
      heartbeatsRun: () => this.heartbeats.sending,
      logger: this.logger,
    });
    this.watch.start();
    await this.membership.start(node, this.meshDht);
  }

  /**
   * Asks to know within `boundMs` when a member falls silent: until then this
   * node is `inTouch`; past it, records held for others are not served and
   * `touch` says so (0: no bound; heartbeats others ask for are still sent).
   */
  keepInTouch(boundMs: number): void {
    this.heartbeats.require(boundMs);
  }

  /**
   * True while this node posts heartbeats to every member in turn (a staleness
   * bound is kept here or by a member): they carry its wall clock, so clock
   * beacons are not needed.
   */
  get sendsHeartbeats(): boolean {
    return this.heartbeats.sending;
  }

  /** True while every member was heard within the bound (and a majority of the known ones is). */
  get inTouch(): boolean {
    return this.heartbeats.inTouch;
  }

  /** True when member `peer` was not heard of within the staleness bound (see `inTouch`). */
  silent(peer: string): boolean {
    return this.heartbeats.silent(peer);
  }

  /** Heartbeats sent and received, lapses and suspicions. */
  get heartbeatCounters(): Readonly<Heartbeats['counters']> {
    return this.heartbeats.counters;
  }

  /** A dial bound for heartbeat posts, shared for a second (a timer per post would cost more than the post). */
  private postSignal(): AbortSignal {
    const now = performance.now();
    if (
      this.postBound === undefined ||
      now - this.postBound.at > Math.min(1_000, this.options.dialTimeoutMs / 2)
    )
      this.postBound = { at: now, signal: AbortSignal.timeout(this.options.dialTimeoutMs) };
    return this.postBound.signal;
  }

  private postBound: { at: number; signal: AbortSignal } | undefined;

  /** Records held here are not served until `work` settles (a reconciliation). */
  holdRecords<T>(work: Promise<T>): Promise<T> {
    this.holds++;
    this.servingChanged();
    return work.finally(() => {
      this.holds--;
      this.servingChanged();
    });
  }

  private servingChanged(): void {
    this.datastore.serving = this.heartbeats.inTouch && this.holds === 0;
  }

  async stop(): Promise<void> {
    const node = this.node;
    if (node === undefined) return;
    this.heartbeats.stop();
    this.watch?.stop();
    this.watch = undefined;
    const hadMembers = this.membership.stop();
    this.detach?.();
    this.meshDht?.close();
    this.node = undefined;
    this.meshDht = undefined;
    this.holders.reset();
    this.leases.table.clear();
    this.catalogs.clear();
    this.catalogExchange.stop();
    await this.sync.stop(node);
    await this.direct.stop(node);
    await node.stop();
    this.afterStop?.();
    this.afterStop = undefined;
    if (hadMembers) this.emit('offline');
    this.logger.info('network stopped');
  }

  /**
   * Messages sent and received since the network was made, per kind (counters.ts
   * lists the kinds), with the members and libp2p connections now.
   */
  stats(): MessageCounts & { members: number; connections: number } {
    return {
      ...snapshot(this.counts),
      members: this.membership.size,
      connections: this.node?.getConnections().length ?? 0,
    };
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

  /**
   * Publishes a control message (a JSON object) to every other node of this
   * network: on gossip, and (with `direct`) also straight to every connected
   * member over the record protocol, in parallel (receivers deliver it once).
   * `controlGossip: 'fallback'` (benchmarks only) skips gossip when every
   * connected member acknowledged the direct send: that misses nodes this one
   * is not connected to (a partial mesh), which only gossip relays reach.
   */
  async publishControl(message: Record<string, unknown>, direct = false): Promise<void> {
    bump(this.counts.sent, controlKind(message));
    if (direct) {
      const signal = AbortSignal.timeout(this.options.dialTimeoutMs);
      const ctl = { t: 'ctl', m: message } as const;
      // Posted (no reply) unless the fallback mode needs to know every member got it.
      const posted = this.controlGossip === 'fallback' ? undefined : postedFrame(ctl);
      const sends = this.membership.peers().map((peer) =>
        (posted === undefined
          ? this.direct.request(peer, ctl, signal).then((r) => r.ok)
          : this.direct.post(peer, posted, signal)
        ).catch((err: Error) => {
          this.logger.debug({ peer, err: err.message }, 'direct control send failed');
          return false;
        }),
      );
      if (this.controlGossip === 'fallback' && this.holdersOf('', 1) !== undefined) {
        if ((await Promise.all(sends)).every(Boolean)) return;
      }
    }
    await this.publish(controlTopic(this.networkId), JSON.stringify(message));
  }

  /**
   * The `n` holders of `key` computed locally (Kademlia XOR distance over the
   * connected members and this node, the ordering kad-dht uses), or undefined
   * when the membership may be incomplete: a peer of the routing table is not
   * connected, or a member joined or left less than `settleMs` ago (records may
   * not have reached their new holders yet).
   */
  holdersOf(key: string, n: number, settleMs = 0): string[] | undefined {
    const dht = this.meshDht;
    return dht === undefined ? undefined : this.holders.of(dht, key, n, settleMs);
  }

  /**
   * Publishes an invalidation notice to every other member (on the control
   * topic and straight to each member, numbered: see ./invalidations.ts). With
   * no member connected nothing is sent, but the number is used, so members
   * that come back see the gap.
   */
  async publishInvalidation(notice: InvalidationNotice): Promise<void> {
    const message = this.control.number(
      notice,
      this.node !== undefined && this.membership.peers().length > 0,
    );
    if (message !== undefined) await this.publishControl(message, true);
  }

  /** Subscribes to the invalidation notices of the other members; returns an unsubscribe function. */
  onInvalidation(handler: InvalidationHandler): () => void {
    return this.control.onInvalidation(handler);
  }

  /** Subscribes to control messages from other nodes; returns an unsubscribe function. */
  onControl(handler: ControlHandler): () => void {
    return this.control.onControl(handler);
  }

  /**
   * Tells every member this node's catalog changed (a service or action added):
   * batched, posted once per turn of the event loop.
   */
  announce(): void {
    this.catalogExchange.announce();
  }

  /** Adds a filter that can refuse incoming DHT records (kept across restarts); returns a remover. */
  addWriteFilter(filter: WriteFilter): () => void {
    return this.datastore.addWriteFilter(filter);
  }

  private async publish(topic: string, payload: string): Promise<void> {
    const node = this.requireNode();
    bump(this.counts.sent, topic === eventsTopic(this.networkId) ? 'gossip:events' : 'gossip:control');
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
    return receiveGossip(node, {
      networkId: this.networkId,
      logger: this.logger,
      control: (body, from) => this.control.deliver(body, from),
      events: this.eventHandlers,
      counts: this.counts,
    });
  }
}
