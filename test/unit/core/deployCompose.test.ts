import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { checkImageTag, colorNamedIn, defaultProjectName, renderImageOverride, resolveComposeTarget } from '../../../src/core/deployCompose';
import type { ContainerStatus } from '../../../src/core/deployTypes';
import { parseHostProfiles, parseVerifyUrl, type ColorProfile } from '../../../src/core/hostProfile';
import { readFixture } from './fixtureFiles';

const blue: ColorProfile = { container: 'handdoc-spring-blue', composeFile: '/home/ec2-user/apps/docker-compose.spring-blue.yml', port: 8080 };
const green: ColorProfile = { container: 'handdoc-spring-green', composeFile: '/home/ec2-user/apps/docker-compose.spring-green.yml', port: 8081 };
const greenCompose = readFixture('handdoc', 'apps', 'docker-compose.spring-green.yml');

function status(name: string, labels: Record<string, string>, image = 'handdoc/spring:latest'): ContainerStatus {
  return { name, id: 'x', image, state: 'running', health: 'healthy', startedAt: '', restartCount: 0, healthLog: [], labels };
}

void describe('resolveComposeTarget', () => {
  void it('the container’s own compose labels name the project', () => {
    const result = resolveComposeTarget(green, greenCompose, status('handdoc-spring-green', { 'com.docker.compose.project': 'handdoc-spring-green' }), { profile: blue, status: undefined });
    assert.deepEqual(result, { ok: true, target: { project: 'handdoc-spring-green', composeFile: green.composeFile, service: 'spring-green' }, imageName: 'handdoc/spring' });
  });

  void it('no container yet: follows the twin’s convention (project = its container name), else the directory name', () => {
    const twin = status('handdoc-spring-blue', { 'com.docker.compose.project': 'handdoc-spring-blue' });
    const byTwin = resolveComposeTarget(green, greenCompose, undefined, { profile: blue, status: twin });
    assert.ok(byTwin.ok && byTwin.target.project === 'handdoc-spring-green');
    const shared = resolveComposeTarget(green, greenCompose, undefined, { profile: blue, status: status('handdoc-spring-blue', { 'com.docker.compose.project': 'apps' }) });
    assert.ok(shared.ok && shared.target.project === 'apps');
    const nothing = resolveComposeTarget(green, greenCompose, undefined, { profile: blue, status: undefined });
    assert.ok(nothing.ok && nothing.target.project === 'apps');
    assert.equal(defaultProjectName('/srv/My App.v2/docker-compose.yml'), 'myappv2');
  });

  void it('a top-level name: wins over the directory', () => {
    const result = resolveComposeTarget(green, `name: handdoc\n${greenCompose}`, undefined, { profile: blue, status: undefined });
    assert.ok(result.ok && result.target.project === 'handdoc');
  });

  void it('an image from variables is read from the running container; no service for the container is an error', () => {
    const text = 'services:\n  api:\n    image: ${REGISTRY}/spring:${TAG:-latest}\n    container_name: handdoc-spring-green\n';
    const result = resolveComposeTarget(green, text, status('handdoc-spring-green', {}, '127.0.0.1:5005/handdoc-spring:v1'), { profile: blue, status: undefined });
    assert.ok(result.ok && result.imageName === '127.0.0.1:5005/handdoc-spring');
    const two = 'services:\n  a:\n    image: x\n  b:\n    image: y\n';
    const missing = resolveComposeTarget(green, two, undefined, { profile: blue, status: undefined });
    assert.deepEqual(missing, { ok: false, error: `${green.composeFile} has no service with "container_name: handdoc-spring-green" (services: a, b), so Switchyard cannot tell which one to start.` });
    const built = resolveComposeTarget(green, 'services:\n  api:\n    build: .\n    container_name: handdoc-spring-green\n', undefined, { profile: blue, status: undefined });
    assert.ok(!built.ok && /built from source/.test(built.error));
  });
});

void describe('renderImageOverride', () => {
  void it('sets only the image, repeats the version, and reads back as the same YAML', () => {
    const text = renderImageOverride({ project: 'p', composeFile: '/f.yml', service: 'spring-green' }, '127.0.0.1:5005/handdoc-spring:v2', '3.8', 'deploy 1');
    assert.deepEqual(parseYaml(text), { version: '3.8', services: { 'spring-green': { image: '127.0.0.1:5005/handdoc-spring:v2' } } });
    const odd = renderImageOverride({ project: 'p', composeFile: '/f.yml', service: 'a: b #c' }, 'r/x:v1', undefined, 'x');
    assert.deepEqual(parseYaml(odd), { services: { 'a: b #c': { image: 'r/x:v1' } } });
  });
});

void describe('input checks', () => {
  void it('image tags: Docker’s grammar only', () => {
    for (const ok of ['v2', 'latest', '1.4.2', 'build_77', 'A-b.c']) assert.equal(checkImageTag(ok), undefined, ok);
    assert.match(checkImageTag('v2; rm -rf /') ?? '', /contains spaces or shell characters/);
    assert.match(checkImageTag('.x') ?? '', /not starting with "\." or "-"/);
    assert.equal(checkImageTag(''), 'The image tag is empty.');
  });

  void it('verifyUrl: http on the host’s loopback only, checked in the profile', () => {
    assert.deepEqual(parseVerifyUrl('http://127.0.0.1:8088/api/whoami'), { ok: true, port: 8088, path: '/api/whoami' });
    assert.deepEqual(parseVerifyUrl('http://localhost/api/'), { ok: true, port: 80, path: '/api/' });
    assert.equal(parseVerifyUrl('https://handdoc.store/api').ok, false);
    assert.equal(parseVerifyUrl('http://10.0.0.5/api').ok, false);
    const service = { name: 'spring', switchFile: 'a.conf', colors: { blue: { container: 'b', composeFile: 'b.yml', port: 1 }, green: { container: 'g', composeFile: 'g.yml', port: 2 } } };
    const good = parseHostProfiles([{ name: 'h', ssh: 'u@h', services: [{ ...service, verifyUrl: 'http://127.0.0.1:8088/api/whoami' }] }]);
    assert.deepEqual(good.errors, []);
    assert.equal(good.profiles[0].services[0].kind === 'blueGreen' && good.profiles[0].services[0].verifyUrl, 'http://127.0.0.1:8088/api/whoami');
    const bad = parseHostProfiles([{ name: 'h', ssh: 'u@h', services: [{ ...service, verifyUrl: 'https://x' }] }]);
    assert.equal(bad.errors[0]?.path, 'hosts[0].services[0].verifyUrl');
  });

  void it('colorNamedIn reads {"color"} from JSON answers only', () => {
    assert.equal(colorNamedIn('{"app":"spring","color":"green","version":"v2"}'), 'green');
    assert.equal(colorNamedIn('<html>502</html>'), undefined);
    assert.equal(colorNamedIn('[1]'), undefined);
  });
});
