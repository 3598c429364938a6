/**
 * Issue 4 against the real sandbox host: the tree's picture of the host (containers, health, live
 * color, nginx state, memory), live updates from Docker events, the admin's warnings, safe edits of
 * Nginx files, and a dropped connection that never leaves a stale tree looking live.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { BlueGreenService, HostProfile } from '../../src/core/hostProfile';
import { buildHostNode, findNode, type TreeNodeModel } from '../../src/core/hostTree';
import { HostError } from '../../src/host/hostErrors';
import { saveHostFile } from '../../src/host/hostFileEdit';
import { readHostSnapshot } from '../../src/host/hostSnapshot';
import { HostWatcher } from '../../src/host/hostWatcher';
import { proposeProfile } from '../../src/host/proposeProfile';
import { connectTo, dropConnection, hostDocker, readSandbox, sandboxProfile, testLogger, waitFor, type SandboxInfo } from './sandboxHost';

let info: SandboxInfo;
let profile: HostProfile;
const cleanups: Array<() => void | Promise<void>> = [];

before(() => {
  info = readSandbox();
  profile = sandboxProfile();
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** The color active-upstream.conf really points to, read from the file on disk. */
function liveColorOnDisk(): 'blue' | 'green' {
  const text = fs.readFileSync(path.join(info.nginx.confDir, 'active-upstream.conf'), 'utf8');
  return /server\s+127\.0\.0\.1:8081/.test(text.replace(/#.*$/gm, '')) ? 'green' : 'blue';
}

function find(node: TreeNodeModel, id: string): TreeNodeModel {
  const found = findNode(node, id);
  assert.ok(found, `no node ${id} in the tree`);
  return found;
}

test('the tree shows both colors, the live one marked, health icons and nginx state, over one kept-open connection', async () => {
  const connection = connectTo(profile);
  cleanups.push(() => connection.dispose());
  await connection.connect();
  await waitFor('all three containers healthy', async () => {
    const s = await readHostSnapshot(connection);
    return s.containers.filter((c) => c.name.startsWith('handdoc-') && c.health === 'healthy').length === 3;
  }, 90_000);
  const before = connection.stats.channels;
  const snapshot = await readHostSnapshot(connection);
  for (let i = 0; i < 5; i++) await readHostSnapshot(connection);
  const afterStats = connection.stats.channels;
  assert.equal(afterStats.exec, before.exec, 'no exec channel per refresh');
  assert.equal(afterStats.shell, before.shell, 'the same command shell');
  assert.equal(afterStats.sftp, before.sftp, 'the same SFTP channel');

  const live = liveColorOnDisk();
  const idle = live === 'blue' ? 'green' : 'blue';
  assert.deepEqual(snapshot.problems, {});
  assert.equal(snapshot.nginx.configTest.ok, true, snapshot.nginx.configTest.output);
  assert.equal(snapshot.nginx.switchFiles[0].activeColor, live);
  assert.ok(snapshot.metrics && snapshot.metrics.memTotalKb > 0 && snapshot.metrics.dockerRootDisk === undefined, 'memory read; disk needs the docker root');
  assert.ok(snapshot.listening?.some((s) => s.port === (live === 'blue' ? 8080 : 8081)), 'the live color listens');

  const tree = buildHostNode(profile, connection.state, snapshot, new Date());
  const spring = find(tree, `${profile.name}/services/spring`);
  assert.equal(spring.description, `live: ${live} (latest)`);
  const liveNode = find(tree, `${profile.name}/services/spring/${live}`);
  const idleNode = find(tree, `${profile.name}/services/spring/${idle}`);
  assert.match(liveNode.description ?? '', /^LIVE · healthy/);
  assert.equal(liveNode.icon?.color, live === 'blue' ? 'charts.blue' : 'charts.green');
  assert.match(idleNode.description ?? '', /^idle · healthy/);
  assert.deepEqual(idleNode.icon, { id: 'circle-large-outline', color: 'disabledForeground' }, 'idle color dimmed');
  const fastapi = find(tree, `${profile.name}/containers/handdoc-fastapi`);
  assert.deepEqual(fastapi.icon, { id: 'pass-filled', color: 'testing.iconPassed' });
  assert.match(fastapi.description ?? '', /^handdoc-fastapi:latest · healthy · :8000 · up /);
  assert.equal(find(tree, `${profile.name}/nginx/test`).description, 'configuration OK');
  assert.match(find(tree, `${profile.name}/nginx/${profile.nginx.confDir}/active-upstream.conf`).description ?? '', new RegExp(`→ 127\\.0\\.0\\.1:${live === 'blue' ? 8080 : 8081} \\(${live}\\)`));
});

test('Docker events update the picture by themselves: a stopped idle color shows as stopped, then running again', async () => {
  const watcher = new HostWatcher(connectTo(profile), testLogger(), { eventDebounceMs: 100 });
  cleanups.push(() => watcher.dispose());
  await watcher.start();
  const idle = liveColorOnDisk() === 'blue' ? 'handdoc-spring-green' : 'handdoc-spring-blue';
  const stateOf = () => watcher.snapshot?.containers.find((c) => c.name === idle)?.state;
  assert.equal(stateOf(), 'running');
  const changes: string[] = [];
  const subscription = watcher.onDidChange((change) => changes.push(change.kind === 'snapshot' ? change.scope : change.kind));
  cleanups.push(() => void hostDocker(info, ['start', idle]));
  hostDocker(info, ['stop', '-t', '1', idle]);
  await waitFor(`${idle} shown as exited without a refresh`, () => stateOf() === 'exited');
  assert.ok(changes.includes('containers'), `a containers-only update was announced (${changes.join(',')})`);
  hostDocker(info, ['start', idle]);
  await waitFor(`${idle} shown as running again`, () => stateOf() === 'running');
  subscription.dispose();
});

test('a switch or lock by another client (not a Docker event) shows within one slow-timer period', async () => {
  // A second switch file (not *.conf, so nginx does not load it), flipped by hand as deploy.sh or CI would.
  const mirrorSwitch = path.join(info.nginx.confDir, 'mirror-upstream.inc');
  const upstreamTo = (port: number) => `upstream mirror_backend {\n    server 127.0.0.1:${port};\n}\n`;
  fs.writeFileSync(mirrorSwitch, upstreamTo(8080));
  cleanups.push(() => fs.rmSync(mirrorSwitch, { force: true }));
  const spring = profile.services.find((s): s is BlueGreenService => s.kind === 'blueGreen') as BlueGreenService;
  const withMirror: HostProfile = { ...profile, services: [...profile.services, { ...spring, name: 'mirror', switchFile: mirrorSwitch }] };
  const watcher = new HostWatcher(connectTo(withMirror), testLogger(), { metricsIntervalMs: 300 });
  cleanups.push(() => watcher.dispose());
  await watcher.start();
  const mirrorColor = () => watcher.snapshot?.nginx.switchFiles.find((f) => f.service === 'mirror')?.activeColor;
  assert.equal(mirrorColor(), 'blue');
  const changes: string[] = [];
  const subscription = watcher.onDidChange((change) => changes.push(change.kind === 'snapshot' ? change.scope : change.kind));
  fs.writeFileSync(mirrorSwitch, upstreamTo(8081));
  await waitFor('the hand switch to green shows without a refresh', () => mirrorColor() === 'green', 10_000);
  assert.ok(changes.includes('all'), `the whole tree was told (${changes.join(',')})`);
  // A deploy lock taken by another client appears, and goes when it is released.
  const lockFile = `/home/${info.user}/.switchyard/lock`;
  assert.equal(fs.existsSync(lockFile), false, 'no other operation runs');
  const at = new Date().toISOString();
  fs.writeFileSync(lockFile, JSON.stringify({ token: 'hostView-test', holder: 'ci@runner (hostView test)', host: profile.name, operation: 'deploy', service: 'spring', startedAt: at, heartbeatAt: at }));
  cleanups.push(() => fs.rmSync(lockFile, { force: true }));
  await waitFor('the lock shows', () => watcher.snapshot?.deployLock?.holder === 'ci@runner (hostView test)', 10_000);
  fs.rmSync(lockFile, { force: true });
  await waitFor('the released lock goes', () => watcher.snapshot?.deployLock === undefined, 10_000);
  subscription.dispose();
});

test('warnings: an app port open on all interfaces, and a switch file pointing where nothing listens', async () => {
  // A real listener on 0.0.0.0 (no traffic leaves loopback), posing as an app published past Nginx.
  const server = net.createServer().listen(18000, '0.0.0.0');
  await new Promise((resolve) => server.once('listening', resolve));
  cleanups.push(() => void server.close());
  // A second switch file (not *.conf, so nginx does not load it) that points at a dead port.
  const deadSwitch = path.join(info.nginx.confDir, 'dead-upstream.inc');
  fs.writeFileSync(deadSwitch, 'upstream dead_backend {\n    server 127.0.0.1:18099;\n}\n');
  cleanups.push(() => fs.rmSync(deadSwitch, { force: true }));
  const withProblems: HostProfile = {
    ...profile,
    services: [
      ...profile.services,
      { kind: 'single', name: 'exposed', container: 'not-a-container', composeFile: '/nonexistent.yml', port: 18000, healthPath: '/' },
      {
        kind: 'blueGreen',
        name: 'dead',
        switchFile: deadSwitch,
        healthPath: '/',
        // Running containers, so only the port is wrong: the case of a switch file edited by hand.
        colors: { blue: { container: 'handdoc-spring-blue', composeFile: '/x-blue.yml', port: 18099 }, green: { container: 'handdoc-spring-green', composeFile: '/x-green.yml', port: 18098 } },
      },
    ],
  };
  const connection = connectTo(withProblems);
  cleanups.push(() => connection.dispose());
  const snapshot = await readHostSnapshot(connection);
  const messages = snapshot.warnings.map((w) => `${w.severity} ${w.subject}: ${w.message}`);
  assert.ok(messages.some((m) => /18000/.test(m) && /0\.0\.0\.0|all interfaces/.test(m) && /Nginx/.test(m)), `port 18000 bypasses Nginx:\n${messages.join('\n')}`);
  assert.ok(messages.some((m) => /18099/.test(m) && /nothing listens|no process listens|nothing is listening/i.test(m)), `dead switch target reported:\n${messages.join('\n')}`);
  assert.ok(!messages.some((m) => /\b808[01]\b/.test(m) && /all interfaces/.test(m)), 'the sandbox apps bind 127.0.0.1 and are not flagged');
});

test('editing an Nginx file: a broken edit is refused by nginx -t and the file is back as it was; a good one is kept with a backup', async () => {
  const connection = connectTo(profile);
  cleanups.push(() => connection.dispose());
  const file = path.join(info.nginx.confDir, 'active-upstream.conf');
  const original = fs.readFileSync(file);
  await assert.rejects(saveHostFile(connection, file, Buffer.from('upstream spring_backend { server 127.0.0.1:8080 }\n')), (error: unknown) => {
    assert.ok(error instanceof HostError);
    assert.match(error.message, /nginx -t rejects .*active-upstream\.conf.*back as it was/);
    return true;
  });
  assert.deepEqual(fs.readFileSync(file), original, 'the file is unchanged after a refused edit');
  const withComment = Buffer.concat([Buffer.from('# edited in Switchyard\n'), original]);
  const saved = await saveHostFile(connection, file, withComment);
  cleanups.push(() => fs.writeFileSync(file, original));
  assert.deepEqual(fs.readFileSync(file), withComment);
  assert.ok(saved.backupPath && fs.readFileSync(saved.backupPath).equals(original), 'backup holds the previous content');
  assert.match(saved.nginxTest ?? '', /test is successful/);
  fs.writeFileSync(file, original);
});

test('a dropped connection is shown as reconnecting with a stale tree, then recovers by itself', async () => {
  const watcher = new HostWatcher(connectTo(profile), testLogger());
  cleanups.push(() => watcher.dispose());
  await watcher.start();
  const firstTakenAt = watcher.snapshot!.takenAtMs;
  const states: string[] = [];
  const staleTrees: TreeNodeModel[] = [];
  const subscription = watcher.onDidChange(() => {
    states.push(watcher.connectionState.kind);
    if (watcher.connectionState.kind === 'reconnecting') staleTrees.push(buildHostNode(profile, watcher.connectionState, watcher.snapshot, new Date()));
  });
  await dropConnection(watcher.connection);
  await waitFor('reconnecting', () => states.includes('reconnecting'));
  const stale = staleTrees[0];
  assert.match(stale.children[0].label, /^Connection lost: reconnecting \(attempt \d+\)…$/);
  assert.ok(stale.children.slice(1).every((group) => /\(stale\)$/.test(group.label)), `every group says stale: ${stale.children.map((c) => c.label).join(', ')}`);
  assert.equal(stale.contextValue, 'host.reconnecting');
  await waitFor('connected again with a fresh snapshot', () => watcher.connectionState.kind === 'connected' && (watcher.snapshot?.takenAtMs ?? 0) > firstTakenAt && !watcher.isRefreshing);
  const fresh = buildHostNode(profile, watcher.connectionState, watcher.snapshot, new Date());
  assert.ok(fresh.children.every((group) => !/stale/.test(group.label)));
  assert.equal((await watcher.connection.exec(['echo', 'back'])).stdout, 'back\n');
  subscription.dispose();
});

test('a changed host key refuses to connect and the tree says so', async () => {
  const dir = fs.mkdtempSync('/tmp/sy-hostkey-');
  const knownHosts = path.join(dir, 'known_hosts');
  // Another ed25519 key recorded for the sandbox's address: what a replaced host key looks like.
  fs.writeFileSync(knownHosts, `[${info.sshHost}]:${info.sshPort} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKHWNIuk5Q0rbJbFlyv8VfF/y6mA9hwDqvnMn4hgn3ML\n`);
  const watcher = new HostWatcher(connectTo(profile, { knownHostsPath: knownHosts }), testLogger());
  cleanups.push(() => watcher.dispose());
  await watcher.start();
  assert.equal(watcher.connectionState.kind, 'failed');
  const tree = buildHostNode(profile, watcher.connectionState, watcher.snapshot, new Date());
  assert.match(tree.children[0].label, /Host key for 127\.0\.0\.1:2222 has CHANGED/);
  assert.deepEqual(tree.children.map((c) => c.label).slice(1), ['Retry', 'Show Log']);
  assert.equal(watcher.snapshot, undefined, 'nothing was read from a host we could not verify');
});

test('"Add Host" detects the handDoc layout on the sandbox and proposes a valid profile', async () => {
  const provisional = { ...profile, services: [] };
  const connection = connectTo(provisional);
  cleanups.push(() => connection.dispose());
  await connection.connect();
  const proposal = await proposeProfile(connection, { name: 'detected', sshDestination: `${info.user}@${info.sshHost}:${info.sshPort}`, identityFile: info.identityFile });
  assert.deepEqual(proposal.errors, [], JSON.stringify(proposal.notes));
  const detected = proposal.profile!;
  assert.equal(detected.appsDir, info.appsDir);
  assert.equal(detected.dockerSocket, info.dockerSocket);
  assert.equal(detected.nginx.mainConfig, info.nginx.mainConfig);
  assert.equal(detected.nginx.accessLog, info.nginx.accessLog);
  const byName = Object.fromEntries(detected.services.map((s) => [s.name, s]));
  // verifyUrl is the user's choice (a route that reaches the app through Nginx): detection suggests, never sets it.
  const { verifyUrl, ...springWithoutVerify } = profile.services.find((s) => s.name === 'spring') as BlueGreenService;
  assert.ok(verifyUrl, 'the sandbox profile sets a verifyUrl');
  assert.deepEqual(byName.spring, springWithoutVerify);
  assert.ok(proposal.notes.some((n) => n.kind === 'missing' && /verifyUrl/.test(n.message) && /\/api\//.test(n.message)), JSON.stringify(proposal.notes));
  assert.deepEqual(byName.fastapi, profile.services.find((s) => s.name === 'fastapi'));
});
