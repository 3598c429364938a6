import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readCompose, type ComposeFile } from '../../../src/core/composeFile';
import type { TimingValues } from '../../../src/core/protocol';
import {
  checkValues,
  composeHealthcheckView,
  dockerHealthcheckView,
  editComposeFile,
  healthPathOf,
  patchOf,
  proposedTestCommand,
  serviceKeyFor,
  testLine,
  valuesOf,
  wizardTargetFor,
} from '../../../src/core/wizardModel';
import { readFixture } from './fixtureFiles';
import { handDoc } from './handdocProfile';

const compose = (name: string) => readFixture('compose', name);
const recommended: TimingValues = { interval: '5s', timeout: '1s', retries: '3', start_period: '23s' };

function read(text: string): ComposeFile {
  const result = readCompose(text);
  assert.ok(result.ok, result.ok ? '' : result.error);
  return result.compose;
}

/** Every line the edit did not add or remove is the same, byte for byte, in the same order. */
function assertOnlyHealthcheckLinesChanged(before: string, after: string, diff: string): void {
  const removed = diff.split('\n').filter((l) => l.startsWith('-') && !l.startsWith('---'));
  const added = diff.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++'));
  const key = /^[-+]\s*(-\s+)?("?(interval|timeout|retries|start_period|test|healthcheck|<<)"?\s*:|- |\[|"CMD|\]|\}|- CMD)/;
  for (const line of [...removed, ...added]) assert.match(line, key, `only healthcheck keys change, not ${JSON.stringify(line)}`);
  const kept = (text: string, gone: string[]) => {
    const lines = text.split('\n');
    const drop = new Set(gone.map((l) => l.slice(1)));
    return lines.filter((l) => !drop.has(l));
  };
  assert.deepEqual(kept(after, added), kept(before, removed));
  // Every comment of the original is still there, unchanged.
  for (const line of before.split('\n').filter((l) => l.includes('#'))) {
    // A comment after an edited value stays on its line.
    const comment = line.slice(line.indexOf('#'));
    assert.ok(after.split('\n').some((l) => l.endsWith(comment)), `comment kept: ${comment}`);
  }
}

void describe('the wizard’s compose edits on the corpus (comments and everything else kept byte for byte)', () => {
  void it("writes handDoc's measured timings into docker-compose.fastapi.yml", () => {
    const text = compose('fastapi.yml');
    const edit = editComposeFile('/home/ec2-user/apps/docker-compose.fastapi.yml', text, 'fastapi', patchOf(recommended, false));
    assert.ok(edit.ok, edit.ok ? '' : edit.error);
    assertOnlyHealthcheckLinesChanged(text, edit.newText, edit.diff);
    const hc = read(edit.newText).services[0].healthcheck;
    assert.deepEqual(hc?.written, { interval: '5s', timeout: '1s', start_period: '23s' });
    assert.equal(hc?.retries, 3);
    assert.match(edit.diff, /^--- a\/home\/ec2-user\/apps\/docker-compose\.fastapi\.yml$/m);
  });

  void it('keeps quoting styles and the block-list test of a file with several services', () => {
    const text = compose('multi.yml');
    const edit = editComposeFile('/srv/multi.yml', text, 'api', patchOf(recommended, false));
    assert.ok(edit.ok, edit.ok ? '' : edit.error);
    assert.match(edit.newText, /interval: '5s'/, 'single quotes stay single quotes');
    assert.match(edit.newText, /timeout: "1s"/, 'double quotes stay double quotes');
    assertOnlyHealthcheckLinesChanged(text, edit.newText, edit.diff);
    const services = read(edit.newText).services;
    assert.equal(services.find((s) => s.name === 'redis')?.healthcheck?.written.interval, '5s', 'redis was 5s before and is untouched');
    assert.equal(services.find((s) => s.name === 'api')?.healthcheck?.written.start_period, '23s');
  });

  void it('overrides an anchored healthcheck for one color only, leaving the anchor and the other colors as they were', () => {
    const text = compose('anchors.yml');
    const edit = editComposeFile('/srv/anchors.yml', text, 'spring-blue', patchOf(recommended, false));
    assert.ok(edit.ok, edit.ok ? '' : edit.error);
    const services = read(edit.newText).services;
    assert.equal(services.find((s) => s.name === 'spring-blue')?.healthcheck?.intervalMs, 5_000);
    assert.equal(services.find((s) => s.name === 'spring-green')?.healthcheck?.intervalMs, 10_000);
    assert.equal(services.find((s) => s.name === 'spring-canary')?.healthcheck?.intervalMs, 10_000);
    assert.ok(edit.newText.includes('x-healthcheck: &hc\n  interval: 10s\n  timeout: 5s\n  retries: 5\n  start_period: 40s\n'), 'the anchor is unchanged');
    // The shared `healthcheck: *hc` of the canary becomes its own mapping that merges the anchor.
    const canary = editComposeFile('/srv/anchors.yml', text, 'spring-canary', patchOf(recommended, false));
    assert.ok(canary.ok, canary.ok ? '' : canary.error);
    assert.ok(canary.notes.some((n) => /shared the healthcheck \*hc/.test(n)));
    assert.equal(read(canary.newText).services.find((s) => s.name === 'spring-blue')?.healthcheck?.intervalMs, 10_000);
  });

  void it('edits a service that inherits its healthcheck through extends', () => {
    const text = compose('extends.yml');
    const model = read(text);
    const worker = model.services.find((s) => s.name === 'worker');
    assert.equal(worker?.healthcheck?.origin, 'extends');
    assert.equal(composeHealthcheckView(worker?.healthcheck ?? assert.fail()).source, 'inherited through "extends"');
    const edit = editComposeFile('/srv/extends.yml', text, 'worker', patchOf(recommended, false));
    assert.ok(edit.ok, edit.ok ? '' : edit.error);
    const after = read(edit.newText).services;
    assert.equal(after.find((s) => s.name === 'worker')?.healthcheck?.intervalMs, 5_000);
    assert.equal(after.find((s) => s.name === 'base')?.healthcheck?.intervalMs, 15_000, 'the base is unchanged');
    assert.equal(after.find((s) => s.name === 'worker')?.healthcheck?.test?.form, 'CMD-SHELL', 'the inherited test is kept');
  });

  void it('adds a healthcheck with the confirmed command to a service that has none', () => {
    const text = compose('no-healthcheck.yml');
    const model = read(text);
    assert.equal(model.services[0].healthcheck, undefined);
    const command = proposedTestCommand(8000, '/health');
    assert.equal(command, 'wget -q -O- http://127.0.0.1:8000/health || exit 1');
    const values = { ...recommended, test: command };
    assert.deepEqual(checkValues(values, {}, true).issueViews, []);
    const edit = editComposeFile('/srv/no-healthcheck.yml', text, 'fastapi', patchOf(values, true));
    assert.ok(edit.ok, edit.ok ? '' : edit.error);
    const hc = read(edit.newText).services[0].healthcheck;
    assert.deepEqual(hc?.test, { form: 'CMD-SHELL', command });
    assert.equal(hc?.startPeriodMs, 23_000);
    assert.ok(edit.newText.includes('        restart: unless-stopped   # comes back after a reboot\n'), 'its 4-space indentation and comments are kept');
    assert.ok(edit.newText.includes('    # Nothing below belongs to fastapi.\n    adminer:\n        image: adminer:4'));
    assert.match(edit.newText, /\n {8}healthcheck:\n {12}test: \["CMD-SHELL", "wget -q -O- http:\/\/127\.0\.0\.1:8000\/health \|\| exit 1"\]\n/);
  });

  void it('refuses to write a missing test command, and a command on several lines', () => {
    assert.match(checkValues({ ...recommended, test: '  ' }, {}, true).issueViews[0].message, /confirm the command Docker should run/);
    assert.match(checkValues({ ...recommended, test: 'a\nb' }, {}, true).issueViews[0].message, /one line/);
    assert.equal(checkValues(recommended, {}, false).hasErrors, false);
    assert.equal(checkValues({ ...recommended, retries: '0' }, {}, false).hasErrors, true);
  });

  void it('keeps a 1m30s written by the user as they wrote it', () => {
    const text = compose('cmd-shell.yml');
    const edit = editComposeFile('/srv/cmd-shell.yml', text, 'spring-green', patchOf({ interval: '1m30s', timeout: '10s', retries: '3', start_period: '2m' }, false));
    assert.ok(edit.ok, edit.ok ? '' : edit.error);
    assert.match(edit.newText, /start_period: 2m\n/);
    assert.match(edit.newText, /interval: 1m30s\n/);
    assertOnlyHealthcheckLinesChanged(text, edit.newText, edit.diff);
  });

  void it('reports an edit Compose could not take instead of writing it', () => {
    const edit = editComposeFile('/srv/multi.yml', compose('multi.yml'), 'no-such-service', patchOf(recommended, false));
    assert.equal(edit.ok, false);
    assert.match(edit.ok ? '' : edit.error, /has no service "no-such-service" \(it has: api, redis, cache-warmer, db-proxy\)/);
  });
});

void describe('reading the current healthcheck', () => {
  void it('shows the CMD and CMD-SHELL forms and a plain string test as one line', () => {
    const multi = read(compose('multi.yml'));
    assert.equal(testLine(multi.services[0].healthcheck?.test), 'CMD curl -f http://127.0.0.1:8090/healthz');
    const shell = read(compose('cmd-shell.yml'));
    assert.equal(testLine(shell.services[0].healthcheck?.test), 'curl -fsS http://localhost:8081/actuator/health || exit 1');
    assert.equal(testLine(shell.services[1].healthcheck?.test), 'CMD-SHELL pgrep -f worker.py || exit 1');
    const view = composeHealthcheckView(shell.services[0].healthcheck ?? assert.fail());
    assert.deepEqual(view, { isDisabled: false, source: 'written under the service', test: 'curl -fsS http://localhost:8081/actuator/health || exit 1', testForm: 'string', interval: '1m30s', timeout: '10s', startPeriod: '1m30s' });
    assert.equal(composeHealthcheckView(shell.services[1].healthcheck ?? assert.fail()).isDisabled, true);
  });

  void it("reads an image's HEALTHCHECK (nanoseconds, 0 = Docker's default)", () => {
    const view = dockerHealthcheckView({ Test: ['CMD-SHELL', 'curl -f http://localhost:8080/ || exit 1'], Interval: 30e9, Timeout: 0, StartPeriod: 5e9, Retries: 3 }, "the image's HEALTHCHECK (Dockerfile)");
    assert.deepEqual(view, {
      isDisabled: false,
      source: "the image's HEALTHCHECK (Dockerfile)",
      test: 'CMD-SHELL curl -f http://localhost:8080/ || exit 1',
      testForm: 'CMD-SHELL',
      interval: '30s',
      startPeriod: '5s',
      retries: 3,
    });
    assert.equal(dockerHealthcheckView({ Test: ['NONE'] }, 'image').isDisabled, true);
    assert.deepEqual(valuesOf(view), { interval: '30s', timeout: '30s', retries: '3', start_period: '5s' });
    assert.deepEqual(valuesOf(undefined), { interval: '30s', timeout: '30s', retries: '3', start_period: '0s' });
  });

  void it('finds the service of a container by container_name, then compose label, then as the only one', () => {
    const multi = read(compose('multi.yml'));
    assert.equal(serviceKeyFor(multi, 'handdoc-api', undefined), 'api');
    assert.equal(serviceKeyFor(multi, 'x', 'redis'), 'redis');
    assert.equal(serviceKeyFor(multi, 'x', undefined), undefined);
    assert.equal(serviceKeyFor(read(compose('fastapi.yml')), 'renamed', undefined), 'fastapi');
  });

  void it('measures the path the healthcheck probes, else the profile’s', () => {
    assert.equal(healthPathOf({ form: 'CMD', argv: ['wget', '-q', '-O-', 'http://127.0.0.1:8000/health'] }, '/'), '/health');
    assert.equal(healthPathOf({ form: 'CMD', argv: ['redis-cli', 'ping'] }, '/ready'), '/ready');
    assert.equal(healthPathOf(undefined, '/actuator/health'), '/actuator/health');
  });

  void it('opens the wizard for a service, one of its colors or its container', () => {
    const profile = handDoc;
    const single = wizardTargetFor(profile, { container: 'handdoc-fastapi' });
    assert.equal(single?.kind, 'single');
    assert.equal(single?.service, 'fastapi');
    const byColor = wizardTargetFor(profile, { container: 'handdoc-spring-green' });
    assert.equal(byColor?.kind, 'blueGreen');
    assert.equal(wizardTargetFor(profile, { service: 'spring' })?.service, 'spring');
    assert.equal(wizardTargetFor(profile, { container: 'sy-probe' }), undefined);
  });
});
