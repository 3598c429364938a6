import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type Dockerode from 'dockerode';
import { composeTargetOf, runningTimings } from '../../../src/host/healthApply';
import { copyOptions, findPortSetting, measureLabel, memoryKbOf, planMeasurement, steadyDockerProbeMs, type MeasureConnection } from '../../../src/host/healthMeasure';
import type { ExecResult } from '../../../src/host/hostConnection';
import { handDoc } from '../core/handdocProfile';

interface FakeContainer {
  env: string[];
  cmd?: string[];
  networkMode?: string;
  binds?: string[];
  portBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }>>;
  memoryBytes?: number;
  running?: boolean;
}

function inspectOf(name: string, c: FakeContainer): Dockerode.ContainerInspectInfo {
  return {
    Id: `id-${name}`,
    Name: `/${name}`,
    Image: 'sha256:abc',
    State: { Running: c.running ?? true, Status: 'running', StartedAt: '2026-11-25T13:00:00Z', ExitCode: 0 },
    Config: { Env: c.env, Cmd: c.cmd ?? ['/bin/sh', '/app/start.sh'], Image: '127.0.0.1:5005/handdoc-fastapi:latest', Labels: {}, WorkingDir: '/app' },
    HostConfig: { NetworkMode: c.networkMode ?? 'host', Binds: c.binds ?? [], PortBindings: c.portBindings ?? {}, Memory: 512 * 1024 * 1024 },
  } as unknown as Dockerode.ContainerInspectInfo;
}

function fakeConnection(containers: Record<string, FakeContainer>, host: { availableKb?: number; listening?: number[] } = {}): MeasureConnection & { commands: string[][] } {
  const commands: string[][] = [];
  const docker = {
    getContainer: (name: string) => ({
      inspect: async () => {
        const c = containers[name];
        if (!c) throw Object.assign(new Error('no such container'), { statusCode: 404 });
        return inspectOf(name, c);
      },
      stats: async () => ({ memory_stats: { usage: containers[name]?.memoryBytes ?? 200 * 1024 * 1024, stats: { inactive_file: 0 } } }),
    }),
  } as unknown as Dockerode;
  return {
    profile: handDoc,
    commands,
    docker: () => docker,
    httpGet: async () => {
      throw new Error('not used');
    },
    exec: async (argv: string[]): Promise<ExecResult> => {
      commands.push(argv);
      if (argv[0] === 'ss') return { exitCode: 0, stderr: '', stdout: (host.listening ?? [22, 8000, 8080, 8081]).map((p) => `LISTEN 0 128 127.0.0.1:${p} 0.0.0.0:*`).join('\n') };
      if (argv[0] === 'cat') return { exitCode: 0, stderr: '', stdout: `MemTotal: 1000000 kB\nMemAvailable: ${host.availableKb ?? 600000} kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n` };
      return { exitCode: 127, stderr: 'unexpected', stdout: '' };
    },
  };
}

const fastapi = { source: 'handdoc-fastapi', port: 8000, healthPath: '/health' };

void describe('planMeasurement: a throwaway copy when it can run beside the live container', () => {
  void it('copies a host-network container whose port comes from PORT, on a free port', async () => {
    const conn = fakeConnection({ 'handdoc-fastapi': { env: ['JWT_SECRET=x', 'PORT=8000'] } });
    const plan = await planMeasurement(conn, fastapi);
    assert.equal(plan.kind, 'copy');
    if (plan.kind !== 'copy') return;
    assert.ok(plan.port >= 20_000 && plan.port <= 29_999);
    assert.equal(plan.portSetting, `PORT=${plan.port}`);
    assert.match(plan.explanation, /the live container is not touched/);
    assert.deepEqual(
      conn.commands.map((c) => c[0]),
      ['cat', 'ss'],
    );
  });

  void it('says why not and asks before restarting a single live container whose port cannot be moved', async () => {
    const conn = fakeConnection({ 'handdoc-fastapi': { env: ['LOG_LEVEL=info'], cmd: ['uvicorn', 'main:app'] } });
    const plan = await planMeasurement(conn, fastapi);
    assert.equal(plan.kind, 'restart');
    if (plan.kind !== 'restart') return;
    assert.equal(plan.isLive, true);
    assert.match(plan.explanation, /uses host networking and neither an environment variable \(like PORT=8000\) nor a command argument carries its port 8000/);
    assert.match(plan.consentQuestion ?? '', /Restart handdoc-fastapi for each run\? It serves traffic/);
  });

  void it('restarts the idle color of a Blue-Green service instead (no traffic), without asking', async () => {
    const conn = fakeConnection({ 'handdoc-spring-blue': { env: ['COLOR=blue'] }, 'handdoc-spring-green': { env: ['COLOR=green'] } });
    const plan = await planMeasurement(conn, { source: 'handdoc-spring-blue', port: 8080, healthPath: '/actuator/health', idle: { container: 'handdoc-spring-green', port: 8081 } });
    assert.equal(plan.kind, 'restart');
    if (plan.kind !== 'restart') return;
    assert.equal(plan.isLive, false);
    assert.equal(plan.container, 'handdoc-spring-green');
    assert.equal(plan.port, 8081);
    assert.equal(plan.consentQuestion, undefined);
  });

  void it('does not start a copy the 1 GiB host has no memory for', async () => {
    const conn = fakeConnection({ 'handdoc-fastapi': { env: ['PORT=8000'], memoryBytes: 700 * 1024 * 1024 } }, { availableKb: 300 * 1024 });
    const plan = await planMeasurement(conn, fastapi);
    assert.equal(plan.kind, 'restart');
    assert.match(plan.kind === 'restart' ? plan.explanation : '', /has 300 MiB available and handdoc-fastapi uses 700 MiB: a copy beside it could push the host out of memory/);
  });

  void it('is impossible without a container (and says what to do)', async () => {
    const plan = await planMeasurement(fakeConnection({}), fastapi);
    assert.deepEqual(plan, { kind: 'impossible', reason: 'There is no container handdoc-fastapi on handdoc: start the service first, then measure.' });
  });

  void it('never picks a port something listens on', async () => {
    const busy = Array.from({ length: 10_000 }, (_, i) => 20_000 + i).filter((p) => p !== 24_242);
    const plan = await planMeasurement(fakeConnection({ 'handdoc-fastapi': { env: ['PORT=8000'] } }, { listening: busy }), fastapi);
    assert.equal(plan.kind === 'copy' ? plan.port : 0, 24_242);
  });
});

void describe('the copy', () => {
  void it('finds the port in env names with PORT or in command arguments', () => {
    assert.deepEqual(findPortSetting(['SERVER_PORT=8081', 'X=8081'], [], 8081), { kind: 'env', name: 'SERVER_PORT' });
    assert.deepEqual(findPortSetting(['X=8000'], ['uvicorn', 'main:app', '--port', '8000'], 8000), { kind: 'arg', index: 3 });
    assert.deepEqual(findPortSetting([], ['gunicorn', '--bind=0.0.0.0:8000'], 8000), { kind: 'arg', index: 1 });
    assert.equal(findPortSetting([], ['app', '--workers=8000x'], 8000), undefined);
    assert.deepEqual(findPortSetting([], ['gunicorn', '-b', '0.0.0.0:8000'], 8000), { kind: 'arg', index: 2 });
    assert.deepEqual(findPortSetting([], ['serve', '--port=8000'], 8000), { kind: 'arg', index: 1 });
    assert.equal(findPortSetting(['PORT=80001'], [], 8000), undefined);
  });

  void it('runs the same image by id, with its env and command, the port moved, volumes read-only, no healthcheck, no restart', () => {
    const info = inspectOf('handdoc-fastapi', { env: ['JWT_SECRET=x', 'PORT=8000'], binds: ['/srv/models:/models', '/srv/cache:/cache:rw,z', '/etc/tz:/etc/tz:ro'] });
    const options = copyOptions(info, { kind: 'copy', source: 'handdoc-fastapi', port: 21_000, healthPath: '/health', portSetting: 'PORT=21000', explanation: '' }, 8000, 'switchyard-measure-x');
    assert.equal(options.Image, 'sha256:abc');
    assert.deepEqual(options.Env, ['JWT_SECRET=x', 'PORT=21000']);
    assert.deepEqual(options.Cmd, ['/bin/sh', '/app/start.sh']);
    assert.deepEqual(options.Healthcheck, { Test: ['NONE'] });
    assert.deepEqual(options.Labels, { [measureLabel]: 'handdoc-fastapi' });
    assert.deepEqual(options.HostConfig?.Binds, ['/srv/models:/models:ro', '/srv/cache:/cache:z,ro', '/etc/tz:/etc/tz:ro']);
    assert.deepEqual(options.HostConfig?.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
    assert.equal(options.HostConfig?.NetworkMode, 'host');
    assert.equal(info.Config.Env[1], 'PORT=8000', 'the source is not changed');
  });

  void it('publishes a bridged container’s port on loopback only', () => {
    const info = inspectOf('api', { env: [], networkMode: 'bridge', portBindings: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8000' }] } });
    const options = copyOptions(info, { kind: 'copy', source: 'api', port: 21_001, healthPath: '/', portSetting: '', explanation: '' }, 8000, 'm');
    assert.deepEqual(options.HostConfig?.PortBindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '21001' }] });
    assert.deepEqual(options.ExposedPorts, { '80/tcp': {} });
  });
});

void describe('reading Docker', () => {
  void it('memory at rest as docker stats shows it (cache left out)', () => {
    assert.equal(memoryKbOf({ memory_stats: { usage: 10 * 1024 * 1024, stats: { inactive_file: 2 * 1024 * 1024 } } } as unknown as Dockerode.ContainerStats), 8 * 1024);
    assert.equal(memoryKbOf({ memory_stats: { usage: 4096, stats: { total_inactive_file: 1024 } } } as unknown as Dockerode.ContainerStats), 3);
    assert.equal(memoryKbOf({ memory_stats: {} } as unknown as Dockerode.ContainerStats), undefined);
  });

  void it("takes Docker's successful steady-state probes only", () => {
    const log = [
      { start: '2026-11-25T13:00:05Z', end: '2026-11-25T13:00:06Z', exitCode: -1 },
      { start: '2026-11-25T13:00:10Z', end: '2026-11-25T13:00:14.5Z', exitCode: 0 },
      { start: '2026-11-25T13:00:30Z', end: '2026-11-25T13:00:30.042Z', exitCode: 0 },
      { start: '2026-11-25T13:01:00Z', end: '2026-11-25T13:01:03Z', exitCode: 1 },
    ];
    assert.deepEqual(steadyDockerProbeMs(log, '2026-11-25T13:00:00Z', 15_000), [42]);
  });

  void it('the compose project, files and service from the container’s labels', () => {
    const labels = {
      'com.docker.compose.project': 'handdoc-fastapi',
      'com.docker.compose.project.config_files': 'docker-compose.fastapi.yml',
      'com.docker.compose.project.working_dir': '/home/ec2-user/apps',
      'com.docker.compose.service': 'fastapi',
    };
    assert.deepEqual(composeTargetOf(labels, '/home/ec2-user/apps/docker-compose.fastapi.yml', 'fastapi', 'apps'), {
      files: ['/home/ec2-user/apps/docker-compose.fastapi.yml'],
      project: 'handdoc-fastapi',
      service: 'fastapi',
    });
    // Started with an override too: both files again, in order.
    const both = { ...labels, 'com.docker.compose.project.config_files': '/home/ec2-user/apps/docker-compose.fastapi.yml,/home/ec2-user/.switchyard/override.yml' };
    assert.deepEqual(composeTargetOf(both, '/home/ec2-user/apps/docker-compose.fastapi.yml', 'fastapi', 'apps').files, ['/home/ec2-user/apps/docker-compose.fastapi.yml', '/home/ec2-user/.switchyard/override.yml']);
    // No labels (never started by compose): the profile's file and Compose's default project name.
    assert.deepEqual(composeTargetOf(undefined, '/home/ec2-user/apps/docker-compose.fastapi.yml', 'fastapi', 'apps'), { files: ['/home/ec2-user/apps/docker-compose.fastapi.yml'], project: 'apps', service: 'fastapi' });
  });

  void it('the timings Docker runs, from nanoseconds', () => {
    const info = { Config: { Healthcheck: { Test: ['CMD'], Interval: 5e9, Timeout: 1e9, StartPeriod: 23e9, Retries: 3 } } } as unknown as Dockerode.ContainerInspectInfo;
    assert.deepEqual(runningTimings(info), { intervalMs: 5000, timeoutMs: 1000, startPeriodMs: 23000, retries: 3 });
  });
});
