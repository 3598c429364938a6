import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deploy, excerptLog, formatStep, rollback, summarizeHistory, switchColor, type RunOptions } from '../../../src/core/deployEngine';
import type { DeployRequest, DeploySettings, OperationResult, StepName } from '../../../src/core/deployTypes';
import type { HostProfile } from '../../../src/core/hostProfile';
import { FakeHost, profile, registry, spring, switchFileFor, switchPath } from './fakeDeployHost';

let counter = 0;
const newId = (): string => `id${++counter}`;

interface RunExtra {
  tag?: string;
  settings?: Partial<DeploySettings>;
  signal?: AbortSignal;
  breakStaleLock?: boolean;
  service?: string;
  profile?: HostProfile;
}

function options(host: FakeHost, extra: RunExtra): RunOptions {
  return { onEvent: host.onEvent, newId, ...(extra.signal ? { signal: extra.signal } : {}) };
}

function request(extra: RunExtra): DeployRequest {
  return {
    service: extra.service ?? 'spring',
    tag: extra.tag ?? 'v2',
    who: 'alice@laptop (test)',
    settings: { oldColor: 'stop', ...extra.settings },
    ...(extra.breakStaleLock ? { breakStaleLock: true } : {}),
  };
}

function runDeploy(host: FakeHost, extra: RunExtra = {}): Promise<OperationResult> {
  return deploy(host, extra.profile ?? profile, request(extra), options(host, extra));
}

function runSwitch(host: FakeHost, extra: RunExtra = {}): Promise<OperationResult> {
  return switchColor(host, extra.profile ?? profile, request(extra), options(host, extra));
}

function runRollback(host: FakeHost, extra: RunExtra = {}): Promise<OperationResult> {
  return rollback(host, extra.profile ?? profile, request(extra), options(host, extra));
}

function stepNames(result: OperationResult): string[] {
  return result.steps.map((s) => `${s.name}:${s.outcome}`);
}

/** What every failed-before-the-switch run must leave: the switch file and Nginx untouched, blue serving, the lock released. */
function assertUntouched(host: FakeHost, result: OperationResult, live: 'blue' | 'green' = 'blue'): void {
  assert.equal(result.ok, false);
  assert.equal(host.fileMap.get(switchPath), switchFileFor(spring.colors[live].port), 'switch file unchanged');
  assert.equal(host.servingColor(), live, 'nginx still serves the old color');
  assert.deepEqual(result.traffic, { color: live, isCertain: true });
  assert.equal(host.lockState, undefined, 'lock released');
  assert.ok(host.isRunning(spring.colors[live].container), 'the live color still runs');
}

function lastJournal(host: FakeHost) {
  return summarizeHistory(host.journalEntries).at(-1);
}

void describe('deploy: the happy paths', () => {
  void it('blue → green with tag v2: pull, start, ready, switch, verify, drain, stop blue, journal', async () => {
    const host = new FakeHost('blue');
    const result = await runDeploy(host);
    assert.equal(result.ok, true, result.error?.message);
    assert.equal(result.outcome, 'succeeded');
    assert.deepEqual(stepNames(result), ['preflight:ok', 'pull:ok', 'startIdle:ok', 'waitReady:ok', 'switch:ok', 'verify:ok', 'drain:ok', 'retire:ok', 'journal:ok']);
    assert.deepEqual(result.traffic, { color: 'green', isCertain: true });
    assert.equal(host.servingColor(), 'green');
    // Only the port digits changed.
    assert.equal(host.fileMap.get(switchPath), switchFileFor(8081));
    assert.equal(host.fileMap.get(`${switchPath}.switchyard-bak`), switchFileFor(8080), 'backup of the old switch file');
    assert.equal(host.containers.get('handdoc-spring-green')?.image, `${registry}:v2`);
    assert.equal(host.isRunning('handdoc-spring-blue'), false, 'old color stopped after the drain');
    assert.equal(result.oldColorState, 'stopped');
    assert.deepEqual(result.from, { color: 'blue', container: 'handdoc-spring-blue', image: `${registry}:v1` });
    assert.deepEqual(result.to, { color: 'green', container: 'handdoc-spring-green', image: `${registry}:v2` });
    // The user's compose file is untouched; the override only sets the image, with the same compose version.
    assert.equal(host.writes('/home/ec2-user/apps/docker-compose.spring-green.yml'), 0);
    assert.deepEqual(host.overrides[0].target, { project: 'handdoc-spring-green', composeFile: spring.colors.green.composeFile, service: 'spring-green' });
    assert.match(host.overrides[0].text, /^version: "3\.8"\nservices:\n {2}"spring-green":\n {4}image: "127\.0\.0\.1:5005\/handdoc-spring:v2"\n$/m);
    assert.equal(host.lockState, undefined);
    const item = lastJournal(host);
    assert.equal(item?.outcome, 'succeeded');
    assert.equal(item?.trafficOn, 'green');
    assert.equal(item?.tag, 'v2');
    assert.equal(item?.who, 'alice@laptop (test)');
    assert.deepEqual(item?.steps.map((s) => s.name), ['preflight', 'pull', 'startIdle', 'waitReady', 'switch', 'verify', 'drain', 'retire']);
    assert.equal(host.calls.filter((c) => c === 'nginx.reload').length, 1);
  });

  void it('green → blue when green is live', async () => {
    const host = new FakeHost('green');
    const result = await runDeploy(host, { tag: 'v3' });
    assert.equal(result.ok, true, result.error?.message);
    assert.equal(host.servingColor(), 'blue');
    assert.equal(host.liveColorOnDisk(), 'blue');
    assert.equal(host.containers.get('handdoc-spring-blue')?.image, `${registry}:v3`);
    assert.equal(host.isRunning('handdoc-spring-green'), false);
  });

  void it('switches as soon as the app answers, not at Docker’s next healthcheck (interval 30 s)', async () => {
    const host = new FakeHost('blue');
    const result = await runDeploy(host);
    const switched = host.events.find((e) => e.kind === 'switched');
    const created = host.containers.get('handdoc-spring-green');
    assert.ok(switched && switched.kind === 'switched' && created);
    // The app answers 2 s after start; Docker's first check would run at 30 s.
    assert.ok(switched.atMs - created.createdMs < 5000, `switched ${switched.atMs - created.createdMs} ms after the start`);
    assert.match(result.steps.find((s) => s.name === 'waitReady')?.detail ?? '', /Docker health: starting/);
    // Ready = the first of probeSuccesses (2) answers in a row; the confirming one follows 50 ms later.
    assert.equal(result.readyToSwitchedMs, 50);
  });

  void it('respects start_period: a slow app (ready at 40 s) is waited for although readyTimeoutMs is 30 s', async () => {
    const host = new FakeHost('blue');
    const result = await runDeploy(host, { tag: 'slow', settings: { readyTimeoutMs: 30_000 } });
    assert.equal(result.ok, true, result.error?.message);
    assert.equal(host.servingColor(), 'green');
  });

  void it('without a start_period, the same slow app fails at the deadline', async () => {
    const host = new FakeHost('blue');
    const green = host.containers.get('handdoc-spring-green');
    assert.ok(green);
    host.behaviours.set('slow', { readyAfterMs: 40_000, isHealthy: true });
    // Docker reports no start_period for the new container.
    const inspect = host.docker.inspect;
    host.docker.inspect = async (name) => {
      const status = await inspect(name);
      return status?.healthcheck ? { ...status, healthcheck: { ...status.healthcheck, startPeriodMs: 0 } } : status;
    };
    const result = await runDeploy(host, { tag: 'slow', settings: { readyTimeoutMs: 30_000 } });
    assert.equal(result.error?.code, 'notReady');
    assert.match(result.error?.message ?? '', /did not answer http:\/\/127\.0\.0\.1:8081\/actuator\/health with a success within 30 s/);
    assertUntouched(host, result);
  });

  void it('emits stepStarted/stepFinished pairs with durations, and one switched event', async () => {
    const host = new FakeHost('blue');
    await runDeploy(host);
    const started = host.events.filter((e) => e.kind === 'stepStarted').map((e) => e.step);
    const finished = host.events.filter((e) => e.kind === 'stepFinished');
    assert.deepEqual(started, ['preflight', 'pull', 'startIdle', 'waitReady', 'switch', 'verify', 'drain', 'retire', 'journal']);
    assert.deepEqual(finished.map((e) => e.step), started);
    for (const e of finished) if (e.kind === 'stepFinished') assert.ok(e.durationMs >= 0);
    const drain = finished.find((e) => e.step === 'drain');
    assert.ok(drain?.kind === 'stepFinished' && drain.durationMs === 5000, 'the drain waits drainMs');
    assert.equal(host.events.filter((e) => e.kind === 'switched').length, 1);
    assert.ok(host.events.some((e) => e.kind === 'progress' && e.step === 'pull' && /Pulling from/.test(e.message)), 'pull progress lines');
    assert.match(formatStep({ name: 'waitReady', outcome: 'ok', durationMs: 2300, detail: 'ok\nmore' }), /^✓ waitReady\s+2\.3 s {2}ok$/);
  });
});

void describe('deploy: the old color after the switch', () => {
  void it('keep: no drain, blue keeps running for an instant rollback', async () => {
    const host = new FakeHost('blue');
    const result = await runDeploy(host, { settings: { oldColor: 'keep' } });
    assert.equal(result.ok, true);
    assert.equal(host.isRunning('handdoc-spring-blue'), true);
    assert.equal(result.oldColorState, 'running');
    assert.deepEqual(stepNames(result).slice(-3), ['drain:skipped', 'retire:skipped', 'journal:ok']);
    assert.ok(lastJournal(host)?.warmUntil);
  });

  void it('auto: keeps it when memory allows, stops it after the drain when it does not', async () => {
    const roomy = new FakeHost('blue');
    roomy.memAvailableKb = 800 * 1024;
    assert.equal((await runDeploy(roomy, { settings: { oldColor: 'auto' } })).oldColorState, 'running');
    const tight = new FakeHost('blue');
    tight.memAvailableKb = 400 * 1024; // enough to start green (350 MiB), not enough to keep blue warm (256 MiB left wanted)
    tight.host.resources = (() => {
      let calls = 0;
      const original = tight.host.resources;
      return async (o: { container?: string }) => ({ ...(await original(o)), memAvailableKb: ++calls === 1 ? 400 * 1024 : 100 * 1024 });
    })();
    const result = await runDeploy(tight, { settings: { oldColor: 'auto' } });
    assert.equal(result.ok, true, result.error?.message);
    assert.equal(result.oldColorState, 'stopped');
    assert.match(result.steps.find((s) => s.name === 'retire')?.detail ?? '', /100 MiB memory is available \(less than 256 MiB\)/);
  });
});

void describe('deploy: the new color never becomes ready', () => {
  void it('broken image (health 500 forever): fails with the probe, Docker health and last logs; removes green; blue serves', async () => {
    const host = new FakeHost('blue');
    const result = await runDeploy(host, { tag: 'broken' });
    assert.equal(result.error?.code, 'notReady');
    assert.equal(result.error?.step, 'waitReady');
    assert.match(result.error?.message ?? '', /handdoc-spring-green did not answer .* within 120 s \(its start_period is 60 s\)\. Last probe: HTTP 500 \{"status":"DOWN"\}\. Docker health: /);
    assert.match(result.error?.logs ?? '', /^Log of handdoc-spring-green \(2 lines\):\nhanddoc-spring-green: Starting/);
    assertUntouched(host, result);
    assert.equal(host.containers.has('handdoc-spring-green'), false, 'the new color was removed');
    assert.equal(host.writes(), 0, 'the switch file was never written');
    assert.ok(result.notes.some((n) => /Removed the new green container/.test(n)));
    const item = lastJournal(host);
    assert.equal(item?.outcome, 'failed');
    assert.equal(item?.failedStep, 'waitReady');
    assert.equal(item?.trafficOn, 'blue');
    assert.ok(!JSON.stringify(host.journalEntries).includes('Starting HanddocApplication'), 'container logs stay out of the journal');
  });

  void it('Docker reports unhealthy: fails at once with the health check output', async () => {
    const host = new FakeHost('blue');
    host.behaviours.set('broken', { readyAfterMs: 2000, isHealthy: false });
    const result = await runDeploy(host, { tag: 'broken', settings: { readyTimeoutMs: 600_000 } });
    assert.equal(result.error?.code, 'notReady');
    assert.match(result.error?.message ?? '', /Docker reports handdoc-spring-green unhealthy after 150 s; Docker's last health check exited 1: "wget: server returned error: HTTP\/1\.0 500/);
    assertUntouched(host, result);
  });

  void it('the process exits during start-up: fails with its exit code', async () => {
    const host = new FakeHost('blue');
    host.behaviours.set('crashes', { readyAfterMs: 60_000, isHealthy: true, exitAfterMs: 3000 });
    const result = await runDeploy(host, { tag: 'crashes' });
    assert.equal(result.error?.code, 'notReady');
    assert.match(result.error?.message ?? '', /handdoc-spring-green exited with code 1 3\.\d s after it started\./);
    assertUntouched(host, result);
  });

  void it('ready, then crashes before the switch: traffic is not moved', async () => {
    const host = new FakeHost('blue');
    const onEvent = host.onEvent;
    const result = await deploy(host, profile, request({}), {
      newId,
      onEvent: (e) => {
        onEvent(e);
        if (e.kind === 'stepStarted' && e.step === 'switch') host.crash('handdoc-spring-green');
      },
    });
    assert.equal(result.error?.code, 'notReady');
    assert.equal(result.error?.step, 'switch');
    assert.match(result.error?.message ?? '', /handdoc-spring-green was ready but crashed and was restarted before the switch; traffic was not moved\./);
    assertUntouched(host, result);
    assert.equal(host.writes(), 0);
  });
});

void describe('deploy: Nginx refuses', () => {
  void it('nginx -t fails after the switch file was written: the file is restored exactly, no reload, green removed', async () => {
    const host = new FakeHost('blue');
    host.at(3000, () => (host.isNginxBroken = true)); // a broken include appears while green starts
    const result = await runDeploy(host);
    assert.equal(result.error?.code, 'switchFailed');
    assert.match(result.error?.message ?? '', /nginx -t rejects the configuration with green in \/etc\/nginx\/conf\.d\/active-upstream\.conf: nginx: \[emerg\] unknown directive "brokn".* The switch file is back as it was: traffic stays on blue\./);
    assertUntouched(host, result);
    assert.equal(host.calls.filter((c) => c === 'nginx.reload').length, 0, 'never reloaded');
    assert.equal(host.containers.has('handdoc-spring-green'), false);
  });

  void it('nginx -t already fails in the preflight: refuses before starting anything', async () => {
    const host = new FakeHost('blue');
    host.isNginxBroken = true;
    const result = await runDeploy(host);
    assert.equal(result.error?.code, 'preflight');
    assert.match(result.error?.message ?? '', /^nginx -t fails before anything was changed: nginx: \[emerg\] unknown directive "brokn"/);
    assert.ok(!host.calls.some((c) => c.startsWith('compose.up') || c.startsWith('docker.pull') || c.startsWith('files.write')));
    assert.equal(host.containers.get('handdoc-spring-green')?.image, `${registry}:v1`, 'green untouched');
    assertUntouched(host, result);
  });

  void it('reload fails (exit ≠ 0: no signal was sent): the file is restored, no second reload, traffic stays on blue for sure', async () => {
    const host = new FakeHost('blue');
    host.reloadBehaviour = 'fails';
    const result = await runDeploy(host);
    assert.equal(result.outcome, 'failed');
    assert.equal(result.error?.code, 'switchFailed');
    assert.match(
      result.error?.message ?? '',
      /^nginx -s reload failed: nginx: \[alert\] kill\(1234, 1\) failed \(3: No such process\)\. Nginx did not get the reload signal, so it still runs its old configuration\. The switch file is back as it was: traffic stays on blue\.$/,
    );
    assertUntouched(host, result);
    assert.equal(host.calls.filter((c) => c === 'nginx.reload').length, 1, 'nothing to undo in Nginx');
    assert.equal(host.containers.has('handdoc-spring-green'), false);
  });

  void it('reload "succeeds" but Nginx keeps serving blue: verify fails, traffic goes back, green removed', async () => {
    const host = new FakeHost('blue');
    host.reloadBehaviour = 'ignored';
    const result = await runDeploy(host);
    assert.equal(result.error?.code, 'verifyFailed');
    assert.match(result.error?.message ?? '', /Nginx did not serve green at http:\/\/127\.0\.0\.1:8088\/api\/whoami within 10 s after the reload \(last answer: HTTP 200 from blue\)\. The switch file is back as it was and Nginx was reloaded: traffic stays on blue\./);
    assertUntouched(host, result);
    assert.equal(host.isRunning('handdoc-spring-blue'), true, 'blue was never stopped');
  });

  void it('the switch file is read-only: the write fails, nothing switched, green removed', async () => {
    const host = new FakeHost('blue');
    host.readOnlyPaths.add(switchPath);
    const result = await runDeploy(host);
    assert.equal(result.error?.code, 'switchFailed');
    assert.match(result.error?.message ?? '', /may not write .*read-only file system/);
    assertUntouched(host, result);
  });

  void it('someone changed the switch file after the preflight: refuses to switch', async () => {
    const host = new FakeHost('blue');
    host.at(3000, () => host.fileMap.set(switchPath, `${switchFileFor(8080)}# edited by hand\n`));
    const result = await runDeploy(host);
    assert.equal(result.error?.code, 'switchFailed');
    assert.match(result.error?.message ?? '', /was changed by someone else since the preflight/);
    assert.equal(host.writes(), 0);
    assert.equal(host.servingColor(), 'blue');
  });
});

void describe('deploy: refuses bad input and hosts it does not understand, changing nothing', () => {
  for (const tag of ['v2; rm -rf /', '$(reboot)', '`id`', 'v 2', '', '-rf', '.hidden', 'a'.repeat(129), 'v2\nwhoami', 'v2&&x', "v2'"]) {
    void it(`tag ${JSON.stringify(tag.slice(0, 20))}`, async () => {
      const host = new FakeHost('blue');
      const result = await runDeploy(host, { tag });
      assert.equal(result.error?.code, 'badInput');
      assert.match(result.error?.message ?? '', /not an image tag|tag is empty/);
      assert.deepEqual(host.calls, [], 'no port was called');
    });
  }

  void it('unknown service, and a switch of a single-container service (deploy and rollback of one: singleDeploy.test.ts)', async () => {
    const host = new FakeHost('blue');
    const unknown = await runDeploy(host, { service: 'nope' });
    assert.equal(unknown.error?.code, 'badInput');
    assert.equal(unknown.error?.message, 'There is no service "nope" on fake-host (services: spring (Blue-Green), fastapi (single)).');
    const single = await runSwitch(host, { service: 'fastapi' });
    assert.equal(single.error?.code, 'badInput');
    assert.match(single.error?.message ?? '', /single-container service/);
    assert.deepEqual(host.calls, []);
  });

  void it('invalid settings', async () => {
    const host = new FakeHost('blue');
    const result = await runDeploy(host, { settings: { drainMs: -1 } });
    assert.equal(result.error?.code, 'badInput');
    assert.deepEqual(host.calls, []);
  });

  const notUnderstood: Array<[string, string, RegExp]> = [
    ['two live servers', 'upstream spring_backend {\n    server 127.0.0.1:8080;\n    server 127.0.0.1:8081;\n}\n', /sends traffic to 2 servers/],
    ['a port that is neither color', 'upstream spring_backend {\n    server 127.0.0.1:9090;\n}\n', /no address in it uses port 8080 or 8081/],
    ['not nginx syntax', 'upstream spring_backend {\n    server 127.0.0.1:8080;\n', /Cannot understand/],
    ['a host that contradicts the port', 'upstream spring_backend {\n    server handdoc-spring-green:8080;\n}\n', /the host is the green container but the port is blue's/],
  ];
  for (const [what, text, message] of notUnderstood) {
    void it(`switch file with ${what}: refuses with a precise message`, async () => {
      const host = new FakeHost('blue');
      host.fileMap.set(switchPath, text);
      const result = await runDeploy(host);
      assert.equal(result.error?.code, 'preflight');
      assert.match(result.error?.message ?? '', message);
      assert.match(result.error?.message ?? '', /changes nothing until it can tell which color is live/);
      assert.equal(host.fileMap.get(switchPath), text);
      assert.ok(!host.calls.some((c) => /^(files\.write|compose\.up|docker\.(pull|stop|remove)|nginx\.reload)/.test(c)), host.calls.join(', '));
      assert.equal(host.lockState, undefined);
    });
  }

  void it('the switch file does not exist', async () => {
    const host = new FakeHost('blue');
    host.fileMap.delete(switchPath);
    const result = await runDeploy(host);
    assert.equal(result.error?.code, 'preflight');
    assert.match(result.error?.message ?? '', /does not exist on fake-host/);
  });

  void it('a tag the registry does not have: refused before anything starts', async () => {
    const host = new FakeHost('blue');
    const result = await runDeploy(host, { tag: 'v9' });
    assert.equal(result.error?.code, 'preflight');
    assert.equal(result.error?.message, `The image ${registry}:v9 does not exist: manifest unknown: manifest unknown. Nothing was started.`);
    assertUntouched(host, result);
    assert.ok(!host.calls.some((c) => c.startsWith('compose.up')));
  });

  void it('registry down: refused when the host lacks the image; the local copy is used when it has it', async () => {
    const host = new FakeHost('blue');
    host.isRegistryDown = true;
    const refusedResult = await runDeploy(host, { tag: 'v2' });
    assert.equal(refusedResult.error?.code, 'preflight');
    assert.match(refusedResult.error?.message ?? '', /cannot be pulled: dial tcp 127\.0\.0\.1:5005: connect: connection refused/);
    assertUntouched(host, refusedResult);
    const local = await runDeploy(host, { tag: 'v1' });
    assert.equal(local.ok, true, local.error?.message);
    assert.equal(local.steps.find((s) => s.name === 'pull')?.outcome, 'skipped');
    assert.ok(local.notes.some((n) => /already has it/.test(n)));
  });

  void it('not enough memory for a second color: refused', async () => {
    const host = new FakeHost('blue');
    host.containers.get('handdoc-spring-green')!.isStopped = true;
    host.memAvailableKb = 200 * 1024;
    const result = await runDeploy(host);
    assert.equal(result.error?.code, 'preflight');
    assert.match(result.error?.message ?? '', /Only 200 MiB of 1024 MiB memory is available; starting green next to blue needs about 350 MiB \(blue uses 350 MiB\)/);
    assert.ok(!host.calls.some((c) => c.startsWith('compose.up')));
  });
});

void describe('deploy: the deploy lock', () => {
  void it('held by a live holder: refused, with who, what and since when; nothing touched, no journal entry', async () => {
    const host = new FakeHost('blue');
    host.lockState = { record: { token: 'other', holder: 'ci@runner (github-actions)', host: 'fake-host', operation: 'deploy', service: 'spring', startedAt: '2026-11-25T10:00:00.000Z', step: 'waitReady', heartbeatAt: '2026-11-25T10:00:05.000Z' }, isStale: false };
    const result = await runDeploy(host);
    assert.equal(result.error?.code, 'locked');
    assert.equal(result.error?.message, 'Another operation is running on fake-host: deploy of spring by ci@runner (github-actions), started 2026-11-25T10:00:00.000Z, at step waitReady. Wait for it to finish.');
    assert.equal(host.lockState?.record.token, 'other', 'their lock is untouched');
    assert.deepEqual(host.journalEntries, []);
    assert.ok(!host.calls.some((c) => c.startsWith('files.') || c.startsWith('compose.') || c.startsWith('docker.')));
  });

  void it('stale (holder gone): refused unless asked to break it, then broken with a note', async () => {
    const host = new FakeHost('blue');
    host.lockState = { record: { token: 'dead', holder: 'bob@desk (VS Code)', host: 'fake-host', operation: 'deploy', service: 'spring', startedAt: '2026-11-25T10:00:00.000Z', step: 'switch', heartbeatAt: '2026-11-25T10:00:05.000Z' }, isStale: true, staleReason: 'its SSH session on the host has ended' };
    const refusedResult = await runDeploy(host);
    assert.equal(refusedResult.error?.code, 'locked');
    assert.match(refusedResult.error?.message ?? '', /but that holder is gone \(its SSH session on the host has ended\)\. Look at the host, then break the stale lock/);
    const result = await runDeploy(host, { breakStaleLock: true });
    assert.equal(result.ok, true, result.error?.message);
    assert.match(result.notes[0], /^Broke a stale lock of bob@desk \(VS Code\) \(deploy of spring since 2026-11-25T10:00:00\.000Z, last step switch\)/);
  });

  void it('a second deploy while one runs is refused; the first completes', async () => {
    const host = new FakeHost('blue');
    let second: Promise<OperationResult> | undefined;
    const result = await deploy(host, profile, request({}), {
      newId,
      onEvent: (e) => {
        host.onEvent(e);
        if (e.kind === 'stepStarted' && e.step === 'waitReady' && !second) second = runDeploy(host, { tag: 'v3' });
      },
    });
    assert.equal(result.ok, true, result.error?.message);
    const other = await second;
    assert.equal(other?.error?.code, 'locked');
    assert.match(other?.error?.message ?? '', /Another operation is running on fake-host: deploy of spring by alice@laptop \(test\)/);
    assert.equal(host.containers.get('handdoc-spring-green')?.image, `${registry}:v2`);
  });

  void it('the lock is broken by someone else mid-deploy: stops before the switch and undoes', async () => {
    const host = new FakeHost('blue');
    host.at(1000, () => (host.lockState = undefined));
    const result = await runDeploy(host);
    assert.equal(result.error?.code, 'lockLost');
    assert.equal(host.servingColor(), 'blue');
    assert.equal(host.writes(), 0);
  });
});

void describe('deploy: cancellation', () => {
  void it('during waitReady: the new color is removed, traffic stays on blue', async () => {
    const host = new FakeHost('blue');
    const controller = new AbortController();
    host.behaviours.set('v2', { readyAfterMs: 20_000, isHealthy: true });
    host.at(8000, () => controller.abort());
    const result = await runDeploy(host, { signal: controller.signal });
    assert.equal(result.outcome, 'cancelled');
    assert.equal(result.error?.code, 'cancelled');
    assert.equal(result.error?.step, 'waitReady');
    assertUntouched(host, result);
    assert.equal(host.containers.has('handdoc-spring-green'), false);
    assert.equal(lastJournal(host)?.outcome, 'cancelled');
  });

  void it('during the pull: nothing was started, so nothing is removed', async () => {
    const host = new FakeHost('blue');
    const controller = new AbortController();
    host.at(500, () => controller.abort());
    const result = await runDeploy(host, { signal: controller.signal });
    assert.equal(result.outcome, 'cancelled');
    assert.equal(result.error?.step, 'pull');
    assert.equal(host.containers.get('handdoc-spring-green')?.image, `${registry}:v1`, 'the idle color as it was');
    assert.ok(!host.calls.some((c) => c.startsWith('compose.up') || c.startsWith('docker.remove')));
    assertUntouched(host, result);
  });

  void it('after the switch: stops there, says rollback is the way back, blue still runs', async () => {
    const host = new FakeHost('blue');
    const controller = new AbortController();
    const result = await deploy(host, profile, request({}), {
      newId,
      signal: controller.signal,
      onEvent: (e) => {
        host.onEvent(e);
        if (e.kind === 'switched') controller.abort();
      },
    });
    assert.equal(result.outcome, 'cancelled');
    assert.equal(host.servingColor(), 'green');
    assert.deepEqual(result.traffic, { color: 'green', isCertain: false, why: 'Nginx was reloaded but the new color was not confirmed' });
    assert.match(result.error?.message ?? '', /Traffic is already on green and handdoc-spring-blue still runs: to go back, run a rollback\./);
    assert.equal(host.isRunning('handdoc-spring-blue'), true);
    assert.equal(result.oldColorState, 'running');
    assert.equal(host.lockState, undefined);
  });

  void it('during the switch itself: the switch completes (it ignores cancellation), then the run stops', async () => {
    const host = new FakeHost('blue');
    const controller = new AbortController();
    const result = await deploy(host, profile, request({}), {
      newId,
      signal: controller.signal,
      onEvent: (e) => {
        host.onEvent(e);
        if (e.kind === 'stepStarted' && e.step === 'switch') controller.abort();
      },
    });
    assert.equal(result.outcome, 'cancelled');
    assert.equal(result.steps.find((s) => s.name === 'switch')?.outcome, 'ok');
    assert.equal(host.servingColor(), 'green');
    assert.equal(host.fileMap.get(switchPath), switchFileFor(8081));
  });
});

void describe('deploy: someone else switches while it runs (deploy.sh takes no lock)', () => {
  void it('to the color being started: a failure does not remove it, and the run says traffic went there', async () => {
    const host = new FakeHost('blue');
    host.at(3000, () => {
      host.fileMap.set(switchPath, switchFileFor(8081));
      host.servingPort = 8081;
    });
    const result = await runDeploy(host, { tag: 'broken' });
    assert.equal(result.error?.code, 'notReady');
    assert.ok(host.containers.has('handdoc-spring-green'), 'the color the switch file names was not removed');
    assert.ok(result.notes.includes(`handdoc-spring-green was not removed: ${switchPath} now sends traffic to green (changed by someone else during this run).`), result.notes.join('\n'));
    assert.deepEqual(result.traffic, { color: 'green', isCertain: false, why: 'someone else changed the switch file during this run' });
    assert.equal(host.writes(), 0);
  });

  void it('back to the old color during the drain: the old color is not stopped', async () => {
    const host = new FakeHost('blue');
    const result = await deploy(host, profile, request({}), {
      newId,
      onEvent: (e) => {
        host.onEvent(e);
        if (e.kind === 'stepStarted' && e.step === 'drain') {
          host.fileMap.set(switchPath, switchFileFor(8080));
          host.servingPort = 8080;
        }
      },
    });
    assert.equal(result.ok, true, result.error?.message);
    assert.ok(host.isRunning('handdoc-spring-blue'), 'blue, live again, still runs');
    assert.equal(result.oldColorState, 'running');
    assert.deepEqual(result.traffic, { color: 'blue', isCertain: false, why: 'someone else changed the switch file during this run' });
    assert.ok(result.notes.includes(`handdoc-spring-blue was not stopped: ${switchPath} sends traffic to blue again (changed by someone else during this run).`), result.notes.join('\n'));
    assert.equal(host.calls.filter((c) => c.startsWith('docker.stop')).length, 0);
  });
});

void describe('deploy: the SSH connection drops', () => {
  // One drop at each step: HostConnection reconnects by itself, so idempotent calls are retried once.
  const transient: Array<[StepName, string]> = [
    ['preflight', 'files.read'],
    ['preflight', 'docker.checkImage'],
    ['pull', 'docker.pull'],
    ['startIdle', 'compose.up'],
    ['waitReady', 'docker.inspect'],
    ['waitReady', 'http.get'],
    ['switch', 'docker.inspect'],
    ['verify', 'http.get'],
    ['retire', 'docker.stop'],
  ];
  for (const [step, call] of transient) {
    void it(`once during ${step} (${call}): retried, the deploy succeeds`, async () => {
      const host = new FakeHost('blue');
      host.fail(call, { when: () => host.step === step });
      const result = await runDeploy(host);
      assert.equal(result.ok, true, result.error?.message);
      assert.equal(host.servingColor(), 'green');
      assert.equal(host.faults[0].times, 0, 'the fault fired');
    });
  }

  for (const call of ['files.write', 'nginx.test', 'nginx.reload']) {
    void it(`once during the switch (${call}): the switch is undone after reconnecting; blue serves`, async () => {
      const host = new FakeHost('blue');
      host.fail(call, { when: () => host.step === 'switch' });
      const result = await runDeploy(host);
      assert.equal(result.error?.code, 'connectionLost');
      assert.match(result.error?.message ?? '', /The connection to fake-host was lost during switch: .* The switch file is back as it was/);
      assertUntouched(host, result);
    });
  }

  const persistentBeforeSwitch: StepName[] = ['preflight', 'pull', 'startIdle', 'waitReady'];
  for (const step of persistentBeforeSwitch) {
    void it(`for good during ${step}: traffic never moved, the lock stays (stale once the session is gone), the next run repairs`, async () => {
      const host = new FakeHost('blue');
      const call = { preflight: 'docker.checkImage', pull: 'docker.pull', startIdle: 'compose.up', waitReady: 'http.get' }[step as 'preflight'];
      host.fail(call, { when: () => host.step === step, isPersistent: true });
      const result = await runDeploy(host, { tag: 'v2' });
      assert.equal(result.ok, false);
      assert.equal(result.error?.code, 'connectionLost');
      assert.equal(host.fileMap.get(switchPath), switchFileFor(8080), 'switch file never written');
      assert.equal(host.servingColor(), 'blue');
      assert.deepEqual(result.traffic, { color: 'blue', isCertain: true });
      assert.ok(result.notes.some((n) => /lock could not be released/.test(n)));
      // The client is gone; the next run (after the network is back) finds a stale lock and an unfinished journal entry.
      host.reconnect();
      host.holderGone();
      const next = await runDeploy(host, { tag: 'v3', breakStaleLock: true });
      assert.equal(next.ok, true, next.error?.message);
      assert.ok(next.notes.some((n) => /Broke a stale lock/.test(n)));
      assert.ok(next.notes.some((n) => /The previous operation \(deploy of spring by alice@laptop \(test\), started .*\) never finished/.test(n)), next.notes.join('\n'));
      assert.equal(host.servingColor(), 'green');
      assert.equal(host.containers.get('handdoc-spring-green')?.image, `${registry}:v3`);
    });
  }

  void it('for good during the switch: says the host is uncertain, and the next run reads the truth from the switch file', async () => {
    const host = new FakeHost('blue');
    host.fail('nginx.test', { when: () => host.step === 'switch', isPersistent: true });
    const result = await runDeploy(host);
    assert.equal(result.outcome, 'uncertain');
    assert.equal(result.traffic.isCertain, false);
    assert.match(result.error?.message ?? '', /could not put \/etc\/nginx\/conf\.d\/active-upstream\.conf back .* Check the host \(switchyard status\)/);
    host.reconnect();
    host.holderGone();
    // The file says green (written, never tested or reloaded): the next deploy goes by the file.
    const next = await runDeploy(host, { tag: 'v3', breakStaleLock: true });
    assert.equal(next.ok, true, next.error?.message);
    assert.equal(host.servingColor(), 'blue');
    assert.equal(host.liveColorOnDisk(), 'blue');
  });

  void it('for good after the switch: traffic is on green, the run says so', async () => {
    const host = new FakeHost('blue');
    host.fail('docker.stop', { when: () => host.step === 'retire', isPersistent: true });
    const result = await runDeploy(host);
    // Stopping the old color is not worth failing a deploy that switched and verified.
    assert.equal(result.ok, true);
    assert.equal(result.oldColorState, 'running');
    assert.deepEqual(result.traffic, { color: 'green', isCertain: true });
    assert.ok(result.notes.some((n) => /could not be stopped/.test(n)));
    assert.ok(result.notes.some((n) => /journal entry could not be written/.test(n)));
  });
});

void describe('switch and rollback', () => {
  void it('switch: flips to green when it runs and answers; starts nothing, stops nothing', async () => {
    const host = new FakeHost('blue');
    const result = await runSwitch(host);
    assert.equal(result.ok, true, result.error?.message);
    assert.deepEqual(stepNames(result), ['preflight:ok', 'waitReady:ok', 'switch:ok', 'verify:ok', 'journal:ok']);
    assert.equal(host.servingColor(), 'green');
    assert.equal(host.isRunning('handdoc-spring-blue'), true);
    assert.ok(!host.calls.some((c) => /^(compose|docker\.(pull|stop|remove))/.test(c)));
    assert.equal(lastJournal(host)?.kind, 'switch');
  });

  void it('switch: refused when the other color does not run', async () => {
    const host = new FakeHost('blue');
    host.containers.get('handdoc-spring-green')!.isStopped = true;
    const result = await runSwitch(host);
    assert.equal(result.error?.code, 'preflight');
    assert.equal(result.error?.message, 'Cannot switch spring to green: handdoc-spring-green is exited. Deploy to it instead.');
    assertUntouched(host, result);
  });

  void it('switch: refused when Docker calls the other color unhealthy', async () => {
    const host = new FakeHost('blue');
    host.containers.get('handdoc-spring-green')!.behaviour = { readyAfterMs: 0, isHealthy: false };
    const result = await runSwitch(host);
    assert.equal(result.error?.code, 'preflight');
    assert.match(result.error?.message ?? '', /^Cannot switch spring to green: Docker reports handdoc-spring-green unhealthy; Docker's last health check exited 1/);
    assertUntouched(host, result);
  });

  void it('switch: refused when the other color runs but does not answer its health path', async () => {
    const host = new FakeHost('blue');
    const get = host.http.get;
    host.http.get = async (port, path, timeoutMs, signal) => (port === 8081 ? { status: 503, body: 'warming up' } : get(port, path, timeoutMs, signal));
    const result = await runSwitch(host);
    assert.equal(result.error?.code, 'notReady');
    assert.match(result.error?.message ?? '', /within 10 s\. Last probe: HTTP 503 warming up\. Docker health: healthy\./);
    assertUntouched(host, result);
    assert.equal(host.containers.has('handdoc-spring-green'), true, 'a switch never removes a container it did not create');
  });

  void it('rollback after a deploy that kept blue warm: flips back to blue instantly', async () => {
    const host = new FakeHost('blue');
    assert.equal((await runDeploy(host, { settings: { oldColor: 'keep' } })).ok, true);
    const result = await runRollback(host);
    assert.equal(result.ok, true, result.error?.message);
    assert.equal(host.servingColor(), 'blue');
    assert.deepEqual(stepNames(result), ['preflight:ok', 'waitReady:ok', 'switch:ok', 'verify:ok', 'journal:ok']);
    assert.match(result.steps[0].detail ?? '', /blue still runs 127\.0\.0\.1:5005\/handdoc-spring:v1: switching back to it/);
    assert.deepEqual(result.to, { color: 'blue', container: 'handdoc-spring-blue', image: `${registry}:v1` });
  });

  void it('rollback after a deploy that stopped blue: redeploys the previous image from the journal', async () => {
    const host = new FakeHost('blue');
    assert.equal((await runDeploy(host, { settings: { oldColor: 'stop' } })).ok, true);
    const result = await runRollback(host);
    assert.equal(result.ok, true, result.error?.message);
    assert.equal(host.servingColor(), 'blue');
    assert.equal(host.containers.get('handdoc-spring-blue')?.image, `${registry}:v1`);
    assert.match(host.overrides.at(-1)?.text ?? '', /image: "127\.0\.0\.1:5005\/handdoc-spring:v1"/);
    assert.ok(result.steps.some((s) => s.name === 'startIdle' && s.outcome === 'ok'));
    assert.equal(lastJournal(host)?.kind, 'rollback');
  });

  void it('rollback with an empty journal, or after someone switched by hand: refused', async () => {
    const empty = new FakeHost('blue');
    const nothing = await runRollback(empty);
    assert.equal(nothing.error?.code, 'preflight');
    assert.match(nothing.error?.message ?? '', /Nothing to roll back to/);
    const host = new FakeHost('blue');
    assert.equal((await runDeploy(host, { settings: { oldColor: 'keep' } })).ok, true);
    host.fileMap.set(switchPath, switchFileFor(8080));
    const moved = await runRollback(host);
    assert.equal(moved.error?.code, 'preflight');
    assert.match(moved.error?.message ?? '', /made green live, but the switch file now says blue: someone switched since/);
  });
});

void describe('excerptLog', () => {
  void it('keeps the first and the last lines and counts what it left out', () => {
    const text = `${Array.from({ length: 100 }, (_, i) => `line ${i + 1}`).join('\n')}\n`;
    assert.deepEqual(excerptLog(text, 2, 3), { text: 'line 1\nline 2\n… 95 lines left out …\nline 98\nline 99\nline 100', total: 100 });
    assert.deepEqual(excerptLog('a\nb\n', 2, 3), { text: 'a\nb', total: 2 });
    assert.deepEqual(excerptLog('', 2, 3), { text: '', total: 0 });
  });
});

void describe('summarizeHistory', () => {
  void it('merges started and finished lines; a lone started line is interrupted', () => {
    const items = summarizeHistory([
      { id: 'a', phase: 'started', at: 't1', kind: 'deploy', service: 'spring', host: 'h', who: 'w', tag: 'v2' },
      { id: 'a', phase: 'finished', at: 't2', kind: 'deploy', service: 'spring', host: 'h', who: 'w', tag: 'v2', outcome: 'succeeded', trafficOn: 'green', steps: [{ name: 'preflight', outcome: 'ok', durationMs: 5 }], totalMs: 9 },
      { id: 'b', phase: 'started', at: 't3', kind: 'switch', service: 'spring', host: 'h', who: 'x' },
    ]);
    assert.equal(items.length, 2);
    assert.deepEqual(
      { outcome: items[0].outcome, startedAt: items[0].startedAt, finishedAt: items[0].finishedAt, trafficOn: items[0].trafficOn, steps: items[0].steps.length, totalMs: items[0].totalMs },
      { outcome: 'succeeded', startedAt: 't1', finishedAt: 't2', trafficOn: 'green', steps: 1, totalMs: 9 },
    );
    assert.equal(items[1].outcome, 'interrupted');
  });
});
