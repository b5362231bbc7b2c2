/**
 * An error reply must fit in one IPC message (1 MiB), like every other reply. The node's DaemonControl
 * echoes what the client sent in some error texts (an invalid webhook URL: `webhook URL "<url>" is not a
 * valid URL`), so a client sending a near-1 MiB value got an Error frame over the limit: the driver (and a
 * reference driver) dropped the connection instead of getting the error.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeAddr } from '../../src/coreapi/addr.js';
import { InvalidArgumentError } from '../../src/coreapi/errors.js';
import { Cmd, IPC_MAX_MESSAGE } from '../../src/ipc/constants.js';
import { connect } from '../../src/ipc/connect.js';
import { errorToWire, WIRE_ERROR_TEXT_MAX } from '../../src/ipc/errors.js';
import { createIpcServer } from '../../src/ipc/server.js';
import { createMemoryNetwork } from '../../src/runtime/memory-streams.js';
import { FakeControl, RawClient, tempSocketPath } from './helpers.js';

const NODE = makeAddr(1, 0x0a);

/** setWebhook as the node's webhook service refuses a bad URL (src/plugins/webhook/webhook-client.ts). */
class EchoingControl extends FakeControl {
  override setWebhook(url: string): Promise<never> {
    return Promise.reject(new InvalidArgumentError(`webhook URL "${url}" is not a valid URL`));
  }
}

async function server(): Promise<string> {
  const net = createMemoryNetwork();
  const control = new EchoingControl(NODE);
  const ipc = await createIpcServer({ socketPath: tempSocketPath(), streams: net.node(NODE), control });
  onTestFinished(async () => {
    await ipc.close();
    await net.close();
  });
  return ipc.socketPath;
}

// The longest URL a client can send in one SetWebhook message.
const URL_TEXT = 'x'.repeat(IPC_MAX_MESSAGE - 1);

describe('error replies larger than one IPC message', () => {
  it('the driver gets the error and stays connected', async () => {
    const driver = await connect(await server());
    onTestFinished(() => driver.close());
    expect(driver.extended).toBe(true);
    await expect(driver.setWebhook(URL_TEXT)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    expect(driver.connected).toBe(true);
    await expect(driver.info()).resolves.toMatchObject({ address: expect.any(String) });
  });

  it('a reference client gets an Error frame within the limit', async () => {
    const c = await RawClient.connect(await server());
    c.send(Buffer.concat([Buffer.from([Cmd.SetWebhook]), Buffer.from(URL_TEXT)]));
    const m = await c.next();
    expect(m[0]).toBe(Cmd.Error);
    expect(m.length).toBeLessThanOrEqual(IPC_MAX_MESSAGE);
    expect(m.toString('utf8', 3).startsWith('webhook URL "xxx')).toBe(true);
  });

  it('cuts a long multi-byte text on a character boundary; short texts are unchanged', () => {
    for (const ch of ['é', '€', '😀']) {
      const w = errorToWire(new InvalidArgumentError(ch.repeat(IPC_MAX_MESSAGE)));
      expect(Buffer.byteLength(w.text)).toBeLessThanOrEqual(WIRE_ERROR_TEXT_MAX);
      expect(w.text).not.toContain('\uFFFD');
      expect(w.text.startsWith(ch.repeat(1000))).toBe(true);
    }
    expect(errorToWire(new Error('boom')).text).toBe('boom');
  });
});
