import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostProfile } from '../../../src/core/hostProfile';
import { computeWarnings, formatUptime, parseDfPk, parseLoadavg, parseMeminfo, parseSsListening, serviceViews } from '../../../src/core/hostState';
import type { ContainerInfo, HostMetrics, ListeningSocket, NginxState, ParseResult } from '../../../src/core/hostState';
import { parseSwitchFile } from '../../../src/core/nginxSwitchFile';
import type { ParsedSwitch } from '../../../src/core/nginxSwitchFile';
import { readFixture } from './fixtureFiles';
import { handDoc } from './handdocProfile';

function value<T>(result: ParseResult<T>): T {
  assert.ok(result.ok, result.ok ? '' : result.error);
  return result.value;
}

function failure<T>(result: ParseResult<T>): string {
  assert.ok(!result.ok, 'expected a parse failure');
  return result.error;
}

const handdoc: HostProfile = handDoc;

function switchTo(port: number): ParsedSwitch {
  const result = parseSwitchFile(`upstream spring_backend {\n    server 127.0.0.1:${port};\n}\n`);
  assert.ok(result.ok);
  return result.parsed;
}

const nginxTestOk = { ok: true, output: 'nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\nnginx: configuration file /etc/nginx/nginx.conf test is successful\n' };

function nginxState(port: number, configTest = nginxTestOk): NginxState {
  return { switchFiles: [{ service: 'spring', path: '/etc/nginx/conf.d/active-upstream.conf', parsed: switchTo(port) }], configTest };
}

const published = (port: number): ContainerInfo['ports'] => [
  { ip: '0.0.0.0', privatePort: port, publicPort: port, protocol: 'tcp' },
  { ip: '::', privatePort: port, publicPort: port, protocol: 'tcp' },
];

function container(name: string, changes: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    name,
    id: `${name.length.toString(16)}f3c9a1b2d4e5`,
    image: name.includes('spring') ? 'handdoc/spring' : 'handdoc/fastapi',
    tag: 'latest',
    state: 'running',
    health: 'healthy',
    startedAt: '2024-05-01T09:00:00.123456789Z',
    ports: [],
    networkMode: 'bridge',
    labels: { 'com.docker.compose.project': 'apps' },
    ...changes,
  };
}

const timeoutLog = [1, 2, 3].map((i) => ({
  start: `2024-05-01T10:0${i}:00.000000000Z`,
  end: `2024-05-01T10:0${i}:03.001000000Z`,
  exitCode: -1,
  output: 'Health check exceeded timeout (3s)',
}));

/** handDoc as CONTEXT.md describes it: blue live, green stopped, fastapi flipping to unhealthy, 8080/8000 open to the world. */
const handdocContainers: ContainerInfo[] = [
  container('handdoc-spring-blue', { ports: published(8080), memoryKb: 412_000 }),
  container('handdoc-spring-green', { state: 'exited', health: 'none', startedAt: '2024-04-30T22:10:00Z' }),
  container('handdoc-fastapi', { ports: published(8000), health: 'unhealthy', failingStreak: 30, healthLog: timeoutLog }),
];

const meminfo = value(parseMeminfo(readFixture('host', 'meminfo.txt')));
const load = value(parseLoadavg(readFixture('host', 'loadavg.txt')));
const handdocMetrics: HostMetrics = { ...meminfo, ...load, dockerRootDisk: value(parseDfPk(readFixture('host', 'df-Pk.txt')))[0] };
const handdocListening: ListeningSocket[] = value(parseSsListening(readFixture('host', 'ss-ltnH.txt')));

void describe('host text parsers', () => {
  void it('reads /proc/meminfo of a t3.micro', () => {
    assert.deepEqual(meminfo, { memTotalKb: 940_820, memAvailableKb: 218_344, swapTotalKb: 0, swapFreeKb: 0 });
  });

  void it('estimates MemAvailable on kernels without it, and refuses text without MemTotal', () => {
    assert.equal(value(parseMeminfo('MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\nSwapTotal: 0 kB\n')).memAvailableKb, 420);
    assert.equal(failure(parseMeminfo('cat: /proc/meminfo: No such file or directory\n')), 'The memory report (/proc/meminfo) has no MemTotal line.');
  });

  void it('reads /proc/loadavg', () => {
    assert.deepEqual(load, { load1: 0.42, load5: 0.31, load15: 0.18 });
    assert.match(failure(parseLoadavg('')), /is not three numbers/);
  });

  void it('reads df -Pk, including a mount point with spaces', () => {
    assert.deepEqual(handdocMetrics.dockerRootDisk, { path: '/', sizeKb: 8_310_764, usedKb: 6_204_112, availKb: 2_106_652 });
    const rows = value(parseDfPk('Filesystem     1024-blocks    Used Available Capacity Mounted on\n/dev/nvme1n1      51290592 1048576  47603152       3% /mnt/docker data\ntmpfs               475308       0    475308       0% /dev/shm\n'));
    assert.deepEqual(rows.map((r) => r.path), ['/mnt/docker data', '/dev/shm']);
    assert.match(failure(parseDfPk('df: /var/lib/docker: No such file or directory\n')), /not in POSIX format: "df: \/var\/lib\/docker: No such file or directory"/);
    assert.equal(failure(parseDfPk('Filesystem     1024-blocks    Used Available Capacity Mounted on\n')), '"df -Pk" printed no filesystem.');
  });

  void it('reads ss -ltnH with IPv4, IPv6, %interface and wildcard addresses', () => {
    assert.deepEqual(handdocListening.slice(0, 2), [
      { address: '0.0.0.0', port: 80 },
      { address: '0.0.0.0', port: 8080 },
    ]);
    assert.deepEqual(handdocListening[5], { address: '127.0.0.53', port: 53 });
    assert.deepEqual(handdocListening[8], { address: '::', port: 8080 });
    assert.equal(handdocListening.length, 12);
    const withHeader = 'State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\nLISTEN 0      4096   *:9090 *:*\nLISTEN 0 128 [fe80::1%eth0]:546 [::]:*\n';
    assert.deepEqual(value(parseSsListening(withHeader)), [
      { address: '*', port: 9090 },
      { address: 'fe80::1', port: 546 },
    ]);
    assert.deepEqual(value(parseSsListening('tcp   LISTEN 0      511    127.0.0.1:8081 0.0.0.0:*\n')), [{ address: '127.0.0.1', port: 8081 }]);
    assert.deepEqual(value(parseSsListening('')), []);
    assert.match(failure(parseSsListening('LISTEN 0 128 garbage here\n')), /has no address:port where expected/);
  });
});

void describe('serviceViews', () => {
  void it('shows blue live and green idle from the switch file, with their containers', () => {
    const [spring, fastapi] = serviceViews(handdoc, handdocContainers, nginxState(8080));
    assert.equal(spring.kind, 'blueGreen');
    if (spring.kind !== 'blueGreen') return;
    assert.equal(spring.liveColor, 'blue');
    assert.equal(spring.idleColor, 'green');
    assert.equal(spring.colors.blue.isLive, true);
    assert.equal(spring.colors.green.isLive, false);
    assert.equal(spring.colors.green.container?.state, 'exited');
    assert.equal(spring.liveError, undefined);
    assert.equal(fastapi.kind === 'single' && fastapi.container?.health, 'unhealthy');
  });

  void it('follows a switch to green', () => {
    const [spring] = serviceViews(handdoc, handdocContainers, nginxState(8081));
    assert.equal(spring.kind === 'blueGreen' && spring.liveColor, 'green');
  });

  void it('explains why the live color is unknown instead of guessing', () => {
    const [unknownPort] = serviceViews(handdoc, handdocContainers, nginxState(9090));
    assert.equal(unknownPort.kind === 'blueGreen' && unknownPort.liveColor, undefined);
    assert.equal(
      unknownPort.kind === 'blueGreen' && unknownPort.liveError,
      '/etc/nginx/conf.d/active-upstream.conf (line 2) sends spring traffic to 127.0.0.1:9090, which is neither blue (port 8080) nor green (port 8081).',
    );
    const unreadable: NginxState = { switchFiles: [{ service: 'spring', path: '/etc/nginx/conf.d/active-upstream.conf', error: 'cat: Permission denied' }], configTest: nginxTestOk };
    const [noFile] = serviceViews(handdoc, [], unreadable);
    assert.equal(noFile.kind === 'blueGreen' && noFile.liveError, 'cat: Permission denied');
    assert.equal(noFile.kind === 'blueGreen' && noFile.colors.blue.container, undefined);
    const [notRead] = serviceViews(handdoc, [], { switchFiles: [], configTest: nginxTestOk });
    assert.equal(notRead.kind === 'blueGreen' && notRead.liveError, 'The switch file of spring (/etc/nginx/conf.d/active-upstream.conf) has not been read.');
  });
});

void describe('computeWarnings', () => {
  void it("raises handDoc's real problems: unhealthy fastapi, ports open to the world, no memory for a second color", () => {
    assert.deepEqual(computeWarnings(handdoc, handdocContainers, nginxState(8080), handdocMetrics, handdocListening), [
      {
        severity: 'error',
        subject: 'handdoc-fastapi',
        message:
          'handdoc-fastapi is unhealthy: 30 health checks failed in a row; the last check ended with exit code -1 after 3.0 s: "Health check exceeded timeout (3s)". If the app is only slow to start (e.g. loading models), the healthcheck timeout or start_period is too short; otherwise read its logs.',
      },
      {
        severity: 'warning',
        subject: 'port 8080',
        message:
          'handdoc-spring-blue publishes port 8080 on all interfaces (0.0.0.0), so it can be reached directly from outside, bypassing Nginx and TLS (Docker\'s rules also bypass the host firewall). Publish it on 127.0.0.1 only, e.g. ports: "127.0.0.1:8080:8080", and close 8080 in the security group.',
      },
      {
        severity: 'warning',
        subject: 'port 8000',
        message:
          'handdoc-fastapi publishes port 8000 on all interfaces (0.0.0.0), so it can be reached directly from outside, bypassing Nginx and TLS (Docker\'s rules also bypass the host firewall). Publish it on 127.0.0.1 only, e.g. ports: "127.0.0.1:8000:8000", and close 8000 in the security group.',
      },
      {
        severity: 'warning',
        subject: 'memory',
        message:
          'Only 213 MiB of 919 MiB memory is available and there is no swap. Deploying spring starts green next to blue, which needs about 402 MiB (the live blue uses 402 MiB); the kernel may kill a container. Free memory or add swap before deploying.',
      },
    ]);
  });

  void it('says nothing when the host is in order', () => {
    const calm: ContainerInfo[] = [
      container('handdoc-spring-blue', { ports: [{ ip: '127.0.0.1', privatePort: 8080, publicPort: 8080, protocol: 'tcp' }], memoryKb: 300_000 }),
      container('handdoc-spring-green', { state: 'exited', health: 'none' }),
      container('handdoc-fastapi', { ports: [{ ip: '127.0.0.1', privatePort: 8000, publicPort: 8000, protocol: 'tcp' }] }),
    ];
    const listening = [{ address: '127.0.0.1', port: 8080 }, { address: '127.0.0.1', port: 8000 }, { address: '0.0.0.0', port: 443 }];
    assert.deepEqual(computeWarnings(handdoc, calm, nginxState(8080), { ...handdocMetrics, memAvailableKb: 600_000 }, listening), []);
  });

  void it('reports a live color whose container is stopped once, not again as "nothing listens"', () => {
    const warnings = computeWarnings(handdoc, handdocContainers, nginxState(8081), undefined, handdocListening);
    const spring = warnings.filter((w) => w.subject === 'handdoc-spring-green' || w.subject.endsWith('active-upstream.conf'));
    assert.deepEqual(spring, [
      {
        severity: 'error',
        subject: 'handdoc-spring-green',
        message: 'Nginx sends spring traffic to green (handdoc-spring-green, port 8081), but that container is exited: requests fail with 502 Bad Gateway. Start it, or switch to blue if that one is healthy.',
      },
    ]);
  });

  void it('reports a switch file pointing at a port where nothing listens', () => {
    const running = handdocContainers.map((c) => (c.name === 'handdoc-spring-green' ? { ...c, state: 'running' as const, health: 'starting' as const } : c));
    const warnings = computeWarnings(handdoc, running, nginxState(8081), undefined, handdocListening);
    assert.deepEqual(warnings.find((w) => w.subject === '/etc/nginx/conf.d/active-upstream.conf'), {
      severity: 'error',
      subject: '/etc/nginx/conf.d/active-upstream.conf',
      message: '/etc/nginx/conf.d/active-upstream.conf sends spring traffic to 127.0.0.1:8081, but nothing listens on port 8081: every request there gets 502 Bad Gateway. Start the container for that port, or switch to the color that is running.',
    });
  });

  void it('reports a failing nginx -t with its first error line, first', () => {
    const broken = { ok: false, output: 'nginx: [emerg] unknown directive "proxy_pas" in /etc/nginx/conf.d/handdoc.conf:37\nnginx: configuration file /etc/nginx/nginx.conf test failed\n' };
    const [first] = computeWarnings(handdoc, handdocContainers, nginxState(8080, broken), undefined, undefined);
    assert.deepEqual(first, {
      severity: 'error',
      subject: 'nginx',
      message: '"nginx -t" fails: nginx: [emerg] unknown directive "proxy_pas" in /etc/nginx/conf.d/handdoc.conf:37. Nginx keeps serving the last good config, but every reload and every switch will be refused until this is fixed.',
    });
  });

  void it('warns about an app port on all interfaces that Docker does not publish (network_mode: host)', () => {
    const hostNetwork = handdocContainers.map((c) => ({ ...c, ports: [], networkMode: 'host', health: 'healthy' as const }));
    const warnings = computeWarnings(handdoc, hostNetwork, nginxState(8080), undefined, handdocListening);
    assert.deepEqual(
      warnings.map((w) => w.message),
      [
        'Port 8080 of spring blue (handdoc-spring-blue) listens on all interfaces (0.0.0.0), so it can be reached directly from outside, bypassing Nginx and TLS. Bind it to 127.0.0.1, and close 8080 in the firewall / security group.',
        'Port 8000 of fastapi (handdoc-fastapi) listens on all interfaces (0.0.0.0), so it can be reached directly from outside, bypassing Nginx and TLS. Bind it to 127.0.0.1, and close 8000 in the firewall / security group.',
      ],
    );
    const ipv6Only = computeWarnings(handdoc, hostNetwork, nginxState(8080), undefined, [{ address: '::', port: 8080 }]);
    assert.match(ipv6Only[0].message, /listens on all interfaces \(\[::\]\)/);
  });

  void it('uses the stated 300 MiB threshold when the live color was not measured, and skips when both colors run', () => {
    const unmeasured = handdocContainers.map((c) => ({ ...c, memoryKb: undefined }));
    const [memory] = computeWarnings(handdoc, unmeasured, nginxState(8080), { ...handdocMetrics, swapTotalKb: 524_284, swapFreeKb: 500_000 }, undefined).filter((w) => w.subject === 'memory');
    assert.equal(
      memory.message,
      "Only 213 MiB of 919 MiB memory is available; swap has 488 MiB free. Deploying spring starts green next to blue, which needs about 300 MiB (a stated minimum of 300 MiB, as the live color's use was not measured); the kernel may kill a container. Free memory or add swap before deploying.",
    );
    assert.equal(computeWarnings(handdoc, unmeasured, nginxState(8080), { ...handdocMetrics, memAvailableKb: 400_000 }, undefined).filter((w) => w.subject === 'memory').length, 0);
    const both = handdocContainers.map((c) => ({ ...c, state: 'running' as const }));
    assert.equal(computeWarnings(handdoc, both, nginxState(8080), handdocMetrics, undefined).filter((w) => w.subject === 'memory').length, 0);
  });

  void it('reports a restarting container and an unreadable switch file', () => {
    const restarting = handdocContainers.map((c) => (c.name === 'handdoc-fastapi' ? { ...c, state: 'restarting' as const, health: 'starting' as const } : c));
    const unreadable: NginxState = { switchFiles: [{ service: 'spring', path: '/etc/nginx/conf.d/active-upstream.conf', error: 'Cannot understand the switch file: it has no "upstream { server host:port; }" block, "set $var host:port;" line or "proxy_pass http://host:port;" line.' }], configTest: nginxTestOk };
    const messages = computeWarnings(handdoc, restarting, unreadable, undefined, undefined).filter((w) => w.severity === 'error').map((w) => w.message);
    assert.deepEqual(messages, [
      'Cannot tell which color of spring is live: Cannot understand the switch file: it has no "upstream { server host:port; }" block, "set $var host:port;" line or "proxy_pass http://host:port;" line.',
      'handdoc-fastapi keeps restarting: it exits soon after each start. Read its logs for the error.',
    ]);
  });
});

void describe('formatUptime', () => {
  const now = new Date('2024-05-01T12:12:30Z');

  void it('writes the two largest units', () => {
    assert.equal(formatUptime('2024-05-01T12:11:45Z', now), '45s');
    assert.equal(formatUptime('2024-05-01T12:00:25Z', now), '12m 5s');
    assert.equal(formatUptime('2024-05-01T09:00:00.123456789Z', now), '3h 12m');
    assert.equal(formatUptime('2024-04-29T08:00:00Z', now), '2d 4h');
  });

  void it('has no uptime for a container that never started or a bad timestamp, and 0s for clock skew', () => {
    assert.equal(formatUptime('0001-01-01T00:00:00Z', now), undefined);
    assert.equal(formatUptime('yesterday', now), undefined);
    assert.equal(formatUptime('2024-05-01T12:12:40Z', now), '0s');
  });
});
