/**
 * What the deploy integration tests share: the sandbox's spring service with Nginx as verifyUrl, one kept-open
 * connection and its ports, and the user's view of the host (the switch file on disk, the color Nginx really
 * serves, the containers), plus runs under a wrk load through Nginx (counting rule: see loadGenerator.ts).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { RunOptions } from '../../src/core/deployEngine';
import type { DeployEvent, OperationResult } from '../../src/core/deployTypes';
import type { BlueGreenService, Color, HostProfile } from '../../src/core/hostProfile';
import { HostDeployPorts } from '../../src/host/deployPorts';
import type { HostConnection } from '../../src/host/hostConnection';
import { describeLoad, startLoad, type LoadStats } from './loadGenerator';
import { connectTo, hostDocker, readSandbox, sandboxProfile, waitFor, type SandboxInfo } from './sandboxHost';

export function other(color: Color): Color {
  return color === 'blue' ? 'green' : 'blue';
}

export interface Run {
  result: OperationResult;
  load: LoadStats;
  events: DeployEvent[];
}

export function assertNoFailedRequests(run: { load: LoadStats }): void {
  assert.ok(run.load.requests > 200, `the load really ran (${describeLoad(run.load)})`);
  assert.equal(run.load.failed, 0, `0 failed requests: ${describeLoad(run.load)}`);
}

/** Filled in by `setUp()` (in `before`); its methods are arrow functions so tests can destructure them at load time. */
export class DeployFixture {
  info!: SandboxInfo;
  profile!: HostProfile;
  spring!: BlueGreenService;
  connection!: HostConnection;
  ports!: HostDeployPorts;
  private readonly connections: HostConnection[] = [];

  async setUp(): Promise<void> {
    this.info = readSandbox();
    const base = sandboxProfile();
    // Nginx as seen from the host: its loopback http listener, and the route the demo app answers with its color.
    this.profile = { ...base, services: base.services.map((s) => (s.kind === 'blueGreen' ? { ...s, verifyUrl: `${this.info.nginx.httpUrl}/api/whoami` } : s)) };
    this.spring = this.profile.services.find((s): s is BlueGreenService => s.kind === 'blueGreen') as BlueGreenService;
    this.connection = this.newConnection();
    await this.connection.connect();
    this.ports = new HostDeployPorts(this.connection);
    const lock = await this.ports.lock.read();
    if (lock?.isStale) await this.ports.lock.break(lock.record.token);
    await this.ensureBothRunning();
  }

  async tearDown(): Promise<void> {
    try {
      await this.ensureBothRunning();
    } finally {
      for (const c of this.connections) c.dispose();
    }
  }

  readonly newConnection = (): HostConnection => {
    const c = connectTo(this.profile);
    this.connections.push(c);
    return c;
  };

  /** The color the switch file on disk names. */
  readonly liveOnDisk = (): Color => {
    const text = fs.readFileSync(this.spring.switchFile, 'utf8').replace(/#.*$/gm, '');
    return /server\s+127\.0\.0\.1:8081/.test(text) ? 'green' : 'blue';
  };

  /** What Nginx really serves: /api/whoami names the color (asked from this machine, on loopback). */
  readonly whoami = (): Promise<{ color: string; version: string }> =>
    new Promise((resolve, reject) => {
      http
        .get(`${this.info.nginx.httpUrl}/api/whoami`, { agent: false }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as { color: string; version: string }) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
        })
        .on('error', reject);
    });

  readonly assertServes = async (color: Color): Promise<void> => {
    for (let i = 0; i < 5; i++) assert.equal((await this.whoami()).color, color, 'Nginx serves the expected color');
    assert.equal(this.liveOnDisk(), color, 'the switch file names it');
  };

  readonly inspectField = (container: string, format: string): string => {
    try {
      return hostDocker(this.info, ['inspect', '-f', format, container]).trim();
    } catch {
      return 'missing';
    }
  };

  /** Both colors running and answering, as the other tests expect; starts a missing/stopped one with the user's own compose file. */
  readonly ensureBothRunning = async (): Promise<void> => {
    for (const color of ['blue', 'green'] as const) {
      const { container, composeFile } = this.spring.colors[color];
      if (this.inspectField(container, '{{.State.Status}}') === 'running') continue;
      const result = await this.connection.exec(['env', `DOCKER_HOST=unix://${this.profile.dockerSocket}`, 'docker-compose', '-p', container, '-f', composeFile, 'up', '-d', '--no-deps'], { timeoutMs: 120_000 });
      assert.equal(result.exitCode, 0, result.stderr);
    }
    for (const color of ['blue', 'green'] as const) {
      const { port } = this.spring.colors[color];
      await waitFor(`${color} answers its health path`, async () => {
        try {
          return (await this.connection.httpGet(port, this.spring.healthPath, { timeoutMs: 2000 })).status === 200;
        } catch {
          return false;
        }
      }, 60_000);
    }
  };

  /** Runs `work` with wrk going through Nginx from before it starts until a second after it ends. */
  readonly withLoad = async <T>(work: () => Promise<T>): Promise<{ value: T; load: LoadStats }> => {
    const load = await startLoad(`${this.info.nginx.httpUrl}/api/whoami`);
    let value: T;
    let stats: LoadStats;
    try {
      value = await work();
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      stats = await load.stop();
    }
    return { value, load: stats };
  };

  /** One operation under load, with the events it emitted (`onEvent` sees each as it happens). */
  readonly underLoad = async (work: (options: RunOptions) => Promise<OperationResult>, onEvent?: (event: DeployEvent) => void): Promise<Run> => {
    const events: DeployEvent[] = [];
    const { value: result, load } = await this.withLoad(() =>
      work({
        onEvent: (event) => {
          events.push(event);
          onEvent?.(event);
        },
      }),
    );
    console.log(`    ${result.kind} ${result.outcome}: ${describeLoad(load)}`);
    return { result, load, events };
  };
}
