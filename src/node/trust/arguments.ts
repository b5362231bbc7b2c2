/** Checks of the manager's API arguments and relayed entries (typed errors, never bare ones). */
import { InvalidArgumentError } from '../../coreapi/errors.js';
import * as C from './constants.js';
import { TrustError } from './errors.js';

export function checkNodeId(nodeId: number, self: number): void {
  if (!Number.isInteger(nodeId) || nodeId <= 0 || nodeId > 0xffffffff) {
    throw new InvalidArgumentError(`invalid node ID ${nodeId}`, { details: { nodeId } });
  }
  if (nodeId === self) throw new InvalidArgumentError('a node cannot trust itself', { details: { nodeId } });
}

export function checkText(what: string, text: string): void {
  if (typeof text !== 'string') throw new InvalidArgumentError(`${what} must be a string`);
  const n = Buffer.byteLength(text, 'utf8');
  if (n > C.MAX_TEXT_BYTES) {
    throw new InvalidArgumentError(`${what} is ${n} bytes (max ${C.MAX_TEXT_BYTES})`, {
      details: { bytes: n, max: C.MAX_TEXT_BYTES },
    });
  }
}

export function noPending(nodeId: number): TrustError {
  return new TrustError('ERR_TRUST_PENDING_NOT_FOUND', `no pending handshake from node ${nodeId}`, {
    details: { nodeId },
  });
}

export function validPeer(id: unknown, self: number): id is number {
  return typeof id === 'number' && Number.isInteger(id) && id > 0 && id <= 0xffffffff && id !== self;
}
