/**
 * The IPC message codec (reference §8): message = 1 command byte + payload, carried in a frame of a 4-byte
 * big-endian length + the message (see `frame-decoder.ts`). All integers are big-endian; addresses are the
 * 6-byte wire form; texts are UTF-8; JSON replies are UTF-8 JSON.
 *
 * `encodeMessage` / `decodeMessage` cover every command (reference and extensions) as a discriminated union.
 * The data paths (Send/Recv/RecvFrom) also have allocation-light helpers used by the server and the driver.
 */
import { readAddr, writeAddr, type Addr } from '../coreapi/addr.js';
import { Cmd, cmdName, FRAME_HEADER_SIZE, HandshakeSub, IPC_MAX_MESSAGE, IPC_MAX_DATA } from './constants.js';
import { IpcMalformedError, type WireError } from './errors.js';

/** JSON reply message types and their command bytes. */
export const JSON_REPLIES = {
  infoOK: Cmd.InfoOK,
  handshakeOK: Cmd.HandshakeOK,
  resolveHostnameOK: Cmd.ResolveHostnameOK,
  setHostnameOK: Cmd.SetHostnameOK,
  setVisibilityOK: Cmd.SetVisibilityOK,
  deregisterOK: Cmd.DeregisterOK,
  setTagsOK: Cmd.SetTagsOK,
  setWebhookOK: Cmd.SetWebhookOK,
  setTaskExecOK: Cmd.SetTaskExecOK,
} as const;
export type JsonReplyType = keyof typeof JSON_REPLIES;

/** Commands whose payload is a single u16 port. */
const PORT_MESSAGES = {
  bind: Cmd.Bind,
  bindOK: Cmd.BindOK,
  bindDatagram: Cmd.BindDatagram,
  bindDatagramOK: Cmd.BindDatagramOK,
  unbindDatagram: Cmd.UnbindDatagram,
  unbindDatagramOK: Cmd.UnbindDatagramOK,
  unbind: Cmd.Unbind,
  unbindOK: Cmd.UnbindOK,
} as const;
export type PortMessageType = keyof typeof PORT_MESSAGES;

/** Commands whose payload is a single u32 conn_id. */
const CONN_MESSAGES = {
  dialOK: Cmd.DialOK,
  close: Cmd.Close,
  closeOK: Cmd.CloseOK,
  closeWrite: Cmd.CloseWrite,
  closeWriteOK: Cmd.CloseWriteOK,
  reset: Cmd.Reset,
} as const;
export type ConnMessageType = keyof typeof CONN_MESSAGES;

/** Commands with no payload. */
const EMPTY_MESSAGES = {
  info: Cmd.Info,
  deregister: Cmd.Deregister,
  sendToOK: Cmd.SendToOK,
} as const;
export type EmptyMessageType = keyof typeof EMPTY_MESSAGES;

/** Commands whose payload is one UTF-8 string. */
const TEXT_MESSAGES = {
  resolveHostname: Cmd.ResolveHostname,
  setHostname: Cmd.SetHostname,
  setWebhook: Cmd.SetWebhook,
} as const;
export type TextMessageType = keyof typeof TEXT_MESSAGES;

/** Commands whose payload is one flag byte. */
const FLAG_MESSAGES = {
  setVisibility: Cmd.SetVisibility,
  setTaskExec: Cmd.SetTaskExec,
} as const;
export type FlagMessageType = keyof typeof FLAG_MESSAGES;

export type HandshakeOp = 'send' | 'approve' | 'reject' | 'pending' | 'trusted' | 'revoke';

export type HandshakeMessage =
  | { type: 'handshake'; op: 'send'; nodeId: number; justification: string }
  | { type: 'handshake'; op: 'approve'; nodeId: number }
  | { type: 'handshake'; op: 'reject'; nodeId: number; reason: string }
  | { type: 'handshake'; op: 'pending' }
  | { type: 'handshake'; op: 'trusted' }
  | { type: 'handshake'; op: 'revoke'; nodeId: number };

/** Every IPC message. */
export type IpcMessage =
  | { type: PortMessageType; port: number }
  | { type: ConnMessageType; connId: number }
  | { type: EmptyMessageType }
  | { type: TextMessageType; text: string }
  | { type: FlagMessageType; flag: boolean }
  | { type: JsonReplyType; json: unknown }
  | HandshakeMessage
  | { type: 'dial'; addr: Addr; port: number }
  | { type: 'accept'; localPort: number; connId: number; remoteAddr: Addr; remotePort: number }
  | { type: 'send'; connId: number; data: Buffer }
  | { type: 'recv'; connId: number; data: Buffer }
  | { type: 'error'; status: number; text: string }
  | { type: 'sendTo'; addr: Addr; port: number; data: Buffer }
  | { type: 'sendToConfirm'; addr: Addr; port: number; data: Buffer }
  | { type: 'recvFrom'; srcAddr: Addr; srcPort: number; dstPort: number; data: Buffer }
  | { type: 'setTags'; tags: string[] }
  | { type: 'hello'; version: number; window: number }
  | { type: 'helloOK'; version: number; window: number; addr: Addr }
  | { type: 'windowUpdate'; connId: number; bytes: number }
  | { type: 'streamError'; connId: number; error: WireError }
  | { type: 'errorEx'; error: WireError }
  | { type: 'dialEx'; tag: number; addr: Addr; port: number; timeoutMs: number }
  | { type: 'dialExOK'; tag: number; connId: number; localPort: number }
  | { type: 'dialExError'; tag: number; error: WireError }
  | { type: 'dialCancel'; tag: number }
  | { type: 'setNoDelay'; connId: number; noDelay: boolean }
  | { type: 'unknown'; cmd: number; payload: Buffer };

const HANDSHAKE_OPS: Record<number, HandshakeOp> = {
  [HandshakeSub.Send]: 'send',
  [HandshakeSub.Approve]: 'approve',
  [HandshakeSub.Reject]: 'reject',
  [HandshakeSub.Pending]: 'pending',
  [HandshakeSub.Trusted]: 'trusted',
  [HandshakeSub.Revoke]: 'revoke',
};

const HANDSHAKE_SUBS: Record<HandshakeOp, number> = {
  send: HandshakeSub.Send,
  approve: HandshakeSub.Approve,
  reject: HandshakeSub.Reject,
  pending: HandshakeSub.Pending,
  trusted: HandshakeSub.Trusted,
  revoke: HandshakeSub.Revoke,
};

// ---------------------------------------------------------------------------------------------------------
// Encoding

function msg(cmd: number, payloadSize: number): Buffer {
  const b = Buffer.allocUnsafe(1 + payloadSize);
  b[0] = cmd;
  return b;
}

function withBytes(cmd: number, head: number, tail: Uint8Array): Buffer {
  const b = msg(cmd, head + tail.length);
  b.set(tail, 1 + head);
  return b;
}

function u16(v: number): number {
  return v & 0xffff;
}

function encodeErrorBody(cmd: number, head: number, e: WireError): Buffer {
  const code = Buffer.from(e.code ?? '', 'latin1');
  if (code.length > 255) throw new IpcMalformedError('error code longer than 255 bytes');
  const text = Buffer.from(e.text, 'utf8');
  const b = msg(cmd, head + 3 + code.length + text.length);
  const o = 1 + head;
  b.writeUInt16BE(u16(e.status), o);
  b[o + 2] = code.length;
  code.copy(b, o + 3);
  text.copy(b, o + 3 + code.length);
  return b;
}

/** The message bytes (command byte + payload), without the frame length. */
export function encodeMessage(m: IpcMessage): Buffer {
  switch (m.type) {
    case 'bind':
    case 'bindOK':
    case 'bindDatagram':
    case 'bindDatagramOK':
    case 'unbindDatagram':
    case 'unbindDatagramOK':
    case 'unbind':
    case 'unbindOK': {
      const b = msg(PORT_MESSAGES[m.type], 2);
      b.writeUInt16BE(u16(m.port), 1);
      return b;
    }
    case 'dialOK':
    case 'close':
    case 'closeOK':
    case 'closeWrite':
    case 'closeWriteOK':
    case 'reset': {
      const b = msg(CONN_MESSAGES[m.type], 4);
      b.writeUInt32BE(m.connId >>> 0, 1);
      return b;
    }
    case 'info':
    case 'deregister':
    case 'sendToOK':
      return msg(EMPTY_MESSAGES[m.type], 0);
    case 'resolveHostname':
    case 'setHostname':
    case 'setWebhook':
      return withBytes(TEXT_MESSAGES[m.type], 0, Buffer.from(m.text, 'utf8'));
    case 'setVisibility':
    case 'setTaskExec': {
      const b = msg(FLAG_MESSAGES[m.type], 1);
      b[1] = m.flag ? 1 : 0;
      return b;
    }
    case 'infoOK':
    case 'handshakeOK':
    case 'resolveHostnameOK':
    case 'setHostnameOK':
    case 'setVisibilityOK':
    case 'deregisterOK':
    case 'setTagsOK':
    case 'setWebhookOK':
    case 'setTaskExecOK':
      return encodeJsonReply(JSON_REPLIES[m.type], m.json);
    case 'handshake':
      return encodeHandshake(m);
    case 'dial': {
      const b = msg(Cmd.Dial, 8);
      writeAddr(b, 1, m.addr);
      b.writeUInt16BE(u16(m.port), 7);
      return b;
    }
    case 'accept': {
      const b = msg(Cmd.Accept, 14);
      b.writeUInt16BE(u16(m.localPort), 1);
      b.writeUInt32BE(m.connId >>> 0, 3);
      writeAddr(b, 7, m.remoteAddr);
      b.writeUInt16BE(u16(m.remotePort), 13);
      return b;
    }
    case 'send':
    case 'recv': {
      const b = withBytes(m.type === 'send' ? Cmd.Send : Cmd.Recv, 4, m.data);
      b.writeUInt32BE(m.connId >>> 0, 1);
      return b;
    }
    case 'error': {
      const b = withBytes(Cmd.Error, 2, Buffer.from(m.text, 'utf8'));
      b.writeUInt16BE(u16(m.status), 1);
      return b;
    }
    case 'sendTo':
    case 'sendToConfirm': {
      const b = withBytes(m.type === 'sendTo' ? Cmd.SendTo : Cmd.SendToConfirm, 8, m.data);
      writeAddr(b, 1, m.addr);
      b.writeUInt16BE(u16(m.port), 7);
      return b;
    }
    case 'recvFrom':
      return encodeRecvFrom(m.srcAddr, m.srcPort, m.dstPort, m.data);
    case 'setTags':
      return withBytes(Cmd.SetTags, 0, Buffer.from(JSON.stringify(m.tags), 'utf8'));
    case 'hello': {
      const b = msg(Cmd.Hello, 5);
      b[1] = m.version & 0xff;
      b.writeUInt32BE(m.window >>> 0, 2);
      return b;
    }
    case 'helloOK': {
      const b = msg(Cmd.HelloOK, 11);
      b[1] = m.version & 0xff;
      b.writeUInt32BE(m.window >>> 0, 2);
      writeAddr(b, 6, m.addr);
      return b;
    }
    case 'windowUpdate':
      return encodeWindowUpdate(m.connId, m.bytes);
    case 'streamError': {
      const b = encodeErrorBody(Cmd.StreamError, 4, m.error);
      b.writeUInt32BE(m.connId >>> 0, 1);
      return b;
    }
    case 'errorEx':
      return encodeErrorBody(Cmd.ErrorEx, 0, m.error);
    case 'dialEx': {
      const b = msg(Cmd.DialEx, 16);
      b.writeUInt32BE(m.tag >>> 0, 1);
      writeAddr(b, 5, m.addr);
      b.writeUInt16BE(u16(m.port), 11);
      b.writeUInt32BE(m.timeoutMs >>> 0, 13);
      return b;
    }
    case 'dialExOK': {
      const b = msg(Cmd.DialExOK, 10);
      b.writeUInt32BE(m.tag >>> 0, 1);
      b.writeUInt32BE(m.connId >>> 0, 5);
      b.writeUInt16BE(u16(m.localPort), 9);
      return b;
    }
    case 'dialExError': {
      const b = encodeErrorBody(Cmd.DialExError, 4, m.error);
      b.writeUInt32BE(m.tag >>> 0, 1);
      return b;
    }
    case 'dialCancel': {
      const b = msg(Cmd.DialCancel, 4);
      b.writeUInt32BE(m.tag >>> 0, 1);
      return b;
    }
    case 'setNoDelay': {
      const b = msg(Cmd.SetNoDelay, 5);
      b.writeUInt32BE(m.connId >>> 0, 1);
      b[5] = m.noDelay ? 1 : 0;
      return b;
    }
    case 'unknown':
      return withBytes(m.cmd, 0, m.payload);
  }
}

function encodeHandshake(m: HandshakeMessage): Buffer {
  const sub = HANDSHAKE_SUBS[m.op];
  switch (m.op) {
    case 'pending':
    case 'trusted': {
      const b = msg(Cmd.Handshake, 1);
      b[1] = sub;
      return b;
    }
    case 'approve':
    case 'revoke': {
      const b = msg(Cmd.Handshake, 5);
      b[1] = sub;
      b.writeUInt32BE(m.nodeId >>> 0, 2);
      return b;
    }
    case 'send':
    case 'reject': {
      const text = Buffer.from(m.op === 'send' ? m.justification : m.reason, 'utf8');
      const b = withBytes(Cmd.Handshake, 5, text);
      b[1] = sub;
      b.writeUInt32BE(m.nodeId >>> 0, 2);
      return b;
    }
  }
}

/** A JSON reply: command byte + UTF-8 JSON. */
export function encodeJsonReply(cmd: number, json: unknown): Buffer {
  return withBytes(cmd, 0, Buffer.from(JSON.stringify(json ?? null), 'utf8'));
}

/** A RecvFrom message (built once per datagram and shared by every client it goes to). */
export function encodeRecvFrom(srcAddr: Addr, srcPort: number, dstPort: number, data: Uint8Array): Buffer {
  const b = withBytes(Cmd.RecvFrom, 10, data);
  writeAddr(b, 1, srcAddr);
  b.writeUInt16BE(u16(srcPort), 7);
  b.writeUInt16BE(u16(dstPort), 9);
  return b;
}

/** A WindowUpdate message. */
export function encodeWindowUpdate(connId: number, bytes: number): Buffer {
  const b = msg(Cmd.WindowUpdate, 8);
  b.writeUInt32BE(connId >>> 0, 1);
  b.writeUInt32BE(bytes >>> 0, 5);
  return b;
}

/** The frame header (length u32) + command byte + conn_id of a Send/Recv message whose data follows. */
export function encodeDataHeader(cmd: number, connId: number, dataLength: number): Buffer {
  if (dataLength > IPC_MAX_DATA)
    throw new IpcMalformedError(`data of ${dataLength} bytes exceeds one message`);
  const b = Buffer.allocUnsafe(FRAME_HEADER_SIZE + 5);
  b.writeUInt32BE(5 + dataLength, 0);
  b[4] = cmd;
  b.writeUInt32BE(connId >>> 0, 5);
  return b;
}

/** Prefix a message with its 4-byte length. */
export function frame(message: Uint8Array): Buffer {
  if (message.length === 0 || message.length > IPC_MAX_MESSAGE) {
    throw new IpcMalformedError(
      `message of ${message.length} bytes cannot be framed (1..${IPC_MAX_MESSAGE})`,
    );
  }
  const b = Buffer.allocUnsafe(FRAME_HEADER_SIZE + message.length);
  b.writeUInt32BE(message.length, 0);
  b.set(message, FRAME_HEADER_SIZE);
  return b;
}

/** `frame(encodeMessage(m))` */
export function encodeFrame(m: IpcMessage): Buffer {
  return frame(encodeMessage(m));
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

function malformed(cmd: number, why: string, cause?: unknown): IpcMalformedError {
  return new IpcMalformedError(`malformed ${cmdName(cmd)} message: ${why}`, { details: { cmd }, cause });
}

function need(m: Buffer, exact: number | null, min: number): void {
  const len = m.length - 1;
  if (exact !== null ? len !== exact : len < min) {
    throw malformed(m[0], `payload is ${len} bytes, expected ${exact !== null ? exact : `at least ${min}`}`);
  }
}

function utf8(m: Buffer, from: number): string {
  return m.toString('utf8', from);
}

function parseJson(m: Buffer, from: number): unknown {
  try {
    return JSON.parse(m.toString('utf8', from));
  } catch (err) {
    throw malformed(m[0], 'invalid JSON', err);
  }
}

function decodeErrorBody(m: Buffer, o: number): WireError {
  if (m.length < o + 3) throw malformed(m[0], 'truncated error body');
  const status = m.readUInt16BE(o);
  const codeLen = m[o + 2];
  if (m.length < o + 3 + codeLen) throw malformed(m[0], 'truncated error code');
  const code = m.toString('latin1', o + 3, o + 3 + codeLen);
  const text = m.toString('utf8', o + 3 + codeLen);
  return codeLen > 0 ? { status, code, text } : { status, text };
}

const PORT_BY_CMD = invert(PORT_MESSAGES);
const CONN_BY_CMD = invert(CONN_MESSAGES);
const EMPTY_BY_CMD = invert(EMPTY_MESSAGES);
const TEXT_BY_CMD = invert(TEXT_MESSAGES);
const FLAG_BY_CMD = invert(FLAG_MESSAGES);
const JSON_BY_CMD = invert(JSON_REPLIES);

function invert<K extends string>(table: Record<K, number>): Map<number, K> {
  return new Map(Object.entries(table).map(([k, v]) => [v as number, k as K]));
}

/**
 * Decode one message (command byte + payload). Throws {@link IpcMalformedError} (`ERR_IPC_MALFORMED`) when
 * the payload does not fit the command's layout. Unknown command bytes decode as `{type: 'unknown'}`.
 * Data fields are views into `m` (no copy).
 */
export function decodeMessage(m: Buffer): IpcMessage {
  if (m.length < 1) throw new IpcMalformedError('empty message');
  const cmd = m[0];
  const port = PORT_BY_CMD.get(cmd);
  if (port) {
    need(m, 2, 2);
    return { type: port, port: m.readUInt16BE(1) };
  }
  const conn = CONN_BY_CMD.get(cmd);
  if (conn) {
    need(m, 4, 4);
    return { type: conn, connId: m.readUInt32BE(1) };
  }
  // Empty-payload commands ignore trailing bytes, as the reference does.
  const empty = EMPTY_BY_CMD.get(cmd);
  if (empty) return { type: empty };
  const text = TEXT_BY_CMD.get(cmd);
  if (text) return { type: text, text: utf8(m, 1) };
  const flag = FLAG_BY_CMD.get(cmd);
  if (flag) {
    need(m, 1, 1);
    return { type: flag, flag: m[1] === 1 };
  }
  const json = JSON_BY_CMD.get(cmd);
  if (json) return { type: json, json: parseJson(m, 1) };
  switch (cmd) {
    case Cmd.Dial:
      need(m, 8, 8);
      return { type: 'dial', addr: readAddr(m, 1), port: m.readUInt16BE(7) };
    case Cmd.Accept:
      need(m, 14, 14);
      return {
        type: 'accept',
        localPort: m.readUInt16BE(1),
        connId: m.readUInt32BE(3),
        remoteAddr: readAddr(m, 7),
        remotePort: m.readUInt16BE(13),
      };
    case Cmd.Send:
    case Cmd.Recv:
      need(m, null, 4);
      return { type: cmd === Cmd.Send ? 'send' : 'recv', connId: m.readUInt32BE(1), data: m.subarray(5) };
    case Cmd.Error:
      need(m, null, 2);
      return { type: 'error', status: m.readUInt16BE(1), text: utf8(m, 3) };
    case Cmd.SendTo:
    case Cmd.SendToConfirm:
      need(m, null, 8);
      return {
        type: cmd === Cmd.SendTo ? 'sendTo' : 'sendToConfirm',
        addr: readAddr(m, 1),
        port: m.readUInt16BE(7),
        data: m.subarray(9),
      };
    case Cmd.RecvFrom:
      need(m, null, 10);
      return {
        type: 'recvFrom',
        srcAddr: readAddr(m, 1),
        srcPort: m.readUInt16BE(7),
        dstPort: m.readUInt16BE(9),
        data: m.subarray(11),
      };
    case Cmd.Handshake:
      return decodeHandshake(m);
    case Cmd.SetTags:
      return { type: 'setTags', tags: decodeTags(m) };
    case Cmd.Hello:
      need(m, null, 5);
      return { type: 'hello', version: m[1], window: m.readUInt32BE(2) };
    case Cmd.HelloOK:
      need(m, null, 11);
      return { type: 'helloOK', version: m[1], window: m.readUInt32BE(2), addr: readAddr(m, 6) };
    case Cmd.WindowUpdate:
      need(m, 8, 8);
      return { type: 'windowUpdate', connId: m.readUInt32BE(1), bytes: m.readUInt32BE(5) };
    case Cmd.StreamError:
      need(m, null, 7);
      return { type: 'streamError', connId: m.readUInt32BE(1), error: decodeErrorBody(m, 5) };
    case Cmd.ErrorEx:
      return { type: 'errorEx', error: decodeErrorBody(m, 1) };
    case Cmd.DialEx:
      need(m, 16, 16);
      return {
        type: 'dialEx',
        tag: m.readUInt32BE(1),
        addr: readAddr(m, 5),
        port: m.readUInt16BE(11),
        timeoutMs: m.readUInt32BE(13),
      };
    case Cmd.DialExOK:
      need(m, 10, 10);
      return {
        type: 'dialExOK',
        tag: m.readUInt32BE(1),
        connId: m.readUInt32BE(5),
        localPort: m.readUInt16BE(9),
      };
    case Cmd.DialExError:
      need(m, null, 7);
      return { type: 'dialExError', tag: m.readUInt32BE(1), error: decodeErrorBody(m, 5) };
    case Cmd.DialCancel:
      need(m, 4, 4);
      return { type: 'dialCancel', tag: m.readUInt32BE(1) };
    case Cmd.SetNoDelay:
      need(m, 5, 5);
      return { type: 'setNoDelay', connId: m.readUInt32BE(1), noDelay: m[5] === 1 };
    default:
      return { type: 'unknown', cmd, payload: m.subarray(1) };
  }
}

function decodeHandshake(m: Buffer): HandshakeMessage {
  need(m, null, 1);
  const op = HANDSHAKE_OPS[m[1]];
  if (!op) throw malformed(m[0], `unknown sub-command 0x${m[1].toString(16).padStart(2, '0')}`);
  if (op === 'pending' || op === 'trusted') return { type: 'handshake', op };
  if (m.length < 6) throw malformed(m[0], `${op} needs a node id`);
  const nodeId = m.readUInt32BE(2);
  switch (op) {
    case 'send':
      return { type: 'handshake', op, nodeId, justification: utf8(m, 6) };
    case 'reject':
      return { type: 'handshake', op, nodeId, reason: utf8(m, 6) };
    default:
      if (m.length !== 6) throw malformed(m[0], `${op} payload must be sub + node id`);
      return { type: 'handshake', op, nodeId };
  }
}

function decodeTags(m: Buffer): string[] {
  const v = parseJson(m, 1);
  if (!Array.isArray(v) || !v.every((t) => typeof t === 'string')) {
    throw malformed(m[0], 'tags must be a JSON array of strings');
  }
  return v as string[];
}

/** Offset of the data in a Send/Recv message (command byte + conn_id). */
export const DATA_OFFSET = 5;
