/**
 * IPC protocol constants: command bytes and limits.
 *
 * Commands 0x01-0x1E are the reference daemon's, byte for byte (reference §8). 0x1F-0x24 are the newer
 * reference daemon's Network/Health/Managed commands, which we recognise and answer with an error.
 * Commands 0x30 and up are pilot extensions: a reference driver never sends them, and the daemon sends
 * extension messages only to a client that opened with `Hello` (0x30).
 */

/** Every command byte. `*_OK` are replies; `(d→c)` pushes are unsolicited. */
export const Cmd = {
  Bind: 0x01,
  BindOK: 0x02,
  Dial: 0x03,
  DialOK: 0x04,
  /** (d→c) local port u16 + conn_id u32 + remote addr(6) + remote port u16 */
  Accept: 0x05,
  Send: 0x06,
  /** (d→c) conn_id u32 + data */
  Recv: 0x07,
  Close: 0x08,
  /** Reply to Close, and (d→c) end-of-stream when the remote closed. */
  CloseOK: 0x09,
  Error: 0x0a,
  SendTo: 0x0b,
  /** (d→c) src addr(6) + src port u16 + dst port u16 + data */
  RecvFrom: 0x0c,
  Info: 0x0d,
  InfoOK: 0x0e,
  Handshake: 0x0f,
  HandshakeOK: 0x10,
  ResolveHostname: 0x11,
  ResolveHostnameOK: 0x12,
  SetHostname: 0x13,
  SetHostnameOK: 0x14,
  SetVisibility: 0x15,
  SetVisibilityOK: 0x16,
  Deregister: 0x17,
  DeregisterOK: 0x18,
  SetTags: 0x19,
  SetTagsOK: 0x1a,
  SetWebhook: 0x1b,
  SetWebhookOK: 0x1c,
  SetTaskExec: 0x1d,
  SetTaskExecOK: 0x1e,
  /** [NEW] reference commands: recognised, answered with ERR_IPC_UNKNOWN_COMMAND. */
  Network: 0x1f,
  NetworkOK: 0x20,
  Health: 0x21,
  HealthOK: 0x22,
  Managed: 0x23,
  ManagedOK: 0x24,

  // ---- pilot extensions (≥ 0x30) ----
  /** version u8 + receive window u32 → HelloOK */
  Hello: 0x30,
  /** version u8 + receive window u32 + local addr(6) */
  HelloOK: 0x31,
  /** conn_id u32: half-close (FIN after all data), keep reading. Answered by a CloseWriteOK push. */
  CloseWrite: 0x32,
  /** (d→c) conn_id u32: our FIN is sent (write side finished). */
  CloseWriteOK: 0x33,
  /** Same payload as SendTo, but answered: SendToOK or an error. */
  SendToConfirm: 0x34,
  SendToOK: 0x35,
  /** port u16: deliver RecvFrom for this destination port to this client. */
  BindDatagram: 0x36,
  BindDatagramOK: 0x37,
  UnbindDatagram: 0x38,
  UnbindDatagramOK: 0x39,
  /** port u16: stop listening (the reference has no Unbind). */
  Unbind: 0x3a,
  UnbindOK: 0x3b,
  /** (both ways) conn_id u32 + bytes u32: the sender consumed this many more bytes of the conn's data. */
  WindowUpdate: 0x3c,
  /** conn_id u32: abort the connection (RST). Answered by a CloseOK push. */
  Reset: 0x3d,
  /** (d→c) conn_id u32 + error body: the connection failed (reset, ...). */
  StreamError: 0x3e,
  /** Error with a typed code: status u16 + code length u8 + code (ASCII) + text. Answers like Error. */
  ErrorEx: 0x3f,
  /** tag u32 + addr(6) + port u16 + timeout ms u32 (0 = daemon default). Answered by DialExOK/DialExError. */
  DialEx: 0x40,
  /** (d→c) tag u32 + conn_id u32 + local port u16 */
  DialExOK: 0x41,
  /** (d→c) tag u32 + error body */
  DialExError: 0x42,
  /** tag u32: abandon a DialEx. */
  DialCancel: 0x43,
  /** conn_id u32 + u8 (1 = no delay) */
  SetNoDelay: 0x44,
} as const;

export type CmdName = keyof typeof Cmd;

const NAMES = new Map<number, CmdName>(Object.entries(Cmd).map(([k, v]) => [v, k as CmdName]));

/** `Bind`, `DialOK`, ... or `0x7f` for an unknown byte (for logs and errors). */
export function cmdName(cmd: number): string {
  return NAMES.get(cmd) ?? `0x${cmd.toString(16).padStart(2, '0')}`;
}

/** Handshake (0x0F) sub-commands. */
export const HandshakeSub = {
  Send: 0x01,
  Approve: 0x02,
  Reject: 0x03,
  Pending: 0x04,
  Trusted: 0x05,
  Revoke: 0x06,
} as const;

/** Default socket path of the reference daemon. */
export const DEFAULT_SOCKET_PATH = '/tmp/pilot.sock';
/** Length prefix size (u32 BE). */
export const FRAME_HEADER_SIZE = 4;
/** Largest message (command byte + payload) one frame may carry: 1 MiB. Larger frames are rejected. */
export const IPC_MAX_MESSAGE = 1 << 20;
/** Largest data in one Send/Recv message (1 MiB minus command byte and conn_id). */
export const IPC_MAX_DATA = IPC_MAX_MESSAGE - 1 - 4;
/** Largest datagram payload in one SendTo message (1 MiB minus command byte, addr and port). */
export const IPC_MAX_SENDTO = IPC_MAX_MESSAGE - 1 - 6 - 2;
/**
 * Extension mode: application writes smaller than this, made in the same tick, go to the daemon as one Send
 * message (one frame to parse and one stream write per 64 KiB instead of one per write).
 */
export const IPC_COALESCE_BYTES = 64 * 1024;
/** Extension protocol version carried in Hello/HelloOK. */
export const IPC_EXT_VERSION = 1;
/** Default per-connection flow-control window in each direction (extension clients). */
export const IPC_DEFAULT_WINDOW = 512 * 1024;
/** Smallest window either side may announce. */
export const IPC_MIN_WINDOW = 16 * 1024;
/** Most tags SetTags accepts over IPC (the reference's limit). */
export const IPC_MAX_TAGS = 3;
/**
 * Default time a client's socket may stay blocked (the daemon has more queued for it than the socket takes)
 * without any of the queued bytes being read before the daemon drops the client.
 */
export const IPC_DEFAULT_STALL_TIMEOUT_MS = 60_000;
