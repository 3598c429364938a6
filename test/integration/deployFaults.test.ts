/**
 * Issue 6, the faults deploy.test.ts does not inject: each one for real on the sandbox host (a stale nginx
 * pid file, a container killed between ready and switch, a read-only bind mount, the registry process
 * stopped, the SSH session's sshd processes killed at each step, switch files Switchyard cannot read, the
 * user's own deploy.sh), each under a wrk load through Nginx: 0 failed requests, and at the end Nginx
 * serves a healthy color that is the one the switch file on disk names.
 * Leaves both colors running :latest and healthy, as the other integration tests expect.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { after, before, beforeEach, test } from 'node:test';
import { deploy, summarizeHistory, type RunOptions } from '../../src/core/deployEngine';
import type { DeploySettings, OperationResult, StepName } from '../../src/core/deployTypes';
import type { Color } from '../../src/core/hostProfile';
import { HostDeployPorts } from '../../src/host/deployPorts';
import type { HostConnection } from '../../src/host/hostConnection';
import { assertNoFailedRequests, DeployFixture, other, type Run } from './deployFixture';
import { describeLoad, type LoadStats } from './loadGenerator';
import { repoRoot, sshdSessionOf, waitFor, hostDocker } from './sandboxHost';

const fx = new DeployFixture();
const { liveOnDisk, whoami, assertServes, inspectField, ensureBothRunning, underLoad, withLoad, newConnection } = fx;
const who = 'deployFaults.test (integration)';

/** Another suite's operation may hold the deploy lock for a while: wait for it and run again (never when this file holds it). */
function unlessLockedByOthers(work: (options: RunOptions) => Promise<OperationResult>) {
  return async (options: RunOptions): Promise<OperationResult> => {
    for (let attempt = 1; ; attempt++) {
      const result = await work(options);
      if (result.error?.code !== 'locked' || result.error.message.includes(who) || attempt >= 60) return result;
      await new Promise((r) => setTimeout(r, 3000));
    }
  };
}

function runDeploy(tag: string, extra: Partial<DeploySettings> = {}, via?: HostDeployPorts, breakStaleLock = false) {
  return unlessLockedByOthers((options) =>
    deploy(via ?? fx.ports, fx.profile, { service: 'spring', tag, who, settings: { oldColor: 'keep', ...extra }, ...(breakStaleLock ? { breakStaleLock } : {}) }, options),
  );
}

const container = (color: Color): string => fx.spring.colors[color].container;
const runDir = (): string => path.dirname(fx.info.dockerSocket);
const switchBytes = (): Buffer => fs.readFileSync(fx.spring.switchFile);

function containerIds(): Record<Color, string> {
  return { blue: inspectField(container('blue'), '{{.Id}}'), green: inspectField(container('green'), '{{.Id}}') };
}

/** What every fault must leave: Nginx serves the color the switch file names, that color is healthy, no half-written switch file, no lock held. */
async function assertConsistent(): Promise<Color> {
  const live = liveOnDisk();
  await assertServes(live);
  const health = await fx.connection.httpGet(fx.spring.colors[live].port, fx.spring.healthPath, { timeoutMs: 3000 });
  assert.equal(health.status, 200, `${live} answers its health path`);
  const leftovers = fs.readdirSync(path.dirname(fx.spring.switchFile)).filter((f) => f.includes('.switchyard-tmp-'));
  assert.deepEqual(leftovers, [], 'no half-written switch file');
  // Another suite's live operation may hold it; this file's must be gone, or stale once its killed sshd has vanished.
  await waitFor('the lock is released or stale', async () => {
    const lock = await fx.ports.lock.read();
    return lock === undefined || lock.isStale || lock.record.holder !== who;
  }, 10_000);
  return live;
}

/** A failed run that never switched: traffic stayed, the run says so for sure, and the new color it started is gone. */
function assertNeverSwitched(result: OperationResult, live: Color): void {
  assert.equal(result.ok, false);
  assert.deepEqual(result.traffic, { color: live, isCertain: true }, JSON.stringify(result.error));
  assert.ok(!result.steps.some((s) => s.name === 'switch' && s.outcome === 'ok'), 'never switched');
}

before(async () => {
  await fx.setUp();
});

after(async () => {
  await fx.tearDown();
});

// Other suites deploy on the same sandbox: start each fault when nobody holds the deploy lock.
beforeEach(async () => {
  await waitFor('the deploy lock is free', async () => {
    const lock = await fx.ports.lock.read();
    if (lock?.isStale) await fx.ports.lock.break(lock.record.token);
    return lock === undefined || lock.isStale;
  }, 180_000);
});

test('fault: nginx -s reload fails while nginx -t passes (a stale pid file): switchFailed, the switch file restored byte for byte, traffic stays', async () => {
  const live = liveOnDisk();
  const idle = other(live);
  const before = switchBytes();
  const pidFile = /^\s*pid\s+([^;\s]+);/m.exec(fs.readFileSync(fx.info.nginx.mainConfig, 'utf8'))?.[1];
  assert.ok(pidFile, 'nginx.conf names its pid file');
  const realPid = fs.readFileSync(pidFile, 'utf8');
  // A process that has already exited: `nginx -s reload` reads its pid and kill() fails, as after an unclean restart.
  const deadPid = spawnSync('true').pid;
  let run;
  try {
    run = await underLoad(runDeploy('v2'), (event) => {
      if (event.kind === 'stepStarted' && event.step === 'switch') fs.writeFileSync(pidFile, `${deadPid}\n`);
    });
  } finally {
    fs.writeFileSync(pidFile, realPid);
  }
  assertNoFailedRequests(run);
  assertNeverSwitched(run.result, live);
  assert.equal(run.result.outcome, 'failed');
  assert.equal(run.result.error?.code, 'switchFailed');
  assert.match(
    run.result.error?.message ?? '',
    new RegExp(`^nginx -s reload failed: \\[alert\\] kill\\(${deadPid}, 1\\) failed \\(3: No such process\\)\\. Nginx did not get the reload signal, so it still runs its old configuration\\. The switch file is back as it was: traffic stays on ${live}\\.$`),
  );
  assert.deepEqual(switchBytes(), before, 'byte for byte');
  assert.equal(inspectField(container(idle), '{{.State.Status}}'), 'missing', 'the new color was removed');
  assert.equal(await assertConsistent(), live);
  await ensureBothRunning();
});

test('fault: the new color is ready, then killed just before the switch: refused, traffic never moves, the dead color removed', async () => {
  const live = liveOnDisk();
  const idle = other(live);
  const before = switchBytes();
  const run = await underLoad(runDeploy('v3'), (event) => {
    // Synchronous: the container is dead when the switch step makes its first check.
    if (event.kind === 'stepStarted' && event.step === 'switch') hostDocker(fx.info, ['kill', container(idle)]);
  });
  assertNoFailedRequests(run);
  assertNeverSwitched(run.result, live);
  assert.equal(run.result.error?.code, 'notReady');
  assert.equal(run.result.error?.step, 'switch');
  // docker kill cancels the restart policy (unless-stopped): the container stays exited.
  assert.equal(run.result.error?.message, `${container(idle)} was ready but is exited (exit code 137) before the switch; traffic was not moved.`);
  assert.match(run.result.error?.logs ?? '', new RegExp(`^Log of ${container(idle)} `));
  assert.ok(!run.events.some((e) => e.kind === 'switched'));
  assert.ok(run.result.notes.some((n) => n.startsWith(`Removed the new ${idle} container (${container(idle)}, `)), run.result.notes.join('\n'));
  assert.equal(inspectField(container(idle), '{{.State.Status}}'), 'missing');
  assert.deepEqual(switchBytes(), before);
  assert.equal(await assertConsistent(), live);
  await ensureBothRunning();
});

// A read-only bind mount over the file, or over its directory as on a read-only root file system (this
// machine runs a real kernel: mount -o remount,ro,bind works). SFTP says only "Failure" for the second.
for (const what of ['file', 'directory'] as const) {
  test(`fault: the switch ${what} is on a read-only mount: switchFailed saying so, nothing changed, the new color removed`, async () => {
    const live = liveOnDisk();
    const idle = other(live);
    const file = fx.spring.switchFile;
    const target = what === 'file' ? file : path.dirname(file);
    const before = switchBytes();
    let isMounted = false;
    try {
      const run = await underLoad(runDeploy('v2'), (event) => {
        if (event.kind === 'stepStarted' && event.step === 'waitReady' && !isMounted) {
          execFileSync('mount', ['--bind', target, target]);
          isMounted = true;
          execFileSync('mount', ['-o', 'remount,ro,bind', target]);
        }
      });
      assertNoFailedRequests(run);
      assertNeverSwitched(run.result, live);
      assert.equal(run.result.error?.code, 'switchFailed');
      assert.equal(run.result.error?.message, `${file} is on a read-only file system on 127.0.0.1:${fx.info.sshPort}: it cannot be changed, with or without sudo. The switch file is back as it was: traffic stays on ${live}.`);
      assert.equal(inspectField(container(idle), '{{.State.Status}}'), 'missing', 'the new color was removed');
      assert.ok(run.result.notes.some((n) => n.startsWith(`Removed the new ${idle} container`)));
    } finally {
      if (isMounted) execFileSync('umount', [target]);
    }
    assert.deepEqual(switchBytes(), before, 'byte for byte');
    assert.equal(await assertConsistent(), live);
    await ensureBothRunning();
  });
}

test('fault: the registry is down: a tag the host lacks is refused at preflight; a tag the host has is deployed from the local copy', async () => {
  const registryPid = Number(fs.readFileSync(path.join(runDir(), 'registry.pid'), 'utf8'));
  assert.match(fs.readFileSync(`/proc/${registryPid}/cmdline`, 'utf8'), /docker-registry/);
  const live = liveOnDisk();
  const idle = other(live);
  const absent = `${fx.info.registry}/handdoc-spring:faults-not-on-host`;
  assert.equal(inspectField(absent, '{{.Id}}'), 'missing');
  assert.notEqual(inspectField(`${fx.info.registry}/handdoc-spring:v3`, '{{.Id}}'), 'missing', 'v3 is on the host');
  const ids = containerIds();
  process.kill(registryPid, 'SIGTERM');
  try {
    await waitFor('the registry is gone', () => !fs.existsSync(`/proc/${registryPid}`), 10_000);
    const refused = await underLoad(runDeploy('faults-not-on-host'));
    assertNoFailedRequests(refused);
    assertNeverSwitched(refused.result, live);
    assert.equal(refused.result.error?.code, 'preflight');
    assert.match(refused.result.error?.message ?? '', new RegExp(`^The image ${absent.replace(/[.]/g, '\\.')} cannot be pulled: .*connection refused.*\\. Nothing was started\\.$`));
    assert.deepEqual(containerIds(), ids, 'nothing was started or replaced');

    const local = await underLoad(runDeploy('v3'));
    assertNoFailedRequests(local);
    assert.equal(local.result.ok, true, local.result.error?.message);
    assert.equal(local.result.steps.find((s) => s.name === 'pull')?.outcome, 'skipped');
    assert.ok(
      local.result.notes.some((n) => new RegExp(`^The registry could not be asked about ${fx.info.registry}/handdoc-spring:v3 \\(.*connection refused.*\\); the host already has it, so that copy is used\\.$`).test(n)),
      local.result.notes.join('\n'),
    );
    await assertServes(idle);
    assert.equal((await whoami()).version, 'v3');
  } finally {
    execFileSync('bash', [path.join(repoRoot, 'test', 'sandbox', 'sandbox.sh'), 'up'], { stdio: 'ignore' });
  }
  await assertConsistent();
});

// The SSH connection cut at each step: the sshd processes of the connection, found before the run, killed
// synchronously when the step starts, as a network drop ends them.
const cutSteps: Array<{ step: StepName; settings: Partial<DeploySettings> }> = [
  { step: 'preflight', settings: {} },
  { step: 'pull', settings: {} },
  { step: 'startIdle', settings: {} },
  { step: 'waitReady', settings: {} },
  { step: 'switch', settings: {} },
  { step: 'verify', settings: {} },
  { step: 'drain', settings: { oldColor: 'stop', drainMs: 1000 } },
  { step: 'retire', settings: { oldColor: 'stop', drainMs: 1000 } },
  { step: 'journal', settings: {} },
];
let cutTag = 'v2';

/**
 * One deploy on its own connection, cut when `step` starts; with `isClientGone` the client also dies there
 * (VS Code closed, CI runner killed), so nothing reconnects. Not through unlessLockedByOthers: a run refused
 * by another suite's lock is repeated with a fresh cut.
 */
async function deployCutAt(step: StepName, settings: Partial<DeploySettings>, isClientGone: boolean): Promise<{ run: Run; live: Color; tag: string; cut: HostConnection }> {
  await ensureBothRunning();
  cutTag = cutTag === 'v2' ? 'v3' : 'v2';
  const tag = cutTag;
  for (let attempt = 1; ; attempt++) {
    const cut = newConnection();
    await cut.connect();
    const cutPorts = new HostDeployPorts(cut);
    const sshd = await sshdSessionOf(cut);
    const live = liveOnDisk();
    let isCut = false;
    const run = await underLoad((options) => deploy(cutPorts, fx.profile, { service: 'spring', tag, who, settings: { oldColor: 'keep', ...settings } }, options), (event) => {
      if (event.kind === 'stepStarted' && event.step === step && !isCut) {
        isCut = true;
        process.kill(sshd.monitor, 'SIGKILL');
        process.kill(sshd.session, 'SIGKILL');
        if (isClientGone) cut.dispose();
      }
    });
    if (run.result.error?.code !== 'locked' || attempt >= 60) {
      assert.ok(isCut, `the run reached ${step}: ${run.result.error?.message ?? ''}`);
      return { run, live, tag, cut };
    }
    cut.dispose();
    await new Promise((r) => setTimeout(r, 3000));
  }
}

for (const { step, settings } of cutSteps) {
  test(`the SSH connection is cut as ${step} starts: it reconnects, the deploy completes, the lock is released; 0 failed`, async () => {
    const { run, live, tag, cut } = await deployCutAt(step, settings, false);
    assertNoFailedRequests(run);
    assert.equal(run.result.ok, true, run.result.error?.message);
    assert.ok(cut.stats.connects >= 2, `reconnected (${cut.stats.connects} connects)`);
    // The lock is taken first, and its acquire is retried without a progress line (it must tell its own lock from another's).
    const retried = run.events.some((e) => e.kind === 'progress' && /^connection lost during .*; retrying once after reconnecting$/.test(e.message));
    assert.ok(retried || step === 'preflight', 'the engine saw the drop and retried');
    assert.equal(await assertConsistent(), other(live));
    assert.equal((await whoami()).version, tag);
    assert.notEqual((await fx.ports.lock.read())?.record.holder, who, 'lock released');
    cut.dispose();
  });
}

test('the SSH connection is cut in the middle of docker pull (at its first progress line): the pull is retried, the deploy completes; 0 failed', async () => {
  await ensureBothRunning();
  const live = liveOnDisk();
  const cut = newConnection();
  await cut.connect();
  const sshd = await sshdSessionOf(cut);
  let isCut = false;
  const run = await underLoad(runDeploy('v3', {}, new HostDeployPorts(cut)), (event) => {
    if (event.kind === 'progress' && event.step === 'pull' && !isCut) {
      isCut = true;
      process.kill(sshd.monitor, 'SIGKILL');
      process.kill(sshd.session, 'SIGKILL');
    }
  });
  assert.ok(isCut, 'the pull reported progress');
  assertNoFailedRequests(run);
  assert.equal(run.result.ok, true, run.result.error?.message);
  assert.ok(run.events.some((e) => e.kind === 'progress' && e.step === 'pull' && /^connection lost during pulling .*; retrying once after reconnecting$/.test(e.message)), 'the pull was retried');
  assert.equal(await assertConsistent(), other(live));
  cut.dispose();
});

// Inside the switch step, where no event marks the moment: the cut comes from the nginx port itself, just
// before it runs `nginx -t` (the new switch file is written, not yet tested) or `nginx -s reload`.
for (const call of ['test', 'reload'] as const) {
  test(`the SSH connection is cut inside the switch, just before nginx ${call === 'test' ? '-t' : '-s reload'}: the switch is undone after reconnecting; 0 failed`, async () => {
    await ensureBothRunning();
    const live = liveOnDisk();
    const idle = other(live);
    const before = switchBytes();
    const cut = newConnection();
    await cut.connect();
    const cutPorts = new HostDeployPorts(cut);
    const sshd = await sshdSessionOf(cut);
    let isSwitching = false;
    let isCut = false;
    const real = cutPorts.nginx[call];
    const ports: HostDeployPorts = Object.assign(Object.create(cutPorts) as HostDeployPorts, {
      nginx: {
        ...cutPorts.nginx,
        [call]: () => {
          if (isSwitching && !isCut) {
            isCut = true;
            process.kill(sshd.monitor, 'SIGKILL');
            process.kill(sshd.session, 'SIGKILL');
          }
          return real();
        },
      },
    });
    const run = await underLoad(runDeploy('v2', {}, ports), (event) => {
      if (event.kind === 'stepStarted') isSwitching = event.step === 'switch';
    });
    assert.ok(isCut, 'cut inside the switch');
    assertNoFailedRequests(run);
    assertNeverSwitched(run.result, live);
    assert.equal(run.result.error?.code, 'connectionLost');
    assert.match(
      run.result.error?.message ?? '',
      new RegExp(`^The connection to handdoc-sandbox was lost during switch: .* The switch file is back as it was${call === 'reload' ? ' and Nginx was reloaded' : ''}: traffic stays on ${live}\\.$`),
    );
    assert.deepEqual(switchBytes(), before, 'byte for byte');
    assert.equal(inspectField(container(idle), '{{.State.Status}}'), 'missing', 'the new color was removed');
    assert.equal(await assertConsistent(), live);
    assert.notEqual((await fx.ports.lock.read())?.record.holder, who, 'lock released');
    cut.dispose();
  });
}

// The client dies with the cut at the steps after which the host differs: the new color started, traffic
// moved, the old color not yet stopped, the journal not yet written.
for (const step of ['waitReady', 'verify', 'retire', 'journal'] as const) {
  test(`the client dies with its connection as ${step} starts: the host stays consistent, the lock goes stale, the next run repairs; 0 failed`, async () => {
    const { settings } = cutSteps.find((c) => c.step === step) as (typeof cutSteps)[number];
    const { run, live, tag } = await deployCutAt(step, settings, true);
    assertNoFailedRequests(run);
    const isSwitched = step !== 'waitReady';
    if (step === 'journal') {
      assert.equal(run.result.ok, true, 'the deploy itself was done');
      assert.ok(run.result.notes.some((n) => /^The journal entry could not be written: /.test(n)), run.result.notes.join('\n'));
    } else {
      assert.equal(run.result.error?.code, 'connectionLost', run.result.error?.message);
      assert.equal(run.result.traffic.color, isSwitched ? other(live) : live);
    }
    assert.ok(run.result.notes.some((n) => /^The deploy lock could not be released \(.*\); it counts as stale once this connection is gone\.$/.test(n)), run.result.notes.join('\n'));
    assert.equal(await assertConsistent(), isSwitched ? other(live) : live);
    if (step === 'waitReady') assert.equal(inspectField(container(other(live)), '{{.Config.Image}}'), `${fx.info.registry}/handdoc-spring:${tag}`, 'the new color runs, without traffic');
    await waitFor('the dead client\'s lock counts as stale', async () => (await fx.ports.lock.read())?.isStale === true, 10_000);

    const before = liveOnDisk();
    const next = await underLoad(runDeploy(tag === 'v2' ? 'v3' : 'v2', {}, fx.ports, true));
    assertNoFailedRequests(next);
    assert.equal(next.result.ok, true, next.result.error?.message);
    assert.ok(next.result.notes.some((n) => n.startsWith(`Broke a stale lock of ${who} (deploy of spring since `)), next.result.notes.join('\n'));
    assert.ok(next.result.notes.some((n) => n.startsWith(`The previous operation (deploy of spring by ${who}, started `)), next.result.notes.join('\n'));
    assert.equal(await assertConsistent(), other(before));
    assert.notEqual((await fx.ports.lock.read())?.record.holder, who, 'lock released');
  });
}

test('a switch file Switchyard cannot understand is refused at preflight with the reason; file and containers untouched; 0 failed', async () => {
  const file = fx.spring.switchFile;
  const original = switchBytes();
  const cases: Array<[string, string, RegExp]> = [
    [
      'an upstream with both ports (a weighted canary)',
      'upstream spring_backend {\n    server 127.0.0.1:8080 weight=9;\n    server 127.0.0.1:8081 weight=1;\n}\n',
      /upstream spring_backend \(.* line 1\) sends traffic to 2 servers \(127\.0\.0\.1:8080 weight=9 \(line 2\), 127\.0\.0\.1:8081 weight=1 \(line 3\)\); a switch file must send it to exactly one/,
    ],
    ['a port of neither color', 'upstream spring_backend {\n    server 127.0.0.1:9090;\n}\n', /no address in it uses port 8080 or 8081 \(found upstream spring_backend → 127\.0\.0\.1:9090 \(line 2\)\)/],
    [
      'a map that picks the color per request',
      'map $cookie_canary $spring_upstream {\n    default 127.0.0.1:8080;\n    green   127.0.0.1:8081;\n}\nupstream spring_backend {\n    server 127.0.0.1:8080;\n}\n',
      /map \$cookie_canary \$spring_upstream \(.* line 1\) chooses the address per request \(127\.0\.0\.1:8080, 127\.0\.0\.1:8081\)/,
    ],
  ];
  const ids = containerIds();
  try {
    for (const [what, text, reason] of cases) {
      fs.writeFileSync(file, text);
      const run = await underLoad(runDeploy('v2'));
      assertNoFailedRequests(run);
      assert.equal(run.result.error?.code, 'preflight', what);
      assert.match(run.result.error?.message ?? '', reason, what);
      assert.match(run.result.error?.message ?? '', /Switchyard changes nothing until it can tell which color is live\.$/);
      assert.equal(fs.readFileSync(file, 'utf8'), text, `${what}: byte for byte`);
      assert.deepEqual(containerIds(), ids, `${what}: no container replaced`);
      assert.notEqual((await fx.ports.lock.read())?.record.holder, who, `${what}: lock released`);
    }
  } finally {
    fs.writeFileSync(file, original);
  }
  await assertConsistent();
});

/** What deploy.sh does to switch (it takes no lock): rewrite the switch file, reload Nginx. Returns the text written. */
function switchByHand(color: Color): string {
  const text = `# Live Spring color: ${color}. Rewritten by ~/apps/deploy.sh at every switch, then nginx reload.\nupstream spring_backend {\n    server 127.0.0.1:${fx.spring.colors[color].port};\n}\n`;
  fs.writeFileSync(fx.spring.switchFile, text);
  execFileSync(fx.info.nginx.binary, ['-c', fx.info.nginx.mainConfig, '-s', 'reload']);
  return text;
}

test('someone switches Nginx by hand (as deploy.sh does) to the new color just before Switchyard\'s switch: refused, and the color now serving is not removed; 0 failed', async () => {
  const live = liveOnDisk();
  const idle = other(live);
  let handWritten = '';
  const run = await underLoad(runDeploy('v3'), (event) => {
    if (event.kind === 'stepStarted' && event.step === 'switch') handWritten = switchByHand(idle);
  });
  assertNoFailedRequests(run);
  assert.equal(run.result.error?.code, 'switchFailed');
  assert.match(run.result.error?.message ?? '', /was changed by someone else since the preflight; Switchyard did not switch\./);
  assert.ok(run.result.notes.includes(`${container(idle)} was not removed: ${fx.spring.switchFile} now sends traffic to ${idle} (changed by someone else during this run).`), run.result.notes.join('\n'));
  assert.deepEqual(run.result.traffic, { color: idle, isCertain: false, why: 'someone else changed the switch file during this run' });
  assert.equal(fs.readFileSync(fx.spring.switchFile, 'utf8'), handWritten, 'their switch file stays');
  assert.equal(await assertConsistent(), idle);
  assert.equal((await whoami()).version, 'v3');
});

test('someone switches Nginx back by hand while the old color drains: the deploy does not stop the color now serving; 0 failed', async () => {
  await ensureBothRunning();
  const live = liveOnDisk();
  const run = await underLoad(runDeploy('v2', { oldColor: 'stop', drainMs: 2000 }), (event) => {
    if (event.kind === 'stepStarted' && event.step === 'drain') switchByHand(live);
  });
  assertNoFailedRequests(run);
  assert.equal(run.result.ok, true, run.result.error?.message);
  assert.equal(run.result.oldColorState, 'running');
  assert.deepEqual(run.result.traffic, { color: live, isCertain: false, why: 'someone else changed the switch file during this run' });
  assert.ok(run.result.notes.includes(`${container(live)} was not stopped: ${fx.spring.switchFile} sends traffic to ${live} again (changed by someone else during this run).`), run.result.notes.join('\n'));
  assert.equal(inspectField(container(live), '{{.State.Status}}'), 'running');
  assert.equal(await assertConsistent(), live);
});

/** The user's deploy.sh, run over ssh as ec2-user the way their GitHub Actions job runs it. */
async function runDeploySh(): Promise<string> {
  const { info } = fx;
  const { stdout, stderr } = await promisify(execFile)(
    'ssh',
    ['-i', info.identityFile, '-p', String(info.sshPort), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `${info.user}@${info.sshHost}`, 'cd ~/apps && ./deploy.sh'],
    { timeout: 240_000 },
  );
  return `${stdout}${stderr}`;
}

/**
 * deploy.sh under load while it holds Switchyard's lock. deploy.sh itself takes no lock: on this shared
 * sandbox another suite's Switchyard run interleaved with it once (deploy.sh switched Nginx to a color that
 * run was removing: 79 569 failed requests), so the test keeps the turns apart, as one team deploying one
 * at a time would.
 */
async function deployShUnderLoad(): Promise<{ value: string; load: LoadStats }> {
  const startedAt = new Date().toISOString();
  const record = { token: `deploy.sh-${startedAt}`, holder: 'deploy.sh over ssh (deployFaults.test)', host: fx.profile.name, operation: 'deploy' as const, service: 'spring', startedAt, heartbeatAt: startedAt };
  await waitFor('the deploy lock, for deploy.sh', async () => (await fx.ports.lock.acquire(record)).acquired, 180_000);
  try {
    return await withLoad(runDeploySh);
  } finally {
    await fx.ports.lock.release(record.token);
  }
}

/** Operations of other clients (other suites on this shared sandbox) that started since `sinceIso`. */
async function othersSince(sinceIso: string): Promise<string[]> {
  return summarizeHistory(await fx.ports.journal.read(200))
    .filter((item) => item.who !== who && item.startedAt >= sinceIso)
    .map((item) => `${item.kind} of ${item.service} by ${item.who}`);
}

test('handDoc deploy.sh and Switchyard take turns under load: each reads the color the other left; 0 failed each time', async () => {
  // Between two turns another client may take the lock and move the color: then the turns run again.
  for (let attempt = 1; ; attempt++) {
    const sinceIso = new Date().toISOString();
    try {
      await takeTurns();
      return;
    } catch (error) {
      const others = await othersSince(sinceIso);
      if (others.length === 0 || attempt >= 3) throw error;
      console.log(`    another client ran between the turns (${others.join(', ')}); running them again`);
    }
  }
});

async function takeTurns(): Promise<void> {
  await ensureBothRunning();
  const first = liveOnDisk();
  const second = other(first);

  const script1 = await deployShUnderLoad();
  assert.equal(script1.load.failed, 0, `deploy.sh: ${describeLoad(script1.load)}\n${script1.value}`);
  assertNoFailedRequests(script1);
  assert.match(script1.value, new RegExp(`live color: ${first} -> deploying ${second}[^]*done: ${second} is live`));
  await assertServes(second);
  assert.equal(inspectField(container(first), '{{.State.Status}}'), 'exited', 'deploy.sh stops the old color');

  const switchyard = await underLoad(runDeploy('v2'));
  assertNoFailedRequests(switchyard);
  assert.equal(switchyard.result.ok, true, switchyard.result.error?.message);
  assert.deepEqual([switchyard.result.from?.color, switchyard.result.to?.color], [second, first], 'Switchyard read the color deploy.sh left');
  await assertServes(first);
  assert.equal((await whoami()).version, 'v2');

  const script2 = await deployShUnderLoad();
  assert.equal(script2.load.failed, 0, `deploy.sh: ${describeLoad(script2.load)}\n${script2.value}`);
  assertNoFailedRequests(script2);
  assert.match(script2.value, new RegExp(`live color: ${first} -> deploying ${second}[^]*done: ${second} is live`));
  await assertServes(second);
  assert.equal((await whoami()).version, 'v1', 'deploy.sh runs the compose file image (:latest = v1)');
  await assertConsistent();
}

test('restore: both colors back on :latest, running and healthy in Docker', async () => {
  await ensureBothRunning();
  for (let i = 0; i < 2; i++) {
    const stale = (['blue', 'green'] as const).some((c) => inspectField(container(c), '{{.Config.Image}}') !== `${fx.info.registry}/handdoc-spring:latest`);
    if (!stale) break;
    const run = await underLoad(runDeploy('latest'));
    assertNoFailedRequests(run);
    assert.equal(run.result.ok, true, run.result.error?.message);
  }
  for (const color of ['blue', 'green'] as const) {
    assert.equal(inspectField(container(color), '{{.Config.Image}}'), `${fx.info.registry}/handdoc-spring:latest`);
    assert.equal(inspectField(container(color), '{{.State.Status}}'), 'running');
  }
  await waitFor('both colors healthy in Docker', () => (['blue', 'green'] as const).every((c) => inspectField(container(c), '{{.State.Health.Status}}') === 'healthy'), 90_000);
  await assertConsistent();
});
