/**
 * Child process for the tunnel benchmark. Role from argv[2]: `raw-recv`, `raw-send`, `tun-recv`, `tun-send`.
 * Talks to the parent over the IPC channel:
 *   child → {type:'ready', port, publicKey, seed}
 *   parent → {type:'peer', port, publicKey}            (tunnel roles: the other side)
 *   parent → {type:'run', count, rate, size}           (senders: send `count` packets at `rate`/s, 0 = flat out)
 *   sender → {type:'sent', count, ms}
 *   parent → {type:'report'}                          (receivers)
 *   receiver → {type:'report', count, firstMs, lastMs}
 *   parent → {type:'reset'} (receivers) / {type:'exit'}
 */
import { createSocket } from 'node:dgram';
import { makeAddr } from '../../src/coreapi/addr.js';
import { StaticPeerDirectory } from '../../src/transport/key-source.js';
import { generateEd25519 } from '../../src/transport/keys.js';
import { makePacket, PROTO_DATAGRAM } from '../../src/transport/packet.js';
import { createTunnel } from '../../src/transport/tunnel.js';
import { tuneDaemonGc } from '../../src/node/gc-tuning.js';

// Every benchmark process, baselines included, runs with the daemon's V8 settings (src/node/gc-tuning.ts).
tuneDaemonGc();

type Msg = { type: string; [k: string]: unknown };
const role = process.argv[2];
const send = (m: Msg): void => {
  process.send?.(m);
};

let count = 0;
let firstMs = 0;
let lastMs = 0;
function onPacket(): void {
  const now = performance.now();
  if (count === 0) firstMs = now;
  lastMs = now;
  count++;
}

async function pacedLoop(total: number, rate: number, sendOne: (i: number) => void): Promise<number> {
  const start = performance.now();
  let i = 0;
  while (i < total) {
    const due =
      rate > 0 ? Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1) : total;
    const burstEnd = Math.min(due, i + 64);
    while (i < burstEnd) sendOne(i++);
    await new Promise((r) => setImmediate(r));
  }
  return performance.now() - start;
}

async function main(): Promise<void> {
  const identity = generateEd25519();
  if (role === 'raw-recv' || role === 'raw-send') {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    sock.setRecvBufferSize(4 * 1024 * 1024);
    sock.setSendBufferSize(4 * 1024 * 1024);
    sock.on('message', onPacket);
    let peerPort = 0;
    send({ type: 'ready', port: sock.address().port, publicKey: '' });
    process.on('message', (m: Msg) => {
      if (m.type === 'peer') peerPort = m.port as number;
      if (m.type === 'report') send({ type: 'report', count, firstMs, lastMs });
      if (m.type === 'reset') count = 0;
      if (m.type === 'exit') sock.close(() => process.exit(0));
      if (m.type === 'run') {
        const buf = Buffer.alloc((m.size as number) + 38 + 32, 7);
        void pacedLoop(m.count as number, m.rate as number, () => sock.send(buf, peerPort, '127.0.0.1')).then(
          (ms) => send({ type: 'sent', count: m.count, ms }),
        );
      }
    });
    return;
  }
  const myId = role === 'tun-recv' ? 2 : 1;
  const peerId = 3 - myId;
  const dir = new StaticPeerDirectory();
  const tunnel = await createTunnel({ nodeId: myId, identity, keys: dir, endpoints: dir });
  tunnel.setPacketHandler(onPacket);
  send({ type: 'ready', port: tunnel.address.port, publicKey: identity.publicKey.toString('hex') });
  process.on('message', (m: Msg) => {
    if (m.type === 'peer') {
      dir.set(peerId, {
        publicKey: Buffer.from(m.publicKey as string, 'hex'),
        endpoint: { host: '127.0.0.1', port: m.port as number },
      });
    }
    if (m.type === 'report') send({ type: 'report', count, firstMs, lastMs, counters: tunnel.counters() });
    if (m.type === 'reset') count = 0;
    if (m.type === 'exit') void tunnel.close().then(() => process.exit(0));
    if (m.type === 'run') {
      const pkt = makePacket({
        protocol: PROTO_DATAGRAM,
        src: makeAddr(0, myId),
        dst: makeAddr(0, peerId),
        srcPort: 50000,
        dstPort: 9,
        payload: Buffer.alloc(m.size as number, 7),
      });
      void pacedLoop(m.count as number, m.rate as number, (i) => {
        pkt.seq = i;
        tunnel.send(pkt);
      }).then((ms) => send({ type: 'sent', count: m.count, ms }));
    }
  });
}

void main();
