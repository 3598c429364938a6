/**
 * Issue 7 against the real sandbox host: the healthcheck wizard's host side on handDoc's slow-start
 * FastAPI server (its /health blocks for a 7-15 s "model load"). Measures it on a throwaway copy
 * without touching the live container, recommends timings, writes them into the compose file
 * (diff, atomic write with backup, refusal when the file changed on the host), recreates the service
 * with Compose and waits until Docker reports it healthy with the new timings. The compose file and
 * the container are put back as they were at the end.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, test } from 'node:test';
import { readCompose } from '../../src/core/composeFile';
import { parseDuration } from '../../src/core/durations';
import { checkTimings, recommendTimings, timingTexts, type HealthMeasurements, type Recommendation } from '../../src/core/healthAdvisor';
import type { BlueGreenService, HostProfile, SingleService } from '../../src/core/hostProfile';
import { editComposeFile, healthPathOf, patchOf, serviceKeyFor } from '../../src/core/wizardModel';
import { composeTargetOf, composeUp, detectCompose, imageHealthcheck, inspectContainer, readTextFile, runningTimings, waitForHealthy, writeComposeFiles } from '../../src/host/healthApply';
import type { HostConnection } from '../../src/host/hostConnection';
import { HostError } from '../../src/host/hostErrors';
import { measureLabel, measureStartup, planMeasurement, steadyDockerProbeMs, type RunProgress } from '../../src/host/healthMeasure';
import { connectTo, hostDocker, readSandbox, sandboxProfile, testLogger, waitFor, type SandboxInfo } from './sandboxHost';

let info: SandboxInfo;
let profile: HostProfile;
let fastapi: SingleService;
let connection: HostConnection;
let originalText: string;
let measured: RunProgress[] | undefined;
let recommendation: Recommendation | undefined;
const logLines: string[] = [];
const logger = testLogger(logLines);

function leftoverCopies(): string[] {
  return hostDocker(info, ['ps', '-a', '--filter', `label=${measureLabel}`, '--format', '{{.Names}}']).split('\n').filter(Boolean);
}

function liveFastapi(): { id: string; startedAt: string; health: string } {
  const [id, startedAt, health] = hostDocker(info, ['inspect', '-f', '{{.Id}} {{.State.StartedAt}} {{.State.Health.Status}}', 'handdoc-fastapi']).trim().split(' ');
  return { id, startedAt, health };
}

before(async () => {
  info = readSandbox();
  profile = sandboxProfile();
  fastapi = profile.services.find((s): s is SingleService => s.kind === 'single' && s.name === 'fastapi') as SingleService;
  assert.ok(fastapi, 'the sandbox profile has the single service "fastapi"');
  originalText = fs.readFileSync(fastapi.composeFile, 'utf8');
  connection = connectTo(profile, { logger });
  await connection.connect();
  await waitFor('handdoc-fastapi healthy before the test', () => liveFastapi().health === 'healthy', 120_000);
});

after(async () => {
  // Put the sandbox back: the original compose file, and a container created from it.
  try {
    if (fs.readFileSync(fastapi.composeFile, 'utf8') !== originalText) {
      await connection.writeFileAtomic(fastapi.composeFile, originalText, { backup: false });
      const target = composeTargetOf((await inspectContainer(connection, fastapi.container))?.Config.Labels, fastapi.composeFile, 'fastapi', 'handdoc-fastapi');
      await composeUp(connection, await detectCompose(connection), target);
      const original = { intervalMs: 30_000, timeoutMs: 15_000, retries: 3, startPeriodMs: 60_000 };
      const back = await waitForHealthy(connection, fastapi.container, original, { deadlineMs: 150_000 });
      assert.ok(back.ok, back.ok ? '' : back.reason);
    }
    fs.rmSync(`${fastapi.composeFile}.switchyard-bak`, { force: true });
  } finally {
    connection.dispose();
  }
});

test('reads the current healthcheck: the compose file, the image (no HEALTHCHECK) and the live health log', async () => {
  const read = await readTextFile(connection, fastapi.composeFile);
  assert.ok('text' in read, 'error' in read ? read.error : '');
  assert.equal(read.text, originalText);
  const compose = readCompose(read.text, 'docker-compose.fastapi.yml');
  assert.ok(compose.ok);
  const live = await inspectContainer(connection, fastapi.container);
  assert.ok(live);
  const key = serviceKeyFor(compose.compose, fastapi.container, live.Config.Labels['com.docker.compose.service']);
  assert.equal(key, 'fastapi');
  const hc = compose.compose.services[0].healthcheck;
  assert.deepEqual(hc?.written, { interval: '30s', timeout: '15s', start_period: '60s' });
  assert.deepEqual(hc?.test, { form: 'CMD', argv: ['wget', '-q', '-O-', 'http://127.0.0.1:8000/health'] });
  const image = await imageHealthcheck(connection, live.Config.Image);
  assert.deepEqual(image, {}, 'the sandbox image has no HEALTHCHECK of its own');
  assert.deepEqual(runningTimings(live), { intervalMs: 30_000, timeoutMs: 15_000, startPeriodMs: 60_000, retries: 3 });
  const log = live.State.Health?.Log ?? [];
  assert.ok(log.length > 0, 'Docker keeps the last probes');
  assert.ok(log.every((entry) => typeof entry.ExitCode === 'number' && entry.Output !== undefined));
});

test('measures the slow-start image on a throwaway copy on a free port, without touching the live container', { timeout: 240_000 }, async () => {
  const liveBefore = liveFastapi();
  const plan = await planMeasurement(connection, { source: fastapi.container, port: fastapi.port, healthPath: fastapi.healthPath });
  assert.equal(plan.kind, 'copy', plan.kind === 'impossible' ? plan.reason : plan.explanation);
  if (plan.kind !== 'copy') return;
  assert.notEqual(plan.port, fastapi.port);
  assert.equal(plan.portSetting, `PORT=${plan.port}`, 'the image takes its port from PORT');
  const updates: RunProgress[][] = [];
  const runs = await measureStartup(connection, plan, fastapi.port, { runs: 3, deadlineMs: 60_000, logger, onProgress: (r) => updates.push(r) });
  for (const run of runs) {
    assert.equal(run.status, 'done', run.message);
    // The image's model load is 7-15 s: /health cannot answer sooner.
    assert.ok((run.startupMs ?? 0) >= 7_000, `run ${run.run}: startup ${run.startupMs} ms`);
    assert.equal(run.probeMs.length, 5);
    assert.ok(run.memoryKb !== undefined && run.memoryKb > 0, 'memory at rest measured');
  }
  assert.ok(updates.some((u) => u[0].status === 'probing' && u[1].status === 'waiting'), 'progress came in run by run');
  assert.ok(updates.some((u) => u[0].status === 'done' && u[1].status !== 'done'), 'the first run was reported before the second ended');
  assert.deepEqual(leftoverCopies(), [], 'every copy was removed');
  assert.ok(!(await connection.exec(['ss', '-ltnH'])).stdout.includes(`:${plan.port} `), 'nothing listens on the copy’s port any more');
  const liveAfter = liveFastapi();
  assert.equal(liveAfter.id, liveBefore.id, 'the live container is the same');
  assert.equal(liveAfter.startedAt, liveBefore.startedAt, 'and was not restarted');
  assert.equal(liveAfter.health, 'healthy');
  measured = runs;
});

test('a health path that never answers is reported at the deadline (no hang) and the copy is removed', { timeout: 60_000 }, async () => {
  const plan = await planMeasurement(connection, { source: fastapi.container, port: fastapi.port, healthPath: '/no-such-health' });
  assert.equal(plan.kind, 'copy');
  if (plan.kind !== 'copy') return;
  const [run] = await measureStartup(connection, plan, fastapi.port, { runs: 1, deadlineMs: 4_000, logger });
  assert.equal(run.status, 'timedOut');
  assert.match(run.message ?? '', /no answer from \/no-such-health within 4 s \(last: HTTP 404\)/);
  assert.equal(run.startupMs, undefined);
  assert.deepEqual(leftoverCopies(), []);
  const advice = recommendTimings({ runs: [{ probeMs: [], failure: run.message as string }], deadlineMs: 4_000 });
  assert.equal(advice.ok, false, 'no recommendation without an answer');
});

test('cancelling a measurement stops at once and still removes the copy', { timeout: 60_000 }, async () => {
  const plan = await planMeasurement(connection, { source: fastapi.container, port: fastapi.port, healthPath: fastapi.healthPath });
  assert.equal(plan.kind, 'copy');
  if (plan.kind !== 'copy') return;
  const controller = new AbortController();
  const measuring = measureStartup(connection, plan, fastapi.port, {
    runs: 2,
    deadlineMs: 60_000,
    logger,
    signal: controller.signal,
    onProgress: (runs) => {
      if (runs[0].status === 'probing') controller.abort();
    },
  });
  await assert.rejects(measuring, (error: unknown) => error instanceof HostError && error.code === 'cancelled');
  await waitFor('the copy is gone', () => leftoverCopies().length === 0, 15_000);
});

test('recommends timings, writes them (diff, backup; refused when the file changed on the host), recreates the service and Docker reports it healthy with them', { timeout: 300_000 }, async () => {
  assert.ok(measured, 'the measurement test ran first');
  const live = await inspectContainer(connection, fastapi.container);
  assert.ok(live);
  const slowest = Math.max(...measured.map((r) => r.startupMs ?? 0));
  const measurements: HealthMeasurements = {
    runs: measured.map((r) => ({ ...(r.startupMs !== undefined ? { startupMs: r.startupMs } : {}), probeMs: r.probeMs, ...(r.memoryKb !== undefined ? { memoryKb: r.memoryKb } : {}) })),
    dockerProbeMs: steadyDockerProbeMs(
      (live.State.Health?.Log ?? []).map((e) => ({ start: e.Start, end: e.End, exitCode: e.ExitCode })),
      live.State.StartedAt,
      slowest,
    ),
    deadlineMs: 60_000,
  };
  const advice = recommendTimings(measurements);
  assert.ok(advice.ok, advice.ok ? '' : advice.reason);
  recommendation = advice.recommendation;
  const { timings } = recommendation;
  assert.ok(timings.startPeriodMs >= slowest * 1.5, 'start_period ≥ slowest startup × 1.5');
  assert.ok(timings.timeoutMs >= recommendation.slowestProbeMs * 3, 'timeout ≥ slowest probe × 3');
  assert.ok(timings.intervalMs >= timings.timeoutMs);
  assert.ok(timings.intervalMs < 30_000, 'a shorter interval than the guessed 30s: the deploy is not held back');
  assert.equal(recommendation.outlook.unhealthyDuringStartupAtMs, undefined, 'never unhealthy while loading');
  const values = timingTexts(timings);
  assert.deepEqual(checkTimings(values, { slowestStartupMs: slowest, slowestProbeMs: recommendation.slowestProbeMs }).issues.filter((i) => i.severity === 'error'), []);

  // The edit: only the four healthcheck lines change, comments and everything else stay byte for byte.
  const edit = editComposeFile(fastapi.composeFile, originalText, 'fastapi', patchOf({ ...values }, false));
  assert.ok(edit.ok, edit.ok ? '' : edit.error);
  const removed = edit.diff.split('\n').filter((l) => l.startsWith('-') && !l.startsWith('---'));
  const added = edit.diff.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++'));
  assert.ok(removed.length <= 4 && removed.every((l) => /^- {6}(interval|timeout|retries|start_period): /.test(l)), edit.diff);
  assert.ok(added.every((l) => /^\+ {6}(interval|timeout|retries|start_period): /.test(l)), edit.diff);
  assert.equal(
    edit.newText.replace(/^ {6}(interval|timeout|retries|start_period): .*$/gm, ''),
    originalText.replace(/^ {6}(interval|timeout|retries|start_period): .*$/gm, ''),
  );

  // Someone edits the file on the host meanwhile: nothing is written, and the change is shown.
  const theirs = originalText.replace('restart: unless-stopped', 'restart: always');
  await connection.writeFileAtomic(fastapi.composeFile, theirs, { backup: false });
  const refused = await writeComposeFiles(connection, [{ path: fastapi.composeFile, readText: originalText, newText: edit.newText }], logger);
  assert.equal(refused.ok, false);
  assert.equal(refused.ok ? '' : refused.changed.nowText, theirs);
  assert.equal(fs.readFileSync(fastapi.composeFile, 'utf8'), theirs, 'their edit is kept');
  await connection.writeFileAtomic(fastapi.composeFile, originalText, { backup: false });

  const written = await writeComposeFiles(connection, [{ path: fastapi.composeFile, readText: originalText, newText: edit.newText }], logger);
  assert.ok(written.ok);
  assert.deepEqual(written.backups, [{ path: fastapi.composeFile, backupPath: `${fastapi.composeFile}.switchyard-bak` }]);
  assert.equal(fs.readFileSync(fastapi.composeFile, 'utf8'), edit.newText);
  assert.equal(fs.readFileSync(`${fastapi.composeFile}.switchyard-bak`, 'utf8'), originalText, 'the backup is the original');

  // Roll out: Compose (v1 here) recreates the single service from the new file.
  const flavor = await detectCompose(connection);
  assert.equal(flavor.version, 'v1');
  const target = composeTargetOf(live.Config.Labels, fastapi.composeFile, 'fastapi', 'handdoc-fastapi');
  // After a Switchyard deploy of fastapi the container also names Switchyard's image override; Compose must get both again.
  const [userFile, ...overrides] = target.files;
  assert.deepEqual({ ...target, files: [userFile] }, { files: [fastapi.composeFile], project: 'handdoc-fastapi', service: 'fastapi' });
  assert.ok(overrides.every((f) => f.includes('/.switchyard/compose/')), `only Switchyard's override besides the user's file: ${overrides.join(', ')}`);
  await composeUp(connection, flavor, target);
  const healthLines: string[] = [];
  const healthy = await waitForHealthy(connection, fastapi.container, timings, { deadlineMs: 120_000, onUpdate: (line) => healthLines.push(line) });
  assert.ok(healthy.ok, healthy.ok ? '' : `${healthy.reason} (${healthLines.join(' → ')})`);
  assert.notEqual(healthy.containerId, live.Id, 'a new container');
  const after = hostDocker(info, ['inspect', '-f', '{{json .Config.Healthcheck}}', fastapi.container]);
  const hc = JSON.parse(after) as { Interval: number; Timeout: number; StartPeriod: number; Retries: number };
  const ns = (text: string) => {
    const parsed = parseDuration(text);
    assert.ok(parsed.ok);
    return parsed.valueMs * 1e6;
  };
  assert.deepEqual(hc, { ...hc, Interval: ns(values.interval), Timeout: ns(values.timeout), StartPeriod: ns(values.start_period), Retries: timings.retries });
  assert.equal(liveFastapi().health, 'healthy');
  // With the guessed 30 s interval Docker said healthy at 30 s at the earliest; now within one short interval after the load.
  assert.ok(healthy.healthyAfterMs < 30_000, `healthy after ${healthy.healthyAfterMs} ms`);
});

test('a Blue-Green service: both colors’ compose files are read, and a color is measured on a copy without touching either', { timeout: 90_000 }, async () => {
  const spring = profile.services.find((s): s is BlueGreenService => s.kind === 'blueGreen') as BlueGreenService;
  const started = (name: string) => hostDocker(info, ['inspect', '-f', '{{.State.StartedAt}}', name]).trim();
  const before = { blue: started(spring.colors.blue.container), green: started(spring.colors.green.container) };
  for (const color of ['blue', 'green'] as const) {
    const read = await readTextFile(connection, spring.colors[color].composeFile);
    assert.ok('text' in read);
    const compose = readCompose(read.text);
    assert.ok(compose.ok);
    const key = serviceKeyFor(compose.compose, spring.colors[color].container, undefined);
    assert.equal(key, `spring-${color}`);
    const hc = compose.compose.services.find((s) => s.name === key)?.healthcheck;
    assert.equal(hc?.test?.form, 'CMD-SHELL');
    assert.equal(healthPathOf(hc?.test, '/'), '/actuator/health');
  }
  const plan = await planMeasurement(connection, {
    source: spring.colors.blue.container,
    port: spring.colors.blue.port,
    healthPath: spring.healthPath,
    idle: { container: spring.colors.green.container, port: spring.colors.green.port },
  });
  assert.equal(plan.kind, 'copy', 'a copy is preferred to restarting the idle color');
  if (plan.kind !== 'copy') return;
  assert.equal(plan.portSetting, `PORT=${plan.port}`);
  const [run] = await measureStartup(connection, plan, spring.colors.blue.port, { runs: 1, deadlineMs: 60_000, logger, steadyProbes: 2 });
  assert.equal(run.status, 'done', run.message);
  // The sandbox Spring image opens its port after STARTUP_DELAY_S (2 s).
  assert.ok((run.startupMs ?? 0) >= 2_000, `startup ${run.startupMs} ms`);
  assert.deepEqual(leftoverCopies(), []);
  assert.deepEqual({ blue: started(spring.colors.blue.container), green: started(spring.colors.green.container) }, before, 'neither color was restarted');
});
