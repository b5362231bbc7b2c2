/** trust.json: format, atomic 0600 writes, corrupt files reported (never replaced), trust and pending across restarts. */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '../../src/coreapi/logger.js';
import { createNode } from '../../src/node/node.js';
import {
  loadTrustFile,
  saveTrustFile,
  TrustState,
  TrustStore,
  type TrustFileJson,
} from '../../src/node/trust/index.js';
import { fromPeer, managerFor, nextBusEvent, startCluster, startManager, tempDir } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

describe('trust store format', () => {
  it('round-trips trusted, pending and outgoing records', () => {
    const s = new TrustStore();
    s.setTrusted({
      nodeId: 5,
      publicKey: 'a2V5',
      approvedAt: new Date('2024-05-01T12:00:00Z'),
      mutual: true,
      network: 0,
    });
    s.setTrusted({
      nodeId: 6,
      publicKey: '',
      approvedAt: new Date('2024-05-02T12:00:00Z'),
      mutual: false,
      network: 3,
    });
    s.setPending({
      nodeId: 7,
      publicKey: 'cGs=',
      justification: 'hello',
      receivedAt: new Date('2024-05-03T00:00:00Z'),
    });
    s.setPending({
      nodeId: 8,
      publicKey: '',
      justification: '',
      receivedAt: new Date('2024-05-03T00:00:01Z'),
    });
    s.addOutgoing({ nodeId: 9, sentAt: new Date('2024-05-04T00:00:00Z') }, 10);
    const json = s.toJSON();
    expect(json.trusted[0]).toEqual({
      node_id: 5,
      public_key: 'a2V5',
      approved_at: '2024-05-01T12:00:00.000Z',
      mutual: true,
    });
    expect(json.trusted[1]).toMatchObject({ node_id: 6, network: 3, mutual: false });
    expect(json.pending[0]).toEqual({
      node_id: 7,
      public_key: 'cGs=',
      justification: 'hello',
      received_at: '2024-05-03T00:00:00.000Z',
    });
    expect(json.pending[1]).toEqual({ node_id: 8, received_at: '2024-05-03T00:00:01.000Z' });
    const back = TrustStore.fromJSON(JSON.parse(JSON.stringify(json)));
    expect(back.toJSON()).toEqual(json);
    expect(back.stateOf(5)).toBe(TrustState.Trusted);
    expect(back.stateOf(7)).toBe(TrustState.Pending);
    expect(back.stateOf(9)).toBe(TrustState.Outgoing);
    expect(back.stateOf(10)).toBe(TrustState.None);
  });

  it("reads the reference's form: null lists, nanosecond times with offsets, no outgoing", () => {
    const s = TrustStore.fromJSON({
      trusted: [
        {
          node_id: 3,
          public_key: 'eA==',
          approved_at: '2024-05-01T12:00:00.123456789+02:00',
          mutual: true,
          network: 0,
        },
      ],
      pending: null,
    });
    expect(s.trusted()[0].approvedAt.toISOString()).toBe('2024-05-01T10:00:00.123Z');
    expect(s.pending()).toEqual([]);
    expect(TrustStore.fromJSON({}).trusted()).toEqual([]);
  });

  it.each([
    ['not an object', [1, 2]],
    ['trusted not a list', { trusted: {} }],
    ['entry not an object', { trusted: [5] }],
    ['bad node_id', { trusted: [{ node_id: -1, approved_at: '2024-01-01T00:00:00Z' }] }],
    ['node_id not a number', { pending: [{ node_id: '5', received_at: '2024-01-01T00:00:00Z' }] }],
    ['bad time', { trusted: [{ node_id: 5, approved_at: 'yesterday' }] }],
    ['missing time', { pending: [{ node_id: 5 }] }],
    [
      'mutual not a boolean',
      { trusted: [{ node_id: 5, approved_at: '2024-01-01T00:00:00Z', mutual: 'yes' }] },
    ],
    [
      'network out of range',
      { trusted: [{ node_id: 5, approved_at: '2024-01-01T00:00:00Z', network: 70000 }] },
    ],
    [
      'public_key not a string',
      { pending: [{ node_id: 5, public_key: 7, received_at: '2024-01-01T00:00:00Z' }] },
    ],
  ])('refuses a corrupt document: %s', (_name, doc) => {
    expect(() => TrustStore.fromJSON(doc)).toThrow(
      expect.objectContaining({ code: 'ERR_TRUST_STORE_CORRUPT' }),
    );
  });

  it('writes atomically with mode 0600 and leaves no temp files', async () => {
    const dir = join(tempDir(), 'nested');
    const path = join(dir, 'trust.json');
    const s = new TrustStore();
    s.setTrusted({ nodeId: 5, publicKey: 'a2V5', approvedAt: new Date(), mutual: true, network: 0 });
    await saveTrustFile(path, s);
    await saveTrustFile(path, s);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir)).toEqual(['trust.json']);
    const doc = JSON.parse(readFileSync(path, 'utf8')) as TrustFileJson;
    expect(doc.trusted[0].node_id).toBe(5);
    expect((await loadTrustFile(path)).stateOf(5)).toBe(TrustState.Trusted);
  });

  it('a missing file is an empty store; unreadable paths and bad JSON are typed errors', async () => {
    const dir = tempDir();
    expect((await loadTrustFile(join(dir, 'none.json'))).trusted()).toEqual([]);
    const asDir = join(dir, 'adir');
    mkdirSync(asDir);
    await expect(loadTrustFile(asDir)).rejects.toMatchObject({ code: 'ERR_TRUST_STORE_IO' });
    await expect(saveTrustFile(join(asDir), new TrustStore())).rejects.toMatchObject({
      code: 'ERR_TRUST_STORE_IO',
    });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"trusted": [', { mode: 0o600 });
    await expect(loadTrustFile(bad)).rejects.toMatchObject({ code: 'ERR_TRUST_STORE_CORRUPT' });
  });
});

describe('trust store across restarts', () => {
  it('trust persists across a manager restart (trust.json)', async () => {
    const dir = tempDir();
    const [a, b] = await startCluster(2, { public: true });
    const ta = await startManager(a, { storePath: join(dir, 'a', 'trust.json') });
    const storeB = join(dir, 'b', 'trust.json');
    const tb = await startManager(b, { storePath: storeB });
    const pending = nextBusEvent(b.events, 'handshake.pending', fromPeer(a.nodeId));
    await ta.send(b.nodeId, 'remember me');
    await pending;
    await tb.approve(a.nodeId);
    await tb.stop();

    expect(statSync(storeB).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(readFileSync(storeB, 'utf8')) as TrustFileJson;
    expect(doc.trusted).toHaveLength(1);
    expect(doc.trusted[0]).toMatchObject({
      node_id: a.nodeId,
      public_key: a.keyPair.publicKey.toString('base64'),
      mutual: true,
    });
    expect(doc.pending).toEqual([]);

    const tb2 = await startManager(b, { storePath: storeB });
    expect(tb2.isTrusted(a.nodeId)).not.toBeNull();
    expect(tb2.trusted().trusted[0]).toMatchObject({ node_id: a.nodeId, mutual: true });
    // Still in force after the restart: A revokes, the restarted B hears it.
    const byPeer = nextBusEvent(b.events, 'trust.revoked_by_peer', fromPeer(a.nodeId));
    await ta.revoke(b.nodeId);
    await byPeer;
    expect(tb2.isTrusted(a.nodeId)).toBeNull();
    expect((JSON.parse(readFileSync(storeB, 'utf8')) as TrustFileJson).trusted).toEqual([]);
  });

  it('trust persists across a node restart (same identity, trust.json beside it)', async () => {
    const dir = tempDir();
    const [a] = await startCluster(1, { public: true });
    const ta = await startManager(a);
    const identity = join(dir, 'b', 'identity.json');
    const storePath = join(dir, 'b', 'trust.json');
    const bOpts = {
      logger: silentLogger,
      dataDir: join(dir, 'b'),
      socket: join(dir, 'b.sock'),
      ipc: false,
      public: true,
      registry: a.registryAddr,
      identity,
      trustManager: false,
    };
    const b1 = await createNode(bOpts);
    const tb1 = managerFor(b1, { storePath });
    await tb1.start();
    const pending = nextBusEvent(b1.events, 'handshake.pending', fromPeer(a.nodeId));
    await ta.send(b1.nodeId, 'before the restart');
    await pending;
    await tb1.approve(a.nodeId);
    await waitFor(() => ta.isTrusted(b1.nodeId) !== null, 5000, 'A trusts B');
    const id = b1.nodeId;
    await tb1.stop();
    await b1.stop();

    const b2 = await createNode(bOpts);
    onTestFinished(() => b2.stop());
    expect(b2.nodeId).toBe(id);
    const tb2 = await startManager(b2, { storePath });
    expect(tb2.isTrusted(a.nodeId)).not.toBeNull();
    // Still mutual and in force: the restarted B revokes, A hears it.
    const byPeer = nextBusEvent(a.events, 'trust.revoked_by_peer', fromPeer(id));
    await tb2.revoke(a.nodeId);
    await byPeer;
    expect(ta.isTrusted(id)).toBeNull();
  });

  it('pending requests survive a restart and can be approved afterwards', async () => {
    const dir = tempDir();
    const [a, b] = await startCluster(2, { public: true });
    const ta = await startManager(a, { storePath: join(dir, 'a.json') });
    const storeB = join(dir, 'b.json');
    const tb = await startManager(b, { storePath: storeB });
    const pending = nextBusEvent(b.events, 'handshake.pending', fromPeer(a.nodeId));
    await ta.send(b.nodeId, 'wait for me');
    await pending;
    await tb.stop();

    const tb2 = await startManager(b, { storePath: storeB });
    expect(tb2.pending().pending).toEqual([
      expect.objectContaining({ node_id: a.nodeId, justification: 'wait for me' }),
    ]);
    const approved = nextBusEvent(a.events, 'handshake.approved', fromPeer(b.nodeId));
    await tb2.approve(a.nodeId);
    await approved;
    expect(ta.isTrusted(b.nodeId)).not.toBeNull();
  });

  it('outgoing requests survive a restart, so a later accept is honoured', async () => {
    const dir = tempDir();
    const [a, b] = await startCluster(2, { public: true });
    const storeA = join(dir, 'a.json');
    const ta = await startManager(a, { storePath: storeA });
    const tb = await startManager(b);
    const pending = nextBusEvent(b.events, 'handshake.pending', fromPeer(a.nodeId));
    await ta.send(b.nodeId);
    await pending;
    await ta.stop();
    const ta2 = await startManager(a, { storePath: storeA });
    expect(ta2.stateOf(b.nodeId)).toBe(TrustState.Outgoing);
    const approved = nextBusEvent(a.events, 'handshake.approved', fromPeer(b.nodeId));
    await tb.approve(a.nodeId);
    await approved;
    expect(ta2.isTrusted(b.nodeId)).not.toBeNull();
  });

  it('a corrupt trust.json stops the start with ERR_TRUST_STORE_CORRUPT and is left as it is', async () => {
    const dir = tempDir();
    const [a] = await startCluster(1);
    const path = join(dir, 'trust.json');
    writeFileSync(path, '{"trusted": "oops"}', { mode: 0o600 });
    const m = managerFor(a, { storePath: path });
    await expect(m.start()).rejects.toMatchObject({ code: 'ERR_TRUST_STORE_CORRUPT' });
    expect(readFileSync(path, 'utf8')).toBe('{"trusted": "oops"}');
    expect(existsSync(path)).toBe(true);
    // Nothing was bound: a manager with a good store starts on the same node.
    writeFileSync(path, '{"trusted": [], "pending": []}', { mode: 0o600 });
    const m2 = await startManager(a, { storePath: path });
    expect(m2.trusted().trusted).toEqual([]);
  });
});
