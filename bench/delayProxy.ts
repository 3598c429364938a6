/** A loopback TCP proxy that delays every chunk by `delayMs` in each direction: a distant host without touching `tc`. */
import * as net from 'node:net';

export interface DelayProxy {
  port: number;
  close(): Promise<void>;
}

export async function startDelayProxy(targetPort: number, delayMs: number, targetHost = '127.0.0.1'): Promise<DelayProxy> {
  const sockets = new Set<net.Socket>();
  const pipeDelayed = (from: net.Socket, to: net.Socket): void => {
    from.on('data', (chunk) => {
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, delayMs);
    });
    from.on('end', () => setTimeout(() => to.end(), delayMs));
    from.on('error', () => to.destroy());
    from.on('close', () => setTimeout(() => to.destroy(), delayMs));
  };
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect(targetPort, targetHost);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    pipeDelayed(client, upstream);
    pipeDelayed(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
