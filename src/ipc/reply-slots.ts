/**
 * Keeps a client's replies in request order.
 *
 * A reference driver matches a reply to the oldest request waiting for that reply's command byte, and an
 * `Error` to the oldest waiting request of any kind. Requests complete asynchronously (a dial may take
 * seconds while an Info answers at once), so the server reserves a slot per request when it arrives and
 * writes replies strictly in slot order: a reply that completes early waits for the ones before it.
 */

export type FlushHook = () => void;

interface Slot {
  message: Buffer | null;
  onFlushed: FlushHook | undefined;
}

export class ReplySlots {
  readonly #write: (message: Buffer) => void;
  #slots: Slot[] = [];
  #head = 0;
  #closed = false;

  /** `write` sends one message (command byte + payload) to the client. */
  constructor(write: (message: Buffer) => void) {
    this.#write = write;
  }

  /** Replies reserved and not yet written. */
  get waiting(): number {
    return this.#slots.length - this.#head;
  }

  /** Reserve the next reply position. */
  reserve(): Slot {
    const slot: Slot = { message: null, onFlushed: undefined };
    this.#slots.push(slot);
    return slot;
  }

  /** Complete a slot; `onFlushed` runs right after its message is written (e.g. start streaming a conn). */
  fill(slot: Slot, message: Buffer, onFlushed?: FlushHook): void {
    if (this.#closed || slot.message !== null) return;
    slot.message = message;
    slot.onFlushed = onFlushed;
    this.#flush();
  }

  /** Drop everything (client gone). Later fills are ignored. */
  close(): void {
    this.#closed = true;
    this.#slots = [];
    this.#head = 0;
  }

  #flush(): void {
    while (this.#head < this.#slots.length) {
      const slot = this.#slots[this.#head];
      if (slot.message === null) {
        if (this.#head > 64 && this.#head * 2 > this.#slots.length) {
          this.#slots = this.#slots.slice(this.#head);
          this.#head = 0;
        }
        return;
      }
      this.#slots[this.#head] = EMPTY;
      this.#head++;
      this.#write(slot.message);
      slot.onFlushed?.();
      if (this.#closed) return;
    }
    this.#slots = [];
    this.#head = 0;
  }
}

const EMPTY: Slot = { message: Buffer.alloc(0), onFlushed: undefined };

export type { Slot as ReplySlot };
