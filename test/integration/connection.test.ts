/**
 * HostConnection against the real sandbox host (test/sandbox/sandbox.sh up): its sshd on 127.0.0.1:2222,
 * its dockerd, nginx and containers. Runs as root on the same machine, so the tests can look at the
 * sshd side (processes, files) directly. Everything stays on 127.0.0.0/8.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as dns from 'node:dns';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { HostProfile } from '../../src/core/hostProfile';
import { HostConnection, type ConnectionState, type CredentialProvider, type HostConnectionDeps, type HostKeyInfo, type HostKeyPolicy } from '../../src/host/hostConnection';
import { HostError } from '../../src/host/hostErrors';
import { checkHostKey, formatKnownHostsLine, parseKnownHosts } from '../../src/host/knownHosts';
import { cmdline, ppidOf, readSandbox, sandboxDir, sh, sshdSessionOf, testLogger, waitFor, type SandboxInfo } from './sandboxHost';

let sandbox: SandboxInfo;
let tmp: string;
let emptySshConfig: string;
let knownHostsWithKey: string;
let hostKeyBlob: Buffer;
let hostKeyFingerprint: string;
const connections: HostConnection[] = [];
const cleanups: (() => void | Promise<void>)[] = [];


class RecordingPolicy implements HostKeyPolicy {
  readonly asked: HostKeyInfo[] = [];
  constructor(private readonly answer: boolean) {}
  async confirmUnknown(info: HostKeyInfo): Promise<boolean> {
    this.asked.push(info);
    return this.answer;
  }
}

class RecordingCredentials implements CredentialProvider {
  readonly asked: { keyPath: string; attempt: number }[] = [];
  readonly remembered: string[] = [];
  readonly forgotten: string[] = [];
  constructor(private readonly answers: (string | undefined)[] = []) {}
  async getPassphrase(keyPath: string, attempt: number): Promise<string | undefined> {
    this.asked.push({ keyPath, attempt });
    return this.answers.shift();
  }
  async rememberPassphrase(_keyPath: string, passphrase: string): Promise<void> {
    this.remembered.push(passphrase);
  }
  async forgetPassphrase(keyPath: string): Promise<void> {
    this.forgotten.push(keyPath);
  }
}

function makeProfile(ssh: Partial<HostProfile['ssh']> = {}, extra: Partial<HostProfile> = {}): HostProfile {
  return {
    name: 'sandbox',
    ssh: { host: sandbox.sshHost, port: sandbox.sshPort, user: sandbox.user, identityFile: sandbox.identityFile, ...ssh },
    dockerSocket: sandbox.dockerSocket,
    appsDir: sandbox.appsDir,
    nginx: { binary: sandbox.nginx.binary, mainConfig: sandbox.nginx.mainConfig, confDir: sandbox.nginx.confDir, accessLog: sandbox.nginx.accessLog, errorLog: sandbox.nginx.errorLog, useSudo: true },
    services: [],
    ...extra,
  };
}

function open(profile: HostProfile, deps: Partial<HostConnectionDeps> = {}): HostConnection {
  const connection = new HostConnection(profile, {
    logger: testLogger(),
    hostKeys: new RecordingPolicy(false),
    credentials: new RecordingCredentials(),
    sshConfigPath: emptySshConfig,
    knownHostsPath: knownHostsWithKey,
    agentSocket: null,
    ...deps,
  });
  connections.push(connection);
  return connection;
}

async function rejectsWith(promise: Promise<unknown>, code: HostError['code']): Promise<HostError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof HostError, `expected a HostError, got ${String(error)}`);
    assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
    assert.doesNotMatch(error.message, /\n\s+at /, 'no stack traces in messages');
    return error;
  }
  assert.fail(`expected HostError ${code}, but it succeeded`);
}




function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}


/** Every live process below `root`, from /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const parent = ppidOf(Number(name));
      children.set(parent, [...(children.get(parent) ?? []), Number(name)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    for (const child of children.get(pid) ?? []) {
      out.push(child);
      walk(child);
    }
  };
  walk(root);
  return out;
}


/** The command shell's private temp dir: a command's stdout is a file in it. */
async function commandShellTempDir(connection: HostConnection): Promise<string> {
  const out = (await connection.exec(['readlink', '/proc/self/fd/1'])).stdout.trim();
  assert.match(out, /\/switchyard\.[A-Za-z0-9]+\/o$/);
  assert.ok(fs.existsSync(out), out);
  return path.dirname(out);
}

function publicKeyBlob(pubFile: string): Buffer {
  return Buffer.from(fs.readFileSync(pubFile, 'utf8').trim().split(/\s+/)[1], 'base64');
}

before(() => {
  sandbox = readSandbox();
  tmp = fs.mkdtempSync('/tmp/sy-connection-test-');
  emptySshConfig = path.join(tmp, 'ssh_config');
  fs.writeFileSync(emptySshConfig, '');
  hostKeyBlob = publicKeyBlob(sandbox.hostKeyFile);
  hostKeyFingerprint = sh('ssh-keygen', ['-lf', sandbox.hostKeyFile]).split(' ')[1];
  knownHostsWithKey = path.join(tmp, 'known_hosts');
  fs.writeFileSync(knownHostsWithKey, `${formatKnownHostsLine(sandbox.sshHost, sandbox.sshPort, 'ssh-ed25519', hostKeyBlob)}\n`);
});

after(async () => {
  for (const connection of connections) connection.dispose();
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (error) {
      console.error('cleanup failed:', error);
    }
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// host keys

void test('unknown host key: the policy sees the ssh-keygen fingerprint; the accepted key is recorded and not asked again', async () => {
  const knownHosts = path.join(tmp, 'kh-unknown', 'known_hosts');
  const policy = new RecordingPolicy(true);
  const first = open(makeProfile(), { knownHostsPath: knownHosts, hostKeys: policy });
  await first.connect();
  assert.equal(policy.asked.length, 1);
  assert.deepEqual(policy.asked[0], { host: sandbox.sshHost, port: sandbox.sshPort, keyType: 'ssh-ed25519', fingerprint: hostKeyFingerprint });
  const entries = parseKnownHosts(fs.readFileSync(knownHosts, 'utf8'));
  assert.equal(checkHostKey(entries, sandbox.sshHost, sandbox.sshPort, 'ssh-ed25519', hostKeyBlob), 'match');
  first.dispose();

  const secondPolicy = new RecordingPolicy(false);
  const second = open(makeProfile(), { knownHostsPath: knownHosts, hostKeys: secondPolicy });
  await second.connect();
  assert.equal(secondPolicy.asked.length, 0);
  assert.equal(second.state.kind, 'connected');
  second.dispose();
});

void test('unknown host key rejected: hostKeyUnknownRejected, nothing recorded', async () => {
  const knownHosts = path.join(tmp, 'kh-rejected');
  const policy = new RecordingPolicy(false);
  const connection = open(makeProfile(), { knownHostsPath: knownHosts, hostKeys: policy });
  const error = await rejectsWith(connection.connect(), 'hostKeyUnknownRejected');
  assert.match(error.message, new RegExp(hostKeyFingerprint.replace(/[+/]/g, '\\$&')));
  assert.equal(policy.asked.length, 1);
  assert.equal(fs.existsSync(knownHosts), false);
  assert.equal(connection.state.kind, 'failed');
});

void test('changed host key: hostKeyChanged, the user is not asked and no authentication is attempted', async () => {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'impostor')]);
  const knownHosts = path.join(tmp, 'kh-changed');
  fs.writeFileSync(knownHosts, `# old key\n${formatKnownHostsLine(sandbox.sshHost, sandbox.sshPort, 'ssh-ed25519', publicKeyBlob(path.join(tmp, 'impostor.pub')))}\n`);
  const policy = new RecordingPolicy(true);
  const credentials = new RecordingCredentials(['x']);
  const connection = open(makeProfile(), { knownHostsPath: knownHosts, hostKeys: policy, credentials });
  const error = await rejectsWith(connection.connect(), 'hostKeyChanged');
  assert.match(error.message, /CHANGED/);
  assert.ok(error.message.includes(hostKeyFingerprint), error.message);
  assert.match(error.message, /line 2 /);
  assert.equal(policy.asked.length, 0);
  assert.equal(connection.stats.authAttempts, 0);
  assert.equal(credentials.asked.length, 0);
  assert.equal(connection.state.kind, 'failed', 'a changed key is not retried');
});

void test('concurrent callers share one connection attempt', async () => {
  const policy = new RecordingPolicy(true);
  const connection = open(makeProfile(), { knownHostsPath: path.join(tmp, 'kh-shared'), hostKeys: policy });
  const [, , result] = await Promise.all([connection.connect(), connection.connect(), connection.exec(['echo', 'x'])]);
  assert.equal(result.stdout, 'x\n');
  assert.equal(policy.asked.length, 1);
  assert.equal(connection.stats.connects, 1);
  assert.equal(connection.stats.authAttempts, 1);
});

void test('time spent waiting for the user does not count against the handshake timeout; aborting while asked cancels', async () => {
  const slowPolicy: HostKeyPolicy = { confirmUnknown: () => new Promise((resolve) => setTimeout(() => resolve(true), 800)) };
  const slow = open(makeProfile(), { knownHostsPath: path.join(tmp, 'kh-slow'), hostKeys: slowPolicy, readyTimeoutMs: 300 });
  await slow.connect();
  assert.equal(slow.state.kind, 'connected');

  let asked!: () => void;
  const wasAsked = new Promise<void>((resolve) => (asked = resolve));
  const hangingPolicy: HostKeyPolicy = {
    confirmUnknown: () => {
      asked();
      return new Promise<boolean>(() => undefined);
    },
  };
  const controller = new AbortController();
  const hanging = open(makeProfile(), { knownHostsPath: path.join(tmp, 'kh-hanging'), hostKeys: hangingPolicy });
  const connecting = hanging.connect(controller.signal);
  await wasAsked;
  assert.equal(hanging.state.kind, 'connecting');
  controller.abort();
  await rejectsWith(connecting, 'cancelled');
  assert.equal(hanging.state.kind, 'idle');
});

// ---------------------------------------------------------------------------------------------
// authentication

void test('a key the host does not know: authFailed, no retry', async () => {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'wrong-key')]);
  const connection = open(makeProfile({ identityFile: path.join(tmp, 'wrong-key') }));
  const error = await rejectsWith(connection.connect(), 'authFailed');
  assert.match(error.message, /ec2-user@127\.0\.0\.1:2222/);
  assert.equal(connection.stats.authAttempts, 1);
  assert.equal(connection.state.kind, 'failed');
});

void test('a missing key file named in the profile: keyUnreadable', async () => {
  const connection = open(makeProfile({ identityFile: path.join(tmp, 'does-not-exist') }));
  await rejectsWith(connection.connect(), 'keyUnreadable');
});

void test('encrypted key: wrong then right passphrase connects and is remembered; 3 wrong ones give passphraseWrong; declining gives passphraseNeeded', async () => {
  const keyFile = path.join(tmp, 'encrypted');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'right pass', '-C', `switchyard-test-${randomBytes(4).toString('hex')}`, '-f', keyFile]);
  const pub = fs.readFileSync(`${keyFile}.pub`, 'utf8').trim();
  const authorizedKeys = '/home/ec2-user/.ssh/authorized_keys';
  fs.appendFileSync(authorizedKeys, `${pub}\n`);
  const removeKey = (): void => {
    const kept = fs.readFileSync(authorizedKeys, 'utf8').split('\n').filter((line) => line.trim() !== pub);
    fs.writeFileSync(authorizedKeys, kept.join('\n'));
  };
  cleanups.push(removeKey);

  const credentials = new RecordingCredentials(['wrong', 'right pass']);
  const connection = open(makeProfile({ identityFile: keyFile }), { credentials });
  await connection.connect();
  assert.deepEqual(credentials.asked, [{ keyPath: keyFile, attempt: 1 }, { keyPath: keyFile, attempt: 2 }]);
  assert.deepEqual(credentials.remembered, ['right pass']);
  assert.deepEqual(credentials.forgotten, [keyFile], 'a wrong (possibly remembered) passphrase is forgotten');
  assert.equal((await connection.exec(['whoami'])).stdout, 'ec2-user\n');
  connection.dispose();

  const wrong = new RecordingCredentials(['a', 'b', 'c', 'd']);
  const failing = open(makeProfile({ identityFile: keyFile }), { credentials: wrong });
  await rejectsWith(failing.connect(), 'passphraseWrong');
  assert.equal(wrong.asked.length, 3);
  assert.equal(failing.state.kind, 'failed');

  const declined = open(makeProfile({ identityFile: keyFile }), { credentials: new RecordingCredentials([undefined]) });
  await rejectsWith(declined.connect(), 'passphraseNeeded');
  removeKey();
});

// ---------------------------------------------------------------------------------------------
// network failures

void test('nothing listening (127.0.0.1:1): unreachable', async () => {
  const connection = open(makeProfile({ port: 1 }));
  const error = await rejectsWith(connection.connect(), 'unreachable');
  assert.match(error.message, /127\.0\.0\.1:1\b/);
});

void test('a name DNS does not know: dnsFailure (answered by a loopback DNS server, so no query leaves the machine)', async () => {
  let queries = 0;
  const server = dgram.createSocket('udp4');
  server.on('message', (query, from) => {
    queries++;
    // Header + question, flags: response, recursion available, NXDOMAIN.
    let end = 12;
    while (query[end] !== 0) end += query[end] + 1;
    const reply = Buffer.from(query.subarray(0, end + 5));
    reply[2] = 0x80 | (query[2] & 0x79);
    reply[3] = 0x80 | 0x03;
    reply.writeUInt16BE(0, 6);
    reply.writeUInt16BE(0, 8);
    reply.writeUInt16BE(0, 10);
    server.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
  try {
    const resolver = new dns.promises.Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${server.address().port}`]);
    const connection = open(makeProfile({ host: 'no-such-host.invalid' }), { lookup: async (name) => (await resolver.resolve4(name))[0] });
    const error = await rejectsWith(connection.connect(), 'dnsFailure');
    assert.match(error.message, /no-such-host\.invalid/);
    assert.ok(queries >= 1, 'the loopback DNS server was asked');
  } finally {
    server.close();
  }
});

// ---------------------------------------------------------------------------------------------
// commands

void test('exec: exact stdout, stderr and exit codes; binary stdin/stdout; one shell channel for many commands', async () => {
  const connection = open(makeProfile());
  const tricky = await connection.exec(['sh', '-c', 'printf "line1\\n\\nSYF000 r1 0 1 1\\n"; printf "e1\\ne2" >&2; exit 42']);
  assert.deepEqual(tricky, { stdout: 'line1\n\nSYF000 r1 0 1 1\n', stderr: 'e1\ne2', exitCode: 42 });
  assert.deepEqual(await connection.exec(['true']), { stdout: '', stderr: '', exitCode: 0 });
  assert.equal((await connection.exec(['sh', '-c', 'kill -9 $$'])).exitCode, 137);
  assert.equal((await connection.exec(['no-such-command-here'])).exitCode, 127);
  const binary = randomBytes(100_000);
  const echoed = await connection.execBuffer(['cat'], { stdin: binary });
  assert.ok(echoed.stdout.equals(binary));
  assert.equal((await connection.exec(['printf', '%s', 'spaces  and\ttabs'])).stdout, 'spaces  and\ttabs');

  const groups = new Set<string>();
  for (let i = 0; i < 20; i++) groups.add((await connection.exec(['sh', '-c', `cut -d' ' -f5 /proc/$$/stat`])).stdout);
  assert.equal(groups.size, 1, 'all commands ran under the same remote shell');
  assert.equal(connection.stats.channels.shell, 1);
  assert.equal(connection.stats.channels.exec, 0);
});

void test('exec: arguments are data — $(…) is not executed', async () => {
  const connection = open(makeProfile());
  const marker = `/tmp/switchyard-pwned-${randomBytes(6).toString('hex')}`;
  const result = await connection.exec(['echo', `$(touch ${marker})`, `\`touch ${marker}\``, `; touch ${marker}`]);
  assert.equal(result.stdout, `$(touch ${marker}) \`touch ${marker}\` ; touch ${marker}\n`);
  assert.equal(fs.existsSync(marker), false);
});

void test('exec: a timeout stops the command and the next one still works', async () => {
  const connection = open(makeProfile());
  const duration = `30.${randomBytes(3).readUIntBE(0, 3)}`;
  const firstTempDir = await commandShellTempDir(connection);
  await rejectsWith(connection.exec(['sleep', duration], { timeoutMs: 300 }), 'timeout');
  assert.equal((await connection.exec(['echo', 'after'])).stdout, 'after\n');
  await waitFor('the timed-out command to be stopped on the host', () => !sh('ps', ['-eo', 'args']).includes(`sleep ${duration}`), 10_000);
  await waitFor('the replaced shell to remove its temp dir', () => !fs.existsSync(firstTempDir), 10_000);
  assert.notEqual(await commandShellTempDir(connection), firstTempDir);
});

void test('sudo -n: nginx -t works; a command sudoers does not allow gives sudoNeedsPassword', async () => {
  const connection = open(makeProfile());
  const check = await connection.exec([sandbox.nginx.binary, '-t', '-c', sandbox.nginx.mainConfig], { sudo: true });
  assert.equal(check.exitCode, 0, check.stderr);
  assert.match(check.stderr, /test is successful/);
  const error = await rejectsWith(connection.exec(['id', '-u'], { sudo: true }), 'sudoNeedsPassword');
  assert.match(error.message, /ec2-user/);
  assert.ok(error.hint?.includes('NOPASSWD'));
});

// ---------------------------------------------------------------------------------------------
// docker

void test('docker over the forwarded socket lists the handDoc containers', async () => {
  const connection = open(makeProfile());
  const containers = await connection.docker().listContainers({ all: true });
  const names = containers.flatMap((c) => c.Names.map((n) => n.replace(/^\//, '')));
  for (const name of ['handdoc-spring-blue', 'handdoc-spring-green', 'handdoc-fastapi']) assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
  await connection.docker().listContainers();
  assert.ok(connection.stats.channels.docker >= 1);
  assert.equal(connection.stats.channels.exec, 0, 'no exec channel for docker');
});

void test('docker socket that does not exist: dockerSocketMissing', async () => {
  const connection = open(makeProfile({}, { dockerSocket: `/run/switchyard-no-such-${randomBytes(3).toString('hex')}.sock` }));
  const error = await rejectsWith(connection.docker().listContainers(), 'dockerSocketMissing');
  assert.match(error.message, /switchyard-no-such-/);
});

void test('a user outside the docker group: dockerPermissionDenied with the usermod fix', async () => {
  const user = 'sy-nodocker';
  const home = `/home/${user}`;
  const removeUser = (): void => {
    try {
      execFileSync('userdel', ['-r', user], { stdio: 'ignore' });
    } catch {
      // not there
    }
  };
  removeUser();
  execFileSync('useradd', ['--create-home', '--shell', '/bin/bash', user]);
  cleanups.push(removeUser);
  execFileSync('usermod', ['-p', '*', user]);
  fs.mkdirSync(`${home}/.ssh`, { mode: 0o700 });
  fs.writeFileSync(`${home}/.ssh/authorized_keys`, fs.readFileSync(`${sandbox.identityFile}.pub`));
  execFileSync('chown', ['-R', `${user}:${user}`, `${home}/.ssh`]);
  fs.chmodSync(`${home}/.ssh/authorized_keys`, 0o600);

  // The sandbox sshd only lets ec2-user in: run a second one (same host key) that lets this user in.
  const port = await freeLoopbackPort();
  const config = fs
    .readFileSync(path.join(sandboxDir, 'ssh', 'sshd_config'), 'utf8')
    .replace(/^Port .*$/m, `Port ${port}`)
    .replace(/^PidFile .*$/m, `PidFile ${tmp}/sshd-nodocker.pid`)
    .replace(/^AllowUsers .*$/m, `AllowUsers ${user}`);
  fs.writeFileSync(path.join(tmp, 'sshd_config_nodocker'), config);
  const sshd: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-f', path.join(tmp, 'sshd_config_nodocker'), '-E', path.join(tmp, 'sshd-nodocker.log')], { stdio: 'ignore' });
  cleanups.push(() => {
    sshd.kill('SIGTERM');
  });
  await waitFor('the second sshd to listen', () => canConnect(port), 10_000);

  const connection = open(makeProfile({ user, port }), { hostKeys: new RecordingPolicy(true), knownHostsPath: path.join(tmp, 'kh-nodocker') });
  assert.equal((await connection.exec(['id', '-un'])).stdout, `${user}\n`);
  const error = await rejectsWith(connection.docker().listContainers(), 'dockerPermissionDenied');
  assert.match(error.message, /sy-nodocker is not in the docker group/);
  assert.match(error.message, /sudo usermod -aG docker sy-nodocker/);
  connection.dispose();
});

// ---------------------------------------------------------------------------------------------
// files

void test('files: stat, readFile, writeFileAtomic with backup (mode kept, nothing left over)', async () => {
  const connection = open(makeProfile());
  const dir = `/home/ec2-user/switchyard-test-${randomBytes(4).toString('hex')}`;
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  assert.equal((await connection.exec(['mkdir', dir])).exitCode, 0);
  const file = `${dir}/app.conf`;
  assert.equal(await connection.stat(file), undefined);
  await rejectsWith(connection.readFile(file), 'fileNotFound');

  const first = await connection.writeFileAtomic(file, 'version 1\n', { backup: true, mode: 0o640 });
  assert.deepEqual(first, { method: 'atomic' }, 'no backup of a file that did not exist');
  const stat = await connection.stat(file);
  assert.equal((stat?.mode ?? 0) & 0o777, 0o640);
  assert.equal(stat?.isFile, true);

  const binary = Buffer.concat([Buffer.from('version 2\n'), randomBytes(70_000)]);
  const second = await connection.writeFileAtomic(file, binary, { backup: true });
  assert.equal(second.backupPath, `${file}.switchyard-bak`);
  assert.ok((await connection.readFile(file)).equals(binary));
  assert.equal((await connection.readFile(`${file}.switchyard-bak`)).toString(), 'version 1\n');
  assert.ok(fs.readFileSync(file).equals(binary), 'the bytes are on disk');
  assert.equal(fs.statSync(file).mode & 0o777, 0o640, 'the mode of the replaced file is kept');
  assert.equal(fs.statSync(file).uid, Number(sh('id', ['-u', 'ec2-user']).trim()));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['app.conf', 'app.conf.switchyard-bak']);
  assert.equal(connection.stats.channels.sftp, 1, 'one SFTP channel for all of it');
});

void test('files in a directory only root may write: in-place for a file the user owns, sudoNeedsPassword otherwise', async () => {
  const connection = open(makeProfile());
  const dir = `/tmp/switchyard-rootdir-${randomBytes(4).toString('hex')}`;
  fs.mkdirSync(dir, { mode: 0o755 });
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const owned = `${dir}/owned.conf`;
  fs.writeFileSync(owned, 'old\n');
  execFileSync('chown', ['ec2-user:ec2-user', owned]);
  const rootOwned = `${dir}/root.conf`;
  fs.writeFileSync(rootOwned, 'root content\n');

  const result = await connection.writeFileAtomic(owned, 'new\n', { backup: true });
  assert.equal(result.method, 'inPlace');
  assert.equal(fs.readFileSync(owned, 'utf8'), 'new\n');
  assert.ok(result.backupPath?.startsWith('/home/ec2-user/.switchyard/backups/'), result.backupPath);
  assert.equal(fs.readFileSync(result.backupPath ?? '', 'utf8'), 'old\n');
  cleanups.push(() => {
    fs.rmSync(result.backupPath ?? '', { force: true });
    for (const dir of ['/home/ec2-user/.switchyard/backups', '/home/ec2-user/.switchyard']) {
      if (fs.existsSync(dir) && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
    }
  });

  const error = await rejectsWith(connection.writeFileAtomic(rootOwned, 'hacked\n'), 'sudoNeedsPassword');
  assert.ok(error.hint);
  assert.equal(fs.readFileSync(rootOwned, 'utf8'), 'root content\n');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['owned.conf', 'root.conf'], 'no temp files left in the directory');
  assert.deepEqual(fs.readdirSync('/tmp').filter((n) => n.startsWith('switchyard-upload-')), [], 'the staged upload was removed');
});

// ---------------------------------------------------------------------------------------------
// http

void test('httpGet through the connection: 200 from the blue app on 127.0.0.1:8080; a closed port is unreachable', async () => {
  const connection = open(makeProfile());
  let last: { status: number; body: string } | undefined;
  await waitFor('blue to answer /actuator/health', async () => {
    last = await connection.httpGet(8080, '/actuator/health', { timeoutMs: 5000 }).catch(() => undefined);
    return last?.status === 200;
  }, 60_000);
  assert.match(last?.body ?? '', /UP/);
  assert.ok(connection.stats.channels.tcp >= 1);
  await rejectsWith(connection.httpGet(1, '/', { timeoutMs: 5000 }), 'unreachable');
});

// ---------------------------------------------------------------------------------------------
// ProxyJump

void test('ProxyJump from ~/.ssh/config: the target is reached through the jump host (here the sandbox itself)', async () => {
  const config = path.join(tmp, 'ssh_config_jump');
  fs.writeFileSync(
    config,
    [`Host sandbox-behind-jump`, `  HostName ${sandbox.sshHost}`, `  Port ${sandbox.sshPort}`, `  User ${sandbox.user}`, `  ProxyJump ${sandbox.user}@${sandbox.sshHost}:${sandbox.sshPort}`, 'Host *', `  IdentityFile ${sandbox.identityFile}`, ''].join('\n'),
  );
  const connection = open({ ...makeProfile(), ssh: { host: 'sandbox-behind-jump' } }, { sshConfigPath: config });
  const sshConnection = (await connection.exec(['sh', '-c', 'echo $SSH_CONNECTION'])).stdout.trim().split(' ');
  const sourcePort = sshConnection[1];
  // The target's client socket belongs to sshd (the jump's direct-tcpip), not to this process.
  const owner = sh('ss', ['-Htnp', `sport = :${sourcePort}`]);
  assert.match(owner, /"sshd/, owner);
  assert.doesNotMatch(owner, /"node/, owner);
});

// ---------------------------------------------------------------------------------------------
// drops, streams, dispose

void test('a dropped connection: reconnecting, then connected again by itself; exec works afterwards', async () => {
  const connection = open(makeProfile(), { keepaliveIntervalMs: 1000 });
  const states: ConnectionState[] = [];
  connection.onDidChangeState((state) => states.push(state));
  const before = await sshdSessionOf(connection);
  process.kill(before.session, 'SIGKILL');
  await waitFor('reconnected', () => states.some((s) => s.kind === 'reconnecting') && connection.state.kind === 'connected');
  const reconnecting = states.find((s) => s.kind === 'reconnecting');
  assert.ok(reconnecting && reconnecting.kind === 'reconnecting');
  assert.equal(reconnecting.attempt, 1);
  assert.equal(reconnecting.nextRetryMs, 1000);
  assert.equal(reconnecting.lastError.code, 'connectionLost');
  assert.equal(states.at(-1)?.kind, 'connected');
  const afterDrop = await sshdSessionOf(connection);
  assert.notEqual(afterDrop.session, before.session);
  assert.equal((await connection.exec(['echo', 'still here'])).stdout, 'still here\n');
  assert.equal(connection.stats.connects, 2);
});

void test('a drop followed by a changed host key: failed, no endless retrying', async () => {
  const knownHosts = path.join(tmp, 'kh-drop-changed');
  fs.copyFileSync(knownHostsWithKey, knownHosts);
  const connection = open(makeProfile(), { knownHostsPath: knownHosts });
  const states: ConnectionState[] = [];
  connection.onDidChangeState((state) => states.push(state));
  const session = await sshdSessionOf(connection);
  fs.writeFileSync(knownHosts, `${formatKnownHostsLine(sandbox.sshHost, sandbox.sshPort, 'ssh-ed25519', publicKeyBlob(path.join(tmp, 'impostor.pub')))}\n`);
  process.kill(session.session, 'SIGKILL');
  await waitFor('the reconnect to fail for good', () => connection.state.kind === 'failed');
  const state = connection.state;
  assert.ok(state.kind === 'failed');
  assert.equal(state.error.code, 'hostKeyChanged');
  const sinceDrop = states.slice(states.findIndex((s) => s.kind === 'reconnecting'));
  assert.deepEqual(sinceDrop.map((s) => s.kind), ['reconnecting', 'failed']);
});

void test('execStream close ends the remote process (tail, sudo tail, sleep); dispose leaves no sshd session behind', async () => {
  const connection = open(makeProfile());
  const session = await sshdSessionOf(connection);
  const shellTempDir = await commandShellTempDir(connection);
  const logFile = `/home/ec2-user/switchyard-tail-${randomBytes(4).toString('hex')}.log`;
  fs.writeFileSync(logFile, 'first\n');
  cleanups.push(() => fs.rmSync(logFile, { force: true }));

  const stream = await connection.execStream(['tail', '-n', '+1', '-F', logFile]);
  let seen = '';
  stream.stdout.on('data', (chunk: Buffer) => (seen += chunk.toString()));
  await waitFor('the first line', () => seen.includes('first\n'), 10_000);
  fs.appendFileSync(logFile, 'second\n');
  await waitFor('a line appended later', () => seen.includes('second\n'), 10_000);

  const sudoStream = await connection.execStream(['tail', '-n', '0', '-F', sandbox.nginx.accessLog], { sudo: true });
  // GNU tail notices a closed output pipe by itself; sleep does not, so it shows that close() kills.
  const duration = `600.${randomBytes(3).readUIntBE(0, 3)}`;
  const silentStream = await connection.execStream(['sleep', duration]);
  const remote = (): number[] => descendants(session.session).filter((pid) => /^(sudo -n )?tail |^sleep 600\./.test(cmdline(pid)));
  await waitFor('both tails and the sleep running under our sshd session', () => remote().filter((pid) => /^(tail|sleep) /.test(cmdline(pid))).length === 3, 10_000);
  assert.equal(connection.stats.channels.exec, 3);

  for (const s of [stream, sudoStream, silentStream]) s.close();
  await Promise.all([stream.exit, sudoStream.exit, silentStream.exit]);
  await waitFor('no tail or sleep left on the host', () => remote().length === 0, 10_000);
  assert.equal(sh('ps', ['-eo', 'args']).includes(`sleep ${duration}`), false);

  connection.dispose();
  assert.equal(connection.state.kind, 'closed');
  await waitFor('the sshd session to end', () => !isAlive(session.session) && !isAlive(session.monitor), 10_000);
  await waitFor('the command shell to remove its temp dir', () => !fs.existsSync(shellTempDir), 10_000);
  await rejectsWith(connection.exec(['true']), 'connectionLost');
});

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
