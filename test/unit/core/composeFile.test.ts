import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { healthcheckUrl, parseImageReference, parsePortMapping, readCompose, setHealthcheck, setImageTag } from '../../../src/core/composeFile';
import type { ComposeEdit, ComposeFile, ComposeService, HealthcheckPatch } from '../../../src/core/composeFile';
import { readFixture } from './fixtureFiles';

const compose = (name: string) => readFixture('compose', name);

function read(text: string): ComposeFile {
  const result = readCompose(text);
  assert.ok(result.ok, result.ok ? '' : result.error);
  return result.compose;
}

function service(file: ComposeFile, name: string): ComposeService {
  const found = file.services.find((s) => s.name === name);
  assert.ok(found, `no service ${name}`);
  return found;
}

function edited(result: ComposeEdit): string {
  assert.ok(result.ok, result.ok ? '' : result.error);
  return result.text;
}

function refusedEdit(result: ComposeEdit): string {
  assert.ok(!result.ok, 'expected the edit to be refused');
  return result.error;
}

const crlf = (text: string) => text.replace(/\n/g, '\r\n');

void describe('readCompose', () => {
  void it("reads handDoc's FastAPI service", () => {
    const fastapi = service(read(compose('fastapi.yml')), 'fastapi');
    assert.equal(fastapi.containerName, 'handdoc-fastapi');
    assert.equal(fastapi.line, 6);
    assert.deepEqual(fastapi.image, { raw: 'handdoc/fastapi:latest', repository: 'handdoc/fastapi', name: 'handdoc/fastapi', tag: 'latest', hasVariables: false });
    assert.deepEqual(fastapi.ports, [{ raw: '8000:8000', targetPort: 8000, publishedPort: 8000, protocol: 'tcp' }]);
    assert.deepEqual(fastapi.envFiles, ['.env']);
    assert.deepEqual(fastapi.environment, { MODEL_DIR: '/models', WHISPER_MODEL: 'small' });
    assert.equal(fastapi.networkMode, undefined);
    assert.deepEqual(fastapi.healthcheck, {
      test: { form: 'CMD', argv: ['curl', '-f', 'http://localhost:8000/health'] },
      intervalMs: 10_000,
      timeoutMs: 3_000,
      startPeriodMs: 5_000,
      retries: 3,
      isDisabled: false,
      written: { interval: '10s', timeout: '3s', start_period: '5s' },
      origin: 'service',
      mergedAnchors: [],
    });
    assert.deepEqual(healthcheckUrl(fastapi.healthcheck?.test), { url: 'http://localhost:8000/health', host: 'localhost', port: 8000, path: '/health' });
  });

  void it('reports anchors, aliases and merged healthchecks', () => {
    const file = read(compose('anchors.yml'));
    assert.deepEqual(file.anchors, [
      { name: 'hc', line: 2 },
      { name: 'spring', line: 8 },
    ]);
    assert.deepEqual(
      file.aliases.map((a) => `${a.name}@${a.line}`),
      ['spring@15', 'hc@19', 'spring@23', 'hc@27', 'spring@31', 'hc@33'],
    );
    const blue = service(file, 'spring-blue');
    assert.equal(blue.image?.registry, '127.0.0.1:5005');
    assert.equal(blue.image?.tag, '1.4.2');
    assert.equal(blue.healthcheck?.origin, 'service');
    assert.deepEqual(blue.healthcheck?.mergedAnchors, ['hc']);
    assert.equal(blue.healthcheck?.timeoutMs, 5_000);
    assert.equal(blue.healthcheck?.startPeriodMs, 40_000);
    assert.deepEqual(service(file, 'spring-green').ports[0], { raw: '127.0.0.1:8081:8080', hostIp: '127.0.0.1', publishedPort: 8081, targetPort: 8080, protocol: 'tcp' });
    const canary = service(file, 'spring-canary');
    assert.equal(canary.healthcheck?.origin, 'alias');
    assert.equal(canary.healthcheck?.test, undefined);
    assert.deepEqual(canary.envFiles, ['.env']);
  });

  void it('resolves extends within the file and says where the healthcheck comes from', () => {
    const file = read(compose('extends.yml'));
    const worker = service(file, 'worker');
    assert.deepEqual(worker.extends, { service: 'base' });
    assert.equal(worker.healthcheck?.origin, 'extends');
    assert.deepEqual(worker.healthcheck?.test, { form: 'CMD-SHELL', command: 'curl -fsS http://localhost:9000/ping || exit 1' });
    assert.equal(worker.image?.raw, 'handdoc/worker:2.0');
    const two = service(file, 'worker-two');
    assert.equal(two.healthcheck?.origin, 'service');
    assert.equal(two.healthcheck?.timeoutMs, 2_000);
    assert.equal(two.healthcheck?.intervalMs, 15_000, 'interval merged from base');
    assert.equal(two.healthcheck?.retries, 4);
    assert.deepEqual(file.problems, []);
  });

  void it('notes an extends from another file instead of pretending to read it', () => {
    const file = read('services:\n  web:\n    extends:\n      file: common.yml\n      service: webapp\n');
    assert.deepEqual(service(file, 'web').extends, { service: 'webapp', file: 'common.yml' });
    assert.deepEqual(file.problems, [{ service: 'web', line: 2, message: '"web" extends "webapp" from common.yml; what it inherits from that file is not read here' }]);
  });

  void it('reads several services with every port and test syntax', () => {
    const file = read(compose('multi.yml'));
    assert.deepEqual(
      file.services.map((s) => [s.name, s.line]),
      [
        ['api', 5],
        ['redis', 21],
        ['cache-warmer', 27],
        ['db-proxy', 29],
      ],
    );
    const api = service(file, 'api');
    assert.equal(api.networkMode, 'host');
    assert.equal(api.environment.PORT, '8090');
    assert.equal(api.image?.registry, 'ghcr.io');
    assert.deepEqual(api.healthcheck?.test, { form: 'CMD', argv: ['curl', '-f', 'http://127.0.0.1:8090/healthz'] });
    assert.equal(api.healthcheck?.written.interval, '20s');
    assert.deepEqual(service(file, 'db-proxy').ports, [{ raw: '{"target":3306,"published":"13306","host_ip":"127.0.0.1","protocol":"tcp"}', targetPort: 3306, publishedPort: 13306, hostIp: '127.0.0.1', protocol: 'tcp' }]);
    assert.deepEqual(service(file, 'db-proxy').image, { raw: '127.0.0.1:5005/tools/db-proxy', registry: '127.0.0.1:5005', repository: 'tools/db-proxy', name: '127.0.0.1:5005/tools/db-proxy', hasVariables: false });
    assert.equal(service(file, 'cache-warmer').image?.name, 'handdoc/warmer');
  });

  void it('reads CMD-SHELL, plain-string, NONE and disabled healthchecks and 1m30s', () => {
    const file = read(compose('cmd-shell.yml'));
    const green = service(file, 'spring-green');
    assert.deepEqual(green.healthcheck?.test, { form: 'string', command: 'curl -fsS http://localhost:8081/actuator/health || exit 1' });
    assert.equal(green.healthcheck?.intervalMs, 90_000);
    assert.equal(green.healthcheck?.written.start_period, '1m30s');
    assert.deepEqual(green.environment, { SERVER_PORT: '8081', SPRING_PROFILES_ACTIVE: 'prod' });
    assert.equal(healthcheckUrl(green.healthcheck?.test)?.path, '/actuator/health');
    const worker = service(file, 'worker');
    assert.deepEqual(worker.healthcheck?.test, { form: 'CMD-SHELL', command: 'pgrep -f worker.py || exit 1' });
    assert.equal(worker.healthcheck?.isDisabled, true);
    assert.equal(healthcheckUrl(worker.healthcheck?.test), undefined);
    const none = service(read('services:\n  x:\n    image: a\n    healthcheck:\n      test: ["NONE"]\n'), 'x');
    assert.deepEqual(none.healthcheck?.test, { form: 'NONE' });
    assert.equal(none.healthcheck?.isDisabled, true);
  });

  void it('reports values it cannot read as problems with their line', () => {
    const file = read('services:\n  api:\n    image: a\n    ports: ["80:abc"]\n    healthcheck:\n      interval: 30\n      retries: three\n      test: ["curl", "x"]\n');
    assert.deepEqual(
      file.problems.map((p) => p.message),
      [
        'the port "80:abc" has an invalid container port',
        'the healthcheck "test" list must start with "CMD", "CMD-SHELL" or "NONE", not "curl"',
        'healthcheck interval: "30" has no unit: Compose needs one (h, m, s, ms, us or ns), e.g. "30s".',
        'healthcheck retries must be a whole number, not "three"',
      ],
    );
    assert.ok(file.problems.every((p) => p.service === 'api' && p.line === 2));
  });

  void it('refuses invalid YAML with its line', () => {
    const result = readCompose('services:\n  api:\n    image: a\n   ports: ["80:80"]\n', 'docker-compose.api.yml');
    assert.ok(!result.ok);
    assert.equal(result.line, 4);
    assert.match(result.error, /^docker-compose\.api\.yml is not valid YAML: line 4, column \d+: /);
    const duplicate = readCompose('services:\n  api:\n    image: a\n  api:\n    image: b\n');
    assert.ok(!duplicate.ok);
    assert.match(duplicate.error, /line 4, column 3: Map keys must be unique/);
  });

  void it('refuses a file that is not a Compose file', () => {
    const result = readCompose('- just\n- a list\n');
    assert.deepEqual(result, { ok: false, error: 'docker-compose.yml is not a Compose file: its top level must be a mapping with a "services" key.' });
    assert.match((readCompose('version: "3"\n') as { error: string }).error, /has no "services:" mapping/);
  });
});

void describe('parseImageReference', () => {
  void it('splits registry, repository, tag and digest the way Docker does', () => {
    assert.deepEqual(parseImageReference('127.0.0.1:5005/x:tag'), { raw: '127.0.0.1:5005/x:tag', registry: '127.0.0.1:5005', repository: 'x', name: '127.0.0.1:5005/x', tag: 'tag', hasVariables: false });
    assert.deepEqual(parseImageReference('localhost:5000/app'), { raw: 'localhost:5000/app', registry: 'localhost:5000', repository: 'app', name: 'localhost:5000/app', hasVariables: false });
    assert.deepEqual(parseImageReference('nginx'), { raw: 'nginx', repository: 'nginx', name: 'nginx', hasVariables: false });
    assert.equal(parseImageReference('handdoc/spring').registry, undefined);
    const pinned = parseImageReference('ghcr.io/a/b:1.0@sha256:0123abcd');
    assert.equal(pinned.tag, '1.0');
    assert.equal(pinned.digest, 'sha256:0123abcd');
    assert.equal(pinned.name, 'ghcr.io/a/b');
  });

  void it('keeps ${VAR:-default} whole', () => {
    const reference = parseImageReference('${REGISTRY:-docker.io}/handdoc/spring:${TAG:-latest}');
    assert.equal(reference.tag, '${TAG:-latest}');
    assert.equal(reference.name, '${REGISTRY:-docker.io}/handdoc/spring');
    assert.equal(reference.hasVariables, true);
  });
});

void describe('parsePortMapping', () => {
  void it('reads the short syntax', () => {
    assert.deepEqual(parsePortMapping('8080'), { raw: '8080', targetPort: 8080, protocol: 'tcp' });
    assert.deepEqual(parsePortMapping(8000), { raw: '8000', targetPort: 8000, protocol: 'tcp' });
    assert.deepEqual(parsePortMapping('127.0.0.1:8080:8080'), { raw: '127.0.0.1:8080:8080', hostIp: '127.0.0.1', publishedPort: 8080, targetPort: 8080, protocol: 'tcp' });
    assert.deepEqual(parsePortMapping('5353:53/udp'), { raw: '5353:53/udp', publishedPort: 5353, targetPort: 53, protocol: 'udp' });
    assert.deepEqual(parsePortMapping('[::1]:8080:80'), { raw: '[::1]:8080:80', hostIp: '::1', publishedPort: 8080, targetPort: 80, protocol: 'tcp' });
    assert.deepEqual(parsePortMapping('127.0.0.1::8080'), { raw: '127.0.0.1::8080', hostIp: '127.0.0.1', targetPort: 8080, protocol: 'tcp' });
    assert.deepEqual(parsePortMapping('9090-9091:8080-8081'), { raw: '9090-9091:8080-8081', publishedPort: 9090, publishedPortEnd: 9091, targetPort: 8080, targetPortEnd: 8081, protocol: 'tcp' });
  });

  void it('explains what is wrong with an entry', () => {
    assert.equal(parsePortMapping('abc'), 'the port "abc" has an invalid container port');
    assert.equal(parsePortMapping('1:2:3:4'), 'the port "1:2:3:4" is not [host_ip:][published:]target[/protocol]');
    assert.equal(parsePortMapping('70000:80'), 'the port "70000:80" has an invalid published port');
    assert.equal(parsePortMapping({ published: 80 }), 'the long-syntax port {"published":80} has no valid "target"');
  });
});

void describe('setHealthcheck keeps every other byte', () => {
  void it("applies handDoc's fix (interval 30s, timeout 15s, start_period 60s) and keeps the comments", () => {
    const result = setHealthcheck(compose('fastapi.yml'), 'fastapi', { interval: '30s', timeout: '15s', start_period: '60s' }, 'docker-compose.fastapi.yml');
    assert.equal(edited(result), compose('fastapi.after-timings.yml'));
    assert.deepEqual(result.ok && result.notes, []);
  });

  void it('does the same on a CRLF file', () => {
    assert.equal(edited(setHealthcheck(crlf(compose('fastapi.yml')), 'fastapi', { interval: '30s', timeout: '15s', start_period: '60s' })), crlf(compose('fastapi.after-timings.yml')));
  });

  void it('adds an override next to a merged anchor, for that service only', () => {
    const result = setHealthcheck(compose('anchors.yml'), 'spring-blue', { timeout: '15s' });
    assert.equal(edited(result), compose('anchors.after-blue-timeout.yml'));
    assert.deepEqual(result.ok && result.notes, ['timeout now overrides the value merged from *hc for "spring-blue" only.']);
    const blue = service(read(edited(result)), 'spring-blue');
    assert.equal(blue.healthcheck?.timeoutMs, 15_000);
    assert.equal(service(read(edited(result)), 'spring-green').healthcheck?.timeoutMs, 5_000);
  });

  void it('turns a shared `healthcheck: *hc` into a merge plus override', () => {
    assert.equal(edited(setHealthcheck(compose('anchors.yml'), 'spring-canary', { timeout: '15s' })), compose('anchors.after-canary-timeout.yml'));
  });

  void it('adds a healthcheck to a service that extends another, merged by Compose', () => {
    const result = setHealthcheck(compose('extends.yml'), 'worker', { timeout: '10s' });
    assert.equal(edited(result), compose('extends.after-worker-timeout.yml'));
    const worker = service(read(edited(result)), 'worker');
    assert.equal(worker.healthcheck?.timeoutMs, 10_000);
    assert.equal(worker.healthcheck?.intervalMs, 15_000, 'still inherits interval from base');
  });

  void it('edits a block-list test and quoted durations in their own style, and a quoted image tag', () => {
    const text = edited(setHealthcheck(compose('multi.yml'), 'api', { test: { form: 'CMD', argv: ['curl', '-fsS', 'http://127.0.0.1:8090/healthz'] }, interval: '30s', timeout: '10s' }));
    assert.equal(edited(setImageTag(text, 'api', '1.0.4')), compose('multi.after-api.yml'));
  });

  void it('appends a missing key at the end of the healthcheck', () => {
    const original = compose('multi.yml');
    assert.equal(edited(setHealthcheck(original, 'redis', { retries: 5 })), original.replace('      interval: 5s\n', '      interval: 5s\n      retries: 5\n'));
  });

  void it('adds a healthcheck to a flow-style service', () => {
    const original = compose('multi.yml');
    assert.equal(
      edited(setHealthcheck(original, 'cache-warmer', { interval: '30s', test: { form: 'CMD-SHELL', command: 'test -f /tmp/warm' } })),
      original.replace('{image: "handdoc/warmer", restart: "no"}', '{image: "handdoc/warmer", restart: "no", healthcheck: {test: ["CMD-SHELL", "test -f /tmp/warm"], interval: 30s}}'),
    );
  });

  void it('adds a whole healthcheck at the indentation of a 4-space file, before the next service and its comment', () => {
    const patch: HealthcheckPatch = { test: { form: 'CMD', argv: ['curl', '-f', 'http://localhost:8000/health'] }, interval: '30s', timeout: '15s', retries: 3, start_period: '1m' };
    assert.equal(edited(setHealthcheck(compose('no-healthcheck.yml'), 'fastapi', patch)), compose('no-healthcheck.after.yml'));
    assert.equal(edited(setHealthcheck(crlf(compose('no-healthcheck.yml')), 'fastapi', patch)), crlf(compose('no-healthcheck.after.yml')));
  });

  void it('replaces a plain-string test and a 1m30s start_period', () => {
    assert.equal(
      edited(setHealthcheck(compose('cmd-shell.yml'), 'spring-green', { test: { form: 'string', command: 'wget -qO- http://localhost:8081/actuator/health || exit 1' }, start_period: '2m' })),
      compose('cmd-shell.after.yml'),
    );
  });

  void it('warns that a disabled healthcheck stays disabled', () => {
    const result = setHealthcheck(compose('cmd-shell.yml'), 'worker', { interval: '1m' });
    assert.equal(edited(result), compose('cmd-shell.yml').replace('interval: 45s', 'interval: 1m'));
    assert.deepEqual(result.ok && result.notes, ['The healthcheck of "worker" is disabled (disable: true); the new values take effect only once that line is removed.']);
  });

  void it('fills an empty value, and a file without a final newline', () => {
    assert.equal(edited(setHealthcheck('services:\n  a:\n    image: x\n    healthcheck:\n      timeout:\n', 'a', { timeout: '5s' })), 'services:\n  a:\n    image: x\n    healthcheck:\n      timeout: 5s\n');
    assert.equal(edited(setHealthcheck('services:\n  a:\n    image: x', 'a', { retries: 2 })), 'services:\n  a:\n    image: x\n    healthcheck:\n      retries: 2');
  });

  void it('changes a string test to a CMD list and a flow list to a string', () => {
    const text = 'services:\n  a:\n    healthcheck:\n      test: curl -f http://localhost/ # probe\n  b:\n    healthcheck:\n      test: ["CMD", "true"]\n';
    assert.equal(
      edited(setHealthcheck(text, 'a', { test: { form: 'CMD', argv: ['wget', '-qO-', 'http://localhost/'] } })),
      text.replace('test: curl -f http://localhost/ # probe', 'test: ["CMD", "wget", "-qO-", "http://localhost/"] # probe'),
    );
    assert.equal(edited(setHealthcheck(text, 'b', { test: { form: 'string', command: 'exit 0' } })), text.replace('["CMD", "true"]', '"exit 0"'));
  });

  void it('copies a healthcheck merged into the service from an anchor, leaving the anchor alone', () => {
    const text = 'x-app: &app\n  image: a\n  healthcheck:\n    test: ["CMD", "true"]\n    interval: 10s\nservices:\n  one:\n    <<: *app\n  two:\n    <<: *app\n';
    const result = setHealthcheck(text, 'one', { interval: '20s' });
    assert.equal(edited(result), text.replace('  one:\n    <<: *app\n', '  one:\n    <<: *app\n    healthcheck:\n      test: ["CMD", "true"]\n      interval: 20s\n'));
  });
});

void describe('setHealthcheck refuses what it cannot do exactly', () => {
  void it('refuses an edit that would leak through an anchored healthcheck', () => {
    const text = 'services:\n  a:\n    healthcheck: &shared\n      test: ["CMD", "true"]\n      interval: 10s\n  b:\n    healthcheck: *shared\n';
    assert.match(refusedEdit(setHealthcheck(text, 'a', { interval: '20s' })), /would change more than asked .*shared through a YAML anchor/);
  });

  void it('refuses invalid values with the reason', () => {
    const text = compose('fastapi.yml');
    assert.equal(refusedEdit(setHealthcheck(text, 'fastapi', { timeout: '30' })), 'Cannot set the healthcheck of "fastapi": timeout: "30" has no unit: Compose needs one (h, m, s, ms, us or ns), e.g. "30s".');
    assert.match(refusedEdit(setHealthcheck(text, 'fastapi', { retries: 0 })), /retries must be a whole number of 1 or more/);
    assert.match(refusedEdit(setHealthcheck(text, 'fastapi', {})), /the healthcheck patch is empty/);
    assert.match(refusedEdit(setHealthcheck(text, 'fastapi', { test: { form: 'CMD', argv: [] } })), /a CMD test needs a program/);
  });

  void it('names the services when the one asked for is not there', () => {
    assert.equal(refusedEdit(setHealthcheck(compose('multi.yml'), 'web', { timeout: '5s' }, 'multi.yml')), 'multi.yml has no service "web" (it has: api, redis, cache-warmer, db-proxy).');
  });

  void it('refuses a service that is an alias, and invalid YAML', () => {
    assert.match(refusedEdit(setHealthcheck('x: &s\n  image: a\nservices:\n  a: *s\n', 'a', { timeout: '5s' })), /is the alias \*s/);
    assert.match(refusedEdit(setHealthcheck('services:\n  a:\n   - b\n  c: [\n', 'a', { timeout: '5s' })), /is not valid YAML: line \d+/);
  });
});

void describe('setImageTag', () => {
  void it('sets or adds a tag, also after a registry with a port', () => {
    const original = compose('multi.yml');
    assert.equal(edited(setImageTag(original, 'redis', '7.2-alpine')), original.replace('image: redis:7-alpine', 'image: redis:7.2-alpine'));
    assert.equal(edited(setImageTag(original, 'db-proxy', '0.9')), original.replace('tools/db-proxy\n', 'tools/db-proxy:0.9\n'));
    const warmer = setImageTag(original, 'cache-warmer', '2.1');
    assert.equal(edited(warmer), original.replace('"handdoc/warmer"', '"handdoc/warmer:2.1"'));
    assert.deepEqual(warmer.ok && warmer.notes, ['"cache-warmer" had no tag (Docker reads that as "latest"); it now uses 2.1.']);
    assert.equal(edited(setImageTag(compose('fastapi.yml'), 'fastapi', 'v2024.05.01')), compose('fastapi.yml').replace('handdoc/fastapi:latest', 'handdoc/fastapi:v2024.05.01'));
  });

  void it('refuses a tag from a variable, a digest, a built service, an inherited image and a bad tag', () => {
    assert.match(refusedEdit(setImageTag('services:\n  a:\n    image: app:${TAG:-latest}\n', 'a', '1.0')), /comes from a variable \(\$\{TAG:-latest\}\); set that variable/);
    assert.match(refusedEdit(setImageTag('services:\n  a:\n    image: app@sha256:abc\n', 'a', '1.0')), /pinned by digest/);
    assert.match(refusedEdit(setImageTag('services:\n  a:\n    build: .\n', 'a', '1.0')), /has no "image:" \(it is built from source\)/);
    assert.match(refusedEdit(setImageTag(compose('anchors.yml'), 'spring-blue', '1.5.0')), /takes its image from a merged anchor; add an "image:" line/);
    assert.match(refusedEdit(setImageTag(compose('extends.yml'), 'worker', '2.1')), /takes its image from "base" through extends/);
    assert.match(refusedEdit(setImageTag(compose('fastapi.yml'), 'fastapi', '-bad')), /is not a valid image tag/);
  });
});
