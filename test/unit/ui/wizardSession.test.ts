/**
 * WizardSession over a fake host: the Blue-Green roll-out's bookkeeping (which color is live after the
 * switch) and the consent question's "no". The real host runs these in test/integration/healthWizard*.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type Dockerode from 'dockerode';
import type { DeployEvent, OperationResult } from '../../../src/core/deployTypes';
import type { Color } from '../../../src/core/hostProfile';
import { wizardTargetFor, type WizardTarget } from '../../../src/core/wizardModel';
import type { ExecResult, HostConnection } from '../../../src/host/hostConnection';
import { WizardSession } from '../../../src/ui/wizardSession';
import { readFixture } from '../core/fixtureFiles';
import { handDoc, handDocSpring } from '../core/handdocProfile';

interface FakeContainer {
  id: string;
  startedAt: string;
  timingsS: { interval: number; timeout: number; startPeriod: number; retries: number };
  health: 'starting' | 'healthy';
  imageId?: string;
  image?: string;
  env?: string[];
  networkMode?: string;
}

/** One host: files, containers, and which color Nginx serves (what the switch file says). */
class FakeHost {
  readonly files = new Map<string, string>();
  readonly containers = new Map<string, FakeContainer>();
  live: Color = 'blue';
  commands: string[][] = [];

  inspect(name: string): Dockerode.ContainerInspectInfo {
    const c = this.containers.get(name);
    if (!c) throw Object.assign(new Error('no such container'), { statusCode: 404 });
    const s = 1e9;
    const log = c.health === 'healthy' ? [{ Start: new Date(Date.parse(c.startedAt) + 2000).toISOString(), End: new Date(Date.parse(c.startedAt) + 2100).toISOString(), ExitCode: 0, Output: 'UP' }] : [];
    return {
      Id: c.id,
      Name: `/${name}`,
      Image: c.imageId ?? 'sha256:5b1e0c2a9d7f00000000',
      RestartCount: 0,
      State: { Running: true, Status: 'running', StartedAt: c.startedAt, ExitCode: 0, Health: { Status: c.health, FailingStreak: 0, Log: log } },
      Config: {
        Image: c.image ?? 'handdoc/spring:v7',
        Env: c.env ?? [],
        Cmd: ['java', '-jar', 'app.jar'],
        Labels: {},
        Healthcheck: { Test: ['CMD', 'wget', '-qO-', 'http://127.0.0.1/actuator/health'], Interval: c.timingsS.interval * s, Timeout: c.timingsS.timeout * s, StartPeriod: c.timingsS.startPeriod * s, Retries: c.timingsS.retries },
      },
      HostConfig: { NetworkMode: c.networkMode ?? 'bridge', Binds: [], PortBindings: {} },
    } as unknown as Dockerode.ContainerInspectInfo;
  }

  connection(): HostConnection {
    const docker = {
      getContainer: (name: string) => ({
        inspect: async () => this.inspect(name),
        stats: async () => {
          throw new Error('no stats in the fake');
        },
      }),
      getImage: () => ({ inspect: async () => ({ Config: {} }) }),
      version: async () => ({ Version: '26.1.0' }),
    } as unknown as Dockerode;
    return {
      profile: handDoc,
      connect: async () => undefined,
      docker: () => docker,
      readFile: async (path: string) => {
        const text = this.files.get(path);
        if (text === undefined) throw new Error(`no such file ${path}`);
        return Buffer.from(text);
      },
      writeFileAtomic: async (path: string, data: string | Buffer) => {
        this.files.set(path, data.toString());
        return { backupPath: `${path}.switchyard-bak`, method: 'atomic' };
      },
      exec: async (argv: string[]): Promise<ExecResult> => {
        this.commands.push(argv);
        if (argv[0] === 'ss') return { exitCode: 0, stdout: '', stderr: '' };
        return { exitCode: 1, stdout: '', stderr: 'not in the fake' };
      },
    } as unknown as HostConnection;
  }
}

const logger = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const settings = () => ({ measureRuns: 1, measureDeadlineMs: 60_000 });
const newTimings = { interval: '2s', timeout: '1s', retries: '3', start_period: '6s' };

function springHost(): FakeHost {
  const host = new FakeHost();
  for (const color of ['blue', 'green'] as const) {
    const { composeFile, container } = handDocSpring.colors[color];
    host.files.set(composeFile, readFixture('handdoc', 'apps', composeFile.slice(composeFile.lastIndexOf('/') + 1)));
    host.containers.set(container, { id: `${color}-1`, startedAt: '2026-11-25T13:00:00.000Z', timingsS: { interval: 10, timeout: 5, startPeriod: 40, retries: 5 }, health: 'healthy' });
  }
  return host;
}

/** The deploy engine as far as the session sees it: the idle color is recreated from its (new) file, then Nginx switches. */
function fakeDeploy(host: FakeHost, requests: Array<{ service: string; tag: string }>, pulledImageId?: string) {
  return async (request: { service: string; tag: string; onEvent: (event: DeployEvent) => void }): Promise<OperationResult> => {
    requests.push({ service: request.service, tag: request.tag });
    const from = host.live;
    const to: Color = from === 'blue' ? 'green' : 'blue';
    const container = handDocSpring.colors[to].container;
    host.containers.set(container, {
      id: `${to}-2`,
      startedAt: new Date(Date.now() - 3000).toISOString(),
      timingsS: { interval: 2, timeout: 1, startPeriod: 6, retries: 3 },
      health: 'healthy',
      ...(pulledImageId ? { imageId: pulledImageId } : {}),
    });
    host.live = to;
    request.onEvent({ kind: 'switched', from, to, atMs: 0 } as DeployEvent);
    return {
      id: 'op-1',
      kind: 'deploy',
      service: request.service,
      host: handDoc.name,
      ok: true,
      outcome: 'succeeded',
      from: { color: from, container: handDocSpring.colors[from].container, image: 'handdoc/spring:v7' },
      to: { color: to, container, image: 'handdoc/spring:v7' },
      traffic: { color: to, isCertain: true },
      steps: [{ name: 'switch', outcome: 'ok', durationMs: 900, detail: `switched to ${to}` }],
      totalMs: 5000,
      notes: [],
    };
  };
}

async function writtenSession(session: WizardSession): Promise<void> {
  await session.handle({ type: 'ready' });
  assert.equal(session.state.error, undefined);
  await session.handle({ type: 'preview', values: newTimings });
  assert.equal(session.state.apply.status, 'previewed', session.state.apply.message);
  await session.handle({ type: 'apply' });
  assert.equal(session.state.apply.status, 'written', session.state.apply.message);
}

void describe('WizardSession: the Blue-Green roll-out', () => {
  void it('re-reads the host after the switch, so the color now serving traffic is the live one (in the tree and in the wizard)', async () => {
    const host = springHost();
    // The tree's snapshot: only a full refresh reads the switch file again (a switch is no Docker event).
    let treeLive: Color = host.live;
    let refreshes = 0;
    const requests: Array<{ service: string; tag: string }> = [];
    const target = wizardTargetFor(handDoc, { service: 'spring' }) as WizardTarget;
    const session = new WizardSession(target, {
      connection: host.connection(),
      logger,
      settings,
      liveColor: () => treeLive,
      deployBlueGreen: fakeDeploy(host, requests),
      refreshHost: async () => {
        refreshes++;
        treeLive = host.live;
      },
    });
    await writtenSession(session);
    assert.deepEqual(
      session.state.current?.containers.map((c) => [c.color, c.isLive]),
      [
        ['blue', true],
        ['green', false],
      ],
    );
    for (const color of ['blue', 'green'] as const) assert.match(host.files.get(handDocSpring.colors[color].composeFile) ?? '', /interval: 2s\n\s+timeout: 1s\n\s+retries: 3\n\s+start_period: 6s/);

    await session.handle({ type: 'rollOut' });
    const s = session.state;
    assert.equal(s.rollout.status, 'done', `${s.rollout.message}\n${s.rollout.lines.join('\n')}`);
    assert.deepEqual(requests, [{ service: 'spring', tag: 'v7' }], 'the live tag is deployed');
    assert.ok(refreshes >= 2, `read again before and after the switch (${refreshes} refreshes)`);
    assert.match(s.rollout.message ?? '', /Docker reports handdoc-spring-green healthy/);
    assert.deepEqual(
      s.current?.containers.map((c) => [c.color, c.isLive]),
      [
        ['blue', false],
        ['green', true],
      ],
      'green serves traffic now',
    );
    assert.equal(s.current?.port, 8081, 'and is the one probed and measured next');
    assert.equal(s.rollout.nextStep, 'Traffic is on green with the new timings. blue keeps the old ones until its next deploy (or switch back and deploy again).');
    assert.ok(s.current?.notes.some((n) => n.startsWith('handdoc-spring-blue runs other timings than docker-compose.spring-blue.yml says')), s.current?.notes.join('\n'));
    session.dispose();
  });

  void it('reads the host again before it picks the tag: another client switched since the wizard opened (no older build goes live)', async () => {
    const host = springHost();
    let treeLive: Color = host.live;
    const requests: Array<{ service: string; tag: string }> = [];
    const target = wizardTargetFor(handDoc, { service: 'spring' }) as WizardTarget;
    const session = new WizardSession(target, {
      connection: host.connection(),
      logger,
      settings,
      liveColor: () => treeLive,
      deployBlueGreen: fakeDeploy(host, requests),
      refreshHost: async () => {
        treeLive = host.live;
      },
    });
    await writtenSession(session);
    // CI deploys v8 to green and switches to it; the tree has not heard of it (no Docker event for a switch).
    const green = host.containers.get('handdoc-spring-green');
    assert.ok(green);
    host.containers.set('handdoc-spring-green', { ...green, id: 'green-ci', image: 'handdoc/spring:v8', imageId: 'sha256:0c1d2e3f4a5b22222222' });
    host.live = 'green';
    await session.handle({ type: 'rollOut' });
    assert.equal(session.state.rollout.status, 'done', session.state.rollout.message);
    assert.deepEqual(requests, [{ service: 'spring', tag: 'v8' }], 'the tag green serves, not the one blue kept');
    session.dispose();
  });

  void it('says so when the live tag names another build by now (the roll-out shipped it)', async () => {
    const host = springHost();
    const target = wizardTargetFor(handDoc, { service: 'spring' }) as WizardTarget;
    const session = new WizardSession(target, { connection: host.connection(), logger, settings, liveColor: () => host.live, deployBlueGreen: fakeDeploy(host, [], 'sha256:9a8b7c6d5e4f11111111') });
    await writtenSession(session);
    await session.handle({ type: 'rollOut' });
    assert.equal(session.state.rollout.status, 'done');
    assert.match(session.state.rollout.nextStep ?? '', /v7 now names another build than the one that was live \(5b1e0c2a9d7f → 9a8b7c6d5e4f\): the roll-out deployed that build, not only new timings\. Roll back if that was not meant\.$/);
    assert.ok(session.state.rollout.lines.some((l) => l.startsWith('Note: v7 now names another build')));
    session.dispose();
  });

  void it('a second try after a refused roll-out starts clean: the first one\'s error is not shown while it runs', async () => {
    const host = springHost();
    const target = wizardTargetFor(handDoc, { service: 'spring' }) as WizardTarget;
    const deployed = fakeDeploy(host, []);
    let calls = 0;
    const session = new WizardSession(target, {
      connection: host.connection(),
      logger,
      settings,
      liveColor: () => host.live,
      deployBlueGreen: async (request) => {
        calls++;
        if (calls > 1) return deployed(request);
        const busy = 'Another operation is running on handdoc: deploy of spring by ci. Wait for it to finish.';
        return { id: 'op-0', kind: 'deploy', service: 'spring', host: handDoc.name, ok: false, outcome: 'failed', traffic: { color: 'blue', isCertain: true }, steps: [], totalMs: 10, notes: [], error: { code: 'locked', step: 'preflight', message: busy } };
      },
    });
    await writtenSession(session);
    await session.handle({ type: 'rollOut' });
    assert.equal(session.state.rollout.status, 'failed');
    assert.match(session.state.rollout.message ?? '', /^Another operation is running/);
    const whileRunning: Array<string | undefined> = [];
    session.onDidChange((state) => {
      if (state.rollout.status === 'running') whileRunning.push(state.rollout.message ?? state.rollout.nextStep);
    });
    await session.handle({ type: 'rollOut' });
    assert.equal(session.state.rollout.status, 'done', session.state.rollout.message);
    assert.ok(whileRunning.length > 0);
    assert.ok(!whileRunning.some((m) => m?.startsWith('Another operation')), whileRunning.join(' | '));
    session.dispose();
  });

  void it('a failing refresh does not turn a done roll-out into a failed one', async () => {
    const host = springHost();
    const target = wizardTargetFor(handDoc, { service: 'spring' }) as WizardTarget;
    const session = new WizardSession(target, {
      connection: host.connection(),
      logger,
      settings,
      liveColor: () => host.live,
      deployBlueGreen: fakeDeploy(host, []),
      refreshHost: async () => {
        throw new Error('connection lost');
      },
    });
    await writtenSession(session);
    await session.handle({ type: 'rollOut' });
    assert.equal(session.state.rollout.status, 'done', session.state.rollout.message);
    session.dispose();
  });
});

void describe('WizardSession: measuring a single container that no copy can stand in for', () => {
  function restartOnlyHost(): { host: FakeHost; target: WizardTarget } {
    const host = new FakeHost();
    const composeFile = '/home/ec2-user/apps/docker-compose.fastapi.yml';
    host.files.set(composeFile, readFixture('handdoc', 'apps', 'docker-compose.fastapi.yml'));
    // Host networking and the port only inside the command: a copy would need the same port.
    host.containers.set('handdoc-fastapi', { id: 'f-1', startedAt: '2026-11-25T13:00:00.000Z', timingsS: { interval: 30, timeout: 15, startPeriod: 60, retries: 3 }, health: 'healthy', env: [], networkMode: 'host' });
    return { host, target: wizardTargetFor(handDoc, { service: 'fastapi' }) as WizardTarget };
  }

  void it('asks first, and "no" clears the question and starts nothing', async () => {
    const { host, target } = restartOnlyHost();
    const session = new WizardSession(target, { connection: host.connection(), logger, settings, liveColor: () => undefined });
    await session.handle({ type: 'ready' });
    assert.match(session.state.measure.method ?? '', /The only way left is to restart handdoc-fastapi itself/);
    await session.handle({ type: 'measure', runs: 2 });
    assert.match(session.state.measure.consentQuestion ?? '', /^Restart handdoc-fastapi for each run\?/);
    await session.handle({ type: 'declineRestart' });
    assert.equal(session.state.measure.consentQuestion, undefined);
    assert.equal(session.state.measure.status, 'idle');
    assert.deepEqual(session.state.measure.runs, []);
    assert.equal(session.state.error, undefined);
    session.dispose();
  });
});
