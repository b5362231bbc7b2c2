/** `connect()`: open a driver on the daemon's IPC socket. */
import { connect as netConnect, type NetConnectOpts } from 'node:net';
import { AbortError } from '../coreapi/errors.js';
import { DEFAULT_SOCKET_PATH } from './constants.js';
import { checkRequestTimeout, Driver, type ConnectOptions } from './driver.js';
import { IpcConnectError } from './errors.js';

/**
 * Connect to the daemon's IPC socket. Rejects ERR_IPC_CONNECT when nothing listens there (no daemon),
 * ERR_ABORTED when `signal` aborts, ERR_INVALID_ARG for a bad `requestTimeoutMs`.
 */
export async function connect(
  socketPath = DEFAULT_SOCKET_PATH,
  options: ConnectOptions = {},
): Promise<Driver> {
  const { signal } = options;
  if (options.requestTimeoutMs !== undefined)
    checkRequestTimeout(options.requestTimeoutMs, 'requestTimeoutMs');
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
  // highWaterMark is honoured by net.Socket (stream option) though @types/node omits it here.
  const socket = netConnect({ path: socketPath, highWaterMark: 256 * 1024 } as NetConnectOpts);
  await new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      socket.off('connect', onConnect);
      socket.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    };
    const onConnect = (): void => {
      cleanup();
      resolve();
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      cleanup();
      socket.destroy();
      reject(
        new IpcConnectError(`cannot connect to the daemon at ${socketPath}: ${err.code ?? err.message}`, {
          cause: err,
          details: { path: socketPath, errno: err.code },
        }),
      );
    };
    const onAbort = (): void => {
      cleanup();
      socket.destroy();
      reject(new AbortError(undefined, { cause: signal?.reason }));
    };
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  const driver = new Driver(socketPath, socket, options);
  try {
    await driver.negotiate(options);
  } catch (err) {
    await driver.close();
    throw err;
  }
  return driver;
}
