import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHostProfiles } from '../../../src/core/hostProfile';
import type { HostProfile } from '../../../src/core/hostProfile';
import { detectLayout } from '../../../src/core/layoutDetection';
import type { HostFile, LayoutInput, LayoutNote, LayoutProposal } from '../../../src/core/layoutDetection';
import { readFixture } from './fixtureFiles';

const appsDir = '/home/ec2-user/apps';
const confDir = '/etc/nginx/conf.d';
const app = (name: string, text = readFixture('handdoc', 'apps', name)): HostFile => ({ path: `${appsDir}/${name}`, text });
const conf = (name: string, text = readFixture('handdoc', 'nginx', name)): HostFile => ({ path: `${confDir}/${name}`, text });

const handdocInput: LayoutInput = {
  appsDir,
  composeFiles: [app('docker-compose.fastapi.yml'), app('docker-compose.spring-blue.yml'), app('docker-compose.spring-green.yml')],
  nginxFiles: [conf('handdoc.conf'), conf('active-upstream.conf')],
  user: 'ec2-user',
  sshDestination: '3.35.120.7',
};

function detect(changes: Partial<LayoutInput> = {}): LayoutProposal {
  return detectLayout({ ...handdocInput, ...changes });
}

function notesOf(proposal: LayoutProposal, kind: LayoutNote['kind']): string[] {
  return proposal.notes.filter((n) => n.kind === kind).map((n) => n.message);
}

const springGreen = readFixture('handdoc', 'apps', 'docker-compose.spring-green.yml');

void describe('detectLayout on the handDoc host', () => {
  const proposal = detect();

  void it('proposes spring as Blue-Green with active-upstream.conf as its switch, and fastapi as a single service', () => {
    assert.deepEqual(proposal.profile, {
      name: 'handdoc',
      ssh: 'ec2-user@3.35.120.7',
      appsDir,
      services: [
        {
          kind: 'blueGreen',
          name: 'spring',
          switchFile: '/etc/nginx/conf.d/active-upstream.conf',
          healthPath: '/actuator/health',
          colors: {
            blue: { container: 'handdoc-spring-blue', composeFile: '/home/ec2-user/apps/docker-compose.spring-blue.yml', port: 8080 },
            green: { container: 'handdoc-spring-green', composeFile: '/home/ec2-user/apps/docker-compose.spring-green.yml', port: 8081 },
          },
        },
        { kind: 'single', name: 'fastapi', container: 'handdoc-fastapi', composeFile: '/home/ec2-user/apps/docker-compose.fastapi.yml', port: 8000, healthPath: '/health' },
      ],
    });
    assert.deepEqual(proposal.incomplete, []);
  });

  void it('passes parseHostProfiles without errors', () => {
    const parsed = parseHostProfiles([proposal.profile]);
    assert.deepEqual(parsed.errors, []);
    const expected: HostProfile = {
      name: 'handdoc',
      ssh: { host: '3.35.120.7', user: 'ec2-user' },
      dockerSocket: '/var/run/docker.sock',
      appsDir,
      nginx: { binary: 'nginx', confDir, accessLog: '/var/log/nginx/access.log', errorLog: '/var/log/nginx/error.log', useSudo: true },
      services: proposal.profile.services,
    };
    assert.deepEqual(parsed.profiles, [expected]);
  });

  void it('says where each fact came from; nothing is ambiguous, only the verify URL (the user’s choice) is missing', () => {
    assert.deepEqual(notesOf(proposal, 'ambiguous'), []);
    assert.deepEqual(notesOf(proposal, 'missing'), [
      'Set "verifyUrl" of "spring" to a URL on the host that Nginx sends to spring_backend (a route under /api/, e.g. http://127.0.0.1/api/…) and that answers 200: after each switch Switchyard asks it until the new color answers. Without it a switch is reported as reloaded, not confirmed.',
    ]);
    const found = notesOf(proposal, 'found');
    assert.ok(found.includes('handdoc-spring-blue serves on port 8080 (from the healthcheck URL http://127.0.0.1:8080/actuator/health and ports "8080:8080").'));
    assert.ok(found.includes('Switch file of "spring": /etc/nginx/conf.d/active-upstream.conf (upstream spring_backend → 127.0.0.1:8080).'));
    assert.ok(found.includes('Nginx routes /api/ in handdoc.conf to upstream spring_backend.'));
    assert.ok(found.includes('Nginx routes /fastapi/ws in handdoc.conf, /fastapi/ in handdoc.conf to "fastapi" (port 8000).'));
    assert.ok(found.includes('Health path of "spring": /actuator/health (from the healthcheck).'));
  });

  void it('warns that the app ports are published on all interfaces', () => {
    assert.deepEqual(notesOf(proposal, 'warning'), [
      'handdoc-spring-blue publishes port 8080 on all interfaces (ports "8080:8080"), so it can be reached without Nginx; "127.0.0.1:8080:8080" would keep it behind Nginx.',
      'handdoc-spring-green publishes port 8081 on all interfaces (ports "8081:8081"), so it can be reached without Nginx; "127.0.0.1:8081:8081" would keep it behind Nginx.',
      'handdoc-fastapi publishes port 8000 on all interfaces (ports "8000:8000"), so it can be reached without Nginx; "127.0.0.1:8000:8000" would keep it behind Nginx.',
    ]);
  });

  void it('keeps a user already in the destination and an ssh alias as given', () => {
    assert.equal(detect({ sshDestination: 'admin@10.0.0.5:2222' }).profile.ssh, 'admin@10.0.0.5:2222');
    assert.equal(detect({ sshDestination: 'handdoc', user: '' }).profile.ssh, 'handdoc');
  });
});

void describe('detectLayout: ports from other evidence', () => {
  void it('maps the healthcheck port through ports "8081:8080" to the host port', () => {
    const green = springGreen.replace('"8081:8081"', '"127.0.0.1:8081:8080"').replace('http://127.0.0.1:8081/', 'http://127.0.0.1:8080/').replace('SERVER_PORT: 8081', 'SERVER_PORT: 8080');
    const proposal = detect({ composeFiles: [app('docker-compose.spring-blue.yml'), app('docker-compose.spring-green.yml', green)] });
    const spring = proposal.profile.services[0];
    assert.equal(spring.kind === 'blueGreen' && spring.colors.green.port, 8081);
    assert.ok(notesOf(proposal, 'found').includes('handdoc-spring-green serves on port 8081 (from the healthcheck URL http://127.0.0.1:8080/actuator/health and ports "127.0.0.1:8081:8080").'));
  });

  void it('uses SERVER_PORT with network_mode: host', () => {
    const text = 'services:\n  spring-green:\n    image: handdoc/spring:latest\n    container_name: handdoc-spring-green\n    network_mode: host\n    environment:\n      - SERVER_PORT=8081\n';
    const proposal = detect({ composeFiles: [app('docker-compose.spring-blue.yml'), app('docker-compose.spring-green.yml', text)] });
    assert.ok(notesOf(proposal, 'found').includes('handdoc-spring-green serves on port 8081 (from SERVER_PORT=8081 (network_mode: host)).'));
    const spring = proposal.profile.services[0];
    assert.equal(spring.kind === 'blueGreen' && spring.colors.green.port, 8081);
    assert.equal(spring.healthPath, '/actuator/health', 'from the blue healthcheck');
  });

  void it('takes the idle port from the down server of the upstream when the compose file names none, and says so', () => {
    const text = 'services:\n  spring-green:\n    image: handdoc/spring:latest\n    container_name: handdoc-spring-green\n';
    const upstream = 'upstream spring_backend {\n    server 127.0.0.1:8080;\n    server 127.0.0.1:8081 down;\n}\n';
    const proposal = detect({ composeFiles: [app('docker-compose.spring-blue.yml'), app('docker-compose.spring-green.yml', text)], nginxFiles: [conf('handdoc.conf'), conf('active-upstream.conf', upstream)] });
    const spring = proposal.profile.services[0];
    assert.equal(spring.kind === 'blueGreen' && spring.colors.green.port, 8081);
    assert.ok(notesOf(proposal, 'missing').includes('The port of handdoc-spring-green is unknown: it has no healthcheck URL, PORT / SERVER_PORT variable or published port.'));
    assert.ok(notesOf(proposal, 'ambiguous').includes('Took port 8081 for handdoc-spring-green from upstream spring_backend in active-upstream.conf, next to 8080; check it.'));
    assert.deepEqual(parseHostProfiles([proposal.profile]).errors, []);
  });

  void it('refuses to pick when the healthcheck and SERVER_PORT disagree', () => {
    const green = springGreen.replace('SERVER_PORT: 8081', 'SERVER_PORT: 9090');
    const proposal = detect({ composeFiles: [app('docker-compose.spring-blue.yml'), app('docker-compose.spring-green.yml', green)] });
    assert.equal(proposal.profile.services.some((s) => s.name === 'spring'), false);
    assert.deepEqual(proposal.incomplete, [{ name: 'spring', kind: 'blueGreen', missing: ['port of green'] }]);
    assert.ok(notesOf(proposal, 'missing').includes('The port of handdoc-spring-green is unknown: the healthcheck URL http://127.0.0.1:8081/actuator/health and SERVER_PORT=9090 name different ports.'));
  });
});

void describe('detectLayout: ambiguous and missing pieces', () => {
  void it('leaves out a color file without its twin and says which one is missing', () => {
    const proposal = detect({ composeFiles: [app('docker-compose.spring-blue.yml'), app('docker-compose.fastapi.yml')] });
    assert.deepEqual(proposal.profile.services.map((s) => s.name), ['fastapi']);
    assert.deepEqual(proposal.incomplete, [{ name: 'spring', kind: 'blueGreen', missing: ['green compose file'] }]);
    assert.deepEqual(notesOf(proposal, 'missing'), [
      '/home/ec2-user/apps/docker-compose.spring-blue.yml has no green twin, so "spring" is not set up as Blue-Green; add the green compose file or add the service by hand.',
    ]);
  });

  void it('does not choose between two switch includes for the same ports', () => {
    const old = conf('old-upstream.conf', 'upstream spring_old {\n    server 127.0.0.1:8081;\n}\n');
    const proposal = detect({ nginxFiles: [conf('handdoc.conf'), conf('active-upstream.conf'), old] });
    assert.deepEqual(proposal.incomplete, [{ name: 'spring', kind: 'blueGreen', missing: ['switch file'] }]);
    assert.deepEqual(notesOf(proposal, 'ambiguous'), [
      'Several Nginx files point at the ports of "spring": /etc/nginx/conf.d/active-upstream.conf (upstream spring_backend → 127.0.0.1:8080); /etc/nginx/conf.d/old-upstream.conf (upstream spring_old → 127.0.0.1:8081). Choose its switch file by hand.',
    ]);
  });

  void it('falls back to a full server config that proxies straight to a color port, and says it is one', () => {
    const direct = conf('handdoc.conf', readFixture('handdoc', 'nginx', 'handdoc.conf').replace('proxy_pass http://spring_backend;', 'proxy_pass http://127.0.0.1:8080;'));
    const proposal = detect({ nginxFiles: [direct] });
    const spring = proposal.profile.services[0];
    assert.equal(spring.kind === 'blueGreen' && spring.switchFile, '/etc/nginx/conf.d/handdoc.conf');
    assert.ok(notesOf(proposal, 'ambiguous').includes('/etc/nginx/conf.d/handdoc.conf is a full server config, not a file that only selects the color; a switch will rewrite one port in it.'));
  });

  void it('reports a missing switch file when no Nginx file is given', () => {
    const proposal = detect({ nginxFiles: [] });
    assert.deepEqual(proposal.incomplete, [{ name: 'spring', kind: 'blueGreen', missing: ['switch file'] }]);
    assert.deepEqual(notesOf(proposal, 'missing'), [
      'No Nginx config files were given, so no switch file can be found.',
      'No Nginx file sends traffic to port 8080 or 8081, so the switch file of "spring" is unknown; choose it by hand.',
    ]);
  });

  void it('assumes Compose default container names and says so', () => {
    const fastapi = readFixture('handdoc', 'apps', 'docker-compose.fastapi.yml').replace('    container_name: handdoc-fastapi\n', '');
    const proposal = detect({ composeFiles: [app('docker-compose.fastapi.yml', fastapi)] });
    assert.deepEqual(proposal.profile.services, [{ kind: 'single', name: 'fastapi', container: 'apps-fastapi-1', composeFile: '/home/ec2-user/apps/docker-compose.fastapi.yml', port: 8000, healthPath: '/health' }]);
    assert.ok(notesOf(proposal, 'ambiguous').includes(`/home/ec2-user/apps/docker-compose.fastapi.yml: "fastapi" sets no container_name; assuming Compose's default name apps-fastapi-1 (project "apps").`));
    assert.equal(proposal.profile.name, '3.35.120.7', 'no common container prefix: named after the host');
  });

  void it('skips an invalid compose file with its line, and a service without a port', () => {
    const broken = app('docker-compose.worker.yml', 'services:\n  worker:\n    image: a\n   ports: ["1:1"]\n');
    const shared = app('docker-compose.yml', 'services:\n  redis:\n    image: redis:7\n  adminer:\n    image: adminer\n    ports:\n      - "127.0.0.1:8082:8080"\n');
    const proposal = detect({ composeFiles: [...handdocInput.composeFiles, broken, shared] });
    assert.deepEqual(proposal.profile.services.map((s) => s.name), ['spring', 'fastapi', 'adminer']);
    assert.deepEqual(proposal.incomplete, [{ name: 'redis', kind: 'single', missing: ['port'] }]);
    const missing = notesOf(proposal, 'missing');
    assert.ok(missing.some((m) => /^\/home\/ec2-user\/apps\/docker-compose\.worker\.yml was skipped: docker-compose\.worker\.yml is not valid YAML: line 4/.test(m)), missing.join('\n'));
    assert.ok(missing.includes('/home/ec2-user/apps/docker-compose.yml: "redis" was left out: its port is unknown (it has no healthcheck URL, PORT / SERVER_PORT variable or published port).'));
    assert.deepEqual(parseHostProfiles([proposal.profile]).errors, []);
  });

  void it('records a non-default Nginx directory and flags an invalid destination', () => {
    const proposal = detect({ nginxFiles: [{ path: '/etc/nginx/sites-enabled/handdoc', text: readFixture('handdoc', 'nginx', 'handdoc.conf') }, { path: '/etc/nginx/sites-enabled/active-upstream.conf', text: readFixture('handdoc', 'nginx', 'active-upstream.conf') }], sshDestination: 'not a host' });
    assert.deepEqual(proposal.profile.nginx, { confDir: '/etc/nginx/sites-enabled' });
    assert.ok(notesOf(proposal, 'missing').includes('"not a host" is not an ~/.ssh/config alias or user@host[:port]; fix the SSH destination.'));
  });
});
