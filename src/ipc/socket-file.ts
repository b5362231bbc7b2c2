/**
 * The daemon's Unix socket file: refuse a path where a live daemon answers, replace a stale socket, never
 * delete a file that is not a socket, and expose the socket with mode 0600 from the first moment clients can
 * reach it (listen on a private temporary name, chmod, then rename into place). On close, the file is
 * removed only if it is still ours (same inode).
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, unlinkSync } from 'node:fs';
import { lstat, chmod, link, rename, unlink } from 'node:fs/promises';
import { connect, type Server } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { IpcSocketInUseError, IpcSocketPathError } from './errors.js';

/** sun_path holds 108 bytes including the terminating NUL on Linux (104 on macOS). */
export const MAX_SOCKET_PATH = 103;
/** How long to wait for an existing socket to answer before calling it stale. */
const PROBE_TIMEOUT_MS = 1000;

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** Connect errors that prove nobody listens on the path: only then is a socket file stale. */
const STALE_ERRNOS = new Set(['ECONNREFUSED', 'ENOENT']);

/**
 * Resolves 'live' when something accepts connections on `path` or may be listening without accepting right
 * now (no answer in time, a full accept backlog: EAGAIN), 'stale' when the kernel says nobody listens
 * (ECONNREFUSED), or the errno of any other failure (EACCES, ...), which proves nothing either way.
 */
export function probeSocket(path: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<'live' | 'stale' | string> {
  return new Promise((resolve) => {
    const sock = connect({ path });
    const done = (result: string): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(result);
    };
    // A socket that neither accepts nor refuses in time is treated as live: never steal a busy daemon's path.
    const timer = setTimeout(() => done('live'), timeoutMs);
    sock.once('connect', () => done('live'));
    sock.once('error', (err) => {
      const code = errno(err) ?? 'error';
      done(STALE_ERRNOS.has(code) ? 'stale' : code === 'EAGAIN' ? 'live' : code);
    });
  });
}

/** Check `path` before listening: absent or stale (removed) is fine; a live daemon or a non-socket throws. */
export async function prepareSocketPath(path: string): Promise<void> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new IpcSocketPathError(`socket path is longer than ${MAX_SOCKET_PATH} bytes: ${path}`);
  }
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if (errno(err) === 'ENOENT') return;
    throw new IpcSocketPathError(`cannot inspect socket path ${path}: ${errno(err) ?? String(err)}`, {
      cause: err,
    });
  }
  if (!st.isSocket()) {
    throw new IpcSocketPathError(`${path} exists and is not a socket; refusing to replace it`);
  }
  const probe = await probeSocket(path);
  if (probe === 'live') {
    throw new IpcSocketInUseError(`a daemon is already listening on ${path}`, { details: { path } });
  }
  if (probe !== 'stale') {
    throw new IpcSocketPathError(`cannot tell whether a daemon listens on ${path}: ${probe}`, {
      details: { path, errno: probe },
    });
  }
  try {
    // Only the file we probed: another daemon may have put its own socket there since.
    if ((await lstat(path)).ino === st.ino) await unlink(path);
  } catch (err) {
    if (errno(err) !== 'ENOENT') {
      throw new IpcSocketPathError(`cannot remove stale socket ${path}: ${errno(err) ?? String(err)}`, {
        cause: err,
      });
    }
  }
}

function listenOn(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ path }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Move the private socket `tmp` to `path` without ever replacing a file there: a hard link fails with
 * EEXIST when another daemon started on the same path meanwhile (rename would silently take its socket).
 * Filesystems without hard links fall back to rename.
 */
async function moveIntoPlace(tmp: string, path: string): Promise<void> {
  try {
    await link(tmp, path);
  } catch (err) {
    if (errno(err) === 'EEXIST') {
      throw new IpcSocketInUseError(`socket path ${path} is in use`, { cause: err, details: { path } });
    }
    await rename(tmp, path);
    return;
  }
  await unlink(tmp);
}

/**
 * Listen on `path` with mode 0600. Returns the socket file's inode (for {@link removeSocketFile}).
 * The socket is bound under a random temporary name in the same directory, chmod'ed, then moved into place
 * (never over an existing file).
 */
export async function listenPrivate(server: Server, path: string): Promise<number> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}`);
  const direct = Buffer.byteLength(tmp) > MAX_SOCKET_PATH;
  const bindPath = direct ? path : tmp;
  try {
    await listenOn(server, bindPath);
  } catch (err) {
    const code = errno(err);
    if (code === 'EADDRINUSE') {
      throw new IpcSocketInUseError(`socket path ${path} is in use`, { cause: err, details: { path } });
    }
    throw new IpcSocketPathError(`cannot listen on ${path}: ${code ?? String(err)}`, { cause: err });
  }
  try {
    await chmod(bindPath, 0o600);
    if (!direct) await moveIntoPlace(bindPath, path);
    return (await lstat(path)).ino;
  } catch (err) {
    server.close();
    await unlink(bindPath).catch(() => {});
    if (err instanceof IpcSocketInUseError) throw err;
    throw new IpcSocketPathError(`cannot secure socket ${path}: ${errno(err) ?? String(err)}`, {
      cause: err,
    });
  }
}

/** Remove the socket file if it is still the one we created (same inode). */
export async function removeSocketFile(path: string, ino: number): Promise<void> {
  try {
    const st = await lstat(path);
    if (st.ino === ino && st.isSocket()) await unlink(path);
  } catch {
    // Already gone or not ours to remove.
  }
}

/** {@link removeSocketFile}, synchronously: for a process that exits before its server could close. */
export function removeSocketFileSync(path: string, ino: number): void {
  try {
    const st = lstatSync(path);
    if (st.ino === ino && st.isSocket()) unlinkSync(path);
  } catch {
    // Already gone or not ours to remove.
  }
}

/** Socket files (path → inode) of servers in this process that have not closed yet. */
const liveSockets = new Map<string, number>();
let exitHook = false;

function removeLiveSockets(): void {
  for (const [path, ino] of liveSockets) removeSocketFileSync(path, ino);
  liveSockets.clear();
}

/**
 * Remove `path` when the process exits while its server is still open: `process.exit()` (a second Ctrl-C
 * during a slow stop, an embedder's exit) runs no asynchronous clean-up, and a socket file left behind makes
 * the next daemon probe it before it can start. {@link forgetOnExit} once the server closed.
 */
export function removeOnExit(path: string, ino: number): void {
  liveSockets.set(path, ino);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', removeLiveSockets);
  }
}

/** Undo {@link removeOnExit} (the server removed its file itself, or is about to). */
export function forgetOnExit(path: string, ino: number): void {
  if (liveSockets.get(path) === ino) liveSockets.delete(path);
}
