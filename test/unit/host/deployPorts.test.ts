/**
 * The host side of the deploy ports, without a host: the lock, journal and session scripts run in a
 * real local /bin/sh (through the same argv quoting as on the host), Docker calls against a fake.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import type Dockerode from 'dockerode';
import type { LockRecord } from '../../../src/core/deployTypes';
import type { HostProfile } from '../../../src/core/hostProfile';
import type { ExecOptions, ExecResult, ExecStream } from '../../../src/host/hostConnection';
import { HostError } from '../../../src/host/hostErrors';
import { parseJournal } from '../../../src/core/deployRecords';
import { demuxDockerLogs, HostDeployPorts, toContainerStatus, type DeployConnection } from '../../../src/host/deployPorts';
import { toCommandLine } from '../../../src/host/shellQuote';

const profile: HostProfile = {
  name: 'local',
  ssh: { host: '127.0.0.1' },
  dockerSocket: '/var/run/docker.sock',
  appsDir: '/home/ec2-user/apps',
  nginx: { binary: '/usr/sbin/nginx', mainConfig: '/etc/nginx/nginx.conf', confDir: '/etc/nginx/conf.d', accessLog: '/a', errorLog: '/e', useSudo: true },
  services: [],
};

/** Runs each command line in a local sh with HOME set to a temp dir; records every argv. */
class LocalConnection implements DeployConnection {
  readonly profile = profile;
  readonly argvs: string[][] = [];
  readonly home = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-ports-'));
  readonly written = new Map<string, string>();
  /** argv[0..n] prefixes answered without running anything (docker, compose, nginx). */
  readonly canned: Array<{ prefix: string[]; result: ExecResult }> = [];
  dockerClient: unknown = {};

  async exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    this.argvs.push(argv);
    const full = options.sudo ? ['sudo', '-n', ...argv] : argv;
    const canned = this.canned.find((c) => c.prefix.every((word, i) => full[i] === word));
    if (canned) return canned.result;
    const input = options.stdin === undefined ? undefined : Buffer.isBuffer(options.stdin) ? options.stdin : Buffer.from(options.stdin);
    const run = spawnSync('/bin/sh', ['-c', toCommandLine(full)], { env: { PATH: process.env.PATH, HOME: this.home }, ...(input ? { input } : {}) });
    return { stdout: run.stdout.toString(), stderr: run.stderr.toString(), exitCode: run.status ?? 1 };
  }

  async execStream(): Promise<ExecStream> {
    throw new Error('not used');
  }

  async readFile(remotePath: string): Promise<Buffer> {
    if (!fs.existsSync(remotePath)) throw new HostError('fileNotFound', `${remotePath} does not exist`);
    return fs.readFileSync(remotePath);
  }

  async writeFileAtomic(remotePath: string, data: string | Buffer): Promise<{ method: 'atomic' }> {
    this.written.set(remotePath, data.toString());
    return { method: 'atomic' };
  }

  docker(): Dockerode {
    return this.dockerClient as Dockerode;
  }

  async httpGet(): Promise<{ status: number; body: string; durationMs: number }> {
    return { status: 200, body: '', durationMs: 1 };
  }
}

function record(token: string, extra: Partial<LockRecord> = {}): LockRecord {
  return { token, holder: 'alice@laptop', host: 'local', operation: 'deploy', service: 'spring', startedAt: new Date().toISOString(), heartbeatAt: new Date().toISOString(), ...extra };
}

void describe('deploy lock on the host (real sh)', () => {
  void it('is created atomically once; a second client sees who holds it; only the holder refreshes and releases it', async () => {
    const connection = new LocalConnection();
    const ports = new HostDeployPorts(connection);
    assert.deepEqual(await ports.lock.acquire(record('tok-a')), { acquired: true });
    const lockFile = path.join(connection.home, '.switchyard', 'lock');
    assert.equal(fs.statSync(lockFile).mode & 0o777, 0o600, 'private to the user');
    const second = await ports.lock.acquire(record('tok-b', { holder: 'ci' }));
    assert.equal(second.acquired, false);
    assert.ok(!second.acquired && second.current.record.holder === 'alice@laptop' && second.current.record.token === 'tok-a');
    // Not run over ssh here: no session recorded, a fresh heartbeat → not stale.
    assert.ok(!second.acquired && second.current.isStale === false);
    assert.equal(await ports.lock.refresh(record('tok-b')), false, 'someone else cannot refresh it');
    assert.equal(await ports.lock.refresh(record('tok-a', { step: 'switch' })), true);
    assert.equal((await ports.lock.read())?.record.step, 'switch');
    await ports.lock.release('tok-b');
    assert.ok(fs.existsSync(lockFile), 'released only by its holder');
    await ports.lock.release('tok-a');
    assert.equal(fs.existsSync(lockFile), false);
    assert.equal(await ports.lock.read(), undefined);
    assert.deepEqual(fs.readdirSync(path.join(connection.home, '.switchyard')), [], 'no temp files left');
  });

  void it('a lock without a session and an old heartbeat is stale; break removes it only with its token', async () => {
    const connection = new LocalConnection();
    const ports = new HostDeployPorts(connection);
    const old = new Date(Date.now() - 60 * 60_000).toISOString();
    await ports.lock.acquire(record('tok-old', { heartbeatAt: old }));
    const state = await ports.lock.read();
    assert.equal(state?.isStale, true);
    assert.match(state?.staleReason ?? '', /no heartbeat for 60 minutes/);
    assert.equal(await ports.lock.break('tok-other'), false);
    assert.equal(await ports.lock.break('tok-old'), true);
    assert.equal(await ports.lock.read(), undefined);
  });

  void it('a recorded session that no longer exists makes the lock stale; a lock file in another format is held, never stale', async () => {
    const connection = new LocalConnection();
    const ports = new HostDeployPorts(connection);
    // pid 1 is no sshd: its "session" is gone.
    const state = await ports.lockState(record('t', { session: { pid: 1, startTicks: '1' } }));
    assert.equal(state.isStale, true);
    assert.match(state.staleReason ?? '', /SSH session on the host \(sshd pid 1\) has ended/);
    fs.mkdirSync(path.join(connection.home, '.switchyard'), { recursive: true });
    fs.writeFileSync(path.join(connection.home, '.switchyard', 'lock'), 'deploy.sh running\n');
    const foreign = await ports.lock.acquire(record('x'));
    assert.ok(!foreign.acquired && !foreign.current.isStale && /unknown \(the lock file says: deploy\.sh running\)/.test(foreign.current.record.holder));
  });

  void it('the session script names an sshd ancestor of the command, or none', async () => {
    const ports = new HostDeployPorts(new LocalConnection());
    const session = await ports.session();
    // Under CI there is usually no sshd above the test; over ssh there is, and it must really be one.
    if (session) assert.match(fs.readFileSync(`/proc/${session.pid}/comm`, 'utf8'), /^sshd/);
    else assert.equal(session, undefined);
  });
});

void describe('journal on the host (real sh)', () => {
  void it('appends JSON lines and reads the last N back; torn lines are skipped', async () => {
    const connection = new LocalConnection();
    const ports = new HostDeployPorts(connection);
    assert.deepEqual(await ports.journal.read(10), [], 'no journal yet');
    for (let i = 0; i < 5; i++) await ports.journal.append({ id: `op${i}`, phase: 'started', at: `t${i}`, kind: 'deploy', service: 'spring', host: 'local', who: "o'neil $(x)" });
    fs.appendFileSync(path.join(connection.home, '.switchyard', 'journal.jsonl'), '{"id":"torn","pha');
    const last = await ports.journal.read(3);
    assert.deepEqual(last.map((e) => e.id), ['op3', 'op4']);
    assert.equal(last[0].who, "o'neil $(x)");
    assert.deepEqual(parseJournal('nonsense\n{"id":"a","phase":"finished"}\n').map((e) => e.id), ['a']);
  });
});

void describe('commands are argv, quoted once', () => {
  void it('compose up: v1 detected, user file + override file, only the service; paths with spaces and metacharacters stay one argument', async () => {
    const connection = new LocalConnection();
    connection.canned.push({ prefix: ['env', 'DOCKER_HOST=unix:///var/run/docker.sock', 'docker', 'compose'], result: { stdout: '', stderr: "docker: 'compose' is not a docker command.", exitCode: 1 } });
    connection.canned.push({ prefix: ['env', 'DOCKER_HOST=unix:///var/run/docker.sock', 'docker-compose'], result: { stdout: '1.29.2\n', stderr: '', exitCode: 0 } });
    const ports = new HostDeployPorts(connection);
    const composeFile = '/home/ec2-user/my apps/$(touch pwned);x.yml';
    await ports.compose.up({ project: 'handdoc-spring-green', composeFile, service: 'spring-green' }, 'services: {}\n');
    const up = connection.argvs.find((argv) => argv.includes('up'));
    const override = `${connection.home}/.switchyard/compose/handdoc-spring-green.image.yml`;
    assert.deepEqual(up, ['env', 'DOCKER_HOST=unix:///var/run/docker.sock', 'docker-compose', '-p', 'handdoc-spring-green', '-f', composeFile, '-f', override, 'up', '-d', '--no-deps', '--force-recreate', 'spring-green']);
    assert.equal(connection.written.get(override), 'services: {}\n');
    assert.equal(connection.written.has(composeFile), false, "the user's compose file is never written");
    assert.equal(fs.existsSync(path.join(connection.home, 'pwned')), false);
    assert.ok(fs.statSync(path.join(connection.home, '.switchyard', 'compose')).isDirectory());
    // Detected once per connection.
    await ports.compose.up({ project: 'p', composeFile: '/f.yml', service: 's' }, '');
    assert.equal(connection.argvs.filter((argv) => argv.includes('version')).length, 2);
  });

  void it('compose v2 is preferred when present; a failing up reports its output', async () => {
    const connection = new LocalConnection();
    connection.canned.push({ prefix: ['env', 'DOCKER_HOST=unix:///var/run/docker.sock', 'docker', 'compose', 'version'], result: { stdout: '2.29.1\n', stderr: '', exitCode: 0 } });
    connection.canned.push({ prefix: ['env', 'DOCKER_HOST=unix:///var/run/docker.sock', 'docker', 'compose', '-p'], result: { stdout: '', stderr: 'service "x" has neither an image nor a build context\n', exitCode: 15 } });
    const ports = new HostDeployPorts(connection);
    assert.deepEqual(await ports.detectCompose(), { version: 'v2', argv: ['docker', 'compose'] });
    await assert.rejects(ports.compose.up({ project: 'p', composeFile: '/f.yml', service: 'x' }, ''), /docker compose up x failed \(exit 15\): service "x" has neither an image/);
  });

  void it('nginx -t and reload go through sudo -n with the profile binary and -c', async () => {
    const connection = new LocalConnection();
    connection.canned.push({ prefix: ['sudo', '-n', '/usr/sbin/nginx'], result: { stdout: '', stderr: 'nginx: [emerg] unexpected "}" in /etc/nginx/conf.d/x.conf:3\n', exitCode: 1 } });
    const ports = new HostDeployPorts(connection);
    assert.deepEqual(await ports.nginx.test(), { ok: false, output: 'nginx: [emerg] unexpected "}" in /etc/nginx/conf.d/x.conf:3' });
    await ports.nginx.reload();
    assert.deepEqual(connection.argvs.slice(-2), [
      ['/usr/sbin/nginx', '-c', '/etc/nginx/nginx.conf', '-t'],
      ['/usr/sbin/nginx', '-c', '/etc/nginx/nginx.conf', '-s', 'reload'],
    ]);
  });
});

void describe('docker over the API', () => {
  function dockerError(statusCode: number, message: string): Error {
    return Object.assign(new Error(`(HTTP code ${statusCode}) - ${message}`), { statusCode, json: { message } });
  }

  void it('checkImage: available, missing, registry down, local copy only, credentials needed', async () => {
    const connection = new LocalConnection();
    const ports = new HostDeployPorts(connection);
    const answer = (local: boolean, distribution: Error | undefined) => {
      connection.dockerClient = {
        getImage: () => ({
          inspect: async () => {
            if (!local) throw dockerError(404, 'No such image');
            return {};
          },
          distribution: async () => {
            if (distribution) throw distribution;
            return {};
          },
        }),
      };
    };
    answer(false, undefined);
    assert.deepEqual(await ports.docker.checkImage('r/x:v2'), { kind: 'available', isLocal: false });
    answer(false, dockerError(404, 'manifest unknown: manifest unknown'));
    assert.deepEqual(await ports.docker.checkImage('r/x:v9'), { kind: 'missing', message: 'manifest unknown: manifest unknown' });
    answer(false, dockerError(500, 'Get "http://127.0.0.1:5005/v2/": dial tcp 127.0.0.1:5005: connect: connection refused'));
    assert.equal((await ports.docker.checkImage('r/x:v2')).kind, 'unreachable');
    answer(true, dockerError(500, 'dial tcp: connection refused'));
    assert.equal((await ports.docker.checkImage('r/x:v2')).kind, 'localOnly');
    answer(false, dockerError(401, 'unauthorized: authentication required'));
    assert.equal((await ports.docker.checkImage('r/x:v2')).kind, 'unverified');
  });

  void it('stop and remove: an already stopped or missing container is not an error', async () => {
    const connection = new LocalConnection();
    const ports = new HostDeployPorts(connection);
    connection.dockerClient = {
      getContainer: () => ({
        stop: async () => {
          throw dockerError(304, 'container already stopped');
        },
        remove: async () => {
          throw dockerError(404, 'No such container');
        },
        inspect: async () => {
          throw dockerError(404, 'No such container');
        },
      }),
    };
    await ports.docker.stop('c', 10);
    await ports.docker.remove('c');
    assert.equal(await ports.docker.inspect('c'), undefined);
  });

  void it('a Docker request that dies with the SSH channel (no answer from dockerd) is connectionLost, so the engine retries it', async () => {
    const connection = new LocalConnection();
    const ports = new HostDeployPorts(connection);
    const hangUp = async (): Promise<never> => {
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    };
    connection.dockerClient = { getContainer: () => ({ inspect: hangUp, stop: hangUp, remove: hangUp, logs: hangUp }), getImage: () => ({ inspect: hangUp, distribution: hangUp }) };
    for (const [what, call] of [
      ['docker inspect c', () => ports.docker.inspect('c')],
      ['docker stop c', () => ports.docker.stop('c', 10)],
      ['docker rm -f c', () => ports.docker.remove('c')],
      ['docker logs c', () => ports.docker.logs('c', 10)],
      ['docker image inspect r/x:v2', () => ports.docker.checkImage('r/x:v2')],
    ] as const) {
      await assert.rejects(call(), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'connectionLost', what);
        assert.equal(error.message, `The connection to local was lost during ${what} (socket hang up).`);
        return true;
      });
    }
    // An answer from dockerd, however bad, is not a dropped connection.
    connection.dockerClient = { getContainer: () => ({ inspect: async () => Promise.reject(dockerError(500, 'socket hang up')) }) };
    await assert.rejects(ports.docker.inspect('c'), (error: Error & { code?: string }) => error.code !== 'connectionLost');
  });

  void it('a docker pull whose channel ends without an exit status (the connection dropped) is connectionLost; a failing pull is not', async () => {
    const connection = new LocalConnection();
    const ports = new HostDeployPorts(connection);
    const pullEnding = (exit: number | null, output: string) => {
      connection.execStream = async () => {
        const stdout = new PassThrough();
        stdout.end(output);
        await new Promise((r) => setImmediate(r));
        return { stdout, stderr: new PassThrough(), exit: new Promise<number | null>((resolve) => stdout.on('end', () => resolve(exit))), close: () => undefined };
      };
    };
    pullEnding(null, 'v3: Pulling from handdoc-spring\nStatus: Image is up to date for r/x:v3\n');
    await assert.rejects(ports.docker.pull('r/x:v3', () => undefined), {
      code: 'connectionLost',
      message: 'The connection to local was lost during docker pull r/x:v3 (last output: Status: Image is up to date for r/x:v3).',
    });
    pullEnding(1, 'Error response from daemon: manifest for r/x:v9 not found\n');
    await assert.rejects(ports.docker.pull('r/x:v9', () => undefined), { code: 'commandFailed', message: 'docker pull r/x:v9 failed (exit 1): Error response from daemon: manifest for r/x:v9 not found' });
  });

  void it('inspect: healthcheck timings from nanoseconds, Docker’s defaults for the ones left out, restart count', () => {
    const inspect = {
      Id: 'abc',
      Name: '/handdoc-spring-green',
      RestartCount: 2,
      State: { Status: 'running', StartedAt: '2026-11-25T10:00:00Z', ExitCode: 0, Health: { Status: 'starting', FailingStreak: 0, Log: [] } },
      Config: { Image: '127.0.0.1:5005/handdoc-spring:v2', Labels: { 'com.docker.compose.project': 'handdoc-spring-green' }, Healthcheck: { Test: ['CMD-SHELL', 'wget -q -O- http://127.0.0.1:8081/actuator/health'], Interval: 10e9, StartPeriod: 20e9 } },
      HostConfig: { NetworkMode: 'host' },
      NetworkSettings: { Ports: {} },
    } as unknown as Dockerode.ContainerInspectInfo;
    const status = toContainerStatus(inspect);
    assert.deepEqual(status.healthcheck, { intervalMs: 10_000, timeoutMs: 30_000, startPeriodMs: 20_000, retries: 3 });
    assert.equal(status.restartCount, 2);
    assert.equal(status.image, '127.0.0.1:5005/handdoc-spring:v2');
    assert.equal(status.health, 'starting');
    assert.equal(status.exitCode, undefined);
    const none = toContainerStatus({ ...inspect, Config: { ...inspect.Config, Healthcheck: { Test: ['NONE'] } } } as unknown as Dockerode.ContainerInspectInfo);
    assert.equal(none.healthcheck, undefined);
  });

  void it('demuxes docker log frames', () => {
    const frame = (stream: number, text: string) => Buffer.concat([Buffer.from([stream, 0, 0, 0]), Buffer.from([0, 0, 0, Buffer.byteLength(text)]), Buffer.from(text)]);
    assert.equal(demuxDockerLogs(Buffer.concat([frame(1, 'out line\n'), frame(2, 'err line\n')])), 'out line\nerr line\n');
    assert.equal(demuxDockerLogs(Buffer.from('tty output\n')), 'tty output\n');
  });
});
