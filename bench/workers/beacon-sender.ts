/**
 * Bench worker: blasts datagrams at a forwarder for a fixed time.
 *   node beacon-sender.js <beacon|raw> <targetPort> <durationMs> <frameBytes>
 * beacon: registers node 1 with a Discover first, then sends Relay(1 → 2, frame); raw: sends the frame.
 * Prints `STARTED` when blasting begins and `SENT <count>` at the end.
 */
import { createSocket } from 'node:dgram';
import { encodeDiscover, encodeRelay } from '../../src/beacon/index.js';

const BATCH = 32;

async function main(): Promise<void> {
  const [mode, portText, durationText, sizeText] = process.argv.slice(2);
  const port = Number(portText);
  const duration = Number(durationText);
  const frame = Buffer.alloc(Number(sizeText), 0x41);
  frame.write('PILS', 0, 'latin1');
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  s.setSendBufferSize(4 * 1024 * 1024);
  s.on('error', () => {});
  let payload: Buffer = frame;
  if (mode === 'beacon') {
    await new Promise<void>((resolve) => {
      const retry = setInterval(() => s.send(encodeDiscover(1), port, '127.0.0.1'), 100);
      s.once('message', () => {
        clearInterval(retry);
        resolve();
      });
      s.send(encodeDiscover(1), port, '127.0.0.1');
    });
    payload = encodeRelay(1, 2, frame);
  }
  process.stdout.write('STARTED\n');
  const end = Date.now() + duration;
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      for (let i = 0; i < BATCH; i++) s.send(payload, port, '127.0.0.1');
      sent += BATCH;
      if (Date.now() < end) setImmediate(tick);
      else resolve();
    };
    tick();
  });
  process.stdout.write(`SENT ${sent}\n`);
  s.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
