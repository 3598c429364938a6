/**
 * Keep-warm and the journal on the real sandbox host: a deploy that keeps the old color warm for a
 * few seconds, then the old color is stopped by `retireExpiredWarmColors` and by HostWatcher's timer
 * (what a connected editor runs), under wrk load through Nginx (0 failed requests); the journal
 * rotates at its size limit and is still read whole across the two generations.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { deploy } from '../../src/core/deployEngine';
import type { JournalEntry } from '../../src/core/deployTypes';
import { retireExpiredWarmColors } from '../../src/core/warmRetire';
import { HostDeployPorts } from '../../src/host/deployPorts';
import { HostWatcher } from '../../src/host/hostWatcher';
import { assertNoFailedRequests, DeployFixture, other } from './deployFixture';
import { testLogger, waitFor } from './sandboxHost';

const fx = new DeployFixture();
const who = 'warmRetire.test (integration)';
/** 0.1 minutes: the old color is kept warm for 6 s. */
const keepBriefly = { oldColor: 'keep' as const, keepWarmMinutes: 0.1 };

before(() => fx.setUp());
after(() => fx.tearDown());

test('a color kept warm is stopped once its time is up, never before, and never the live one; 0 failed requests', async () => {
  const live = fx.liveOnDisk();
  const idle = other(live);
  const run = await fx.underLoad((options) => deploy(fx.ports, fx.profile, { service: 'spring', tag: 'latest', who, settings: keepBriefly }, options));
  assert.equal(run.result.ok, true, run.result.error?.message);
  assertNoFailedRequests(run);
  assert.equal(run.result.oldColorState, 'running');
  const oldContainer = fx.spring.colors[live].container;

  const early = await retireExpiredWarmColors(fx.ports, fx.profile, { who });
  assert.deepEqual(early.stopped, [], 'not before its time');
  assert.deepEqual(early.waiting.map((w) => w.container), [oldContainer]);
  assert.equal(fx.inspectField(oldContainer, '{{.State.Status}}'), 'running');

  await new Promise((r) => setTimeout(r, 6500));
  const { value: due, load } = await fx.withLoad(() => retireExpiredWarmColors(fx.ports, fx.profile, { who }));
  assertNoFailedRequests({ load });
  assert.deepEqual(due.stopped.map((w) => w.container), [oldContainer]);
  assert.equal(fx.inspectField(oldContainer, '{{.State.Status}}'), 'exited');
  assert.equal(fx.inspectField(fx.spring.colors[idle].container, '{{.State.Status}}'), 'running');
  await fx.assertServes(idle);
  assert.equal(await fx.ports.lock.read(), undefined, 'lock released');
  await fx.ensureBothRunning();
});

test('a connected editor (HostWatcher with retireWarm) stops it by itself; switched off, it does not', async () => {
  const live = fx.liveOnDisk();
  const run = await fx.underLoad((options) => deploy(fx.ports, fx.profile, { service: 'spring', tag: 'latest', who, settings: keepBriefly }, options));
  assert.equal(run.result.ok, true, run.result.error?.message);
  const oldContainer = fx.spring.colors[live].container;
  let isEnabled = false;
  const lines: string[] = [];
  const watcher = new HostWatcher(fx.newConnection(), testLogger(lines), { retireWarm: { who: 'bob@desk (VS Code)', isEnabled: () => isEnabled, intervalMs: 300 } });
  try {
    await watcher.start();
    await new Promise((r) => setTimeout(r, 7000));
    assert.equal(fx.inspectField(oldContainer, '{{.State.Status}}'), 'running', 'the setting is off: nothing stopped');
    isEnabled = true; // settings apply live
    await waitFor(`${oldContainer} stopped by the watcher`, () => fx.inspectField(oldContainer, '{{.State.Status}}') === 'exited', 15_000);
    // Docker reports it exited a moment before the stop call returns to the watcher, which then logs it.
    await waitFor('the watcher logs what it stopped', () => lines.some((l) => l.includes(`stopped ${oldContainer}`)), 5000);
    await fx.assertServes(other(live));
  } finally {
    watcher.dispose();
    await fx.ensureBothRunning();
  }
});

test('the journal rotates at its size limit and is read across both generations, oldest first', async () => {
  const stateDir = `.switchyard-rotation-test-${process.pid}`;
  const ports = new HostDeployPorts(fx.connection, { stateDir, journalMaxBytes: 1000 });
  const entry = (i: number): JournalEntry => ({ id: `op${i}`, phase: 'started', at: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(), kind: 'deploy', service: 'spring', host: fx.profile.name, who: `${who} ${'x'.repeat(100)}` });
  try {
    for (let i = 0; i < 20; i++) await ports.journal.append(entry(i));
    const sizes = await fx.connection.exec(['sh', '-c', 'wc -c < "$1/journal.jsonl"; wc -c < "$1/journal.1.jsonl"; wc -l < "$1/journal.jsonl"', 'sh', `/home/${fx.info.user}/${stateDir}`]);
    const [current, rotated, currentLines] = sizes.stdout.trim().split('\n').map(Number);
    assert.ok(rotated >= 1000 && rotated < 1300, `the older generation stopped at the limit (${rotated} bytes)`);
    assert.ok(current < 1300, `the current one is bounded (${current} bytes)`);
    const read = await ports.journal.read(100);
    const ids = read.map((e) => e.id);
    assert.equal(ids.at(-1), 'op19');
    assert.deepEqual(ids, ids.map((_, k) => `op${20 - ids.length + k}`), 'a contiguous suffix, oldest first, across the rotation');
    assert.ok(ids.length > currentLines, `both generations are read (${ids.length} entries, ${currentLines} in the current file)`);
    assert.deepEqual((await ports.journal.read(3)).map((e) => e.id), ['op17', 'op18', 'op19']);
  } finally {
    await fx.connection.exec(['rm', '-rf', '--', `/home/${fx.info.user}/${stateDir}`]);
  }
});
