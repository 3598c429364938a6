import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHostProfiles, parseProfileFile, parseSshDestination, serializeHostProfile } from '../../../src/core/hostProfile';
import { handDocProfileJson } from './handdocProfile';

const handDoc = handDocProfileJson;

test('the handDoc layout of CONTEXT.md is expressible with defaults filled in', () => {
  const { profiles, errors } = parseHostProfiles([handDoc]);
  assert.deepEqual(errors, []);
  const [host] = profiles;
  assert.deepEqual(host.ssh, { host: '3.35.120.7', user: 'ec2-user', identityFile: '~/.ssh/handdoc-key.pem' });
  assert.equal(host.appsDir, '/home/ec2-user/apps');
  assert.equal(host.dockerSocket, '/var/run/docker.sock');
  assert.equal(host.nginx.confDir, '/etc/nginx/conf.d');
  const spring = host.services[0];
  assert.equal(spring.kind, 'blueGreen');
  assert.ok(spring.kind === 'blueGreen');
  assert.equal(spring.switchFile, '/etc/nginx/conf.d/active-upstream.conf');
  assert.equal(spring.colors.green.composeFile, '/home/ec2-user/apps/docker-compose.spring-green.yml');
  assert.equal(host.services[1].kind, 'single');
});

test('serializing and parsing again gives the same profile', () => {
  const { profiles } = parseHostProfiles([{ ...handDoc, nginx: { mainConfig: '/srv/nginx.conf', useSudo: false } }]);
  const again = parseHostProfiles([serializeHostProfile(profiles[0])]);
  assert.deepEqual(again.errors, []);
  assert.deepEqual(again.profiles[0], profiles[0]);
});

test('ssh destinations: alias, user@host:port, IPv6 in brackets; garbage refused', () => {
  assert.deepEqual(parseSshDestination('handdoc-prod'), { host: 'handdoc-prod' });
  assert.deepEqual(parseSshDestination('ec2-user@127.0.0.1:2222'), { host: '127.0.0.1', user: 'ec2-user', port: 2222 });
  assert.deepEqual(parseSshDestination('root@[::1]:22'), { host: '::1', user: 'root', port: 22 });
  assert.equal(parseSshDestination('a b'), undefined);
  assert.equal(parseSshDestination('host:70000'), undefined);
  assert.equal(parseSshDestination(''), undefined);
});

test('every problem is reported with its JSON path, and the bad host is left out', () => {
  const bad = {
    name: 'bad',
    ssh: 'ec2-user@host:2222',
    port: 22,
    appsDir: 'apps',
    colour: 'blue',
    services: [
      { name: 'spring', switchFile: 'x.conf', colors: { blue: { container: 'a b', composeFile: 'b.yml', port: 8080 }, green: { container: 'g', composeFile: 'g.yml', port: 99999 } } },
      { kind: 'rolling', name: 'x' },
      { kind: 'single', name: 'fastapi', container: 'f', composeFile: 'f.yml', port: 8000, healthPath: 'health' },
    ],
  };
  const { profiles, errors } = parseHostProfiles([bad, handDoc], 'switchyard.hosts');
  assert.deepEqual(profiles.map((p) => p.name), ['handdoc']);
  const byPath = Object.fromEntries(errors.map((e) => [e.path, e.message]));
  assert.match(byPath['switchyard.hosts[0].port'], /conflicts with the port in "ssh" \(2222\)/);
  assert.match(byPath['switchyard.hosts[0].appsDir'], /absolute path/);
  assert.match(byPath['switchyard.hosts[0].colour'], /unknown key/);
  assert.match(byPath['switchyard.hosts[0].services[0].colors.blue.container'], /not a valid Docker container name/);
  assert.match(byPath['switchyard.hosts[0].services[0].colors.green.port'], /port number 1-65535, got 99999/);
  assert.match(byPath['switchyard.hosts[0].services[1].kind'], /"blueGreen" or "single", got "rolling"/);
  assert.match(byPath['switchyard.hosts[0].services[2].healthPath'], /starting with "\/"/);
  assert.equal(errors.length, 7);
});

test('duplicate names and twin colors on one port are refused', () => {
  const samePort = structuredClone(handDoc);
  samePort.services[0].colors!.green.port = 8080;
  const { errors } = parseHostProfiles([samePort, handDoc]);
  assert.ok(errors.some((e) => /both are 8080/.test(e.message)));
  const twice = parseHostProfiles([handDoc, handDoc]);
  assert.ok(twice.errors.some((e) => /listed twice/.test(e.message)));
});

test('.switchyard.json: invalid JSON and wrong shapes get precise messages', () => {
  assert.match(parseProfileFile('{ "hosts": [ }').errors[0].message, /not valid JSON/);
  assert.match(parseProfileFile('[]').errors[0].message, /"hosts" array/);
  assert.match(parseProfileFile('{"hosts": {}}').errors[0].message, /expected an array/);
  assert.equal(parseProfileFile(JSON.stringify({ hosts: [handDoc] })).profiles.length, 1);
});
