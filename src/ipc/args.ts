/** Argument checks shared by the driver's public methods (bad input → ERR_INVALID_ARG). */
import { makeAddr, type Addr } from '../coreapi/addr.js';
import { InvalidArgumentError } from '../coreapi/errors.js';
import { isValidPort } from '../coreapi/ports.js';

export function checkPort(port: number): void {
  if (!isValidPort(port)) throw new InvalidArgumentError(`port ${String(port)} out of range 0..65535`);
}

export function checkAddr(addr: Addr): Addr {
  if (addr === null || typeof addr !== 'object') throw new InvalidArgumentError('address must be an Addr');
  try {
    return makeAddr(addr.network, addr.node);
  } catch (err) {
    throw new InvalidArgumentError(`invalid address: ${(err as Error).message}`, { cause: err });
  }
}

export function checkNode(nodeId: number): number {
  if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > 0xffffffff) {
    throw new InvalidArgumentError(`node id ${String(nodeId)} out of range`);
  }
  return nodeId;
}

export function checkString(v: string, what: string): string {
  if (typeof v !== 'string') throw new InvalidArgumentError(`${what} must be a string`);
  return v;
}
