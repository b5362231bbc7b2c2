/**
 * The TCP half of a simulated NAT: a local proxy that connects to a target from a given loopback source IP,
 * so a registry behind it sees the NAT's public IP (the UDP NAT simulator only carries UDP).
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpNat {
  /** `host:port` to connect to instead of the target. */
  readonly addr: string;
  close(): Promise<void>;
}

export async function createTcpNat(
  target: { host: string; port: number },
  sourceIp: string,
): Promise<TcpNat> {
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server = createServer((inside) => {
    track(inside);
    const outside = connect({ host: target.host, port: target.port, localAddress: sourceIp });
    track(outside);
    inside.pipe(outside);
    outside.pipe(inside);
    inside.on('close', () => outside.destroy());
    outside.on('close', () => inside.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    addr: `127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
