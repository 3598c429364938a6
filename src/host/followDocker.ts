/**
 * A Dockerode for follow requests (`logs?follow=1`), with its own HTTP connections. A follow holds
 * its connection for as long as it runs; on the connection's shared Docker client (8 pooled sockets)
 * a few log streams would leave the tree's requests queued behind them for good. Connections are
 * opened the same way as the shared client's (its agent's `createConnection`: a forwarded channel
 * to the Docker socket on the kept-open SSH connection), one per follow, closed when it ends.
 */
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import Dockerode from 'dockerode';

class DelegatingAgent extends http.Agent {
  constructor(private readonly opener: http.Agent) {
    super({ keepAlive: false });
  }

  override createConnection(options: http.ClientRequestArgs, callback?: (error: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    return this.opener.createConnection(options, callback);
  }
}

/** A client for follow requests beside `shared`, or `shared` itself when it has no agent to open connections with. */
export function followDocker(shared: Dockerode): Dockerode {
  const opener = (shared as unknown as { modem?: { agent?: unknown } }).modem?.agent;
  if (!(opener instanceof http.Agent)) return shared;
  return new Dockerode({ protocol: 'http', host: 'localhost', port: 80, agent: new DelegatingAgent(opener) } as Dockerode.DockerOptions);
}
