/**
 * Issue 5 against the real sandbox host: log streams over the kept-open connection, as the Output
 * panel would show them (through the same LogPump the editor uses). Containers (stderr marked),
 * Nginx's access log while requests go through it, the live color across a real deploy.sh switch,
 * restarted / recreated / missing containers, an unreadable file, and a dropped connection.
 *
 * The tests that need a container of their own run one next to the sandbox's (`--network none`),
 * so that restarting it disturbs nothing else. The live-color test switches the sandbox for real
 * with its own deploy.sh, twice, and leaves it with the color (and running containers) it had.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { HostProfile } from '../../src/core/hostProfile';
import { LogBuffer } from '../../src/core/logBuffer';
import { LogPump, systemClock } from '../../src/core/logPump';
import { channelLines, type LogSource } from '../../src/core/logSources';
import { readContainers } from '../../src/host/hostSnapshot';
import { HostWatcher } from '../../src/host/hostWatcher';
import { createLogStream, type LogHost, type LogStream } from '../../src/host/logStreams';
import { cmdline, connectTo, dropConnection, hostDocker, ppidOf, readSandbox, sandboxProfile, sshdSessionOf, testLogger, waitFor, type SandboxInfo } from './sandboxHost';

const nonce = randomBytes(4).toString('hex');
const image = '127.0.0.1:5005/handdoc-spring:v1';
let info: SandboxInfo;
let profile: HostProfile;
let watcher: HostWatcher;
const cleanups: Array<() => void | Promise<void>> = [];

/** A channel as the editor fills it: the stream's events through a LogPump into a list of lines. */
interface Channel {
  readonly lines: string[];
  text(): string;
  count(pattern: RegExp): number;
}

function open(host: LogHost, source: LogSource, tailLines = 5): { stream: LogStream; channel: Channel } {
  const stream = createLogStream(host, source, { tailLines });
  const lines: string[] = [];
  const pump = new LogPump(
    new LogBuffer(100_000),
    {
      write: (write) => {
        if (write.kind === 'replace') lines.length = 0;
        for (const line of write.lines) lines.push(line.text);
      },
    },
    systemClock,
  );
  stream.onDidEmit((event) => pump.push(event.kind === 'notice' ? [{ text: event.text }] : channelLines(source, event.lines, { timestamps: false })));
  stream.start();
  cleanups.push(() => {
    stream.dispose();
    pump.dispose();
  });
  return {
    stream,
    channel: { lines, text: () => lines.join('\n'), count: (pattern) => lines.filter((line) => pattern.test(line)).length },
  };
}

/** A container of the test's own: prints `started <n>` at each start, then waits; lines are written into it from outside. */
function runTestContainer(name: string): void {
  hostDocker(info, ['rm', '-f', name]);
  hostDocker(info, ['run', '-d', '--name', name, '--network', 'none', '--entrypoint', '/bin/sh', image, '-c', "trap 'exit 0' TERM; echo \"started $(date +%s%N)\"; while :; do sleep 1; done"]);
}

/** Writes lines to the container's PID 1 stdout (or stderr): what `docker logs` shows. */
function writeInto(name: string, lines: string[], fd: 1 | 2 = 1): void {
  hostDocker(info, ['exec', name, 'sh', '-c', `for l in "$@"; do echo "$l" > /proc/1/fd/${fd}; done`, 'sh', ...lines]);
}

function request(pathAndQuery: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(`${info.nginx.httpUrl}${pathAndQuery}`, { headers: { Connection: 'close' } }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

/** Connections from this SSH session to dockerd (the forwarded Docker socket), found with `ss -xp`. */
function dockerConnections(sessionPid: number): number {
  const rows = execFileSync('ss', ['-xpnH'], { encoding: 'utf8' }).split('\n').map((line) => line.trim().split(/\s+/));
  // u_str ESTAB 0 0 <local path or *> <inode> <peer path or *> <peer inode> users:(...)
  const dockerInodes = new Set(rows.filter((r) => r[4] === info.dockerSocket).map((r) => r[5]));
  return rows.filter((r) => r.slice(8).join(' ').includes(`pid=${sessionPid},`) && dockerInodes.has(r[7])).length;
}

/** Processes on the host that descend from this SSH session and run tail. */
function tailsOf(sessionPid: number): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    let ancestor = pid;
    try {
      for (let depth = 0; depth < 10 && ancestor > 1; depth++) {
        ancestor = ppidOf(ancestor);
        if (ancestor === sessionPid) {
          if (/\btail\b/.test(cmdline(pid))) found.push(`${pid} ${cmdline(pid)}`);
          break;
        }
      }
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function liveColorOnDisk(): 'blue' | 'green' {
  const text = fs.readFileSync(path.join(info.nginx.confDir, 'active-upstream.conf'), 'utf8');
  return /server\s+127\.0\.0\.1:8081/.test(text.replace(/#.*$/gm, '')) ? 'green' : 'blue';
}

/** The sandbox's own deploy.sh, over ssh as ec2-user, as GitHub Actions runs it. */
async function runDeploySh(): Promise<string> {
  const { stdout, stderr } = await promisify(execFile)(
    'ssh',
    ['-i', info.identityFile, '-p', String(info.sshPort), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `${info.user}@${info.sshHost}`, 'cd ~/apps && ./deploy.sh'],
    { timeout: 240_000 },
  );
  return `${stdout}${stderr}`;
}

/** What the marker names: the image's version label (the sandbox runs `:latest`), as the container has it now. */
function versionOf(color: 'blue' | 'green'): string {
  const [tag, label] = hostDocker(info, ['inspect', '-f', '{{.Config.Image}} {{index .Config.Labels "org.opencontainers.image.version"}}', `handdoc-spring-${color}`]).trim().split(' ');
  const imageTag = tag.slice(tag.lastIndexOf(':') + 1);
  return imageTag === 'latest' && label ? label : imageTag;
}

async function ensureHealthy(container: string): Promise<void> {
  if (hostDocker(info, ['inspect', '-f', '{{.State.Running}}', container]).trim() !== 'true') hostDocker(info, ['start', container]);
  await waitFor(`${container} healthy`, () => hostDocker(info, ['inspect', '-f', '{{.State.Health.Status}}', container]).trim() === 'healthy', 120_000);
}

before(async () => {
  info = readSandbox();
  profile = sandboxProfile();
  watcher = new HostWatcher(connectTo(profile), testLogger());
  cleanups.push(() => watcher.dispose());
  await watcher.start();
  assert.equal(watcher.connectionState.kind, 'connected');
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('container logs', () => {
  test('last N lines, stdout and stderr (marked), then new lines as they are written; stopping ends the Docker stream on the host', async () => {
    const name = `sy-logs-it-${nonce}`;
    runTestContainer(name);
    cleanups.push(() => void hostDocker(info, ['rm', '-f', name]));
    writeInto(name, ['old 1', 'old 2', 'old 3', 'old 4']);
    const { stream, channel } = open(watcher, { kind: 'container', host: profile.name, container: name }, 2);
    await waitFor('the last two lines', () => channel.count(/^old /) === 2);
    assert.deepEqual(
      channel.lines.filter((l) => l.startsWith('old')),
      ['old 3', 'old 4'],
    );
    assert.equal(channel.lines[0], `── ${name} on ${profile.name}: last 2 lines, then following ──`);
    writeInto(name, ['to stdout']);
    writeInto(name, ['to stderr'], 2);
    await waitFor('both new lines', () => channel.lines.includes('to stdout') && channel.lines.includes('[stderr] to stderr'));

    // A second stream, then stop both: their Docker connections through this SSH session close.
    const other = open(watcher, { kind: 'container', host: profile.name, container: 'handdoc-fastapi' }, 1);
    await waitFor('fastapi follows', () => other.stream.status === 'following');
    const session = (await sshdSessionOf(watcher.connection)).session;
    const during = dockerConnections(session);
    assert.ok(during >= 2, `two follow requests run through the session (${during})`);
    stream.dispose();
    other.stream.dispose();
    await waitFor('the Docker connections of both streams are closed', () => dockerConnections(session) <= during - 2, 10_000);
  });

  test("many streams at once (more than the connection's pooled Docker sockets) all follow, and the tree's Docker requests still answer", async () => {
    const streams = Array.from({ length: 10 }, () => open(watcher, { kind: 'container', host: profile.name, container: 'handdoc-fastapi' }, 1));
    await waitFor('all ten follow', () => streams.every((s) => s.stream.status === 'following'));
    const listed = await Promise.race([
      readContainers(watcher.connection).then((containers) => containers.length),
      new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), 10_000).unref()),
    ]);
    assert.notEqual(listed, 'stuck', 'listing the containers is not queued behind the follows');
    assert.equal(await request(`/fastapi/?sy-many=${nonce}`), 200);
    await waitFor('the request in every stream', () => streams.every((s) => s.channel.count(new RegExp(`sy-many=${nonce}`)) === 1));
    for (const s of streams) s.stream.dispose();
  });

  test('a restarted container is picked up again, a recreated one too: no line twice, none lost', async () => {
    const name = `sy-logs-restart-${nonce}`;
    runTestContainer(name);
    cleanups.push(() => void hostDocker(info, ['rm', '-f', name]));
    const { stream, channel } = open(watcher, { kind: 'container', host: profile.name, container: name }, 50);
    await waitFor('first start line', () => channel.count(/^started /) === 1);
    writeInto(name, ['before restart']);
    hostDocker(info, ['restart', '-t', '1', name]);
    await waitFor('the second start', () => channel.count(/^started /) === 2);
    writeInto(name, ['after restart']);
    await waitFor('after restart', () => channel.lines.includes('after restart'));
    assert.match(channel.text(), /── sy-logs-restart-\w+ (stopped \(exit code 0\); waiting for it to start again|started again: following it) ──/);
    assert.equal(channel.count(/^before restart$/), 1);

    // Recreated (docker-compose up does this): removed, then a new container with the same name.
    hostDocker(info, ['rm', '-f', name]);
    await waitFor('removal noticed', () => /was removed; waiting for a container with that name/.test(channel.text()));
    runTestContainer(name);
    await waitFor('the new container', () => channel.count(/^started /) === 3);
    writeInto(name, ['in the new container']);
    await waitFor('its line', () => channel.lines.includes('in the new container'));
    assert.match(channel.text(), /was recreated: following the new container/);
    assert.equal(channel.count(/^before restart$/), 1);
    assert.equal(channel.count(/^after restart$/), 1);
    assert.equal(stream.status, 'following');
  });

  test('a container that does not exist is reported, and followed once it is created', async () => {
    const name = `sy-logs-missing-${nonce}`;
    const { stream, channel } = open(watcher, { kind: 'container', host: profile.name, container: name }, 5);
    await waitFor('the notice', () => stream.status === 'waiting');
    assert.deepEqual(channel.lines, [`── no container named ${name} on ${profile.name}; waiting for one to appear ──`]);
    runTestContainer(name);
    cleanups.push(() => void hostDocker(info, ['rm', '-f', name]));
    await waitFor('its first line', () => channel.count(/^started /) === 1);
    assert.equal(stream.status, 'following');
  });
});

describe('nginx logs', () => {
  test('the access log shows requests as they go through Nginx; stopping leaves no tail on the host', async () => {
    const { stream, channel } = open(watcher, { kind: 'nginx', host: profile.name, file: 'access' }, 3);
    await waitFor('following', () => stream.status === 'following');
    const session = (await sshdSessionOf(watcher.connection)).session;
    await waitFor('tail runs on the host', () => tailsOf(session).some((p) => p.includes(`-F ${info.nginx.accessLog}`)));
    for (let i = 0; i < 3; i++) assert.equal(await request(`/api/whoami?sy-it=${nonce}-${i}`), 200);
    await waitFor('three request lines', () => channel.count(new RegExp(`GET /api/whoami\\?sy-it=${nonce}-\\d HTTP/1.1" 200`)) === 3);
    stream.dispose();
    await waitFor('no tail left on the host', () => tailsOf(session).length === 0, 10_000);
  });

  test('an unreadable log file is reported in the channel (without sudo; and where sudo -n refuses)', async () => {
    const noSudo = connectTo({ ...profile, nginx: { ...profile.nginx, useSudo: false } });
    cleanups.push(() => noSudo.dispose());
    await noSudo.connect();
    const host: LogHost = { connection: noSudo, snapshot: undefined, onDidChange: () => ({ dispose: () => undefined }) };
    const unreadable = open(host, { kind: 'nginx', host: profile.name, file: 'access' });
    await waitFor('the permission notice', () => /cannot read .*access\.log: Permission denied \(set "nginx.useSudo": true/.test(unreadable.channel.text()));

    const refused = connectTo({ ...profile, nginx: { ...profile.nginx, errorLog: `/root/switchyard-${nonce}.log` } });
    cleanups.push(() => refused.dispose());
    await refused.connect();
    const sudoHost: LogHost = { connection: refused, snapshot: undefined, onDidChange: () => ({ dispose: () => undefined }) };
    const denied = open(sudoHost, { kind: 'nginx', host: profile.name, file: 'error' });
    await waitFor('the sudo notice', () => /sudo -n may not run tail for \/root\/switchyard-\w+\.log \(a password is required\)/.test(denied.channel.text()));
    await waitFor('the stream gives up', () => denied.stream.status === 'failed' && /tail of \/root\/switchyard-\w+\.log ended \(exit code 1\)/.test(denied.channel.text()));
  });
});

describe('the live color', () => {
  test('follows the color Nginx sends traffic to across a real deploy.sh switch, and marks it', { timeout: 600_000 }, async () => {
    const original = liveColorOnDisk();
    const other = original === 'blue' ? 'green' : 'blue';
    const ports = { blue: 8080, green: 8081 };
    // Leave the sandbox as found: the original color live, both colors running.
    cleanups.push(async () => {
      if (liveColorOnDisk() !== original) await runDeploySh();
      await ensureHealthy(`handdoc-spring-${other}`);
      await ensureHealthy(`handdoc-spring-${original}`);
    });
    await ensureHealthy(`handdoc-spring-${other}`);
    const { stream, channel } = open(watcher, { kind: 'liveColor', host: profile.name, service: 'spring' }, 3);
    await waitFor('following', () => stream.status === 'following');
    assert.match(channel.lines[0], new RegExp(`^── spring on ${profile.name}: following the live color, now ${original} \\(${versionOf(original)}\\) \\(handdoc-spring-${original}\\) ──$`));
    assert.equal(await request(`/api/whoami?sy-live=${nonce}-before`), 200);
    await waitFor('the request in the live color', () => channel.lines.some((l) => l.startsWith('[stderr] ') && l.includes(`[nio-${ports[original]}-exec]`) && l.includes(`sy-live=${nonce}-before`)));

    const output = await runDeploySh();
    assert.match(output, new RegExp(`nginx now sends /api/ to ${other}`), output);
    assert.equal(liveColorOnDisk(), other);
    const switchedTo = `── switched to ${other} (${versionOf(other)}) ──`;
    await waitFor('the switch marker', () => channel.lines.includes(switchedTo));
    assert.equal(await request(`/api/whoami?sy-live=${nonce}-after`), 200);
    await waitFor('the request in the new color', () => channel.lines.some((l) => l.includes(`[nio-${ports[other]}-exec]`) && l.includes(`sy-live=${nonce}-after`)));
    const marker = channel.lines.indexOf(switchedTo);
    const after = channel.lines.slice(marker + 1);
    assert.ok(!after.some((l) => l.includes(`[nio-${ports[original]}-exec]`)), 'after the marker, nothing from the old color (deploy.sh stops it 5 s later)');
    assert.ok(!after.some((l) => /stopped|waiting/.test(l)), 'the old color being stopped is not this stream’s business');

    // Switch back, as the sandbox was.
    await runDeploySh();
    assert.equal(liveColorOnDisk(), original);
    await waitFor('the switch back', () => channel.lines.includes(`── switched to ${original} (${versionOf(original)}) ──`));
    assert.equal(stream.status, 'following');
  });
});

describe('a dropped connection', () => {
  test('the channels say so, and resume after the reconnect without repeating or losing a line', async () => {
    const name = `sy-logs-drop-${nonce}`;
    runTestContainer(name);
    cleanups.push(() => void hostDocker(info, ['rm', '-f', name]));
    const container = open(watcher, { kind: 'container', host: profile.name, container: name }, 10);
    const access = open(watcher, { kind: 'nginx', host: profile.name, file: 'access' }, 2);
    await waitFor('both follow', () => container.stream.status === 'following' && access.stream.status === 'following');
    writeInto(name, ['line 1', 'line 2']);
    assert.equal(await request(`/fastapi/?sy-drop=${nonce}-1`), 200);
    await waitFor('before the drop', () => container.channel.lines.includes('line 2') && access.channel.count(new RegExp(`sy-drop=${nonce}-1`)) === 1);

    await dropConnection(watcher.connection);
    await waitFor('the drop is noticed', () => container.stream.status === 'disconnected' && access.stream.status === 'disconnected');
    // Written while nobody follows.
    writeInto(name, ['line 3', 'line 4']);
    assert.equal(await request(`/fastapi/?sy-drop=${nonce}-2`), 200);
    await waitFor('reconnected and resumed', () => container.stream.status === 'following' && access.stream.status === 'following', 60_000);
    writeInto(name, ['line 5']);
    assert.equal(await request(`/fastapi/?sy-drop=${nonce}-3`), 200);
    await waitFor('everything after the drop', () => container.channel.lines.includes('line 5') && access.channel.count(new RegExp(`sy-drop=${nonce}-3`)) === 1);

    assert.deepEqual(
      container.channel.lines.filter((l) => /^line \d$/.test(l)),
      ['line 1', 'line 2', 'line 3', 'line 4', 'line 5'],
    );
    for (const i of [1, 2, 3]) assert.equal(access.channel.count(new RegExp(`sy-drop=${nonce}-${i}`)), 1, `request ${i} shown once`);
    assert.match(container.channel.text(), new RegExp(`── connection to ${profile.name} lost; ${name} resumes when it is back ──`));
    assert.match(container.channel.text(), new RegExp(`── reconnected: ${name} resumes where it stopped ──`));
    assert.match(access.channel.text(), /── reconnected: .*access\.log resumes where it stopped ──/);
    assert.doesNotMatch(access.channel.text(), /could not find where it left off/);
  });
});
