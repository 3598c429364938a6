/**
 * Issue 7 against the real sandbox host: the wizard's restart-with-permission path. A single
 * container whose port is fixed inside its start command (host networking, no PORT setting or port
 * argument that a copy could change) cannot be measured on a throwaway copy: the copy would fight
 * the live container for its port. The session then asks before restarting the live container.
 * Answered "no": nothing on the host changes. Answered "yes": the live container itself is restarted
 * for each run and measured, then keeps running. The container is the FastAPI stand-in image under
 * its own name, port and compose project (created here and removed at the end), so handDoc's own
 * containers are never touched.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { HostProfile } from '../../src/core/hostProfile';
import { checkWizardState, type WizardState } from '../../src/core/protocol';
import type { WizardTarget } from '../../src/core/wizardModel';
import type { HostConnection } from '../../src/host/hostConnection';
import { measureLabel } from '../../src/host/healthMeasure';
import { WizardSession } from '../../src/ui/wizardSession';
import { connectTo, hostDocker, readSandbox, repoRoot, sandboxProfile, sh, testLogger, waitFor, type SandboxInfo } from './sandboxHost';

const container = 'switchyard-wizard-restart-only';
const project = 'switchyard-wizard-restart-only';
const port = 18123;
const modelLoadS = 3;
let info: SandboxInfo;
let profile: HostProfile;
let connection: HostConnection;
let dir: string;
let composeFile: string;
let composeText: string;
const logLines: string[] = [];
const logger = testLogger(logLines);

function inspectField(format: string): string {
  try {
    return hostDocker(info, ['inspect', '-f', format, container]).trim();
  } catch {
    return 'missing';
  }
}

async function compose(...args: string[]): Promise<void> {
  const result = await connection.exec(['env', `DOCKER_HOST=unix://${profile.dockerSocket}`, 'docker-compose', '-p', project, '-f', composeFile, ...args], { timeoutMs: 120_000 });
  assert.equal(result.exitCode, 0, result.stderr);
}

function target(): WizardTarget {
  return { kind: 'single', host: profile.name, service: 'restart-only', container, composeFile, port, healthPath: '/health' };
}

function newSession(): { session: WizardSession; problems: string[] } {
  const session = new WizardSession(target(), { connection, logger, settings: () => ({ measureRuns: 2, measureDeadlineMs: 60_000 }), liveColor: () => undefined });
  const problems: string[] = [];
  session.onDidChange((state: WizardState) => {
    const problem = checkWizardState(state);
    if (problem) problems.push(`v${state.version}: ${problem}`);
  });
  return { session, problems };
}

before(async () => {
  info = readSandbox();
  profile = sandboxProfile();
  connection = connectTo(profile, { logger });
  await connection.connect();
  assert.ok(!(await connection.exec(['ss', '-ltnH'])).stdout.includes(`:${port} `), `port ${port} is free on the sandbox host`);
  // Outside ~/apps: Add Host's layout detection reads that directory, and this file is not handDoc's.
  dir = path.join(`/home/${info.user}`, 'switchyard-wizard-test');
  fs.mkdirSync(dir, { recursive: true });
  const owner = fs.statSync(info.appsDir);
  fs.chownSync(dir, owner.uid, owner.gid);
  composeFile = path.join(dir, 'docker-compose.restart-only.yml');
  // The same file the e2e test uses (test/sandbox/restartOnlyCompose.mjs), printed by its script.
  composeText = sh(process.execPath, [path.join(repoRoot, 'test', 'sandbox', 'restartOnlyCompose.mjs'), info.registry, container, String(port), String(modelLoadS)]);
  fs.writeFileSync(composeFile, composeText);
  fs.chownSync(composeFile, owner.uid, owner.gid);
  await compose('up', '-d', '--force-recreate');
  await waitFor(`${container} answers /health`, async () => {
    try {
      return (await connection.httpGet(port, '/health', { timeoutMs: 2000 })).status === 200;
    } catch {
      return false;
    }
  }, 60_000);
});

after(async () => {
  try {
    await compose('down', '--remove-orphans').catch(() => hostDocker(info, ['rm', '-f', container]));
    fs.rmSync(dir, { recursive: true, force: true });
  } finally {
    connection.dispose();
  }
});

test('no copy is possible: the session says why, asks before restarting the live container, and "no" changes nothing', { timeout: 60_000 }, async () => {
  const { session, problems } = newSession();
  try {
    await session.handle({ type: 'ready' });
    const before = inspectField('{{.Id}} {{.State.StartedAt}} {{.RestartCount}}');
    assert.equal(session.state.error, undefined);
    assert.match(session.state.measure.method ?? '', new RegExp(`${container} uses host networking and neither an environment variable \\(like PORT=${port}\\) nor a command argument carries its port ${port}.*The only way left is to restart ${container} itself for each run\\.`));
    assert.equal(session.state.measure.consentQuestion, undefined, 'nothing is asked before the user starts measuring');

    await session.handle({ type: 'measure', runs: 2 });
    assert.match(session.state.measure.consentQuestion ?? '', new RegExp(`^Restart ${container} for each run\\? It serves traffic: users get errors until it answers again`));
    assert.equal(session.state.measure.status, 'idle', 'not measuring before the answer');

    await session.handle({ type: 'declineRestart' });
    const s = session.state;
    assert.equal(s.measure.consentQuestion, undefined, 'the question is answered');
    assert.equal(s.measure.status, 'idle');
    assert.deepEqual(s.measure.runs, []);
    assert.equal(s.recommendation, undefined);
    assert.equal(s.apply.status, 'idle');
    assert.equal(inspectField('{{.Id}} {{.State.StartedAt}} {{.RestartCount}}'), before, 'the container was not restarted');
    assert.equal(inspectField('{{.State.Status}}'), 'running');
    assert.equal(fs.readFileSync(composeFile, 'utf8'), composeText, 'the compose file is untouched');
    assert.equal(hostDocker(info, ['ps', '-aq', '--filter', `label=${measureLabel}=${container}`]).trim(), '', 'no copy was started');
    assert.ok(logLines.some((l) => l.includes('not measured (restarting the live container was declined)')));
    assert.deepEqual(problems, []);
  } finally {
    session.dispose();
  }
});

test('"yes": the live container itself is restarted for each run and measured, then keeps running; a recommendation follows', { timeout: 150_000 }, async () => {
  const { session, problems } = newSession();
  try {
    await session.handle({ type: 'ready' });
    await session.handle({ type: 'measure', runs: 2 });
    assert.ok(session.state.measure.consentQuestion);
    const [id, startedBefore] = inspectField('{{.Id}} {{.State.StartedAt}}').split(' ');
    const restarts: string[] = [];
    const watcher = setInterval(() => {
      const startedAt = inspectField('{{.State.StartedAt}}');
      if (startedAt !== startedBefore && !restarts.includes(startedAt)) restarts.push(startedAt);
    }, 200);
    try {
      await session.handle({ type: 'measure', runs: 2, allowRestart: true });
    } finally {
      clearInterval(watcher);
    }
    const s = session.state;
    assert.equal(s.measure.status, 'done', s.measure.error);
    assert.equal(s.measure.consentQuestion, undefined);
    assert.equal(s.measure.runs.length, 2);
    for (const run of s.measure.runs) {
      assert.equal(run.status, 'done', run.message);
      // Its model load is MODEL_LOAD_S: /health cannot answer sooner after a restart.
      assert.ok((run.startupMs ?? 0) >= modelLoadS * 1000, `run ${run.run}: startup ${run.startupMs} ms`);
      assert.ok(run.memoryKb !== undefined && run.memoryKb > 0);
    }
    console.log(`    restart runs: ${s.measure.runs.map((r) => `${r.startupMs} ms`).join(', ')}`);
    const [idAfter, startedAfter] = inspectField('{{.Id}} {{.State.StartedAt}}').split(' ');
    assert.equal(idAfter, id, 'the same container (restarted, not recreated)');
    assert.notEqual(startedAfter, startedBefore, 'it was restarted');
    assert.ok(restarts.length >= 2, `restarted once per run (${restarts.length} start times seen: ${restarts.join(', ')})`);
    assert.equal(inspectField('{{.State.Status}}'), 'running', 'and keeps running');
    assert.equal(hostDocker(info, ['ps', '-aq', '--filter', `label=${measureLabel}=${container}`]).trim(), '', 'no copy was ever started');
    assert.ok(s.recommendation, s.recommendationProblem);
    assert.ok(s.edit && s.edit.values.start_period === s.recommendation.start_period.value);
    assert.equal(fs.readFileSync(composeFile, 'utf8'), composeText, 'measuring writes nothing');
    assert.deepEqual(problems, []);
  } finally {
    session.dispose();
  }
});
