import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeAddr } from '../../src/coreapi/addr.js';
import { Cmd, IPC_MAX_MESSAGE } from '../../src/ipc/constants.js';
import {
  decodeMessage,
  encodeDataHeader,
  encodeFrame,
  encodeMessage,
  frame,
  type IpcMessage,
} from '../../src/ipc/protocol.js';

const hex = (h: string): Buffer => Buffer.from(h.replace(/[\s|]/g, ''), 'hex');
const ascii = (s: string): string => Buffer.from(s, 'utf8').toString('hex');

const A1 = makeAddr(1, 0xf2910004); // 0001 f2910004
const A0_2A = makeAddr(0, 0x2a); // 0000 0000002a
const A0_1 = makeAddr(0, 1);

/** [name, message, exact bytes] — reference commands (§8) first, then the pilot extensions. */
const VECTORS: Array<[string, IpcMessage, string]> = [
  ['Bind', { type: 'bind', port: 1000 }, '01 03e8'],
  ['BindOK', { type: 'bindOK', port: 1000 }, '02 03e8'],
  ['Dial', { type: 'dial', addr: A1, port: 7 }, '03 0001f2910004 0007'],
  ['DialOK', { type: 'dialOK', connId: 5 }, '04 00000005'],
  [
    'Accept (local port first)',
    { type: 'accept', localPort: 1000, connId: 5, remoteAddr: A0_2A, remotePort: 49152 },
    '05 03e8 00000005 00000000002a c000',
  ],
  ['Send', { type: 'send', connId: 5, data: Buffer.from('hi') }, '06 00000005 6869'],
  ['Send (empty)', { type: 'send', connId: 0xffffffff, data: Buffer.alloc(0) }, '06 ffffffff'],
  ['Recv', { type: 'recv', connId: 5, data: Buffer.from('hi') }, '07 00000005 6869'],
  ['Close', { type: 'close', connId: 5 }, '08 00000005'],
  ['CloseOK', { type: 'closeOK', connId: 5 }, '09 00000005'],
  ['Error', { type: 'error', status: 1, text: 'dial timeout' }, `0a 0001 ${ascii('dial timeout')}`],
  ['SendTo', { type: 'sendTo', addr: A0_1, port: 7, data: Buffer.from('x') }, '0b 000000000001 0007 78'],
  [
    'RecvFrom (dst port included)',
    { type: 'recvFrom', srcAddr: makeAddr(0, 2), srcPort: 49152, dstPort: 1000, data: Buffer.from('ab') },
    '0c 000000000002 c000 03e8 6162',
  ],
  ['Info', { type: 'info' }, '0d'],
  ['InfoOK', { type: 'infoOK', json: { node_id: 1 } }, `0e ${ascii('{"node_id":1}')}`],
  [
    'Handshake Send',
    { type: 'handshake', op: 'send', nodeId: 7, justification: 'pls' },
    `0f 01 00000007 ${ascii('pls')}`,
  ],
  ['Handshake Approve', { type: 'handshake', op: 'approve', nodeId: 7 }, '0f 02 00000007'],
  [
    'Handshake Reject',
    { type: 'handshake', op: 'reject', nodeId: 7, reason: 'no' },
    `0f 03 00000007 ${ascii('no')}`,
  ],
  ['Handshake Pending', { type: 'handshake', op: 'pending' }, '0f 04'],
  ['Handshake Trusted', { type: 'handshake', op: 'trusted' }, '0f 05'],
  ['Handshake Revoke', { type: 'handshake', op: 'revoke', nodeId: 0x01020304 }, '0f 06 01020304'],
  [
    'HandshakeOK',
    { type: 'handshakeOK', json: { status: 'sent', node_id: 7 } },
    `10 ${ascii('{"status":"sent","node_id":7}')}`,
  ],
  ['ResolveHostname', { type: 'resolveHostname', text: 'alpha' }, `11 ${ascii('alpha')}`],
  ['ResolveHostnameOK', { type: 'resolveHostnameOK', json: { node_id: 3 } }, `12 ${ascii('{"node_id":3}')}`],
  ['SetHostname', { type: 'setHostname', text: 'alpha' }, `13 ${ascii('alpha')}`],
  ['SetHostname (clear)', { type: 'setHostname', text: '' }, '13'],
  [
    'SetHostnameOK',
    { type: 'setHostnameOK', json: { hostname: 'alpha' } },
    `14 ${ascii('{"hostname":"alpha"}')}`,
  ],
  ['SetVisibility public', { type: 'setVisibility', flag: true }, '15 01'],
  ['SetVisibility private', { type: 'setVisibility', flag: false }, '15 00'],
  ['SetVisibilityOK', { type: 'setVisibilityOK', json: {} }, `16 ${ascii('{}')}`],
  ['Deregister', { type: 'deregister' }, '17'],
  ['DeregisterOK', { type: 'deregisterOK', json: {} }, `18 ${ascii('{}')}`],
  ['SetTags', { type: 'setTags', tags: ['a', 'b'] }, `19 ${ascii('["a","b"]')}`],
  ['SetTagsOK', { type: 'setTagsOK', json: { tags: ['a'] } }, `1a ${ascii('{"tags":["a"]}')}`],
  ['SetWebhook', { type: 'setWebhook', text: 'http://x' }, `1b ${ascii('http://x')}`],
  [
    'SetWebhookOK',
    { type: 'setWebhookOK', json: { webhook: 'http://x' } },
    `1c ${ascii('{"webhook":"http://x"}')}`,
  ],
  ['SetTaskExec', { type: 'setTaskExec', flag: true }, '1d 01'],
  [
    'SetTaskExecOK',
    { type: 'setTaskExecOK', json: { task_exec: true } },
    `1e ${ascii('{"task_exec":true}')}`,
  ],
  // ---- extensions ----
  ['Hello', { type: 'hello', version: 1, window: 524288 }, '30 01 00080000'],
  ['HelloOK', { type: 'helloOK', version: 1, window: 524288, addr: A1 }, '31 01 00080000 0001f2910004'],
  ['CloseWrite', { type: 'closeWrite', connId: 5 }, '32 00000005'],
  ['CloseWriteOK', { type: 'closeWriteOK', connId: 5 }, '33 00000005'],
  [
    'SendToConfirm',
    { type: 'sendToConfirm', addr: A0_1, port: 7, data: Buffer.from('x') },
    '34 000000000001 0007 78',
  ],
  ['SendToOK', { type: 'sendToOK' }, '35'],
  ['BindDatagram', { type: 'bindDatagram', port: 1000 }, '36 03e8'],
  ['BindDatagramOK', { type: 'bindDatagramOK', port: 1000 }, '37 03e8'],
  ['UnbindDatagram', { type: 'unbindDatagram', port: 1000 }, '38 03e8'],
  ['UnbindDatagramOK', { type: 'unbindDatagramOK', port: 1000 }, '39 03e8'],
  ['Unbind', { type: 'unbind', port: 80 }, '3a 0050'],
  ['UnbindOK', { type: 'unbindOK', port: 80 }, '3b 0050'],
  ['WindowUpdate', { type: 'windowUpdate', connId: 5, bytes: 65536 }, '3c 00000005 00010000'],
  ['Reset', { type: 'reset', connId: 5 }, '3d 00000005'],
  [
    'StreamError',
    {
      type: 'streamError',
      connId: 5,
      error: { status: 1, code: 'ERR_CONNECTION_RESET', text: 'reset' },
    },
    `3e 00000005 0001 14 ${ascii('ERR_CONNECTION_RESET')} ${ascii('reset')}`,
  ],
  [
    'ErrorEx',
    { type: 'errorEx', error: { status: 1, code: 'ERR_PORT_IN_USE', text: 'port 80 in use' } },
    `3f 0001 0f ${ascii('ERR_PORT_IN_USE')} ${ascii('port 80 in use')}`,
  ],
  ['ErrorEx (no code)', { type: 'errorEx', error: { status: 1, text: 'x' } }, `3f 0001 00 ${ascii('x')}`],
  [
    'DialEx',
    { type: 'dialEx', tag: 9, addr: A1, port: 7, timeoutMs: 5000 },
    '40 00000009 0001f2910004 0007 00001388',
  ],
  ['DialExOK', { type: 'dialExOK', tag: 9, connId: 5, localPort: 49152 }, '41 00000009 00000005 c000'],
  [
    'DialExError',
    { type: 'dialExError', tag: 9, error: { status: 1, code: 'ERR_DIAL_TIMEOUT', text: 'dial timeout' } },
    `42 00000009 0001 10 ${ascii('ERR_DIAL_TIMEOUT')} ${ascii('dial timeout')}`,
  ],
  ['DialCancel', { type: 'dialCancel', tag: 9 }, '43 00000009'],
  ['SetNoDelay', { type: 'setNoDelay', connId: 5, noDelay: true }, '44 00000005 01'],
];

describe('IPC codec: byte-exact vectors', () => {
  it.each(VECTORS)('%s encodes to the exact bytes and decodes back', (_name, message, bytes) => {
    const expected = hex(bytes);
    const encoded = encodeMessage(message);
    expect(encoded.toString('hex')).toBe(expected.toString('hex'));
    expect(decodeMessage(expected)).toEqual(message);
  });

  it('covers every command byte of the reference table and of our extensions', () => {
    const covered = new Set(VECTORS.map(([, , b]) => hex(b)[0]));
    const reference = Object.values(Cmd).filter((c) => c <= 0x1e || c >= 0x30);
    for (const c of reference) expect(covered.has(c), `0x${c.toString(16)}`).toBe(true);
  });

  it('frames a message with a 4-byte big-endian length', () => {
    expect(encodeFrame({ type: 'bind', port: 1000 }).toString('hex')).toBe('0000000301' + '03e8');
    expect(frame(hex('0d')).toString('hex')).toBe('000000010d');
    expect(encodeDataHeader(Cmd.Recv, 5, 2).toString('hex')).toBe('00000007' + '07' + '00000005');
  });

  it('refuses to frame an empty or oversized message', () => {
    expect(() => frame(Buffer.alloc(0))).toThrow(expect.objectContaining({ code: 'ERR_IPC_MALFORMED' }));
    expect(() => frame(Buffer.alloc(IPC_MAX_MESSAGE + 1))).toThrow(
      expect.objectContaining({ code: 'ERR_IPC_MALFORMED' }),
    );
    expect(frame(Buffer.alloc(IPC_MAX_MESSAGE, 7)).readUInt32BE(0)).toBe(IPC_MAX_MESSAGE);
  });

  it('decodes data fields as views into the message (no copy)', () => {
    const m = hex('07 00000005 010203');
    const d = decodeMessage(m);
    expect(d.type).toBe('recv');
    if (d.type !== 'recv') return;
    expect(d.data.buffer).toBe(m.buffer);
    expect([...d.data]).toEqual([1, 2, 3]);
  });

  it('decodes unknown command bytes (incl. [NEW] Network/Health/Managed) as unknown', () => {
    expect(decodeMessage(hex('7f 0102'))).toEqual({ type: 'unknown', cmd: 0x7f, payload: hex('0102') });
    expect(decodeMessage(hex('1f 01'))).toMatchObject({ type: 'unknown', cmd: Cmd.Network });
    expect(decodeMessage(hex('21'))).toMatchObject({ type: 'unknown', cmd: Cmd.Health });
  });

  it('ignores trailing bytes on empty-payload requests, as the reference does', () => {
    expect(decodeMessage(hex('0d ff'))).toEqual({ type: 'info' });
  });
});

describe('IPC codec: malformed messages', () => {
  const bad: Array<[string, string]> = [
    ['empty message', ''],
    ['Bind with 1 byte', '01 03'],
    ['Bind with 3 bytes', '01 03e8 00'],
    ['Dial with 7 bytes', '03 0001f2910004 00'],
    ['DialOK with 3 bytes', '04 000000'],
    ['Accept with 13 bytes', '05 03e8 00000005 00000000002a c0'],
    ['Send without conn id', '06 000000'],
    ['Close with 5 bytes', '08 0000000500'],
    ['Error without status', '0a 00'],
    ['SendTo without port', '0b 000000000001 00'],
    ['RecvFrom without dst port', '0c 000000000002 c000 03'],
    ['SetVisibility without flag', '15'],
    ['Handshake without sub', '0f'],
    ['Handshake unknown sub', '0f 09'],
    ['Handshake approve without node', '0f 02 0000'],
    ['Handshake revoke with trailing bytes', '0f 06 00000007 00'],
    ['SetTags invalid JSON', `19 ${ascii('["a"')}`],
    ['SetTags not an array of strings', `19 ${ascii('[1,2]')}`],
    ['InfoOK invalid JSON', `0e ${ascii('{nope')}`],
    ['Hello too short', '30 01 0008'],
    ['HelloOK too short', '31 01 00080000 0001'],
    ['WindowUpdate too short', '3c 00000005 0001'],
    ['StreamError truncated code', '3e 00000005 0001 10 4552'],
    ['ErrorEx truncated', '3f 00'],
    ['DialEx wrong length', '40 00000009 0001f2910004 0007'],
    ['DialExOK wrong length', '41 00000009 00000005'],
    ['SetNoDelay without flag', '44 00000005'],
  ];
  it.each(bad)('%s → ERR_IPC_MALFORMED', (_name, bytes) => {
    expect(() => decodeMessage(hex(bytes))).toThrow(expect.objectContaining({ code: 'ERR_IPC_MALFORMED' }));
  });
});

describe('IPC codec: round trips (property)', () => {
  const addr = fc.record({
    network: fc.integer({ min: 0, max: 0xffff }),
    node: fc.integer({ min: 0, max: 0xffffffff }),
  });
  const port = fc.integer({ min: 0, max: 0xffff });
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const data = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));
  const text = fc.string({ maxLength: 40 });
  const wire = fc.record(
    { status: fc.integer({ min: 0, max: 0xffff }), code: fc.stringMatching(/^ERR_[A-Z_]{1,20}$/), text },
    { requiredKeys: ['status', 'code', 'text'] },
  );
  const message: fc.Arbitrary<IpcMessage> = fc.oneof(
    fc.record({ type: fc.constant('bind' as const), port }),
    fc.record({ type: fc.constant('dial' as const), addr, port }),
    fc.record({
      type: fc.constant('accept' as const),
      localPort: port,
      connId: u32,
      remoteAddr: addr,
      remotePort: port,
    }),
    fc.record({ type: fc.constantFrom('send' as const, 'recv' as const), connId: u32, data }),
    fc.record({ type: fc.constantFrom('sendTo' as const, 'sendToConfirm' as const), addr, port, data }),
    fc.record({ type: fc.constant('recvFrom' as const), srcAddr: addr, srcPort: port, dstPort: port, data }),
    fc.record({ type: fc.constant('error' as const), status: fc.integer({ min: 0, max: 0xffff }), text }),
    fc.record({
      type: fc.constant('handshake' as const),
      op: fc.constant('send' as const),
      nodeId: u32,
      justification: text,
    }),
    fc.record({ type: fc.constant('setTags' as const), tags: fc.array(text, { maxLength: 5 }) }),
    fc.record({ type: fc.constant('windowUpdate' as const), connId: u32, bytes: u32 }),
    fc.record({ type: fc.constant('streamError' as const), connId: u32, error: wire }),
    fc.record({ type: fc.constant('dialEx' as const), tag: u32, addr, port, timeoutMs: u32 }),
    fc.record({
      type: fc.constant('infoOK' as const),
      json: fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), fc.integer()),
    }),
  );

  it('decode(encode(m)) equals m', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(decodeMessage(encodeMessage(m))).toEqual(m);
      }),
      { numRuns: 400 },
    );
  });

  it('decodeMessage never throws anything but ERR_IPC_MALFORMED on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (bytes) => {
        try {
          decodeMessage(Buffer.from(bytes));
        } catch (err) {
          expect((err as { code?: string }).code).toBe('ERR_IPC_MALFORMED');
        }
      }),
      { numRuns: 1000 },
    );
  });
});
