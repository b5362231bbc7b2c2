/**
 * `replayWindow` is checked when the tunnel is created: the spec asks for at least 1,024 entries, and the
 * window is a power-of-two ring. A bad value used to be accepted and then threw a RangeError from inside the
 * socket handler when the first encrypted frame arrived (an uncaught exception ends the process).
 */
import { describe, expect, it } from 'vitest';
import { generateEd25519 } from '../../src/transport/keys.js';
import { createTunnel } from '../../src/transport/tunnel.js';
import { waitFor } from '../helpers/wait.js';
import { datagram, introduce, makeNode } from './tunnel/tunnel-helpers.js';

describe('replayWindow option', () => {
  it.each([1000, 512, 64, 0, -2048, 1.5, Number.NaN, 2 ** 31])('%s is refused at create', async (w) => {
    await expect(createTunnel({ nodeId: 1, identity: generateEd25519(), replayWindow: w })).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_TRANSPORT_CONFIG' }),
    );
  });

  it('1024 and 4096 work end to end', async () => {
    for (const w of [1024, 4096]) {
      const a = await makeNode(1, { replayWindow: w });
      const b = await makeNode(2, { replayWindow: w });
      introduce(a, b);
      a.tunnel.send(datagram(1, 2, 'x'));
      await waitFor(() => b.received.length === 1, 3000, 'delivery');
      b.tunnel.send(datagram(2, 1, 'y'));
      await waitFor(() => a.received.length === 1, 3000, 'delivery back');
      await a.tunnel.close();
      await b.tunnel.close();
    }
  });
});
