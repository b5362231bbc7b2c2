/** The daemon side of the IPC protocol: what local clients can ask a running node. */
import { formatAddr, type Addr } from '../coreapi/addr.js';
import { PilotError } from '../coreapi/errors.js';
import type { DaemonControl, DaemonInfo } from '../ipc/index.js';
import { aeadBackend } from '../transport/native-aead.js';
import type { PilotNode } from './pilot-node.js';

/** Trust handshakes arrive with the trust issue; until then the IPC commands answer with this error. */
export class NotImplementedError extends PilotError {
  constructor(message: string) {
    super('ERR_NOT_IMPLEMENTED', message);
  }
}

interface WebhookLike {
  setUrl(url: string | null): void;
}

export function nodeInfo(node: PilotNode): DaemonInfo {
  const t = node.tunnel.counters();
  const peers = node.tunnel.peers();
  const conns = node.streams.connections();
  const active = conns.filter(
    (c) => c.state === 'ESTABLISHED' || c.state === 'SYN_SENT' || c.state === 'SYN_RECV',
  );
  return {
    node_id: node.nodeId,
    address: formatAddr(node.addr),
    hostname: node.config.hostname ?? '',
    uptime_secs: (Date.now() - node.startedAt.getTime()) / 1000,
    connections: active.length,
    ports: node.streams.listeningPorts().length,
    peers: peers.length,
    encrypted_peers: peers.filter((p) => p.encrypted).length,
    authenticated_peers: peers.filter((p) => p.authenticated).length,
    encrypt: node.tunnel.encrypt,
    identity: node.config.identity !== null,
    public_key: node.keyPair.publicKey.toString('base64'),
    owner: node.config.owner ?? '',
    bytes_sent: t.txBytes,
    bytes_recv: t.rxBytes,
    pkts_sent: t.txPackets,
    pkts_recv: t.rxPackets,
    peer_list: peers.map((p) => ({
      node_id: p.nodeId,
      endpoint: p.endpoint ?? '',
      encrypted: p.encrypted,
      authenticated: p.authenticated,
    })),
    conn_list: conns.map((c) => {
      const s = c.stats();
      const d = c.details();
      return {
        id: c.id,
        local_port: c.localPort,
        remote_addr: formatAddr(c.remoteAddr),
        remote_port: c.remotePort,
        state: c.state,
        cong_win: s.cwnd,
        ssthresh: s.ssthresh,
        in_flight: s.inFlight,
        srtt_ms: s.srttMs,
        rttvar_ms: s.rttvarMs,
        unacked: d.unacked,
        ooo_buf: d.oooBuf,
        peer_recv_win: s.peerRecvWindow,
        recv_win: s.recvWindow,
        in_recovery: d.inRecovery,
        bytes_sent: s.bytesSent,
        bytes_recv: s.bytesRecv,
        segs_sent: s.segsSent,
        segs_recv: s.segsRecv,
        retransmits: s.retransmits,
        fast_retx: s.fastRetransmits,
        sack_recv: s.sackRecv,
        sack_sent: s.sackSent,
        dup_acks: s.dupAcks,
      };
    }),
    // Extensions (ignored by the reference's clients).
    pid: process.pid,
    memory_rss: process.memoryUsage().rss,
    heap_used: process.memoryUsage().heapUsed,
    registry: node.registryAddr,
    public_endpoint: node.nat.registrationAddr(),
    relay_peers: node.nat.relayPeers(),
    tunnel_addr: `${node.tunnel.address.host}:${node.tunnel.address.port}`,
    socket: node.config.socket,
    services: node.services.snapshot().map((s) => ({ name: s.name, state: s.state })),
    drops: t.drops,
    aead: aeadBackend(),
  };
}

export function createNodeControl(node: PilotNode): DaemonControl {
  const reg = node.registry;
  const trust = (): NonNullable<PilotNode['trust']> => {
    if (node.trust === null) throw new NotImplementedError('trust handshakes are disabled in this node');
    return node.trust;
  };
  return {
    address: (): Addr => node.addr,
    info: () => nodeInfo(node),
    resolveHostname: async (h) => ({ ...(await reg.resolveHostname(h)) }),
    setHostname: async (h) => {
      const r = await reg.setHostname(h);
      (node.config as { hostname: string | null }).hostname = h === '' ? null : h;
      return { ...r };
    },
    setVisibility: async (p) => {
      const r = await reg.setVisibility(p);
      (node.config as { public: boolean }).public = p;
      return { ...r };
    },
    deregister: async () => {
      const r = await reg.deregister();
      // As when the node stops (§11): subscribers learn that the node left the registry (the heartbeat
      // re-registers it later, with node.reregistered).
      node.events.publish('node.deregistered', { node_id: node.nodeId });
      return { ...r };
    },
    setTags: async (tags) => {
      const r = await reg.setTags(tags);
      node.registration.tags = [...tags];
      return { ...r };
    },
    setTaskExec: async (on) => {
      const r = await reg.setTaskExec(on);
      node.registration.taskExec = on;
      return { ...r };
    },
    setWebhook: (url) => {
      const wh = node.services.instance('webhook') as unknown as WebhookLike | null;
      if (!wh) throw new PilotError('ERR_SERVICE_NOT_READY', 'the webhook service is not running');
      wh.setUrl(url === '' ? null : url);
      return { webhook: url };
    },
    handshakeSend: (id, why) => trust().send(id, why),
    handshakeApprove: (id) => trust().approve(id),
    handshakeReject: (id, reason) => trust().reject(id, reason),
    handshakePending: () => trust().pending(),
    handshakeTrusted: () => trust().trusted(),
    handshakeRevoke: (id) => trust().revoke(id),
    closeConnection: (id) => {
      const c = node.streams.connections().find((x) => x.id === id);
      if (!c) return false;
      c.destroy();
      return true;
    },
    onDatagram: (handler) => node.onDatagram(handler),
  };
}
