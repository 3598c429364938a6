/**
 * Issue 7 against the real sandbox host, the Blue-Green half: a real WizardSession for handDoc's
 * Spring service, driven by the messages the webview sends (ready, measure, preview, apply, rollOut).
 * It measures a throwaway copy of the live color, takes the recommended timings, writes them into
 * BOTH colors' compose files, then rolls out through the deploy engine on HostDeployPorts (the wiring
 * of wizardPanel.ts): the live tag goes to the idle color, Nginx switches to it under a wrk load
 * (0 failed requests), and Docker reports that color healthy with the new timings.
 * Afterwards both compose files are put back byte for byte and both colors are redeployed from them
 * (:latest, healthy, the original timings), as the other tests expect.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { after, before, test } from 'node:test';
import { deploy } from '../../src/core/deployEngine';
import type { DeploySettings } from '../../src/core/deployTypes';
import { parseDuration } from '../../src/core/durations';
import type { BlueGreenService, Color, HostProfile } from '../../src/core/hostProfile';
import { checkWizardState, type WizardState } from '../../src/core/protocol';
import { wizardTargetFor } from '../../src/core/wizardModel';
import { HostDeployPorts } from '../../src/host/deployPorts';
import type { HostConnection } from '../../src/host/hostConnection';
import { HostWatcher } from '../../src/host/hostWatcher';
import { measureLabel } from '../../src/host/healthMeasure';
import { WizardSession, type WizardSessionDeps } from '../../src/ui/wizardSession';
import { describeLoad, startLoad, type LoadStats } from './loadGenerator';
import { connectTo, hostDocker, readSandbox, sandboxProfile, testLogger, waitFor, type SandboxInfo } from './sandboxHost';

let info: SandboxInfo;
let profile: HostProfile;
let spring: BlueGreenService;
let connection: HostConnection;
let ports: HostDeployPorts;
const originals = new Map<Color, string>();
let isRestored = false;
const logLines: string[] = [];
const logger = testLogger(logLines);
const who = 'healthWizardBlueGreen.test (integration)';
/** The sandbox's own timings in both spring files (what the restore must bring back). */
const originalTimingsNs = { Interval: 10e9, Timeout: 5e9, StartPeriod: 20e9, Retries: 3 };

function other(color: Color): Color {
  return color === 'blue' ? 'green' : 'blue';
}

/** The color the switch file on disk names (what the tree's snapshot reads). */
function liveOnDisk(): Color {
  const text = fs.readFileSync(spring.switchFile, 'utf8').replace(/#.*$/gm, '');
  return /server\s+127\.0\.0\.1:8081/.test(text) ? 'green' : 'blue';
}

function whoami(): Promise<{ color: string; version: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${info.nginx.httpUrl}/api/whoami`, { agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as { color: string; version: string }) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
      })
      .on('error', reject);
  });
}

function inspectField(container: string, format: string): string {
  try {
    return hostDocker(info, ['inspect', '-f', format, container]).trim();
  } catch {
    return 'missing';
  }
}

function healthcheckOf(container: string): { Interval: number; Timeout: number; StartPeriod: number; Retries: number; Test: string[] } {
  return JSON.parse(inspectField(container, '{{json .Config.Healthcheck}}')) as { Interval: number; Timeout: number; StartPeriod: number; Retries: number; Test: string[] };
}

function ns(text: string): number {
  const parsed = parseDuration(text);
  assert.ok(parsed.ok, `a duration: ${text}`);
  return parsed.valueMs * 1e6;
}

/** Other helpers deploy spring too: wait until no one holds the host's deploy lock. */
async function lockIsFree(): Promise<void> {
  await waitFor('the deploy lock on the host is free', async () => (await ports.lock.read()) === undefined, 240_000);
}

function deploySettings(): Partial<DeploySettings> {
  // Keep the old color warm: the restore needs both colors running, and the test must not depend on free memory ("auto").
  return { oldColor: 'keep' };
}

/**
 * What wizardPanel.ts gives the session: the watcher's connection, the live color from the tree's
 * snapshot (a real HostWatcher), the deploy engine on HostDeployPorts, and the watcher's refresh.
 */
function sessionDeps(watcher: HostWatcher): WizardSessionDeps {
  const { connection: conn } = watcher;
  return {
    connection: conn,
    logger,
    settings: () => ({ measureRuns: 1, measureDeadlineMs: 60_000 }),
    liveColor: () => watcher.snapshot?.nginx.switchFiles.find((f) => f.service === 'spring')?.activeColor,
    deployBlueGreen: ({ service, tag, signal, onEvent }) => deploy(new HostDeployPorts(conn), conn.profile, { service, tag, who, settings: deploySettings() }, { signal, onEvent }),
    refreshHost: () => watcher.refresh(),
  };
}

/** Every state the session emits must be one the panel would post (it refuses states that break the protocol). */
function watchStates(session: WizardSession): string[] {
  const problems: string[] = [];
  session.onDidChange((state: WizardState) => {
    const problem = checkWizardState(state);
    if (problem) problems.push(`v${state.version}: ${problem}`);
  });
  return problems;
}

/** Both compose files as they were, and both colors recreated from them on :latest, healthy. */
async function restore(): Promise<void> {
  for (const color of ['blue', 'green'] as const) {
    const file = spring.colors[color].composeFile;
    const original = originals.get(color);
    if (original !== undefined && fs.readFileSync(file, 'utf8') !== original) await connection.writeFileAtomic(file, original, { backup: false });
    fs.rmSync(`${file}.switchyard-bak`, { force: true });
  }
  // Each deploy recreates the idle color from its (original) file: two make both colors run it. More when
  // another client deployed or stopped a color in between (the sandbox is shared).
  const isRestoredColor = (color: Color): boolean => {
    const { container } = spring.colors[color];
    const hc = inspectField(container, '{{.Config.Healthcheck.Interval}} {{.Config.Healthcheck.Timeout}} {{.Config.Healthcheck.StartPeriod}} {{.Config.Healthcheck.Retries}}');
    return inspectField(container, '{{.State.Status}} {{.Config.Image}}') === `running ${info.registry}/handdoc-spring:latest` && hc === `${originalTimingsNs.Interval} ${originalTimingsNs.Timeout} ${originalTimingsNs.StartPeriod} ${originalTimingsNs.Retries}`;
  };
  for (let i = 0; i < 2 || (i < 5 && !(['blue', 'green'] as const).every(isRestoredColor)); i++) {
    await lockIsFree();
    const result = await deploy(ports, profile, { service: 'spring', tag: 'latest', who, settings: deploySettings() });
    assert.ok(result.ok || result.error?.code === 'locked', result.error?.message);
  }
  await waitFor(
    'both colors healthy in Docker',
    () => (['blue', 'green'] as const).every((c) => inspectField(spring.colors[c].container, '{{.State.Health.Status}}') === 'healthy'),
    90_000,
  );
  isRestored = true;
}

before(async () => {
  info = readSandbox();
  profile = sandboxProfile();
  spring = profile.services.find((s): s is BlueGreenService => s.kind === 'blueGreen') as BlueGreenService;
  assert.ok(spring, 'the sandbox profile has the Blue-Green service "spring"');
  connection = connectTo(profile, { logger });
  await connection.connect();
  ports = new HostDeployPorts(connection);
  for (const color of ['blue', 'green'] as const) {
    const text = fs.readFileSync(spring.colors[color].composeFile, 'utf8');
    assert.match(text, /interval: 10s\n\s+timeout: 5s\n\s+retries: 3\n\s+start_period: 20s/, `${color}'s compose file has the sandbox's timings (left over from an earlier run?)`);
    originals.set(color, text);
  }
  await lockIsFree();
  await waitFor(
    'both colors running and healthy before the test',
    () => (['blue', 'green'] as const).every((c) => inspectField(spring.colors[c].container, '{{.State.Health.Status}}') === 'healthy'),
    120_000,
  );
});

after(async () => {
  try {
    if (!isRestored && originals.size === 2) await restore();
  } finally {
    connection.dispose();
  }
});

test('Blue-Green: measure a copy of the live color, write the recommended timings to both files, roll out to the idle color under load (0 failed), Docker reports it healthy with them', { timeout: 420_000 }, async () => {
  const watcher = new HostWatcher(connectTo(profile, { logger }), logger);
  await watcher.start();
  assert.equal(watcher.snapshot?.nginx.switchFiles.find((f) => f.service === 'spring')?.activeColor, liveOnDisk(), 'the tree knows the live color');
  const session = new WizardSession(wizardTargetFor(profile, { service: 'spring' }) as NonNullable<ReturnType<typeof wizardTargetFor>>, sessionDeps(watcher));
  const problems = watchStates(session);
  try {
    // Step 1: both colors' files, both containers, the live one marked.
    await session.handle({ type: 'ready' });
    let s = session.state;
    assert.equal(s.error, undefined);
    assert.ok(s.current);
    const live = liveOnDisk();
    const idle = other(live);
    assert.deepEqual(
      s.current.files.map((f) => [f.color, f.serviceKey, f.healthcheck?.interval, f.healthcheck?.timeout, f.healthcheck?.retries, f.healthcheck?.startPeriod]),
      [
        ['blue', 'spring-blue', '10s', '5s', 3, '20s'],
        ['green', 'spring-green', '10s', '5s', 3, '20s'],
      ],
    );
    assert.deepEqual(
      s.current.containers.map((c) => [c.color, c.isLive]),
      [
        ['blue', live === 'blue'],
        ['green', live === 'green'],
      ],
    );
    assert.equal(s.current.port, spring.colors[live].port, 'the live color is the one measured and probed');
    assert.match(s.measure.method ?? '', new RegExp(`A throwaway copy of ${spring.colors[live].container}`));

    // Step 2: one run on a copy (the settings say 1); neither color is restarted.
    const idsBefore = (['blue', 'green'] as const).map((c) => inspectField(spring.colors[c].container, '{{.Id}} {{.State.StartedAt}}'));
    await session.handle({ type: 'measure', runs: 1 });
    s = session.state;
    assert.equal(s.measure.status, 'done', s.measure.error ?? s.measure.runs[0]?.message);
    const [run] = s.measure.runs;
    assert.equal(run.status, 'done', run.message);
    assert.ok((run.startupMs ?? 0) >= 2_000, `the Spring stand-in opens its port after 2 s (startup ${run.startupMs} ms)`);
    assert.deepEqual((['blue', 'green'] as const).map((c) => inspectField(spring.colors[c].container, '{{.Id}} {{.State.StartedAt}}')), idsBefore, 'neither color was touched');
    assert.equal(hostDocker(info, ['ps', '-aq', '--filter', `label=${measureLabel}=${spring.colors[live].container}`]).trim(), '', 'the copy was removed');

    // Step 3: the recommendation fills the form.
    const r = s.recommendation;
    assert.ok(r, s.recommendationProblem);
    const values = s.edit?.values;
    assert.deepEqual(values, { interval: r.interval.value, timeout: r.timeout.value, retries: r.retries.value, start_period: r.start_period.value });
    assert.deepEqual(s.edit?.issues.filter((i) => i.severity === 'error'), []);
    assert.notDeepEqual([values.interval, values.timeout, values.retries, values.start_period], ['10s', '5s', '3', '20s'], 'the recommendation differs from what the files say (else nothing would change)');

    console.log(`    measured ${run.startupMs} ms; recommended interval ${values.interval}, timeout ${values.timeout}, retries ${values.retries}, start_period ${values.start_period}`);

    // Step 4: both files previewed and written, all or none, each with its backup.
    await session.handle({ type: 'preview', values });
    s = session.state;
    assert.equal(s.apply.status, 'previewed', s.apply.message);
    assert.deepEqual(s.apply.diffs.map((d) => d.path), [spring.colors.blue.composeFile, spring.colors.green.composeFile]);
    await session.handle({ type: 'apply' });
    s = session.state;
    assert.equal(s.apply.status, 'written', s.apply.message);
    for (const color of ['blue', 'green'] as const) {
      const file = spring.colors[color].composeFile;
      assert.equal(fs.readFileSync(`${file}.switchyard-bak`, 'utf8'), originals.get(color), `${color}: the backup is the original`);
      const now = fs.readFileSync(file, 'utf8');
      assert.match(now, new RegExp(`interval: ${values.interval}\\n\\s+timeout: ${values.timeout}\\n\\s+retries: ${values.retries}\\n\\s+start_period: ${values.start_period}\\s`), `${color}: ${now}`);
      // Only the four timing lines changed: the comment on start_period and everything else stay.
      const strip = (text: string) => text.replace(/^ {6}(interval|timeout|retries|start_period): [^#\n]*/gm, '');
      assert.equal(strip(now), strip(originals.get(color) as string));
    }
    assert.equal(s.rollout.kind, 'blueGreen');
    assert.equal(s.rollout.status, 'idle');

    // Roll out under load: the live tag to the idle color, switch, then Docker's verdict.
    const liveImage = inspectField(spring.colors[live].container, '{{.Config.Image}}');
    const liveTag = liveImage.slice(liveImage.lastIndexOf(':') + 1);
    const load = await startLoad(`${info.nginx.httpUrl}/api/whoami`);
    let stats: LoadStats;
    try {
      await session.handle({ type: 'rollOut' });
      await new Promise((resolve) => setTimeout(resolve, 1000));
    } finally {
      stats = await load.stop();
    }
    console.log(`    roll-out ${live}→${idle}: ${describeLoad(stats)}`);
    s = session.state;
    assert.equal(s.rollout.status, 'done', `${s.rollout.message}\n${s.rollout.lines.join('\n')}`);
    assert.ok(stats.requests > 200, `the load really ran (${describeLoad(stats)})`);
    assert.equal(stats.failed, 0, `0 failed requests: ${describeLoad(stats)}`);
    console.log(`    ${s.rollout.message}`);

    // Traffic moved, and the new color runs the live tag with the new timings, healthy.
    assert.equal(liveOnDisk(), idle, 'the switch file names the idle color');
    for (let i = 0; i < 5; i++) assert.equal((await whoami()).color, idle, 'Nginx serves it');
    const container = spring.colors[idle].container;
    assert.equal(inspectField(container, '{{.Config.Image}}'), `${info.registry}/handdoc-spring:${liveTag}`, 'the live tag was deployed');
    const hc = healthcheckOf(container);
    assert.deepEqual(
      { Interval: hc.Interval, Timeout: hc.Timeout, StartPeriod: hc.StartPeriod, Retries: hc.Retries },
      { Interval: ns(values.interval), Timeout: ns(values.timeout), StartPeriod: ns(values.start_period), Retries: Number(values.retries) },
    );
    assert.deepEqual(hc.Test, ['CMD-SHELL', `wget -q -O- http://127.0.0.1:${spring.colors[idle].port}/actuator/health || exit 1`], 'the test is kept');
    assert.equal(inspectField(container, '{{.State.Health.Status}}'), 'healthy');
    assert.ok(s.rollout.healthyAfterMs !== undefined);
    assert.match(s.rollout.message ?? '', new RegExp(`Docker reports ${container} healthy`));
    assert.match(s.rollout.nextStep ?? '', new RegExp(`Traffic is on ${idle} with the new timings\\. ${live} keeps the old ones`));
    assert.doesNotMatch(s.rollout.nextStep ?? '', /another build/, 'the live tag still names the live build: only the timings changed');
    // The old color still runs, with the old timings (it gets the new ones at its next deploy).
    assert.equal(inspectField(spring.colors[live].container, '{{.State.Status}}'), 'running');
    assert.deepEqual(
      (({ Interval, Timeout, StartPeriod, Retries }) => ({ Interval, Timeout, StartPeriod, Retries }))(healthcheckOf(spring.colors[live].container)),
      originalTimingsNs,
    );
    // The session read the host again: the new color is live, and the old one is flagged as running other timings than its file.
    assert.deepEqual(
      session.state.current?.containers.map((c) => [c.color, c.isLive]),
      [
        ['blue', idle === 'blue'],
        ['green', idle === 'green'],
      ],
    );
    assert.ok(session.state.current?.notes.some((n) => n.startsWith(`${spring.colors[live].container} runs other timings than`)), session.state.current?.notes.join('\n'));
    assert.equal(watcher.snapshot?.nginx.switchFiles.find((f) => f.service === 'spring')?.activeColor, idle, 'the tree was told');
    assert.deepEqual(problems, [], 'every state the session emitted passes the protocol check');
  } finally {
    session.dispose();
    watcher.dispose();
  }
});

test('restore: both compose files back byte for byte, both colors redeployed from them on :latest, running the original timings, healthy', { timeout: 300_000 }, async () => {
  await restore();
  for (const color of ['blue', 'green'] as const) {
    const { container, composeFile } = spring.colors[color];
    assert.equal(fs.readFileSync(composeFile, 'utf8'), originals.get(color), `${color}'s compose file is byte for byte the original`);
    assert.equal(fs.existsSync(`${composeFile}.switchyard-bak`), false);
    assert.equal(inspectField(container, '{{.Config.Image}}'), `${info.registry}/handdoc-spring:latest`);
    assert.equal(inspectField(container, '{{.State.Status}}'), 'running');
    const hc = healthcheckOf(container);
    assert.deepEqual({ Interval: hc.Interval, Timeout: hc.Timeout, StartPeriod: hc.StartPeriod, Retries: hc.Retries }, originalTimingsNs);
  }
});
