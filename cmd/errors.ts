/**
 * CLI errors: the reference pilotctl's error codes (`invalid_argument`, `not_found`, ...) and the mapping from
 * the library's PilotError codes to them. Every failure of a command ends up as a {@link CliError}, which the
 * output layer prints as `error: <message>` (+ `hint: ...`) or, with `--json`, as the error envelope.
 */
import { PilotError, type PilotErrorOptions } from '../src/client.js';

/** The `code` values of the `--json` error envelope (reference §13). */
export type CliErrorCode =
  | 'invalid_argument'
  | 'not_found'
  | 'already_exists'
  | 'not_running'
  | 'connection_failed'
  | 'timeout'
  | 'unavailable'
  | 'internal';

export const CLI_ERROR_CODES: readonly CliErrorCode[] = [
  'invalid_argument',
  'not_found',
  'already_exists',
  'not_running',
  'connection_failed',
  'timeout',
  'unavailable',
  'internal',
];

export interface CliErrorOptions extends PilotErrorOptions {
  hint?: string;
  /** Process exit code (default 1). Usage errors without --json use 2. */
  exitCode?: number;
}

/** A command failure as the user sees it. `code` is the library code (`ERR_CLI`) or the one it came from. */
export class CliError extends PilotError {
  readonly cliCode: CliErrorCode;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(cliCode: CliErrorCode, message: string, options: CliErrorOptions = {}) {
    super('ERR_CLI', message, options);
    this.cliCode = cliCode;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** A bad command line (unknown flag, missing argument, bad value). Exit code 2 without --json. */
export class UsageError extends CliError {
  constructor(message: string, options: Omit<CliErrorOptions, 'exitCode'> = {}) {
    super('invalid_argument', message, { ...options, exitCode: 2 });
  }
}

const START_HINT = 'start the daemon with `pilot daemon start` (or pass --socket / PILOT_SOCKET)';

/** Library code → CLI code, for the codes that need more than the suffix rules in {@link cliCodeOf}. */
const EXACT: Record<string, CliErrorCode> = {
  ERR_IPC_CONNECT: 'not_running',
  ERR_IPC_DISCONNECTED: 'not_running',
  ERR_IPC_TIMEOUT: 'timeout',
  ERR_CONNECTION_REFUSED: 'connection_failed',
  ERR_CONNECTION_RESET: 'connection_failed',
  ERR_RETRANSMIT_LIMIT: 'connection_failed',
  ERR_DIAL_TIMEOUT: 'timeout',
  ERR_IDLE_TIMEOUT: 'timeout',
  ERR_ABORTED: 'timeout',
  ERR_PEER_NOT_FOUND: 'not_found',
  ERR_INVALID_ARG: 'invalid_argument',
  ERR_ADDR_INVALID: 'invalid_argument',
  ERR_DATAGRAM_TOO_LARGE: 'invalid_argument',
  ERR_PORT_IN_USE: 'already_exists',
  ERR_IPC_UNKNOWN_COMMAND: 'unavailable',
  ERR_IPC_UNSUPPORTED: 'unavailable',
  ERR_NOT_IMPLEMENTED: 'unavailable',
  ERR_REGISTRY_CONNECTION: 'connection_failed',
  ERR_REGISTRY_UNAVAILABLE: 'connection_failed',
  ERR_REGISTRY_TLS_FINGERPRINT: 'connection_failed',
  // A handshake request that reached the peer neither directly nor through the registry relay.
  ERR_TRUST_SEND_FAILED: 'connection_failed',
  ERR_REGISTRY_BAD_REQUEST: 'invalid_argument',
  ERR_REGISTRY_ALREADY_MEMBER: 'already_exists',
  ERR_REGISTRY_KEY_IN_USE: 'already_exists',
  // Files and paths the user gave: an unreadable identity file, a socket path the OS cannot bind.
  ERR_IDENTITY_CORRUPT: 'invalid_argument',
  ERR_IPC_SOCKET_PATH: 'invalid_argument',
};

/** The CLI code for a library error code. */
export function cliCodeOf(code: string): CliErrorCode {
  const exact = EXACT[code];
  if (exact) return exact;
  if (code.startsWith('ERR_CONFIG_') || code.endsWith('_CONFIG')) return 'invalid_argument';
  if (code.endsWith('_NOT_FOUND')) return 'not_found';
  if (code.endsWith('_TIMEOUT')) return 'timeout';
  if (/_(TAKEN|EXISTS|IN_USE)$/.test(code)) return 'already_exists';
  if (/_INVALID(_|$)|_INVALID_FIELD$|_TOO_LARGE$|_TOO_LONG$|_MALFORMED$/.test(code))
    return 'invalid_argument';
  if (code.endsWith('_UNAVAILABLE') || code.endsWith('_UNSUPPORTED')) return 'unavailable';
  return 'internal';
}

function hintFor(code: string, cli: CliErrorCode): string | undefined {
  if (code === 'ERR_IPC_CONNECT') return START_HINT;
  if (code === 'ERR_IPC_DISCONNECTED') return 'the daemon went away; check its log (`pilot daemon status`)';
  if (code === 'ERR_IPC_TIMEOUT')
    return 'the daemon accepted the connection but did not answer: is it stopped or stuck? (`pilot daemon status`, its log)';
  if (code === 'ERR_IPC_UNKNOWN_COMMAND' || code === 'ERR_IPC_UNSUPPORTED' || code === 'ERR_NOT_IMPLEMENTED')
    return 'the running daemon does not implement this command';
  if (code === 'ERR_CONNECTION_REFUSED') return 'nothing listens on that port of the remote node';
  if (code === 'ERR_DIAL_TIMEOUT') return 'the node is unreachable or offline';
  if (code === 'ERR_PEER_NOT_FOUND')
    return 'check the address (`pilot lookup <node-id>`); a private node can be reached only by peers it trusts';
  if (cli === 'connection_failed' && code.startsWith('ERR_REGISTRY_'))
    return 'check the registry address (--registry / PILOT_REGISTRY)';
  return undefined;
}

/** An abort reason that is a timeout (`TimeoutError` DOMException, as io-util deadline() and AbortSignal.timeout use). */
function isTimeoutReason(reason: unknown): boolean {
  return (reason as { name?: unknown } | null | undefined)?.name === 'TimeoutError';
}

/** Turn anything thrown by a command into a CliError. */
export function toCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof PilotError) {
    // Cut off by an interrupt (SIGINT/SIGTERM, see main.ts): say so, not `timeout`.
    if (err.code === 'ERR_ABORTED' && err.cause instanceof CliError) return err.cause;
    // Cut off by the command's own deadline (`--timeout`, see io-util deadline()).
    if (err.code === 'ERR_ABORTED' && isTimeoutReason(err.cause)) {
      return new CliError('timeout', 'the time limit (--timeout) ran out', {
        cause: err,
        details: { code: err.code },
      });
    }
    // A wrapper (e.g. ERR_NODE_START) says less than the error it wraps.
    let code: string = err.code;
    if (cliCodeOf(code) === 'internal' && err.cause instanceof PilotError) code = err.cause.code;
    const cli = cliCodeOf(code);
    return new CliError(cli, err.message, {
      cause: err,
      hint: hintFor(code, cli),
      details: { code: err.code },
    });
  }
  const e = err as NodeJS.ErrnoException | null;
  if (e && typeof e === 'object' && typeof e.code === 'string') {
    if (e.code === 'ENOENT') return new CliError('not_found', e.message, { cause: err });
    if (e.code === 'EEXIST') return new CliError('already_exists', e.message, { cause: err });
    // A path given where a directory belongs is a file (`--data-dir <file>`), or the other way round.
    if (e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'ENOTDIR' || e.code === 'EISDIR')
      return new CliError('invalid_argument', e.message, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new CliError('internal', message || 'internal error', { cause: err });
}
