/**
 * Audit 3: the registry server facing hostile or broken clients (answer amplification, stored-state growth,
 * corrupt snapshots). Real sockets on 127.0.0.1.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../src/registry/frame-codec.js';
import { startRegistry, type RegistryServer } from '../../src/registry/index.js';
import {
  clientFor,
  makeIdentity,
  RawConnection,
  registerNode,
  startTestRegistry,
  waitFor,
} from './helpers.js';

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pilot-audit3-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A plain socket that reads nothing until told to (no 'data' listener: paused mode). */
function openSilent(server: RegistryServer, localAddress?: string): Promise<Socket> {
  const addr = server.address;
  if (!addr) throw new Error('server not listening');
  return new Promise((resolve, reject) => {
    const s = connect({ host: addr.host, port: addr.port, localAddress });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
    onTestFinished(() => {
      s.destroy();
    });
  });
}

describe('answer amplification', () => {
  it('one chunk of small requests with large answers is not all answered into memory at once', async () => {
    const server = await startTestRegistry();
    // 200 beacons with long addresses make every beacon_list answer about 62 KB (unauthenticated requests).
    const filler = await RawConnection.open(server);
    const addr = `${'b'.repeat(290)}:9001`;
    for (let id = 1; id <= 200; id++) filler.send({ type: 'beacon_register', beacon_id: id, addr });
    for (let id = 1; id <= 200; id++) expect((await filler.next()).type).toBe('beacon_register_ok');

    // 2,000 requests of 26 bytes each, written at once by a client that does not read: about 124 MB of answers.
    const REQUESTS = 2000;
    const silent = await openSilent(server);
    const one = encodeFrame(JSON.stringify({ type: 'beacon_list' }));
    const before = server.stats().requests;
    silent.write(Buffer.concat(Array.from({ length: REQUESTS }, () => one)));
    await waitFor(() => server.stats().requests > before);
    // Two round trips on another connection: the server has had every chance to process what it received.
    for (let i = 0; i < 2; i++)
      expect((await filler.ask({ type: 'list_networks' })).type).toBe('list_networks_ok');
    const processed = server.stats().requests - before - 2;
    // Answers are produced only while the unsent backlog is under the high-water mark (1 MiB, ~17 answers).
    expect(processed).toBeLessThan(REQUESTS / 4);

    // Once the client reads, every answer arrives, complete and in order.
    const decoder = new FrameDecoder(8 * 1024 * 1024);
    let answers = 0;
    let bad = 0;
    const done = new Promise<void>((resolve) => {
      silent.on('data', (chunk: Buffer) => {
        decoder.push(chunk, (payload) => {
          const msg = JSON.parse(payload.toString('utf8')) as { type: string; beacons?: unknown[] };
          if (msg.type !== 'beacon_list_ok' || msg.beacons?.length !== 200) bad++;
          if (++answers === REQUESTS) resolve();
        });
      });
    });
    await done;
    expect(bad).toBe(0);
    expect(server.stats().requests - before - 2).toBe(REQUESTS);
  });
});

describe('FrameDecoder hold', () => {
  it('a handler returning false keeps the rest, resume() delivers it, and its header is still size-checked', () => {
    const d = new FrameDecoder(100);
    const a = encodeFrame('"a"');
    const b = encodeFrame('"b"');
    const big = Buffer.alloc(4);
    big.writeUInt32BE(1000);
    const got: string[] = [];
    expect(d.push(Buffer.concat([a, b, big]), (p) => (got.push(p.toString()), false))).toBe(true);
    expect(got).toEqual(['"a"']);
    expect(d.held).toBe(true);
    expect(d.resume((p) => got.push(p.toString()))).toBe(false);
    expect(got).toEqual(['"a"', '"b"']);
    expect(d.oversizedLength).toBe(1000);
  });
});

describe('corrupt snapshots at start', () => {
  async function expectRefused(content: string): Promise<void> {
    const dir = await tempDir();
    const store = join(dir, 'r.json');
    await writeFile(store, content);
    await expect(startRegistry({ host: '127.0.0.1', port: 0, store })).rejects.toMatchObject({
      code: 'ERR_REGISTRY_STORE_CORRUPT',
    });
    expect(await readFile(store, 'utf8')).toBe(content);
  }

  it('refuses a snapshot in which every node record is unusable instead of starting empty', async () => {
    // Keys in hex instead of base64: every one of the nodes would be dropped and the next save would erase them.
    const nodes: Record<string, unknown> = {};
    for (let id = 1; id <= 3; id++) {
      nodes[String(id)] = { id, public_key: makeIdentity().publicKey.toString('hex'), networks: [0] };
    }
    await expectRefused(JSON.stringify({ next_node: 4, next_net: 1, nodes, networks: {} }));
  });

  it('refuses a JSON file that is not a registry snapshot (null, or an object without registry fields)', async () => {
    await expectRefused('null\n');
    await expectRefused(JSON.stringify({ name: 'some-app', version: '1.0.0', dependencies: {} }));
  });

  it('still loads a snapshot with some unusable records, and an empty object or file', async () => {
    const dir = await tempDir();
    const store = join(dir, 'r.json');
    const key = makeIdentity();
    const nodes = {
      '1': { id: 1, public_key: key.publicKeyB64 },
      '2': { id: 2, public_key: 'not a key' },
    };
    await writeFile(store, JSON.stringify({ next_node: 3, next_net: 1, nodes }));
    const s = await startTestRegistry({ store });
    expect(s.state.node(1)?.publicKey).toBe(key.publicKeyB64);
    expect(s.state.nodes.size).toBe(1);
    for (const content of ['{}', '']) {
      const other = join(dir, `e${content.length}.json`);
      await writeFile(other, content);
      const e = await startTestRegistry({ store: other });
      expect(e.state.nodes.size).toBe(0);
      await registerNode(e);
      await e.flush();
      expect(JSON.parse(await readFile(other, 'utf8')).next_node).toBe(2);
    }
  });
});

describe('owner strings and unauthenticated re-registration', () => {
  it('re-registering a known key with ever new owners does not grow the owner index', async () => {
    const server = await startTestRegistry();
    const a = await registerNode(server, { owner: 'first@x' });
    const raw = await RawConnection.open(server);
    // register needs no signature and known keys are exempt from the rate limit.
    for (let i = 0; i < 500; i++) {
      raw.send({ type: 'register', public_key: a.id.publicKeyB64, owner: `${'o'.repeat(200)}-${i}` });
    }
    for (let i = 0; i < 500; i++) expect((await raw.next()).node_id).toBe(a.nodeId);
    expect(server.state.ownerIndex.size).toBe(1);
    expect(server.state.node(a.nodeId)?.owner).toBe('first@x');
  });

  it("whoever knows a node's public key cannot plant an owner and later take the node ID over", async () => {
    const server = await startTestRegistry();
    const victim = await registerNode(server, { owner: 'victim@x' });
    await victim.client.reportTrust((await registerNode(server)).nodeId);
    // The key is public (lookup shows it); the attacker re-registers it with its own owner string.
    const raw = await RawConnection.open(server);
    const planted = await raw.ask({ type: 'register', public_key: victim.id.publicKeyB64, owner: 'evil@x' });
    expect(planted.node_id).toBe(victim.nodeId);
    await victim.client.deregister();
    // Also after the victim's node was recreated by the attacker (known key, node gone) and went away again.
    await raw.ask({ type: 'register', public_key: victim.id.publicKeyB64, owner: 'evil@x' });
    await victim.client.deregister();
    const taken = await clientFor(server, makeIdentity()).register({ owner: 'evil@x' });
    expect(taken.node_id).not.toBe(victim.nodeId);
    // The real owner still recovers it.
    const recovered = await clientFor(server, makeIdentity()).register({ owner: 'victim@x' });
    expect(recovered.node_id).toBe(victim.nodeId);
  });
});

describe('connection slots', () => {
  it('one source address cannot take every connection slot', async () => {
    const server = await startTestRegistry({ maxConnections: 4, maxConnectionsPerIp: 2 });
    // The hog (127.0.0.1) opens as many connections as it can and sits on them.
    const hog = await Promise.all([1, 2, 3, 4].map(() => RawConnection.open(server)));
    let refused = 0;
    for (const h of hog) void h.closed.then(() => refused++);
    await waitFor(() => refused === 2 && server.stats().connections === 2);
    // Another client (127.0.0.2) still gets served.
    const other = await openSilent(server, '127.0.0.2');
    other.write(encodeFrame(JSON.stringify({ type: 'list_networks' })));
    const answer = await new Promise<Record<string, unknown>>((resolve) => {
      const d = new FrameDecoder(1 << 20);
      other.on('data', (c: Buffer) =>
        d.push(c, (p) => resolve(JSON.parse(p.toString()) as Record<string, unknown>)),
      );
    });
    expect(answer.type).toBe('list_networks_ok');
    expect(refused).toBe(2);
    expect(server.stats().connections).toBe(3);
  });
});
