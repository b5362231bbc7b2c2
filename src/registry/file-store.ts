/**
 * The embedded snapshot store: one JSON file (the reference registry's `-store` format plus our added fields),
 * replaced atomically. A save streams the snapshot into a temporary file next to the target in chunks (so a
 * large registry keeps answering requests while it is written), fsyncs it, renames it over the target and
 * fsyncs the directory. A crash at any point leaves either the old or the new complete file, never a torn one.
 */
import { open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RegistryStoreError } from './errors.js';
import type { RegistryStore } from './store.js';
import type { SnapshotSource } from './snapshot-types.js';

/** Bytes gathered before each write call. */
const WRITE_CHUNK = 256 * 1024;

export interface FileStoreOptions {
  /** fsync file and directory (default true; turning it off trades durability for speed in tests). */
  fsync?: boolean;
}

function ioError(what: string, err: unknown): RegistryStoreError {
  const msg = err instanceof Error ? err.message : String(err);
  return new RegistryStoreError('ERR_REGISTRY_STORE_IO', `${what}: ${msg}`, { cause: err });
}

export class FileStore implements RegistryStore {
  readonly path: string;
  readonly #fsync: boolean;
  #seq = 0;
  #lastBytes = 0;

  constructor(path: string, options: FileStoreOptions = {}) {
    this.path = path;
    this.#fsync = options.fsync ?? true;
  }

  get description(): string {
    return this.path;
  }

  /** Size of the last file written. */
  get lastBytes(): number {
    return this.#lastBytes;
  }

  async load(): Promise<unknown> {
    await this.#removeTemps();
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw ioError(`cannot read registry store ${this.path}`, err);
    }
    if (text.trim() === '') return null;
    let data: unknown;
    try {
      data = JSON.parse(text) as unknown;
    } catch (err) {
      throw new RegistryStoreError(
        'ERR_REGISTRY_STORE_CORRUPT',
        `registry store ${this.path} is not valid JSON; refusing to start over it (move it away to start empty)`,
        { cause: err },
      );
    }
    if (data === null) {
      // null means "no store" to the server: a file holding JSON null must not be treated as empty.
      throw new RegistryStoreError(
        'ERR_REGISTRY_STORE_CORRUPT',
        `registry store ${this.path} holds JSON null, not a snapshot; refusing to start over it`,
      );
    }
    return data;
  }

  async save(snapshot: SnapshotSource): Promise<void> {
    const tmp = `${this.path}.tmp-${process.pid}-${++this.#seq}`;
    let fh: FileHandle | undefined;
    try {
      fh = await open(tmp, 'w', 0o600);
    } catch (err) {
      throw ioError(`cannot create ${tmp}`, err);
    }
    let bytes = 0;
    try {
      let pending = '';
      const flush = async (): Promise<void> => {
        if (pending.length === 0) return;
        const buf = Buffer.from(pending, 'utf8');
        pending = '';
        bytes += buf.length;
        await (fh as FileHandle).write(buf, 0, buf.length);
      };
      const h = snapshot.header;
      pending += `{"next_node":${h.next_node},"next_net":${h.next_net},"nodes":{`;
      let first = true;
      for await (const batch of snapshot.nodeBatches()) {
        for (const n of batch) {
          pending += `${first ? '' : ','}"${n.id}":${JSON.stringify(n)}`;
          first = false;
        }
        if (pending.length >= WRITE_CHUNK) await flush();
      }
      pending +=
        `},"networks":${JSON.stringify(h.networks)}` +
        `,"trust_pairs":${JSON.stringify(h.trust_pairs)}` +
        `,"pub_key_idx":${JSON.stringify(h.pub_key_idx)}` +
        `,"owner_idx":${JSON.stringify(h.owner_idx)}` +
        `,"node_owners":${JSON.stringify(h.node_owners)}` +
        `,"handshake_inbox":${JSON.stringify(h.handshake_inbox)}` +
        `,"handshake_responses":${JSON.stringify(h.handshake_responses)}` +
        `,"network_invites":${JSON.stringify(h.network_invites)}}\n`;
      await flush();
      if (this.#fsync) await (fh as FileHandle).sync();
      await (fh as FileHandle).close();
      fh = undefined;
      await rename(tmp, this.path);
    } catch (err) {
      await fh?.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw ioError(`cannot write registry store ${this.path}`, err);
    }
    this.#lastBytes = bytes;
    if (this.#fsync) await this.#syncDir();
  }

  async close(): Promise<void> {}

  async #syncDir(): Promise<void> {
    try {
      const dh = await open(dirname(this.path), 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    } catch {
      // Some platforms cannot fsync a directory; the rename is still atomic.
    }
  }

  /** Temporary files left by a crash during a save. */
  async #removeTemps(): Promise<void> {
    const dir = dirname(this.path);
    const prefix = `${basename(this.path)}.tmp-`;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names) if (name.startsWith(prefix)) await unlink(join(dir, name)).catch(() => {});
  }
}
