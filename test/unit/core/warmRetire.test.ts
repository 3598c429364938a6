import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deploy, summarizeHistory } from '../../../src/core/deployEngine';
import type { HistoryItem } from '../../../src/core/deployTypes';
import { retireExpiredWarmColors, warmColors } from '../../../src/core/warmRetire';
import { FakeHost, profile, switchFileFor, switchPath } from './fakeDeployHost';

let counter = 0;
const newId = (): string => `warm${++counter}`;
const minute = 60_000;

/** blue live → deploy v2 to green, keeping blue warm for 10 minutes. */
async function keptWarm(): Promise<FakeHost> {
  const host = new FakeHost('blue');
  const result = await deploy(host, profile, { service: 'spring', tag: 'v2', who: 'alice (test)', settings: { oldColor: 'keep', keepWarmMinutes: 10 } }, { newId, onEvent: host.onEvent });
  assert.equal(result.ok, true, result.error?.message);
  assert.equal(host.isRunning('handdoc-spring-blue'), true);
  return host;
}

void describe('keep-warm: the old color is stopped once its time is up', () => {
  void it('before warmUntil: nothing is stopped, the color is reported as waiting', async () => {
    const host = await keptWarm();
    host.nowMs += 9 * minute;
    const result = await retireExpiredWarmColors(host, profile, { who: 'bob (VS Code)', newId });
    assert.deepEqual(result.stopped, []);
    assert.deepEqual(result.waiting.map((w) => `${w.service}:${w.color}`), ['spring:blue']);
    assert.equal(host.isRunning('handdoc-spring-blue'), true);
    assert.equal(host.lockState, undefined, 'the lock was not even taken');
  });

  void it('after warmUntil: the warm color is stopped under the lock, the live one keeps running; a second pass does nothing', async () => {
    const host = await keptWarm();
    host.nowMs += 11 * minute;
    const result = await retireExpiredWarmColors(host, profile, { who: 'bob (VS Code)', newId });
    assert.deepEqual(result.stopped.map((w) => w.container), ['handdoc-spring-blue']);
    assert.equal(host.isRunning('handdoc-spring-blue'), false);
    assert.equal(host.isRunning('handdoc-spring-green'), true);
    assert.equal(host.servingColor(), 'green');
    assert.equal(host.lockState, undefined, 'lock released');
    assert.ok(host.calls.some((c) => c.startsWith('lock.acquire')), 'it took the lock');
    assert.deepEqual(await retireExpiredWarmColors(host, profile, { who: 'bob (VS Code)', newId }), { stopped: [], left: [], waiting: [] });
  });

  void it('never stops a color that is live again (switched back by hand after the deploy)', async () => {
    const host = await keptWarm();
    host.fileMap.set(switchPath, switchFileFor(8080));
    host.nowMs += 11 * minute;
    const result = await retireExpiredWarmColors(host, profile, { who: 'bob (VS Code)', newId });
    assert.deepEqual(result.stopped, []);
    assert.match(result.left[0]?.reason ?? '', /blue is live again/);
    assert.equal(host.isRunning('handdoc-spring-blue'), true);
  });

  void it('leaves it for later while someone holds the deploy lock', async () => {
    const host = await keptWarm();
    host.nowMs += 11 * minute;
    const at = new Date(host.nowMs).toISOString();
    assert.deepEqual(await host.lock.acquire({ token: 'ci', holder: 'ci@runner', host: 'fake-host', operation: 'deploy', service: 'spring', startedAt: at, heartbeatAt: at }), { acquired: true });
    const result = await retireExpiredWarmColors(host, profile, { who: 'bob (VS Code)', newId });
    assert.deepEqual(result.stopped, []);
    assert.match(result.left[0]?.reason ?? '', /held by ci@runner; trying again later/);
    assert.equal(host.isRunning('handdoc-spring-blue'), true);
  });
});

void describe('warmColors (from the journal)', () => {
  const item = (over: Partial<HistoryItem>): HistoryItem => ({
    id: 'a',
    kind: 'deploy',
    service: 'spring',
    host: 'h',
    who: 'w',
    startedAt: '2026-01-01T00:00:00.000Z',
    outcome: 'succeeded',
    steps: [],
    from: { color: 'blue', container: 'handdoc-spring-blue' },
    to: { color: 'green', container: 'handdoc-spring-green' },
    warmUntil: '2026-01-01T00:30:00.000Z',
    ...over,
  });

  void it('takes the last successful operation of each service; a failed one after it does not count, a later success supersedes', () => {
    assert.deepEqual(warmColors([item({}), item({ id: 'b', outcome: 'failed', warmUntil: undefined })], profile).map((w) => w.operationId), ['a']);
    assert.deepEqual(warmColors([item({}), item({ id: 'c', kind: 'switch', warmUntil: undefined })], profile), []);
    assert.deepEqual(warmColors([item({}), item({ id: 'd', outcome: 'interrupted' })], profile), [], 'an interrupted operation leaves it to a human');
    assert.deepEqual(warmColors([item({ service: 'fastapi' })], profile), [], 'single services have no colors');
  });

  void it('reads real journal lines', () => {
    const history = summarizeHistory([
      { id: 'x', phase: 'started', at: '2026-01-01T00:00:00.000Z', kind: 'deploy', service: 'spring', host: 'h', who: 'w' },
      { id: 'x', phase: 'finished', at: '2026-01-01T00:01:00.000Z', kind: 'deploy', service: 'spring', host: 'h', who: 'w', outcome: 'succeeded', from: { color: 'green', container: 'handdoc-spring-green' }, to: { color: 'blue', container: 'handdoc-spring-blue' }, warmUntil: '2026-01-01T00:31:00.000Z' },
    ]);
    assert.deepEqual(warmColors(history, profile), [{ service: 'spring', color: 'green', container: 'handdoc-spring-green', warmUntil: '2026-01-01T00:31:00.000Z', operationId: 'x' }]);
  });
});
