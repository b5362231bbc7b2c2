/**
 * The host half of the process plugin protocol: it answers a child's requests with the plugin's own `Deps`
 * (so everything the child opens is tracked by the plugin's scope) and forwards stream data, accepted
 * streams, datagrams and events to the child. Method names and message shapes: docs/process-plugin-protocol.md.
 *
 * Flow control: child → host writes are requests answered when the host stream accepted the data (the child
 * awaits each answer). Host → child data pauses every stream of the plugin while the child's stdin is
 * saturated, and the child can pause/resume single streams. Datagrams and events are dropped (and counted)
 * while stdin is saturated: both are lossy by contract. The channel (ndjson-channel.ts) bounds the rest: a
 * child's requests in flight (a child that does not await its `stream.write` answers cannot queue unbounded data
 * in a stream) and what is queued on its stdin (ERR_PLUGIN_OVERLOADED).
 */
import { formatAddr, parseAddr } from '../coreapi/addr.js';
import { InvalidArgumentError } from '../coreapi/errors.js';
import type { Subscription } from '../coreapi/events.js';
import type { PeerInfo } from '../coreapi/resolver.js';
import type { Deps, HealthLevel } from '../coreapi/service.js';
import type { DatagramSocket, Listener, Stream } from '../coreapi/streams.js';
import { PluginProtocolError } from '../coreapi/service-errors.js';
import { errorFromWire, errorToWire, type NdjsonChannel, type Params } from './ndjson-channel.js';

const LOG_LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error']);
export const HEALTH_LEVELS: ReadonlySet<HealthLevel> = new Set<HealthLevel>(['ok', 'degraded', 'failed']);

function str(p: Params, key: string): string {
  const v = p[key];
  if (typeof v !== 'string') throw new InvalidArgumentError(`params.${key} must be a string`);
  return v;
}

function int(p: Params, key: string): number {
  const v = p[key];
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new InvalidArgumentError(`params.${key} must be an integer`);
  return v;
}

function bytes(p: Params, key: string): Buffer {
  return Buffer.from(str(p, key), 'base64');
}

/** PeerInfo as JSON (addresses in text form, key in base64). */
export function peerToWire(p: PeerInfo): Record<string, unknown> {
  return {
    nodeId: p.nodeId,
    addr: formatAddr(p.addr),
    endpoint: p.endpoint ? { host: p.endpoint.host, port: p.endpoint.port } : null,
    publicKey: Buffer.from(p.publicKey).toString('base64'),
    public: p.public,
    hostname: p.hostname ?? null,
    relayOnly: p.relayOnly,
  };
}

export interface BridgeStats {
  droppedDatagrams: number;
  droppedEvents: number;
}

export class ProcessBridge {
  readonly #ch: NdjsonChannel;
  readonly #deps: Deps;
  readonly #streams = new Map<number, Stream>();
  readonly #listeners = new Map<number, Listener>();
  readonly #sockets = new Map<number, DatagramSocket>();
  readonly #subs = new Map<number, Subscription>();
  /** Streams the child asked to pause. */
  readonly #childPaused = new Set<number>();
  #nextId = 1;
  #saturated = false;
  readonly stats: BridgeStats = { droppedDatagrams: 0, droppedEvents: 0 };

  constructor(channel: NdjsonChannel, deps: Deps) {
    this.#ch = channel;
    this.#deps = deps;
  }

  /** Streams the child has paused (live streams only). */
  get pausedStreams(): number {
    return this.#childPaused.size;
  }

  /** Release every handle (the plugin scope closes the underlying objects too). */
  close(): void {
    for (const s of this.#subs.values()) s.unsubscribe();
    for (const s of this.#sockets.values()) s.close();
    for (const s of this.#streams.values()) s.destroy();
    for (const l of this.#listeners.values()) void l.close().catch(() => undefined);
    this.#subs.clear();
    this.#sockets.clear();
    this.#streams.clear();
    this.#listeners.clear();
  }

  handleNotification(method: string, p: Params): void {
    const d = this.#deps;
    switch (method) {
      case 'log': {
        const level = typeof p.level === 'string' && LOG_LEVELS.has(p.level) ? p.level : 'info';
        const fields = p.fields && typeof p.fields === 'object' ? (p.fields as Record<string, unknown>) : {};
        d.logger[level as 'info'](fields, typeof p.msg === 'string' ? p.msg : '');
        return;
      }
      case 'events.publish': {
        const topic = str(p, 'topic');
        const payload = p.payload ?? {};
        // The contract's payload is an object: a number, string or array published for in-process subscribers
        // (which read fields of it) is refused here, like any other malformed notification.
        if (typeof payload !== 'object' || Array.isArray(payload))
          throw new InvalidArgumentError('params.payload must be an object');
        d.events.publish(topic, payload as Record<string, unknown>);
        return;
      }
      case 'panic': {
        const err = new PluginProtocolError(typeof p.message === 'string' ? p.message : 'panic in child');
        err.name = 'ChildPanic';
        if (typeof p.stack === 'string') err.stack = p.stack;
        d.tasks.guard(typeof p.op === 'string' ? p.op : 'child', () => {
          throw err;
        })();
        return;
      }
      case 'fail':
        d.tasks.fail(errorFromWire(p));
        return;
      case 'stream.pause': {
        const id = int(p, 'stream');
        const stream = this.#streams.get(id);
        // Only live streams: ids of unknown (or closed) streams were remembered for ever, so a child sending
        // pause notifications grew the daemon's memory without bound (notifications have no in-flight limit).
        if (!stream) return;
        this.#childPaused.add(id);
        stream.pause();
        return;
      }
      case 'stream.resume': {
        const id = int(p, 'stream');
        this.#childPaused.delete(id);
        if (!this.#saturated) this.#streams.get(id)?.resume();
        return;
      }
      default:
        throw new PluginProtocolError(`unknown notification "${method}"`);
    }
  }

  async handleRequest(method: string, p: Params): Promise<unknown> {
    const d = this.#deps;
    switch (method) {
      case 'streams.dial': {
        const timeoutMs = typeof p.timeoutMs === 'number' ? p.timeoutMs : undefined;
        const s = await d.streams.dial(parseAddr(str(p, 'addr')), int(p, 'port'), {
          signal: d.tasks.signal,
          ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        });
        const id = this.#add(s);
        // Start the data flow after the response is on the wire.
        setImmediate(() => this.#flow(id, s));
        return { stream: id, ...this.#ends(s) };
      }
      case 'streams.listen': {
        const l = await d.streams.listen(int(p, 'port'));
        const id = this.#nextId++;
        this.#listeners.set(id, l);
        void d.tasks.run(`accept:${l.port}`, async () => {
          for await (const s of l) {
            const sid = this.#add(s);
            this.#ch.notify('stream.accept', { listener: id, stream: sid, ...this.#ends(s) });
            this.#flow(sid, s);
          }
        });
        return { listener: id, port: l.port };
      }
      case 'listener.close': {
        const id = int(p, 'listener');
        const l = this.#listeners.get(id);
        this.#listeners.delete(id);
        await l?.close();
        return {};
      }
      case 'stream.write': {
        const s = this.#stream(p);
        const data = bytes(p, 'data');
        await new Promise<void>((resolve, reject) => {
          s.write(data, (err) => (err ? reject(err) : resolve()));
        });
        return {};
      }
      case 'stream.end': {
        const s = this.#stream(p);
        await new Promise<void>((resolve) => s.end(resolve));
        return {};
      }
      case 'stream.destroy':
        this.#streams.get(int(p, 'stream'))?.destroy();
        return {};
      case 'streams.sendDatagram':
        await d.streams.sendDatagram(parseAddr(str(p, 'addr')), int(p, 'port'), bytes(p, 'data'));
        return {};
      case 'streams.bindDatagram': {
        const sock = await d.streams.bindDatagram(int(p, 'port'));
        const id = this.#nextId++;
        this.#sockets.set(id, sock);
        void d.tasks.run(`datagrams:${sock.port}`, async () => {
          for await (const g of sock) {
            if (!this.#ch.writable) {
              this.stats.droppedDatagrams++;
              continue;
            }
            this.#ch.notify('datagram', {
              socket: id,
              src: formatAddr(g.src),
              srcPort: g.srcPort,
              dstPort: g.dstPort,
              data: g.data.toString('base64'),
            });
          }
        });
        return { socket: id, port: sock.port };
      }
      case 'datagram.close': {
        const id = int(p, 'socket');
        this.#sockets.get(id)?.close();
        this.#sockets.delete(id);
        return {};
      }
      case 'events.subscribe': {
        const queueSize = typeof p.queueSize === 'number' ? p.queueSize : undefined;
        const sub = d.events.subscribe(str(p, 'pattern'), queueSize ? { queueSize } : {});
        const id = this.#nextId++;
        this.#subs.set(id, sub);
        void d.tasks.run(`events:${sub.pattern}`, async () => {
          for await (const e of sub) {
            if (!this.#ch.writable) {
              this.stats.droppedEvents++;
              continue;
            }
            try {
              this.#ch.notify('event', {
                subscription: id,
                topic: e.topic,
                nodeId: e.nodeId,
                time: e.time.toISOString(),
                payload: e.payload,
              });
            } catch (err) {
              // A payload JSON cannot carry (a BigInt, a cycle), published by someone else: drop that event
              // only. Thrown out of this loop it ended the plugin's event flow and counted as its panic.
              this.stats.droppedEvents++;
              d.logger.debug({ topic: e.topic, err: errorToWire(err) }, 'event not forwarded to plugin');
            }
          }
        });
        return { subscription: id };
      }
      case 'events.unsubscribe': {
        const id = int(p, 'subscription');
        this.#subs.get(id)?.unsubscribe();
        this.#subs.delete(id);
        return {};
      }
      case 'resolver.resolve':
        return peerToWire(await d.resolver.resolve(int(p, 'nodeId')));
      case 'resolver.resolveHostname':
        return { nodeId: await d.resolver.resolveHostname(str(p, 'name')) };
      case 'resolver.listByNetwork':
        return { peers: (await d.resolver.listByNetwork(int(p, 'network'))).map(peerToWire) };
      case 'identity.get':
        return {
          nodeId: d.identity.nodeId,
          address: formatAddr(d.identity.address),
          publicKey: d.identity.publicKey.toString('base64'),
        };
      case 'identity.sign':
        return { signature: d.identity.sign(bytes(p, 'data')).toString('base64') };
      case 'trust.isTrusted': {
        const r = d.trust?.isTrusted(int(p, 'nodeId')) ?? null;
        return { available: d.trust !== undefined, trusted: r !== null, name: r?.name ?? null };
      }
      default:
        throw new PluginProtocolError(`unknown method "${method}"`);
    }
  }

  #ends(s: Stream): Record<string, unknown> {
    return {
      localAddr: formatAddr(s.localAddr),
      localPort: s.localPort,
      remoteAddr: formatAddr(s.remoteAddr),
      remotePort: s.remotePort,
    };
  }

  #stream(p: Params): Stream {
    const s = this.#streams.get(int(p, 'stream'));
    if (!s)
      throw new InvalidArgumentError(`unknown stream ${String(p.stream)}`, { details: { stream: p.stream } });
    return s;
  }

  #add(s: Stream): number {
    const id = this.#nextId++;
    this.#streams.set(id, s);
    s.on('error', () => {});
    s.once('close', () => {
      this.#streams.delete(id);
      this.#childPaused.delete(id);
      this.#ch.notify('stream.close', { stream: id, error: s.errored ? errorToWire(s.errored) : null });
    });
    return id;
  }

  #flow(id: number, s: Stream): void {
    s.on('data', (chunk: Buffer) => {
      if (!this.#ch.notify('stream.data', { stream: id, data: chunk.toString('base64') })) this.#saturate();
    });
    s.once('end', () => this.#ch.notify('stream.end', { stream: id }));
    if (this.#saturated || this.#childPaused.has(id)) s.pause();
  }

  #saturate(): void {
    if (this.#saturated) return;
    this.#saturated = true;
    for (const s of this.#streams.values()) s.pause();
    void this.#ch.waitDrain().then(() => {
      this.#saturated = false;
      for (const [id, s] of this.#streams) if (!this.#childPaused.has(id)) s.resume();
    });
  }
}
