/**
 * Builds the libp2p node of a meshcache network: TCP, Noise, Yamux, an optional
 * pre-shared key (pnet), identify + ping, Kademlia on a per-network protocol
 * and gossipsub. Settings are chosen for clusters on a LAN or loopback (see
 * docs/dht.md): private addresses are kept in the DHT, loopback is exempt from
 * the per-host inbound limits, and gossipsub does not penalise peers that share
 * an IP address.
 */
import { gossipsub } from '@libp2p/gossipsub';
import { type Identify, identify } from '@libp2p/identify';
import type { PrivateKey } from '@libp2p/interface';
import { type KadDHT, kadDHT, passthroughMapper } from '@libp2p/kad-dht';
import { type Ping, ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { createLibp2p, type Libp2p } from 'libp2p';
import { DHT_DATASTORE_PREFIX, type LwwDatastore } from './lww-datastore.js';
import { kadProtocol } from './names.js';
import { meshNoise } from './noise.js';
import { compareRecords, decodeRecord, RECORD_NAMESPACE } from './record.js';

/**
 * How many times `dialTimeoutMs` libp2p lets a dial, and identify, take. Callers that
 * wait for a dial (bootstrap, requests) still give up after `dialTimeoutMs`; dials
 * nothing waits for (meeting members heard of) may take longer: on a loaded machine a
 * handshake or identify cut short is work lost, done again later. An identify that
 * times out leaves a connection whose peer never becomes a member.
 */
export const BACKGROUND_DIAL_FACTOR = 3;

/**
 * How many times `dialTimeoutMs` a redial of a bootstrap peer waits. A busy process
 * accepts one connection per listener per turn of its event loop, so the peer every
 * newcomer dials builds a queue of connections in its kernel; a dial that gives up
 * there leaves a dead entry the peer still accepts in turn, and dialing again adds
 * another behind it. One redial at a time that waits its turn gets through.
 */
export const BOOTSTRAP_REDIAL_FACTOR = 12;

/** The namespace of plain kad-dht records used by the benchmark's raw put/get baseline. */
export const RAW_NAMESPACE = 'raw';

export interface MeshLibp2pInit {
  readonly networkId: string;
  readonly privateKey: PrivateKey;
  readonly datastore: LwwDatastore;
  readonly listen: readonly string[];
  readonly psk?: Uint8Array;
  readonly allow: readonly string[];
  readonly dialTimeoutMs: number;
}

// biome-ignore lint/suspicious/noExplicitAny: gossipsub's service type is not exported in a usable form
export type MeshServices = { dht: KadDHT; pubsub: any; identify: Identify; ping: Ping };
export type MeshLibp2p = Libp2p<MeshServices>;

/** Picks the newest meshcache record (last-write-wins); unreadable records lose. */
function selectNewest(_key: Uint8Array, records: Uint8Array[]): number {
  let best = -1;
  let bestRec: ReturnType<typeof decodeRecord> | undefined;
  records.forEach((raw, i) => {
    try {
      const rec = decodeRecord(raw);
      if (bestRec === undefined || compareRecords(rec, bestRec) > 0) {
        best = i;
        bestRec = rec;
      }
    } catch {
      // invalid records never win
    }
  });
  return Math.max(best, 0);
}

/**
 * Connections the kernel holds for this node until it accepts them. A busy process
 * accepts one per listener per turn of its event loop (libuv's fairness), and a dialer
 * that gives up leaves its entry behind: with Node's 511, a peer that many dial at once
 * builds minutes of dead entries, and every dial behind them times out. A short queue
 * makes the kernel drop new attempts instead, which the dialer's TCP retries a second
 * or more later, while its dial still waits.
 */
const LISTEN_BACKLOG = 32;

/** Ping streams allowed at once per connection, each way (the connection watch's and kad-dht's). */
const PING_STREAMS = 4;

export async function createMeshLibp2p(init: MeshLibp2pInit): Promise<MeshLibp2p> {
  // pnet (and its cipher) only for a private network: ~11 ms and ~0.5 MiB RSS most nodes never use.
  const protector =
    init.psk === undefined
      ? {}
      : { connectionProtector: (await import('@libp2p/pnet')).preSharedKey({ psk: init.psk }) };
  return createLibp2p({
    privateKey: init.privateKey,
    datastore: init.datastore,
    start: false,
    addresses: { listen: [...init.listen] },
    transports: [tcp({ backlog: LISTEN_BACKLOG })],
    connectionEncrypters: [meshNoise()],
    streamMuxers: [yamux()],
    ...protector,
    connectionManager: {
      allow: [...init.allow],
      dialTimeout: init.dialTimeoutMs * BACKGROUND_DIAL_FACTOR,
      // libp2p's own cap per address (6 s) would cut them short all the same, and so would
      // the answering side's (10 s), on the bootstrap peer every newcomer dials at once.
      // Each dial still gives up at its own deadline; this is the longest any may wait.
      addressDialTimeout: init.dialTimeoutMs * BOOTSTRAP_REDIAL_FACTOR,
      inboundUpgradeTimeout: init.dialTimeoutMs * BACKGROUND_DIAL_FACTOR,
    },
    // Replaced by connection-watch.ts, which rests while heartbeats judge silence (a failed ping of
    // libp2p's monitor closed healthy connections of a saturated machine: churn that fed itself).
    connectionMonitor: { enabled: false },
    services: {
      identify: identify({ timeout: init.dialTimeoutMs * BACKGROUND_DIAL_FACTOR }),
      // The connection watch pings on this protocol too; with the default limit of one
      // outbound stream, its ping overlapping kad-dht's (or a slow previous one) failed.
      ping: ping({ maxOutboundStreams: PING_STREAMS, maxInboundStreams: PING_STREAMS }),
      dht: kadDHT({
        protocol: kadProtocol(init.networkId),
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        allowQueryWithZeroPeers: true,
        datastorePrefix: DHT_DATASTORE_PREFIX,
        logPrefix: `libp2p:meshcache:${init.networkId}:kad`,
        metricsPrefix: 'meshcache_kad',
        validators: {
          [RECORD_NAMESPACE]: (_key, value) => {
            decodeRecord(value);
          },
          [RAW_NAMESPACE]: () => {},
        },
        selectors: {
          [RECORD_NAMESPACE]: selectNewest,
          [RAW_NAMESPACE]: () => 0,
        },
      }),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        floodPublish: true,
        // Cluster members often share one host or one NAT'd address: do not score that down.
        scoreParams: { IPColocationFactorWeight: 0 },
      }),
    },
  }) as Promise<MeshLibp2p>;
}
