/**
 * The log streams' decisions against a fake Docker and a fake connection: re-attaching after a stop,
 * a recreate, a dropped connection, without repeating or losing lines; the live color's switch; the
 * tail of an Nginx file. The real thing runs in test/integration/logs.test.ts.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type Dockerode from 'dockerode';
import type { ContainerInfo } from '../../../src/core/hostState';
import type { HostProfile } from '../../../src/core/hostProfile';
import { Emitter } from '../../../src/host/emitter';
import type { ConnectionState, ExecStream, RemoteStat } from '../../../src/host/hostConnection';
import { HostError } from '../../../src/host/hostErrors';
import { createLogStream, type LogConnection, type LogEvent, type LogHost, type LogStream } from '../../../src/host/logStreams';
import { describeTailMessage } from '../../../src/host/nginxLogStream';
import { handDoc } from '../core/handdocProfile';

function frame(type: 1 | 2, payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

let clockNs = BigInt(Date.UTC(2026, 10, 25, 13, 0, 0)) * 1_000_000n;
/** Docker-style timestamps, 1 ms apart, sometimes with trailing zeros trimmed as RFC3339Nano does. */
function nextTimestamp(): string {
  clockNs += 1_000_000n;
  const ms = Number(clockNs / 1_000_000n);
  const nanos = String(clockNs % 1_000_000_000n).padStart(9, '0').replace(/0+$/, '');
  return `${new Date(ms).toISOString().slice(0, 19)}${nanos ? `.${nanos}` : ''}Z`;
}

function normalized(ts: string): string {
  const [base, frac = ''] = ts.replace('Z', '').split('.');
  return `${base}.${frac.padEnd(9, '0')}Z`;
}

interface FakeContainer {
  id: string;
  startedAt: string;
  isRunning: boolean;
  log: { type: 1 | 2; ts: string; text: string }[];
  followers: PassThrough[];
}

class FakeDocker {
  readonly containers = new Map<string, FakeContainer>();
  readonly requests: { name: string; options: Dockerode.ContainerLogsOptions }[] = [];
  private ids = 0;

  create(name: string): FakeContainer {
    const c: FakeContainer = { id: `id${++this.ids}`, startedAt: nextTimestamp(), isRunning: true, log: [], followers: [] };
    this.containers.set(name, c);
    return c;
  }

  write(name: string, text: string, type: 1 | 2 = 1): void {
    const c = this.containers.get(name);
    assert.ok(c?.isRunning, `${name} runs`);
    const entry = { type, ts: nextTimestamp(), text };
    c.log.push(entry);
    for (const follower of c.followers) follower.write(frame(type, `${entry.ts} ${text}\n`));
  }

  stop(name: string): void {
    const c = this.containers.get(name);
    if (!c) return;
    c.isRunning = false;
    for (const follower of c.followers.splice(0)) follower.end();
  }

  start(name: string): void {
    const c = this.containers.get(name);
    assert.ok(c);
    c.isRunning = true;
    c.startedAt = nextTimestamp();
  }

  remove(name: string): void {
    this.stop(name);
    this.containers.delete(name);
  }

  /** What a dropped connection does to the follow requests. */
  cutAll(): void {
    for (const c of this.containers.values()) for (const follower of c.followers.splice(0)) follower.destroy();
  }

  api(): Dockerode {
    const notFound = (name: string) => Object.assign(new Error(`(HTTP code 404) no such container - ${name}`), { statusCode: 404 });
    return {
      getContainer: (name: string) => ({
        inspect: async () => {
          const c = this.containers.get(name);
          if (!c) throw notFound(name);
          return { Id: c.id, Config: { Tty: false }, State: { Running: c.isRunning, StartedAt: c.startedAt, ExitCode: c.isRunning ? 0 : 137 } };
        },
        logs: async (options: Dockerode.ContainerLogsOptions) => {
          const c = this.containers.get(name);
          if (!c) throw notFound(name);
          this.requests.push({ name, options });
          let entries = c.log;
          if (options.since !== undefined) {
            const [sec, nanos = '0'] = String(options.since).split('.');
            const since = `${new Date(Number(sec) * 1000).toISOString().slice(0, 19)}.${nanos.padEnd(9, '0')}Z`;
            entries = entries.filter((e) => normalized(e.ts) >= since); // Docker's since is inclusive
          } else if (options.tail !== undefined) {
            entries = entries.slice(Math.max(0, entries.length - options.tail));
          }
          const stream = new PassThrough();
          for (const e of entries) stream.write(frame(e.type, `${e.ts} ${e.text}\n`));
          if (c.isRunning) {
            c.followers.push(stream);
            stream.on('close', () => c.followers.splice(c.followers.indexOf(stream) >>> 0, 1));
          } else {
            stream.end();
          }
          options.abortSignal?.addEventListener('abort', () => stream.destroy());
          return stream;
        },
      }),
    } as unknown as Dockerode;
  }
}

class FakeExec {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  isClosed = false;
  private finish: (code: number | null) => void = () => undefined;
  readonly exit = new Promise<number | null>((resolve) => (this.finish = resolve));

  constructor(
    readonly argv: string[],
    readonly sudo: boolean,
  ) {}

  close(): void {
    this.isClosed = true;
    this.end(null);
  }

  end(code: number | null): void {
    this.stdout.end();
    this.stderr.end();
    this.finish(code);
  }
}

class FakeConnection implements LogConnection {
  state: ConnectionState = { kind: 'connected' };
  private readonly _onDidChangeState = new Emitter<ConnectionState>();
  readonly onDidChangeState = this._onDidChangeState.event;
  readonly fakeDocker = new FakeDocker();
  readonly execs: FakeExec[] = [];
  files = new Map<string, { text: string; mtimeMs: number }>();

  constructor(readonly profile: HostProfile = handDoc) {}

  setState(state: ConnectionState): void {
    this.state = state;
    this._onDidChangeState.fire(state);
  }

  drop(): void {
    this.setState({ kind: 'reconnecting', attempt: 1, nextRetryMs: 1000, lastError: new HostError('connectionLost', 'The connection was lost.') });
    this.fakeDocker.cutAll();
    for (const exec of this.execs) if (!exec.isClosed) exec.end(null);
  }

  docker(): Dockerode {
    return this.fakeDocker.api();
  }

  async execStream(argv: string[], options: { sudo?: boolean } = {}): Promise<ExecStream> {
    const exec = new FakeExec(argv, options.sudo ?? false);
    this.execs.push(exec);
    return exec;
  }

  async readFile(remotePath: string): Promise<Buffer> {
    const file = this.files.get(remotePath);
    if (!file) throw new HostError('fileNotFound', `${remotePath} does not exist.`);
    return Buffer.from(file.text);
  }

  async stat(remotePath: string): Promise<RemoteStat | undefined> {
    const file = this.files.get(remotePath);
    return file ? { size: file.text.length, mode: 0o100644, uid: 0, gid: 0, mtimeMs: file.mtimeMs, isFile: true, isDirectory: false } : undefined;
  }
}

class FakeHost implements LogHost {
  snapshot: { containers: ContainerInfo[] } | undefined = { containers: [] };
  private readonly _onDidChange = new Emitter<unknown>();
  readonly onDidChange = this._onDidChange.event;

  constructor(readonly connection: FakeConnection) {}

  /** What the watcher does after a Docker event: re-read the containers and tell. */
  refresh(): void {
    this.snapshot = {
      containers: [...this.connection.fakeDocker.containers].map(([name, c]) => ({
        name,
        id: c.id,
        image: 'img',
        tag: 'latest',
        state: c.isRunning ? 'running' : 'exited',
        health: 'none',
        startedAt: c.startedAt,
        ports: [],
        networkMode: 'host',
        labels: { 'org.opencontainers.image.version': `v-${name}` },
      })),
    };
    this._onDidChange.fire({ kind: 'snapshot' });
  }
}

/** Records a stream's output as the channel would show it. */
function record(stream: LogStream): { texts: string[]; notices: () => string[]; lines: () => string[] } {
  const texts: string[] = [];
  stream.onDidEmit((event: LogEvent) => {
    if (event.kind === 'notice') texts.push(event.text);
    else for (const line of event.lines) texts.push(`${line.stream === 'stderr' ? '[stderr] ' : ''}${line.text}`);
  });
  return { texts, notices: () => texts.filter((t) => t.startsWith('──')), lines: () => texts.filter((t) => !t.startsWith('──')) };
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function setup(): { connection: FakeConnection; docker: FakeDocker; host: FakeHost } {
  const connection = new FakeConnection();
  return { connection, docker: connection.fakeDocker, host: new FakeHost(connection) };
}

describe('container log stream', () => {
  it('shows the last N lines, marks stderr, then follows', async () => {
    const { docker, host } = setup();
    docker.create('app');
    for (let i = 1; i <= 5; i++) docker.write('app', `old ${i}`);
    const stream = createLogStream(host, { kind: 'container', host: 'handdoc', container: 'app' }, { tailLines: 2 });
    const out = record(stream);
    stream.start();
    await until('following', () => stream.status === 'following' && out.lines().length === 2);
    docker.write('app', 'boom', 2);
    await until('the new line', () => out.lines().length === 3);
    assert.deepEqual(out.lines(), ['old 4', 'old 5', '[stderr] boom']);
    assert.equal(docker.requests[0].options.tail, 2);
    assert.equal(docker.requests[0].options.timestamps, true);
    stream.dispose();
    assert.ok(docker.containers.get('app')?.followers.every((f) => f.destroyed), 'the follow request is gone');
  });

  it('a restarted container is picked up again from where it stopped: nothing twice, nothing lost', async () => {
    const { docker, host } = setup();
    docker.create('app');
    docker.write('app', 'a');
    const stream = createLogStream(host, { kind: 'container', host: 'handdoc', container: 'app' }, { tailLines: 10 });
    const out = record(stream);
    stream.start();
    await until('a', () => out.lines().length === 1);
    docker.write('app', 'b');
    docker.stop('app');
    await until('the stop notice', () => stream.status === 'waiting');
    assert.match(out.notices().at(-1) ?? '', /app stopped \(exit code 137\); waiting for it to start again/);
    host.refresh(); // the watcher saw "die": still stopped, nothing to do
    docker.start('app');
    docker.write('app', 'c');
    docker.write('app', 'd');
    host.refresh(); // the watcher saw "start"
    await until('c and d', () => out.lines().length === 4);
    assert.deepEqual(out.lines(), ['a', 'b', 'c', 'd']);
    assert.match(out.notices().at(-1) ?? '', /app started again/);
    assert.ok(docker.requests[1].options.since, 're-attached with since');
    assert.equal(docker.requests[1].options.tail, undefined, 'not with the last N lines');
    stream.dispose();
  });

  it('a container removed while tailed says so, and a new one with that name is followed', async () => {
    const { docker, host } = setup();
    docker.create('app');
    docker.write('app', 'first run');
    const stream = createLogStream(host, { kind: 'container', host: 'handdoc', container: 'app' }, { tailLines: 10 });
    const out = record(stream);
    stream.start();
    await until('first run', () => out.lines().length === 1);
    docker.remove('app');
    await until('removed', () => /was removed/.test(out.notices().at(-1) ?? ''));
    docker.create('app');
    docker.write('app', 'second run');
    host.refresh();
    await until('second run', () => out.lines().length === 2);
    assert.deepEqual(out.lines(), ['first run', 'second run']);
    assert.match(out.notices().at(-1) ?? '', /app was recreated/);
    stream.dispose();
  });

  it('a container that does not exist is reported, and followed once it appears', async () => {
    const { docker, host } = setup();
    const stream = createLogStream(host, { kind: 'container', host: 'handdoc', container: 'ghost' }, { tailLines: 10 });
    const out = record(stream);
    stream.start();
    await until('the notice', () => stream.status === 'waiting');
    assert.deepEqual(out.notices(), ['── no container named ghost on handdoc; waiting for one to appear ──']);
    host.refresh();
    assert.equal(stream.status, 'waiting', 'still missing');
    docker.create('ghost');
    docker.write('ghost', 'boo');
    host.refresh();
    await until('its line', () => out.lines().length === 1);
    stream.dispose();
  });

  it('a dropped connection: says so, and resumes after the reconnect without repeating a line', async () => {
    const { connection, docker, host } = setup();
    docker.create('app');
    docker.write('app', '1');
    const stream = createLogStream(host, { kind: 'container', host: 'handdoc', container: 'app' }, { tailLines: 10 });
    const out = record(stream);
    stream.start();
    await until('1', () => out.lines().length === 1);
    docker.write('app', '2');
    await until('2', () => out.lines().length === 2);
    connection.drop();
    assert.equal(stream.status, 'disconnected');
    assert.match(out.notices().at(-1) ?? '', /connection to handdoc lost; app resumes when it is back/);
    docker.write('app', '3');
    docker.write('app', '4');
    connection.setState({ kind: 'connected' });
    await until('3 and 4', () => out.lines().length === 4);
    docker.write('app', '5');
    await until('5', () => out.lines().length === 5);
    assert.deepEqual(out.lines(), ['1', '2', '3', '4', '5']);
    assert.match(out.texts.join('\n'), /reconnected: app resumes where it stopped/);
    stream.dispose();
  });

  it('a stream moved to a new connection continues from its resume state', async () => {
    const first = setup();
    first.docker.create('app');
    first.docker.write('app', 'x');
    const stream = createLogStream(first.host, { kind: 'container', host: 'handdoc', container: 'app' }, { tailLines: 10 });
    const out = record(stream);
    stream.start();
    await until('x', () => out.lines().length === 1);
    const resume = stream.resumeState();
    stream.dispose();
    first.docker.write('app', 'y');
    // The same host through another connection object (the registry replaced the watcher).
    const second = new FakeHost(first.connection);
    const next = createLogStream(second, { kind: 'container', host: 'handdoc', container: 'app' }, { tailLines: 10, resume });
    const out2 = record(next);
    next.start();
    await until('y', () => out2.lines().length === 1);
    assert.deepEqual(out2.lines(), ['y']);
    next.dispose();
  });
});

describe('live color log stream', () => {
  const switchFile = '/etc/nginx/conf.d/active-upstream.conf';
  const upstream = (port: number) => `upstream spring_backend {\n    server 127.0.0.1:${port};\n}\n`;

  it('follows the color Nginx sends traffic to, and marks the switch', { timeout: 15_000 }, async () => {
    const { connection, docker, host } = setup();
    connection.files.set(switchFile, { text: upstream(8080), mtimeMs: 1000 });
    docker.create('handdoc-spring-blue');
    docker.create('handdoc-spring-green');
    host.refresh();
    docker.write('handdoc-spring-blue', 'blue before');
    docker.write('handdoc-spring-green', 'green warming up');
    const stream = createLogStream(host, { kind: 'liveColor', host: 'handdoc', service: 'spring' }, { tailLines: 10 });
    const out = record(stream);
    stream.start();
    await until('blue', () => out.lines().length === 1);
    assert.deepEqual(out.lines(), ['blue before']);
    assert.match(out.notices()[0], /spring on handdoc: following the live color, now blue \(v-handdoc-spring-blue\)/);
    // deploy.sh: the switch file is rewritten; its mtime (host clock, whole seconds) is the switch time.
    const switchedAtMs = Math.floor(Number(clockNs / 1_000_000n) / 1000) * 1000 + 1000;
    while (Number(clockNs / 1_000_000n) < switchedAtMs) nextTimestamp();
    connection.files.set(switchFile, { text: upstream(8081), mtimeMs: switchedAtMs });
    docker.write('handdoc-spring-green', 'green after the switch');
    await until('the marker', () => out.notices().includes('── switched to green (v-handdoc-spring-green) ──'));
    await until('green', () => out.lines().includes('green after the switch'));
    docker.write('handdoc-spring-blue', 'blue draining');
    docker.write('handdoc-spring-green', 'green again');
    await until('green again', () => out.lines().includes('green again'));
    assert.deepEqual(out.lines(), ['blue before', 'green after the switch', 'green again'], 'nothing of green before the switch, nothing of blue after');
    const marker = out.texts.indexOf('── switched to green (v-handdoc-spring-green) ──');
    assert.ok(marker < out.texts.indexOf('green after the switch'));
    stream.dispose();
    assert.ok(docker.containers.get('handdoc-spring-green')?.followers.every((f) => f.destroyed));
  });

  it('says so when the service is not Blue-Green', () => {
    const { host } = setup();
    const stream = createLogStream(host, { kind: 'liveColor', host: 'handdoc', service: 'fastapi' }, { tailLines: 10 });
    const out = record(stream);
    stream.start();
    assert.equal(stream.status, 'failed');
    assert.match(out.notices()[0], /no Blue-Green service named fastapi/);
  });
});

describe('nginx log stream', () => {
  it('runs tail -n N -F through sudo -n, and ends it when disposed', async () => {
    const { connection, host } = setup();
    const stream = createLogStream(host, { kind: 'nginx', host: 'handdoc', file: 'access' }, { tailLines: 7 });
    const out = record(stream);
    stream.start();
    await until('tail', () => connection.execs.length === 1 && stream.status === 'following');
    const exec = connection.execs[0];
    assert.deepEqual(exec.argv, ['tail', '-n', '7', '-F', '/var/log/nginx/access.log']);
    assert.equal(exec.sudo, true);
    exec.stdout.write('GET / 200\nGET /api');
    exec.stdout.write('/whoami 200\n');
    await until('lines', () => out.lines().length === 2);
    assert.deepEqual(out.lines(), ['GET / 200', 'GET /api/whoami 200']);
    stream.dispose();
    assert.equal(exec.isClosed, true);
  });

  it('an unreadable file is reported in the channel', async () => {
    const { connection, host } = setup();
    const stream = createLogStream(host, { kind: 'nginx', host: 'handdoc', file: 'error' }, { tailLines: 7 });
    const out = record(stream);
    stream.start();
    await until('tail', () => connection.execs.length === 1);
    connection.execs[0].stderr.write("tail: cannot open '/var/log/nginx/error.log' for reading: Permission denied\n");
    await until('notice', () => stream.status === 'waiting');
    assert.match(out.notices().at(-1) ?? '', /cannot read \/var\/log\/nginx\/error.log: Permission denied/);
    connection.execs[0].stderr.write('sudo: a password is required\n');
    connection.execs[0].end(1);
    await until('failed', () => stream.status === 'failed');
    stream.dispose();
  });

  it('after a dropped connection, resumes where it left off (no repeated lines)', async () => {
    const { connection, host } = setup();
    const stream = createLogStream(host, { kind: 'nginx', host: 'handdoc', file: 'access' }, { tailLines: 2 });
    const out = record(stream);
    stream.start();
    await until('tail', () => connection.execs.length === 1);
    connection.execs[0].stdout.write('r1\nr2\n');
    await until('r2', () => out.lines().length === 2);
    connection.drop();
    connection.setState({ kind: 'connected' });
    await until('second tail', () => connection.execs.length === 2);
    assert.deepEqual(connection.execs[1].argv.slice(0, 3), ['tail', '-n', '1000']);
    // The file meanwhile got r3, r4; tail repeats the file's last lines first.
    connection.execs[1].stdout.write('r0\nr1\nr2\nr3\nr4\n');
    await until('r4', () => out.lines().includes('r4'));
    assert.deepEqual(out.lines(), ['r1', 'r2', 'r3', 'r4']);
    stream.dispose();
  });

  it('turns tail and sudo messages into notices with a hint', () => {
    assert.match(describeTailMessage("tail: cannot open '/x' for reading: Permission denied", '/x', false).text, /useSudo/);
    assert.equal(describeTailMessage("tail: '/x' has been replaced;  following new file", '/x', true).level, 'info');
    assert.match(describeTailMessage('sudo: a password is required', '/x', true).text, /sudo -n may not run tail for \/x/);
  });
});
