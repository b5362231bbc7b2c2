/**
 * Audit of the daemon side of the IPC protocol against reference §8 / §6.9, byte for byte, from a client that
 * speaks only the reference protocol (hand-built frames, as the reference Go driver writes them).
 *
 * The reference driver matches an Error to the oldest request still waiting for a reply (§8), and the
 * reference daemon handles one client's messages one after the other, so the Error a failed Send or SendTo
 * produces always follows the replies to the requests sent before it. An Error that overtakes an earlier
 * reply is taken as that request's answer.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { addrToBytes, makeAddr } from '../../src/coreapi/addr.js';
import { createMemoryNetwork, MEMORY_MAX_DATAGRAM } from '../../src/runtime/memory-streams.js';
import { waitFor } from '../helpers/wait.js';
import { RawClient, startDaemon, type TestDaemon } from './helpers.js';

const NODE = makeAddr(1, 0x0a);
const PEER = makeAddr(1, 0x0b);
const u16 = (v: number): string => v.toString(16).padStart(4, '0');
const text = (s: string): string => Buffer.from(s, 'utf8').toString('hex');
const addrHex = (a: ReturnType<typeof makeAddr>): string => addrToBytes(a).toString('hex');

async function setup(): Promise<{ daemon: TestDaemon; raw: RawClient }> {
  const net = createMemoryNetwork();
  const daemon = await startDaemon(net, NODE);
  onTestFinished(async () => {
    await daemon.close();
    await net.close();
  });
  return { daemon, raw: await RawClient.connect(daemon.socketPath) };
}

/** Hold the next call of `op` in the fake control until the returned function is called. */
function gate(daemon: TestDaemon, op: string): () => void {
  let open!: () => void;
  daemon.control.gates.set(op, new Promise<void>((r) => (open = r)));
  return () => open();
}

const called = (daemon: TestDaemon, op: string): boolean => daemon.control.calls.some((c) => c.op === op);

describe('audit3 IPC conformance: errors keep request order (§8)', () => {
  it('a failed Send answers with its Error after the reply to an earlier, slower request', async () => {
    const { daemon, raw } = await setup();
    const open = gate(daemon, 'resolveHostname');
    raw.send(`11 ${text('alpha')}`); // ResolveHostname: waits on the registry
    raw.send(`06 000003e7 ${text('x')}`); // Send on an unknown conn: fails at once
    raw.send('17'); // Deregister
    // Frames are handled in order: once Deregister reached the control, the Send has been handled too.
    await waitFor(() => called(daemon, 'deregister'), 2000, 'deregister to reach the control');
    open();
    const first = await raw.next();
    expect(first[0]).toBe(0x12);
    expect(JSON.parse(first.toString('utf8', 1))).toMatchObject({ hostname: 'alpha', node_id: 42 });
    expect((await raw.next()).toString('hex')).toBe(`0a0001${text('connection 999 not found')}`);
    expect((await raw.next()).toString('hex')).toBe(`18${text('{}')}`);
  });

  it('a failed SendTo answers with its Error after the reply to an earlier, slower request', async () => {
    const { daemon, raw } = await setup();
    const open = gate(daemon, 'info');
    const big = MEMORY_MAX_DATAGRAM + 1;
    raw.send('0d'); // Info: slow
    raw.send(Buffer.concat([Buffer.from(`0b${addrHex(PEER)}${u16(7000)}`, 'hex'), Buffer.alloc(big, 1)]));
    raw.send('17'); // Deregister
    await waitFor(() => called(daemon, 'deregister'), 2000, 'deregister to reach the control');
    open();
    const first = await raw.next();
    expect(first[0]).toBe(0x0e);
    expect(JSON.parse(first.toString('utf8', 1))).toMatchObject({ node_id: NODE.node });
    const err = await raw.next();
    expect(err.subarray(0, 3).toString('hex')).toBe('0a0001');
    expect(err.toString('utf8', 3)).toMatch(/^datagram of \d+ bytes exceeds \d+$/);
    expect((await raw.next()).toString('hex')).toBe(`18${text('{}')}`);
  });

  it('a successful SendTo and Send produce no message at all', async () => {
    const { daemon, raw } = await setup();
    raw.send(`0b ${addrHex(PEER)} ${u16(7000)} ${text('hi')}`);
    raw.send('0d');
    const m = await raw.next();
    expect(m[0]).toBe(0x0e);
    expect(called(daemon, 'info')).toBe(true);
    raw.send('17');
    expect((await raw.next()).toString('hex')).toBe(`18${text('{}')}`);
  });
});

describe('audit3 IPC conformance: SendTo to a broadcast address (§6.9)', () => {
  const WIP = 'broadcast is not available — custom networks are WIP';

  it('answers SendTo to node 0xFFFFFFFF with the reference Error, on any network', async () => {
    const { raw } = await setup();
    raw.send(`0b 0000ffffffff ${u16(1000)} ${text('hello')}`);
    raw.send('0d');
    expect((await raw.next()).toString('hex')).toBe(`0a0001${text(WIP)}`);
    expect((await raw.next())[0]).toBe(0x0e);
    raw.send(`0b 0001ffffffff ${u16(1000)} ${text('hello')}`);
    expect((await raw.next()).toString('hex')).toBe(`0a0001${text(WIP)}`);
  });

  it('the em dash in the text is UTF-8 (e2 80 94)', async () => {
    const { raw } = await setup();
    raw.send(`0b 0000ffffffff ${u16(1000)} 00`);
    raw.send('0d');
    const m = await raw.next();
    expect(m[0]).toBe(0x0a);
    expect(m.subarray(3).includes(Buffer.from([0xe2, 0x80, 0x94]))).toBe(true);
  });

  it('an extension client gets the same refusal as ErrorEx ERR_IPC_UNSUPPORTED for SendToConfirm', async () => {
    const { raw } = await setup();
    raw.send('30 01 00040000');
    expect((await raw.next())[0]).toBe(0x31);
    raw.send(`34 0000ffffffff ${u16(1000)} ${text('x')}`);
    const code = 'ERR_IPC_UNSUPPORTED';
    expect((await raw.next()).toString('hex')).toBe(
      `3f0001${code.length.toString(16).padStart(2, '0')}${text(code)}${text(WIP)}`,
    );
  });
});
