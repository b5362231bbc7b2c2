/**
 * The echo service (port 7, order 100): every chunk received on a stream is written back on the same stream
 * until the peer half-closes, then our side is closed too. Backpressure is respected: reading pauses while
 * the peer is not reading our echoes.
 *
 * States: idle → running (start) → stopped (stop); stop closes the listener and resets open streams.
 */
import { InvalidArgumentError } from '../../coreapi/errors.js';
import type { Logger } from '../../coreapi/logger.js';
import { PORT_ECHO, isValidPort } from '../../coreapi/ports.js';
import type { Deps, HealthStatus, Service } from '../../coreapi/service.js';
import type { Listener, Stream } from '../../coreapi/streams.js';

export const ECHO_NAME = 'echo';
export const ECHO_ORDER = 100;

type State = 'idle' | 'running' | 'stopped';

/** Config key: `port` (default 7). Throws ERR_INVALID_ARG. */
export function echoPort(config: Readonly<Record<string, unknown>>): number {
  const port = config.port ?? PORT_ECHO;
  if (typeof port !== 'number' || !isValidPort(port)) {
    throw new InvalidArgumentError('echo: config "port" must be a port number', { details: { key: 'port' } });
  }
  return port;
}

export class EchoService implements Service {
  readonly name = ECHO_NAME;
  readonly order = ECHO_ORDER;
  readonly #config: Readonly<Record<string, unknown>>;
  #port: number;
  #state: State = 'idle';
  #listener: Listener | null = null;
  #log: Logger | null = null;
  #loop: Promise<void> | null = null;
  readonly #open = new Set<Stream>();
  #served = 0;
  #bytes = 0;

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    this.#config = config;
    this.#port = echoPort(config);
  }

  get port(): number {
    return this.#port;
  }

  get stats(): { readonly connections: number; readonly open: number; readonly bytes: number } {
    return { connections: this.#served, open: this.#open.size, bytes: this.#bytes };
  }

  async start(deps: Deps): Promise<void> {
    if (this.#state !== 'idle') throw new InvalidArgumentError('echo: already started');
    this.#port = echoPort({ ...deps.config, ...this.#config });
    this.#log = deps.logger;
    this.#listener = await deps.streams.listen(this.#port);
    this.#state = 'running';
    const listener = this.#listener;
    const echo = deps.tasks.guard('echo', (stream: Stream) => this.#echo(stream));
    this.#loop = deps.tasks.run('acceptLoop', () => this.#acceptLoop(listener, echo));
    deps.logger.info({ port: this.#port }, 'echo listening');
  }

  async stop(_signal?: AbortSignal): Promise<void> {
    const wasRunning = this.#state === 'running';
    this.#state = 'stopped';
    if (!wasRunning) return;
    await this.#listener?.close();
    for (const s of this.#open) s.destroy();
    await this.#loop;
  }

  health(): HealthStatus {
    return this.#state === 'running' ? { status: 'ok' } : { status: 'failed', message: this.#state };
  }

  async #acceptLoop(listener: Listener, echo: (stream: Stream) => void): Promise<void> {
    for await (const stream of listener) {
      if (this.#state !== 'running') {
        stream.destroy();
        break;
      }
      this.#served++;
      echo(stream);
    }
  }

  #echo(stream: Stream): void {
    this.#open.add(stream);
    stream.on('error', (err) => this.#log?.debug({ err }, 'echo stream error'));
    stream.once('close', () => this.#open.delete(stream));
    stream.on('data', (chunk: Buffer) => {
      this.#bytes += chunk.length;
      if (!stream.write(chunk)) stream.pause();
    });
    stream.on('drain', () => stream.resume());
    stream.once('end', () => stream.end());
  }
}
