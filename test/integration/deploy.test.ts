/**
 * Issue 6 against the real sandbox host: deploys, switches and rollbacks through the engine and the
 * real ports (ssh, docker, compose v1, nginx), each under a wrk load through Nginx for the whole
 * operation, asserting 0 failed requests and the color Nginx really serves; faults injected for real.
 * Counting rule: see loadGenerator.ts (new connection per request; every non-2xx/3xx and socket error counts).
 * Leaves both colors running on :latest (other tests expect that); the live color may be either.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { deploy, rollback, summarizeHistory, switchColor, type RunOptions } from '../../src/core/deployEngine';
import type { DeploySettings, OperationResult } from '../../src/core/deployTypes';
import type { BlueGreenService, HostProfile } from '../../src/core/hostProfile';
import { HostDeployPorts } from '../../src/host/deployPorts';
import { assertNoFailedRequests, DeployFixture, other } from './deployFixture';
import { parseWrkOutput } from './loadGenerator';
import { dropConnection, readSandbox, repoRoot, sh, waitFor, type SandboxInfo } from './sandboxHost';

const fx = new DeployFixture();
const { newConnection, liveOnDisk, whoami, assertServes, inspectField, ensureBothRunning, underLoad } = fx;
let info: SandboxInfo;
let profile: HostProfile;
let spring: BlueGreenService;
let ports: HostDeployPorts;
const brokenInclude = () => path.join(info.nginx.confDir, 'zz-switchyard-deploy-test.conf');
const who = 'deploy.test (integration)';

function settings(extra: Partial<DeploySettings> = {}): Partial<DeploySettings> {
  return { oldColor: 'keep', ...extra };
}

function runDeploy(tag: string, extra: Partial<DeploySettings> = {}, via: HostDeployPorts = ports) {
  return (options: RunOptions) => deploy(via, profile, { service: 'spring', tag, who, settings: settings(extra) }, options);
}

before(async () => {
  fs.rmSync(path.join(readSandbox().nginx.confDir, 'zz-switchyard-deploy-test.conf'), { force: true });
  await fx.setUp();
  ({ info, profile, spring, ports } = fx);
});

after(async () => {
  fs.rmSync(brokenInclude(), { force: true });
  await fx.tearDown();
});

test('the load generator counts every failure it sees (wrk summary parsing)', () => {
  const stats = parseWrkOutput(
    'Running 10m test @ http://127.0.0.1:8088/api/whoami\n  2 threads and 8 connections\n  6433 requests in 7.19s, 1.15MB read\n  Socket errors: connect 0, read 3, write 1, timeout 2\n  Non-2xx or 3xx responses: 9\nRequests/sec:    895.32\n',
  );
  assert.deepEqual({ requests: stats.requests, failed: stats.failed, non2xx3xx: stats.non2xx3xx }, { requests: 6433, failed: 15, non2xx3xx: 9 });
  assert.throws(() => parseWrkOutput('unable to connect to 127.0.0.1:8088 Connection refused\n'), /no summary/);
});

const directions: string[] = [];

test('deploy v2 to the idle color under load: 0 failed requests, Nginx serves it, the old color keeps running', async () => {
  const live = liveOnDisk();
  const idle = other(live);
  const run = await underLoad(runDeploy('v2'));
  assert.equal(run.result.ok, true, run.result.error?.message);
  assertNoFailedRequests(run);
  await assertServes(idle);
  assert.deepEqual(run.result.traffic, { color: idle, isCertain: true });
  assert.equal((await whoami()).version, 'v2');
  assert.equal(inspectField(spring.colors[idle].container, '{{.Config.Image}}'), `${info.registry}/handdoc-spring:v2`);
  assert.equal(inspectField(spring.colors[live].container, '{{.State.Status}}'), 'running', 'old color kept warm');
  assert.deepEqual(run.result.steps.map((s) => `${s.name}:${s.outcome}`), ['preflight:ok', 'pull:ok', 'startIdle:ok', 'waitReady:ok', 'switch:ok', 'verify:ok', 'drain:skipped', 'retire:skipped', 'journal:ok']);
  // The user's compose file is untouched: the tag lives in Switchyard's override.
  assert.match(fs.readFileSync(spring.colors[idle].composeFile, 'utf8'), /image: 127\.0\.0\.1:5005\/handdoc-spring:latest/);
  const override = fs.readFileSync(`/home/${info.user}/.switchyard/compose/${spring.colors[idle].container}.image.yml`, 'utf8');
  assert.match(override, /image: "127\.0\.0\.1:5005\/handdoc-spring:v2"/);
  const history = summarizeHistory(await ports.journal.read(50));
  assert.equal(history.at(-1)?.id, run.result.id);
  assert.equal(history.at(-1)?.outcome, 'succeeded');
  assert.equal(await ports.lock.read(), undefined, 'lock released');
  directions.push(`${live}→${idle}`);
});

test('deploy v3 back the other way under load: 0 failed requests (both directions covered)', async () => {
  const live = liveOnDisk();
  const idle = other(live);
  const run = await underLoad(runDeploy('v3'));
  assert.equal(run.result.ok, true, run.result.error?.message);
  assertNoFailedRequests(run);
  await assertServes(idle);
  assert.equal((await whoami()).version, 'v3');
  directions.push(`${live}→${idle}`);
  assert.deepEqual(new Set(directions), new Set(['blue→green', 'green→blue']));
});

test('deploy with oldColor "stop": the old color drains 5 s under load, then stops; 0 failed requests', async () => {
  const live = liveOnDisk();
  const idle = other(live);
  const run = await underLoad(runDeploy('v2', { oldColor: 'stop', drainMs: 5000 }));
  assert.equal(run.result.ok, true, run.result.error?.message);
  assertNoFailedRequests(run);
  await assertServes(idle);
  assert.equal(run.result.oldColorState, 'stopped');
  assert.equal(inspectField(spring.colors[live].container, '{{.State.Status}}'), 'exited');
  const drain = run.result.steps.find((s) => s.name === 'drain');
  assert.equal(drain?.outcome, 'ok');
});

test('rollback after it: the previous color was stopped, so its image is redeployed from the journal; 0 failed requests', async () => {
  const live = liveOnDisk();
  const back = other(live);
  const previous = summarizeHistory(await ports.journal.read(50)).at(-1);
  assert.equal(previous?.to?.color, live);
  const run = await underLoad((options) => rollback(ports, profile, { service: 'spring', who, settings: settings() }, options));
  assert.equal(run.result.ok, true, run.result.error?.message);
  assertNoFailedRequests(run);
  await assertServes(back);
  assert.ok(run.result.steps.some((s) => s.name === 'startIdle' && s.outcome === 'ok'), 'redeployed');
  assert.equal(inspectField(spring.colors[back].container, '{{.Config.Image}}'), previous?.from?.image);
  assert.equal(inspectField(spring.colors[live].container, '{{.State.Status}}'), 'running');
});

test('rollback again: the other color still runs its image, so it flips back at once; 0 failed requests', async () => {
  const live = liveOnDisk();
  const back = other(live);
  const run = await underLoad((options) => rollback(ports, profile, { service: 'spring', who, settings: settings() }, options));
  assert.equal(run.result.ok, true, run.result.error?.message);
  assertNoFailedRequests(run);
  await assertServes(back);
  assert.deepEqual(run.result.steps.map((s) => s.name), ['preflight', 'waitReady', 'switch', 'verify', 'journal']);
});

test('switch-only under load: flips to the other color without replacing any container; 0 failed requests', async () => {
  const live = liveOnDisk();
  const target = other(live);
  const ids = (['blue', 'green'] as const).map((c) => inspectField(spring.colors[c].container, '{{.Id}}'));
  const run = await underLoad((options) => switchColor(ports, profile, { service: 'spring', who }, options));
  assert.equal(run.result.ok, true, run.result.error?.message);
  assertNoFailedRequests(run);
  await assertServes(target);
  assert.deepEqual((['blue', 'green'] as const).map((c) => inspectField(spring.colors[c].container, '{{.Id}}')), ids);
  assert.ok(run.result.readyToSwitchedMs !== undefined);
});

test('cancel while the new color starts: it is removed, traffic never moves; 0 failed', async () => {
  const live = liveOnDisk();
  const idle = other(live);
  const controller = new AbortController();
  const run = await underLoad(
    (options) => deploy(ports, profile, { service: 'spring', tag: 'v3', who, settings: settings() }, { ...options, signal: controller.signal }),
    (event) => {
      if (event.kind === 'stepStarted' && event.step === 'waitReady') setTimeout(() => controller.abort(), 300);
    },
  );
  assert.equal(run.result.outcome, 'cancelled');
  assert.equal(run.result.error?.step, 'waitReady');
  assertNoFailedRequests(run);
  await assertServes(live);
  assert.equal(inspectField(spring.colors[idle].container, '{{.State.Status}}'), 'missing', 'the new color was removed');
  assert.ok(!run.events.some((e) => e.kind === 'switched'));
  assert.equal(await ports.lock.read(), undefined);
  await ensureBothRunning();
});

test('fault: the new color never becomes healthy (tag broken): refused at waitReady with logs and health output; traffic never moves', async () => {
  const live = liveOnDisk();
  const idle = other(live);
  const run = await underLoad(runDeploy('broken', { readyTimeoutMs: 5000, startPeriodGraceMs: 2000 }));
  assert.equal(run.result.ok, false);
  assertNoFailedRequests(run);
  assert.equal(run.result.error?.code, 'notReady');
  assert.match(run.result.error?.message ?? '', /did not answer http:\/\/127\.0\.0\.1:808[01]\/actuator\/health with a success within 22 s \(its start_period is 20 s\)\. Last probe: HTTP 500 \{"status":"DOWN"\}\. Docker health: /);
  // The start of the log (the app's own warning) and its end (the probes' 500s), not just the last lines.
  assert.match(run.result.error?.logs ?? '', /^Log of handdoc-spring-(blue|green) \(\d+ lines[^)]*\):\n[^]*this build is broken: health will never be UP[^]*GET \/actuator\/health 500/);
  await assertServes(live);
  assert.equal(inspectField(spring.colors[idle].container, '{{.State.Status}}'), 'missing', 'the broken new color was removed');
  assert.ok(!run.events.some((e) => e.kind === 'switched'));
  await ensureBothRunning();
});

test('fault: a broken include appears while the new color starts: nginx -t refuses, the switch file is restored, no reload; 0 failed', async () => {
  const live = liveOnDisk();
  const before = fs.readFileSync(spring.switchFile, 'utf8');
  try {
    const run = await underLoad(runDeploy('v2'), (event) => {
      if (event.kind === 'stepStarted' && event.step === 'waitReady') fs.writeFileSync(brokenInclude(), 'brokn_directive on;\n');
    });
    assert.equal(run.result.ok, false);
    assertNoFailedRequests(run);
    assert.equal(run.result.error?.code, 'switchFailed');
    assert.match(run.result.error?.message ?? '', /nginx -t rejects the configuration with (blue|green) in .*active-upstream\.conf: \[emerg\] unknown directive "brokn_directive" in .*zz-switchyard-deploy-test\.conf:1\. The switch file is back as it was: traffic stays on/);
    assert.equal(fs.readFileSync(spring.switchFile, 'utf8'), before, 'byte for byte');
  } finally {
    fs.rmSync(brokenInclude(), { force: true });
  }
  await assertServes(live);
  await ensureBothRunning();
});

test('fault: nginx -t already fails: the deploy refuses before starting anything', async () => {
  const idleId = inspectField(spring.colors[other(liveOnDisk())].container, '{{.Id}}');
  fs.writeFileSync(brokenInclude(), 'brokn_directive on;\n');
  let result: OperationResult;
  try {
    result = await deploy(ports, profile, { service: 'spring', tag: 'v2', who, settings: settings() });
  } finally {
    fs.rmSync(brokenInclude(), { force: true });
  }
  assert.equal(result.error?.code, 'preflight');
  assert.match(result.error?.message ?? '', /^nginx -t fails before anything was changed: \[emerg\] unknown directive "brokn_directive" in .*zz-switchyard-deploy-test\.conf:1\. Fix the Nginx configuration first/);
  assert.equal(inspectField(spring.colors[other(liveOnDisk())].container, '{{.Id}}'), idleId, 'the idle color was not touched');
});

test('lock: a second deploy (another client) while one runs is refused with the holder; the first completes with 0 failed', async () => {
  const second = newConnection();
  await second.connect();
  const secondPorts = new HostDeployPorts(second);
  let refused: Promise<OperationResult> | undefined;
  const run = await underLoad(runDeploy('v3'), (event) => {
    if (event.kind === 'stepStarted' && event.step === 'waitReady' && !refused) {
      refused = deploy(secondPorts, profile, { service: 'spring', tag: 'v2', who: 'ci@runner (second client)', settings: settings() });
    }
  });
  assert.equal(run.result.ok, true, run.result.error?.message);
  assertNoFailedRequests(run);
  const other = await refused;
  assert.equal(other?.error?.code, 'locked');
  assert.match(other?.error?.message ?? '', /^Another operation is running on handdoc-sandbox: deploy of spring by deploy\.test \(integration\), started .*, at step waitReady\. Wait for it to finish\.$/);
  assert.equal((await whoami()).version, 'v3', 'the second deploy changed nothing');
});

test('lock: a holder whose SSH session died leaves a stale lock; it is reported, then broken on request', async () => {
  const dying = newConnection();
  await dying.connect();
  const dyingPorts = new HostDeployPorts(dying);
  const startedAt = new Date().toISOString();
  assert.deepEqual(await dyingPorts.lock.acquire({ token: 'dying-client', holder: 'bob@desk (VS Code)', host: profile.name, operation: 'deploy', service: 'spring', startedAt, step: 'switch', heartbeatAt: startedAt }), { acquired: true });
  assert.equal((await ports.lock.read())?.isStale, false, 'held by a live session');
  await dropConnection(dying);
  dying.dispose();
  await waitFor('the lock counts as stale', async () => (await ports.lock.read())?.isStale === true, 10_000);
  assert.match((await ports.lock.read())?.staleReason ?? '', /its SSH session on the host \(sshd pid \d+\) has ended/);
  const refusedResult = await switchColor(ports, profile, { service: 'spring', who });
  assert.equal(refusedResult.error?.code, 'locked');
  assert.match(refusedResult.error?.message ?? '', /by bob@desk \(VS Code\).*but that holder is gone \(its SSH session on the host/);
  const live = liveOnDisk();
  const run = await underLoad((options) => switchColor(ports, profile, { service: 'spring', who, breakStaleLock: true }, options));
  assert.equal(run.result.ok, true, run.result.error?.message);
  assertNoFailedRequests(run);
  assert.match(run.result.notes[0] ?? '', /^Broke a stale lock of bob@desk \(VS Code\) \(deploy of spring since .*, last step switch\)/);
  await assertServes(other(live));
});

test('the SSH connection is cut while the new color starts: the deploy reconnects and completes; 0 failed', async () => {
  const cut = newConnection();
  await cut.connect();
  const cutPorts = new HostDeployPorts(cut);
  const live = liveOnDisk();
  let dropped: Promise<void> | undefined;
  const run = await underLoad(runDeploy('v2', {}, cutPorts), (event) => {
    if (event.kind === 'stepStarted' && event.step === 'waitReady' && !dropped) dropped = dropConnection(cut);
  });
  await dropped;
  assert.equal(run.result.ok, true, run.result.error?.message);
  assertNoFailedRequests(run);
  assert.ok(cut.stats.connects >= 2, `reconnected (${cut.stats.connects} connects)`);
  await assertServes(other(live));
  assert.equal(await ports.lock.read(), undefined);
});

test('bad input never reaches a shell: metacharacters in the tag, an unknown tag, an unknown service; a compose path full of them works', async () => {
  // Would be created in the command's working directory (the user's home or the apps dir) if anything ran it.
  const markers = [path.join(`/home/${info.user}`, 'switchyard-pwned'), path.join(info.appsDir, 'switchyard-pwned'), '/tmp/switchyard-pwned'];
  for (const m of markers) fs.rmSync(m, { force: true });
  for (const tag of ['v2;touch switchyard-pwned', '$(touch switchyard-pwned)', '`touch switchyard-pwned`', 'v2 && touch /tmp/switchyard-pwned']) {
    const result = await deploy(ports, profile, { service: 'spring', tag, who });
    assert.equal(result.error?.code, 'badInput');
  }
  const missing = await deploy(ports, profile, { service: 'spring', tag: 'v9', who });
  assert.equal(missing.error?.code, 'preflight');
  assert.equal(missing.error?.message, `The image ${info.registry}/handdoc-spring:v9 does not exist: manifest unknown: manifest unknown. Nothing was started.`);
  assert.equal((await deploy(ports, profile, { service: 'nope', tag: 'v2', who })).error?.code, 'badInput');

  // A real deploy whose compose file path has spaces, quotes and $( ): it is one argv element all the way.
  const live = liveOnDisk();
  const idle = other(live);
  const odd = path.join(info.appsDir, "odd name $(touch switchyard-pwned); `touch switchyard-pwned` 'x'.yml");
  fs.copyFileSync(spring.colors[idle].composeFile, odd);
  chownLikeApps(odd);
  const oddProfile: HostProfile = { ...profile, services: profile.services.map((s) => (s.kind === 'blueGreen' ? { ...s, colors: { ...s.colors, [idle]: { ...s.colors[idle], composeFile: odd } } } : s)) };
  try {
    const run = await underLoad((options) => deploy(ports, oddProfile, { service: 'spring', tag: 'v3', who, settings: settings() }, options));
    assert.equal(run.result.ok, true, run.result.error?.message);
    assertNoFailedRequests(run);
    await assertServes(idle);
  } finally {
    fs.rmSync(odd, { force: true });
  }
  for (const m of markers) assert.equal(fs.existsSync(m), false, `nothing was executed (${m})`);
});

function chownLikeApps(file: string): void {
  fs.chownSync(file, fs.statSync(info.appsDir).uid, fs.statSync(info.appsDir).gid);
}

test('CLI: deploy/history/lock with --json and the documented exit codes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-cli-'));
  const config = path.join(dir, '.switchyard.json');
  // The profile npm start uses, plus the verify URL.
  const hosts = JSON.parse(sh(process.execPath, [path.join(repoRoot, 'test', 'sandbox', 'sandboxProfile.mjs')])) as Array<{ services: Array<Record<string, unknown>> }>;
  hosts[0].services = hosts[0].services.map((s) => (s.kind === 'blueGreen' ? { ...s, verifyUrl: `${info.nginx.httpUrl}/api/whoami` } : s));
  fs.writeFileSync(config, JSON.stringify({ hosts }));
  const cli = path.join(repoRoot, 'out', 'src', 'cli', 'main.js');
  const run = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, '--config', config, '--accept-new-host-key', ...args], { env: { ...process.env, HOME: dir }, timeout: 180_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
  assert.deepEqual(await run('lock'), { code: 0, stdout: 'free\n', stderr: '' });
  const bad = await run('deploy', '--tag', 'v2;id');
  assert.equal(bad.code, 2, bad.stderr);
  const missing = await run('deploy', '--tag', 'v9', '--json');
  assert.equal(missing.code, 1);
  assert.equal((JSON.parse(missing.stdout) as OperationResult).error?.code, 'preflight');
  const live = liveOnDisk();
  const ok = await run('deploy', '--tag', 'latest', '--old-color', 'keep', '--json');
  assert.equal(ok.code, 0, ok.stderr);
  const result = JSON.parse(ok.stdout) as OperationResult;
  assert.equal(result.to?.color, other(live));
  assert.match(ok.stderr, /✓ switch/);
  const history = await run('history', '--json', '--limit', '3');
  assert.equal(history.code, 0);
  assert.equal((JSON.parse(history.stdout) as Array<{ id: string }>).at(-1)?.id, result.id);
  const text = await run('history', '--limit', '1');
  assert.match(text.stdout, /deploy {3}spring {5}latest/);
  await assertServes(other(live));
});

test('restore: both colors back on :latest by two deploys under load, both running, 0 failed', async () => {
  for (let i = 0; i < 2; i++) {
    const run = await underLoad(runDeploy('latest'));
    assert.equal(run.result.ok, true, run.result.error?.message);
    assertNoFailedRequests(run);
  }
  for (const color of ['blue', 'green'] as const) {
    assert.equal(inspectField(spring.colors[color].container, '{{.Config.Image}}'), `${info.registry}/handdoc-spring:latest`);
    assert.equal(inspectField(spring.colors[color].container, '{{.State.Status}}'), 'running');
  }
  assert.equal((await whoami()).version, 'v1');
  // Other tests expect Docker to call all three healthy; the new containers get there at their first healthcheck.
  await waitFor('both colors healthy in Docker', () => (['blue', 'green'] as const).every((c) => inspectField(spring.colors[c].container, '{{.State.Health.Status}}') === 'healthy'), 90_000);
});
