/**
 * Bench worker: the forwarding process under test, on one core.
 *   node beacon-forwarder.js beacon            → a pilot beacon on 127.0.0.1:0 (no reply rate limit)
 *   node beacon-forwarder.js raw <destPort>    → a trivial node:dgram forwarder to 127.0.0.1:<destPort>
 * Prints `READY <port>` once bound; exits on SIGTERM or when stdin closes.
 */
import { createSocket } from 'node:dgram';
import { createBeacon } from '../../src/beacon/index.js';

async function main(): Promise<void> {
  const mode = process.argv[2];
  let close: () => Promise<void>;
  if (mode === 'beacon') {
    const b = await createBeacon({ host: '127.0.0.1', port: 0, replyRate: false });
    process.stdout.write(`READY ${b.address().port}\n`);
    close = () => b.close();
  } else if (mode === 'raw') {
    const dest = Number(process.argv[3]);
    const s = createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    s.setRecvBufferSize(4 * 1024 * 1024);
    s.setSendBufferSize(4 * 1024 * 1024);
    s.on('error', () => {});
    s.on('message', (msg) => {
      s.send(msg, dest, '127.0.0.1');
    });
    process.stdout.write(`READY ${s.address().port}\n`);
    close = () => new Promise<void>((resolve) => s.close(() => resolve()));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  const stop = (): void => {
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
