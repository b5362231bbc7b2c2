/**
 * Library error codes → the CLI's envelope codes (docs/cli.md "Error codes"): exact entries first, then the
 * suffix rules; anything unknown is `internal`.
 */
import { describe, expect, it } from 'vitest';
import { cliCodeOf } from '../../cmd/errors.js';

describe('cliCodeOf', () => {
  it.each([
    ['ERR_IPC_CONNECT', 'not_running'],
    ['ERR_DIAL_TIMEOUT', 'timeout'],
    ['ERR_CONNECTION_RESET', 'connection_failed'],
    ['ERR_CONFIG_INVALID', 'invalid_argument'],
    ['ERR_NAT_CONFIG', 'invalid_argument'],
    ['ERR_IDENTITY_CORRUPT', 'invalid_argument'],
    ['ERR_IDENTITY_INVALID_KEY', 'invalid_argument'],
    ['ERR_IPC_SOCKET_PATH', 'invalid_argument'],
    ['ERR_IPC_SOCKET_IN_USE', 'already_exists'],
    ['ERR_TRUST_NOT_FOUND', 'not_found'],
    ['ERR_TRUST_UNAVAILABLE', 'unavailable'],
    ['ERR_TRUST_SEND_FAILED', 'connection_failed'],
    ['ERR_SOMETHING_NEW', 'internal'],
  ])('%s → %s', (code, cli) => {
    expect(cliCodeOf(code)).toBe(cli);
  });
});
