import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lockFromProbe, parseProbeOutput, splitGrepFiles, toContainerInfo } from '../../../src/host/hostSnapshot';
import { handDoc } from '../core/handdocProfile';
import type Dockerode from 'dockerode';

const marker = '\u001eswitchyard-abc123';

test('probe sections: names, exact text and exit codes; text that looks like a marker without the nonce is content', () => {
  const out = [
    '',
    `${marker} files`,
    '/proc/loadavg\u00000.10 0.20 0.30 1/100 42',
    '\u001eswitchyard-other exit 0',
    `${marker} exit 0`,
    '',
    `${marker} ss`,
    'LISTEN 0 128 127.0.0.1:8080 0.0.0.0:*',
    `${marker} exit 1`,
    '',
  ].join('\n');
  const sections = parseProbeOutput(out, marker);
  assert.deepEqual([...sections.keys()], ['files', 'ss']);
  assert.equal(sections.get('files')?.text, '/proc/loadavg\u00000.10 0.20 0.30 1/100 42\n\u001eswitchyard-other exit 0');
  assert.equal(sections.get('files')?.exitCode, 0);
  assert.equal(sections.get('ss')?.exitCode, 1);
});

test('a probe cut short (no footer) yields no section rather than a truncated one', () => {
  const sections = parseProbeOutput(`\n${marker} files\n/proc/meminfo\u0000MemTotal: 1 kB\n`, marker);
  assert.equal(sections.size, 0);
});

test('grep -HZ output: lines grouped per file, errors per file, empty files are empty text', () => {
  const paths = ['/proc/meminfo', '/etc/nginx/conf.d/active-upstream.conf', '/etc/nginx/conf.d/empty.conf', '/missing.conf'];
  const text = [
    '/proc/meminfo\u0000MemTotal:        1000 kB',
    '/proc/meminfo\u0000MemAvailable:     500 kB',
    '/etc/nginx/conf.d/active-upstream.conf\u0000upstream spring_backend {',
    '/etc/nginx/conf.d/active-upstream.conf\u0000    server 127.0.0.1:8080; # a:b\u0000c',
    '/etc/nginx/conf.d/active-upstream.conf\u0000}',
    'grep: /missing.conf: No such file or directory',
  ].join('\n');
  const files = splitGrepFiles(text, paths);
  assert.deepEqual(files.get('/proc/meminfo'), { text: 'MemTotal:        1000 kB\nMemAvailable:     500 kB\n' });
  assert.deepEqual(files.get('/etc/nginx/conf.d/active-upstream.conf'), { text: 'upstream spring_backend {\n    server 127.0.0.1:8080; # a:b\u0000c\n}\n' });
  assert.deepEqual(files.get('/etc/nginx/conf.d/empty.conf'), { text: '' });
  assert.deepEqual(files.get('/missing.conf'), { error: 'No such file or directory' });
});

test('docker inspect maps to the tree model: image and tag split (registry port kept), health log, published ports', () => {
  const inspect = {
    Id: 'abc',
    Name: '/handdoc-fastapi',
    Config: { Image: '127.0.0.1:5005/handdoc-fastapi:v1', Labels: { a: 'b' } },
    State: {
      Status: 'running',
      StartedAt: '2026-11-25T10:00:00Z',
      Health: { Status: 'unhealthy', FailingStreak: 30, Log: [{ Start: '2026-11-25T10:00:00Z', End: '2026-11-25T10:00:03Z', ExitCode: 1, Output: 'timed out' }] },
    },
    HostConfig: { NetworkMode: 'bridge' },
    NetworkSettings: { Ports: { '8000/tcp': [{ HostIp: '0.0.0.0', HostPort: '8000' }], '9000/tcp': null } },
  } as unknown as Dockerode.ContainerInspectInfo;
  const info = toContainerInfo(inspect);
  assert.equal(info.name, 'handdoc-fastapi');
  assert.equal(info.image, '127.0.0.1:5005/handdoc-fastapi');
  assert.equal(info.tag, 'v1');
  assert.equal(info.health, 'unhealthy');
  assert.equal(info.failingStreak, 30);
  assert.deepEqual(info.healthLog, [{ start: '2026-11-25T10:00:00Z', end: '2026-11-25T10:00:03Z', exitCode: 1, output: 'timed out' }]);
  assert.deepEqual(info.ports, [
    { ip: '0.0.0.0', privatePort: 8000, publicPort: 8000, protocol: 'tcp' },
    { privatePort: 9000, protocol: 'tcp' },
  ]);
  const untagged = toContainerInfo({ ...inspect, Config: { Image: '127.0.0.1:5005/app', Labels: {} } } as unknown as Dockerode.ContainerInspectInfo);
  assert.deepEqual([untagged.image, untagged.tag], ['127.0.0.1:5005/app', 'latest']);
});

test('the deploy lock rides along in the probe: held, free, or unreadable', () => {
  const probe = (lockLine: string) =>
    parseProbeOutput(
      [
        '',
        `${marker} home`,
        '/home/ec2-user',
        `${marker} exit 0`,
        '',
        `${marker} files`,
        lockLine,
        `${marker} exit 2`,
        '',
      ].join('\n'),
      marker,
    );
  const record = { token: 't', holder: 'alice@laptop (VS Code)', host: 'handdoc', operation: 'deploy', service: 'spring', startedAt: '2026-11-25T10:00:00Z', step: 'pull', heartbeatAt: '2026-11-25T10:00:05Z' };
  assert.deepEqual(lockFromProbe(probe(`/home/ec2-user/.switchyard/lock\u0000${JSON.stringify(record)}`), handDoc), {
    holder: 'alice@laptop (VS Code)',
    operation: 'deploy',
    service: 'spring',
    startedAt: '2026-11-25T10:00:00Z',
    step: 'pull',
  });
  assert.equal(lockFromProbe(probe('grep: /home/ec2-user/.switchyard/lock: No such file or directory'), handDoc), undefined);
  assert.match(lockFromProbe(probe('/home/ec2-user/.switchyard/lock\u0000garbage'), handDoc)?.holder ?? '', /not readable as a Switchyard lock/);
});
