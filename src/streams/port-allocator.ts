/** Ephemeral port allocation (49152-65535): a round-robin cursor over a bitmap, exhaustion is an error. */
import { randomInt } from 'node:crypto';
import { EphemeralPortsExhaustedError } from '../coreapi/errors.js';
import { EPHEMERAL_PORT_MAX, EPHEMERAL_PORT_MIN } from '../coreapi/ports.js';

const COUNT = EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN + 1;

export class PortAllocator {
  #used = new Uint8Array(COUNT);
  // A random starting point (RFC 6056): a restarted node does not reuse the 4-tuples of its previous life.
  #cursor = randomInt(0, COUNT);
  #inUse = 0;

  get inUse(): number {
    return this.#inUse;
  }

  /** Allocate a free ephemeral port; `busy(port)` may veto ports still used elsewhere (e.g. TIME_WAIT). */
  allocate(busy: (port: number) => boolean = () => false): number {
    for (let i = 0; i < COUNT; i++) {
      const idx = (this.#cursor + i) % COUNT;
      if (this.#used[idx] === 0 && !busy(EPHEMERAL_PORT_MIN + idx)) {
        this.#used[idx] = 1;
        this.#inUse++;
        this.#cursor = (idx + 1) % COUNT;
        return EPHEMERAL_PORT_MIN + idx;
      }
    }
    throw new EphemeralPortsExhaustedError();
  }

  release(port: number): void {
    const idx = port - EPHEMERAL_PORT_MIN;
    if (idx < 0 || idx >= COUNT || this.#used[idx] === 0) return;
    this.#used[idx] = 0;
    this.#inUse--;
  }

  isAllocated(port: number): boolean {
    const idx = port - EPHEMERAL_PORT_MIN;
    return idx >= 0 && idx < COUNT && this.#used[idx] === 1;
  }
}
