import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deploy, rollback, summarizeHistory, switchColor, type RunOptions } from '../../../src/core/deployEngine';
import type { DeployRequest, OperationResult } from '../../../src/core/deployTypes';
import { FakeHost, fastapi, fastapiRegistry, profile, switchFileFor, switchPath } from './fakeDeployHost';

let counter = 0;
const newId = (): string => `single${++counter}`;

function run(host: FakeHost, kind: 'deploy' | 'rollback', extra: { tag?: string; signal?: AbortSignal } = {}): Promise<OperationResult> {
  const request: DeployRequest = { service: 'fastapi', tag: extra.tag ?? 'v2', who: 'alice@laptop (test)' };
  const options: RunOptions = { onEvent: host.onEvent, newId, ...(extra.signal ? { signal: extra.signal } : {}) };
  return kind === 'deploy' ? deploy(host, profile, request, options) : rollback(host, profile, request, options);
}

const stepNames = (result: OperationResult): string[] => result.steps.map((s) => `${s.name}:${s.outcome}`);

/** Nothing but the lock and the journal was touched: the old container still runs, the same one, and no stop/compose call was made. */
function assertUntouched(host: FakeHost, oldId: string): void {
  const fake = host.containers.get(fastapi.container);
  assert.equal(fake?.id, oldId, 'the same container');
  assert.ok(host.isRunning(fastapi.container), 'still running');
  assert.equal(host.calls.filter((c) => c.startsWith('docker.stop') || c.startsWith('compose.up')).length, 0, 'no stop, no compose up');
  assert.equal(host.lockState, undefined, 'lock released');
  assert.equal(host.fileMap.get(switchPath), switchFileFor(8080), 'the Blue-Green switch file is not touched');
}

void describe('single-container deploy (handdoc-fastapi)', () => {
  void it('pulls while the old one serves, then stops it, recreates with the override, waits, and reports the measured downtime', async () => {
    const host = new FakeHost('blue');
    const oldId = host.containers.get(fastapi.container)?.id;
    const result = await run(host, 'deploy');
    assert.equal(result.ok, true, result.error?.message);
    assert.deepEqual(stepNames(result), ['preflight:ok', 'pull:ok', 'recreate:ok', 'waitReady:ok', 'journal:ok']);
    const fake = host.containers.get(fastapi.container);
    assert.notEqual(fake?.id, oldId, 'a new container');
    assert.equal(fake?.image, `${fastapiRegistry}:v2`);
    // The pull happened before the stop; the stop before compose up.
    const pullAt = host.calls.indexOf(`docker.pull ${fastapiRegistry}:v2`);
    const stopAt = host.calls.indexOf(`docker.stop ${fastapi.container}`);
    const upAt = host.calls.indexOf('compose.up fastapi');
    assert.ok(pullAt >= 0 && stopAt > pullAt && upAt > stopAt, host.calls.join('\n'));
    // Only the image goes into the override; the user's compose file is untouched.
    assert.equal(host.overrides.length, 1);
    assert.deepEqual(host.overrides[0].target, { project: 'handdoc-fastapi', composeFile: fastapi.composeFile, service: 'fastapi' });
    assert.match(host.overrides[0].text, /^services:\n {2}"fastapi":\n {4}image: "127\.0\.0\.1:5005\/handdoc-fastapi:v2"$/m);
    assert.equal(host.writes(fastapi.composeFile), 0);
    // Model loading takes 9 s in the fake: the downtime is that, measured with the fake clock, to within one probe interval.
    assert.ok(result.downtimeMs !== undefined && result.downtimeMs >= 9000 && result.downtimeMs <= 9000 + 250 + 50, `downtime ${result.downtimeMs}`);
    const started = host.events.find((e) => e.kind === 'downtimeStarted');
    const backUp = host.events.find((e) => e.kind === 'backUp');
    assert.ok(started && backUp && backUp.kind === 'backUp' && started.kind === 'downtimeStarted');
    assert.equal(backUp.downtimeMs, result.downtimeMs);
    assert.equal(backUp.atMs - started.atMs, result.downtimeMs);
    const pullFinished = host.events.findIndex((e) => e.kind === 'stepFinished' && e.step === 'pull');
    assert.ok(pullFinished >= 0 && pullFinished < host.events.indexOf(started), 'downtime starts after the pull finished');
    assert.deepEqual(result.inPlace, { container: fastapi.container, from: `${fastapiRegistry}:v1`, to: `${fastapiRegistry}:v2`, isRecreated: true });
    const item = summarizeHistory(host.journalEntries).at(-1);
    assert.equal(item?.outcome, 'succeeded');
    assert.equal(item?.downtimeMs, result.downtimeMs);
    assert.deepEqual(item?.inPlace, result.inPlace);
    assert.equal(item?.tag, 'v2');
    assert.equal(host.lockState, undefined);
  });

  void it('an unknown tag is refused in the preflight: nothing pulled, stopped or recreated', async () => {
    const host = new FakeHost('blue');
    const oldId = host.containers.get(fastapi.container)?.id as string;
    const result = await run(host, 'deploy', { tag: 'nope' });
    assert.equal(result.ok, false);
    assert.equal(result.error?.code, 'preflight');
    assert.match(result.error?.message ?? '', /handdoc-fastapi:nope does not exist.*\. handdoc-fastapi was not touched\.$/);
    assert.doesNotMatch(result.error?.message ?? '', /Nothing was changed/, 'said once');
    assert.deepEqual(stepNames(result), ['preflight:failed', 'journal:ok']);
    assert.equal(host.calls.filter((c) => c.startsWith('docker.pull')).length, 0);
    assert.equal(result.downtimeMs, undefined);
    assertUntouched(host, oldId);
  });

  void it('a cancel during the pull changes nothing', async () => {
    const host = new FakeHost('blue');
    const oldId = host.containers.get(fastapi.container)?.id as string;
    const controller = new AbortController();
    const cancelled = await deploy(host, profile, { service: 'fastapi', tag: 'v2', who: 't' }, {
      newId,
      signal: controller.signal,
      onEvent: (event) => {
        host.onEvent(event);
        if (event.kind === 'progress' && event.step === 'pull') controller.abort();
      },
    });
    assert.equal(cancelled.outcome, 'cancelled');
    assert.deepEqual(stepNames(cancelled), ['preflight:ok', 'pull:cancelled', 'journal:ok']);
    assert.match(cancelled.error?.message ?? '', /handdoc-fastapi was not touched/);
    assertUntouched(host, oldId);
  });

  void it('another operation holds the lock: refused, nothing touched', async () => {
    const host = new FakeHost('blue');
    const oldId = host.containers.get(fastapi.container)?.id as string;
    host.lockState = { record: { token: 't0', holder: 'bob@ci', host: 'fake-host', operation: 'deploy', service: 'spring', startedAt: new Date(host.nowMs).toISOString(), heartbeatAt: new Date(host.nowMs).toISOString() }, isStale: false };
    const result = await run(host, 'deploy');
    assert.equal(result.error?.code, 'locked');
    assert.equal(host.containers.get(fastapi.container)?.id, oldId);
    assert.equal(host.calls.filter((c) => c.startsWith('docker.stop') || c.startsWith('compose.up')).length, 0);
  });

  void it('a missing compose file is refused before anything changes', async () => {
    const host = new FakeHost('blue');
    const oldId = host.containers.get(fastapi.container)?.id as string;
    host.fileMap.delete(fastapi.composeFile);
    const result = await run(host, 'deploy');
    assert.equal(result.error?.code, 'preflight');
    assert.match(result.error?.message ?? '', /docker-compose\.fastapi\.yml, does not exist/);
    assertUntouched(host, oldId);
  });

  void it('a new image that never answers: failure after the recreate says the service is down and how to go back; rollback redeploys the previous image', async () => {
    const host = new FakeHost('blue');
    const result = await run(host, 'deploy', { tag: 'broken' });
    assert.equal(result.ok, false);
    assert.equal(result.error?.code, 'notReady');
    assert.equal(result.error?.step, 'waitReady');
    assert.match(result.error?.message ?? '', /was replaced with 127\.0\.0\.1:5005\/handdoc-fastapi:broken, which did not become ready.*previous image was 127\.0\.0\.1:5005\/handdoc-fastapi:v1.*switchyard rollback --service fastapi/s);
    assert.match(result.error?.logs ?? '', /Log of handdoc-fastapi/);
    assert.equal(result.downtimeMs, undefined, 'never back up: no downtime figure');
    assert.deepEqual(summarizeHistory(host.journalEntries).at(-1)?.inPlace, { container: fastapi.container, from: `${fastapiRegistry}:v1`, to: `${fastapiRegistry}:broken`, isRecreated: true });

    const back = await run(host, 'rollback');
    assert.equal(back.ok, true, back.error?.message);
    assert.equal(back.kind, 'rollback');
    assert.equal(host.containers.get(fastapi.container)?.image, `${fastapiRegistry}:v1`);
    assert.ok(host.isRunning(fastapi.container));
    assert.ok((back.downtimeMs ?? 0) > 0);
    assert.deepEqual(back.inPlace, { container: fastapi.container, from: `${fastapiRegistry}:broken`, to: `${fastapiRegistry}:v1`, isRecreated: true });
  });

  void it('rollback with no in-place replacement in the journal is refused', async () => {
    const host = new FakeHost('blue');
    const oldId = host.containers.get(fastapi.container)?.id as string;
    const result = await run(host, 'rollback');
    assert.equal(result.error?.code, 'preflight');
    assert.match(result.error?.message ?? '', /Nothing to roll back to/);
    assertUntouched(host, oldId);
  });

  void it('rollback refuses when someone replaced the container since', async () => {
    const host = new FakeHost('blue');
    assert.equal((await run(host, 'deploy')).ok, true);
    host.addFastapi(`${fastapiRegistry}:latest`);
    const result = await run(host, 'rollback');
    assert.equal(result.error?.code, 'preflight');
    assert.match(result.error?.message ?? '', /now runs 127\.0\.0\.1:5005\/handdoc-fastapi:latest: someone changed it since/);
  });

  void it('a cancel while waiting after the recreate: cancelled, the new container is left to start, the message says so', async () => {
    const host = new FakeHost('blue');
    const controller = new AbortController();
    const result = await deploy(host, profile, { service: 'fastapi', tag: 'v2', who: 't' }, {
      newId,
      signal: controller.signal,
      onEvent: (event) => {
        host.onEvent(event);
        if (event.kind === 'progress' && event.step === 'waitReady') controller.abort();
      },
    });
    assert.equal(result.outcome, 'cancelled');
    assert.deepEqual(stepNames(result), ['preflight:ok', 'pull:ok', 'recreate:ok', 'waitReady:cancelled', 'journal:ok']);
    assert.match(result.error?.message ?? '', /already replaced with 127\.0\.0\.1:5005\/handdoc-fastapi:v2; it keeps starting/);
    assert.equal(host.containers.get(fastapi.container)?.image, `${fastapiRegistry}:v2`);
    assert.ok(host.isRunning(fastapi.container));
  });

  void it('a connection drop during the stop is retried once; the deploy goes on', async () => {
    const host = new FakeHost('blue');
    host.fail('docker.stop');
    const result = await run(host, 'deploy');
    assert.equal(result.ok, true, result.error?.message);
    assert.equal(host.calls.filter((c) => c === `docker.stop ${fastapi.container}`).length, 2);
  });

  void it('switch stays a clear refusal for a single service', async () => {
    const host = new FakeHost('blue');
    const result = await switchColor(host, profile, { service: 'fastapi', who: 't' }, { newId });
    assert.equal(result.error?.code, 'badInput');
    assert.match(result.error?.message ?? '', /single-container service: it has no second color/);
    assert.deepEqual(host.calls, []);
  });
});
