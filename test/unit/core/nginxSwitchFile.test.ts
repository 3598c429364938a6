import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BlueGreenService } from '../../../src/core/hostProfile';
import { findSwitchCandidates, parseSwitchFile, renderSwitch, resolveActiveColor } from '../../../src/core/nginxSwitchFile';
import type { ParsedSwitch, SwitchParseOptions } from '../../../src/core/nginxSwitchFile';
import { readFixture } from './fixtureFiles';
import { handDocSpring } from './handdocProfile';

const activeUpstream = readFixture('handdoc', 'nginx', 'active-upstream.conf');
const handdocConf = readFixture('handdoc', 'nginx', 'handdoc.conf');

function parsed(text: string, options?: SwitchParseOptions): ParsedSwitch {
  const result = parseSwitchFile(text, options);
  assert.ok(result.ok, `expected a switch, got: ${result.ok ? '' : result.error}`);
  return result.parsed;
}

function refused(text: string, options?: SwitchParseOptions): string {
  const result = parseSwitchFile(text, options, 'switch.conf');
  assert.ok(!result.ok, 'expected the file to be refused');
  return result.error;
}

function rendered(text: string, newPort: number, options?: SwitchParseOptions): string {
  const result = renderSwitch(text, parsed(text, options), newPort);
  assert.ok(result.ok, result.ok ? '' : result.error);
  return result.text;
}

const spring: BlueGreenService = handDocSpring;

void describe('parseSwitchFile: upstream form', () => {
  void it("reads handDoc's active-upstream.conf", () => {
    const result = parsed(activeUpstream);
    assert.equal(result.form, 'upstream');
    assert.equal(result.upstreamName, 'spring_backend');
    assert.equal(result.targetHost, '127.0.0.1');
    assert.equal(result.targetPort, 8080);
    assert.equal(result.line, 3);
    assert.equal(activeUpstream.slice(result.span.start, result.span.end), '8080');
  });

  void it('switches handDoc to green by changing only the port', () => {
    assert.equal(
      rendered(activeUpstream, 8081),
      '# Rewritten by deploy.sh at every switch; then: sudo nginx -s reload\nupstream spring_backend {\n    server 127.0.0.1:8081;\n}\n',
    );
  });

  void it('picks the one server that is neither down nor backup, with parameters, keepalive and comments around it', () => {
    const text = [
      '# managed by Switchyard; 8080 = blue, 8081 = green',
      'upstream spring_backend {',
      '    # green stays listed so a manual switch is one word',
      '    server 127.0.0.1:8081 down;',
      '    server 127.0.0.1:8080 max_fails=3 fail_timeout=5s; # live',
      '    server localhost:8082 backup;',
      '    keepalive 16;',
      '}',
      '',
    ].join('\n');
    const result = parsed(text);
    assert.equal(result.targetPort, 8080);
    assert.equal(result.line, 5);
    assert.equal(rendered(text, 8081), text.replace('127.0.0.1:8080 max_fails', '127.0.0.1:8081 max_fails'));
  });

  void it('reads an IPv6 server and a container name', () => {
    assert.equal(parsed('upstream a { server [::1]:8080; }').targetHost, '::1');
    const byName = parsed('upstream a {\n  server handdoc-spring-green:8081 weight=1;\n}\n');
    assert.equal(byName.targetHost, 'handdoc-spring-green');
    assert.equal(byName.targetPort, 8081);
  });

  void it('keeps CRLF line ends and non-ASCII comments byte for byte', () => {
    const text = '# 배포 스크립트가 다시 씀 — rewritten at deploy\r\nupstream spring_backend {\r\n\tserver 127.0.0.1:8080;\r\n}\r\n';
    assert.equal(rendered(text, 8081), text.replace(':8080;', ':8081;'));
  });

  void it('refuses an upstream that load-balances over two servers', () => {
    const message = refused('upstream spring_backend {\n  server 127.0.0.1:8080;\n  server 127.0.0.1:8081;\n}\n');
    assert.match(message, /^Cannot understand switch\.conf: upstream spring_backend \(switch\.conf line 1\) sends traffic to 2 servers/);
    assert.match(message, /127\.0\.0\.1:8080 \(line 2\), 127\.0\.0\.1:8081 \(line 3\)/);
  });

  void it('refuses an upstream whose servers are all down or backup', () => {
    assert.match(refused('upstream a {\n  server 127.0.0.1:8080 down;\n  server 127.0.0.1:8081 backup;\n}\n'), /has no server that takes traffic: every one is "down" or "backup"/);
  });

  void it('refuses a server without a port, a unix socket and an empty upstream', () => {
    assert.match(refused('upstream a { server backend; }'), /sends traffic to "backend" without an explicit port/);
    assert.match(refused('upstream a { server unix:/run/app.sock; }'), /"unix:\/run\/app\.sock", which is not a host:port address/);
    assert.match(refused('upstream a { keepalive 8; }'), /upstream a \(switch\.conf line 1\) has no "server" line/);
  });
});

void describe('parseSwitchFile: set and proxy_pass forms', () => {
  void it('reads set $var with a scheme, without one, with a container name and quoted', () => {
    const withScheme = parsed('set $spring_upstream http://127.0.0.1:8081;\n');
    assert.deepEqual({ ...withScheme, span: undefined }, { form: 'set', variable: '$spring_upstream', targetHost: '127.0.0.1', targetPort: 8081, span: undefined, line: 1 });
    assert.equal(parsed('set $backend 127.0.0.1:8080;').targetPort, 8080);
    assert.equal(parsed('set $backend localhost:8080;').targetHost, 'localhost');
    assert.equal(parsed('set $backend http://handdoc-spring-blue:8080;').targetHost, 'handdoc-spring-blue');
    const quoted = 'set $backend "http://127.0.0.1:8080"; # live color\n';
    assert.equal(rendered(quoted, 8081), 'set $backend "http://127.0.0.1:8081"; # live color\n');
  });

  void it('ignores set lines that are not addresses', () => {
    assert.equal(parsed('set $flag on;\nset $backend http://127.0.0.1:8080;\n').variable, '$backend');
  });

  void it('reads proxy_pass with a port, with or without a path', () => {
    const text = 'location /api/ {\n    proxy_pass http://127.0.0.1:8080/api/;\n    proxy_set_header Host $host;\n}\n';
    const result = parsed(text);
    assert.equal(result.form, 'proxyPass');
    assert.equal(result.targetPort, 8080);
    assert.equal(rendered(text, 8081), text.replace('8080', '8081'));
  });

  void it('calls two possible switches ambiguous unless the service ports narrow them', () => {
    const text = 'server {\n  location /api/ { proxy_pass http://127.0.0.1:8080; }\n  location /fastapi/ { proxy_pass http://127.0.0.1:8000; }\n}\n';
    assert.match(refused(text), /has 2 addresses that could be the switch .*proxy_pass → http:\/\/127\.0\.0\.1:8080 \(line 2\); proxy_pass → http:\/\/127\.0\.0\.1:8000 \(line 3\).*ambiguous/);
    assert.equal(parsed(text, { ports: [8080, 8081] }).line, 2);
  });

  void it('says which ports it looked for when none match', () => {
    assert.equal(
      refused(handdocConf, { ports: [8080, 8081] }),
      'Cannot understand switch.conf: no address in it uses port 8080 or 8081 (found proxy_pass → http://127.0.0.1:8000 (line 46); proxy_pass → http://127.0.0.1:8000 (line 56)).',
    );
  });

  void it('does not take a proxy_pass to an upstream or a variable as the switch', () => {
    assert.match(refused('location / { proxy_pass http://spring_backend; }\nlocation /x { proxy_pass http://$backend; }\n'), /has no "upstream \{ server host:port; \}" block/);
  });

  void it('refuses a map or split_clients whose values are service addresses: the color is chosen per request', () => {
    const map = 'map $cookie_canary $spring_upstream {\n    default 127.0.0.1:8080;\n    green   127.0.0.1:8081;\n}\nupstream spring_backend {\n    server 127.0.0.1:8080;\n}\n';
    assert.equal(
      refused(map, { ports: [8080, 8081] }),
      'Cannot understand switch.conf: map $cookie_canary $spring_upstream (switch.conf line 1) chooses the address per request (127.0.0.1:8080, 127.0.0.1:8081), so no single address says which color is live.',
    );
    assert.match(refused('split_clients $remote_addr $backend {\n  10% 127.0.0.1:8081;\n  * 127.0.0.1:8080;\n}\n'), /split_clients \$remote_addr \$backend \(switch\.conf line 1\) chooses the address per request \(127\.0\.0\.1:8081, 127\.0\.0\.1:8080\)/);
    // A map of other things (hosts to flags) next to the switch is not a switch.
    assert.equal(parsed('map $http_upgrade $connection_upgrade {\n  default upgrade;\n  \'\' close;\n}\nupstream a {\n  server 127.0.0.1:8081;\n}\n', { ports: [8080, 8081] }).targetPort, 8081);
  });

  void it('reports syntax errors with their line', () => {
    assert.match(refused('upstream a {\n  server 127.0.0.1:8080;\n'), /switch\.conf line 1: the "\{" opened here is never closed/);
    assert.match(refused('upstream a {\n  server 127.0.0.1:8080\n}\n'), /switch\.conf line 2: "server" is not ended with ";"/);
    assert.match(refused('set $a "http://127.0.0.1:8080;\n'), /line 1: the string that starts with " is never closed/);
    assert.match(refused('}\n'), /line 1: unexpected "\}"/);
  });

  void it('refuses an empty file', () => {
    assert.match(refused('# nothing here yet\n'), /has no "upstream/);
  });
});

void describe('resolveActiveColor', () => {
  void it('maps the port to blue or green', () => {
    assert.deepEqual(resolveActiveColor(parsed(activeUpstream), spring), { ok: true, color: 'blue' });
    assert.deepEqual(resolveActiveColor(parsed('upstream spring_backend { server 127.0.0.1:8081; }'), spring), { ok: true, color: 'green' });
  });

  void it('names both color ports when the target is neither', () => {
    assert.deepEqual(resolveActiveColor(parsed('upstream spring_backend {\n  server 127.0.0.1:9090;\n}'), spring), {
      ok: false,
      error: '/etc/nginx/conf.d/active-upstream.conf (line 2) sends spring traffic to 127.0.0.1:9090, which is neither blue (port 8080) nor green (port 8081).',
    });
  });

  void it('refuses a container name that contradicts the port', () => {
    const result = resolveActiveColor(parsed('set $backend http://handdoc-spring-blue:8081;'), spring);
    assert.ok(!result.ok);
    assert.match(result.error, /the host is the blue container but the port is green's \(8081\)/);
  });
});

void describe('renderSwitch', () => {
  void it('refuses when the file changed since it was parsed', () => {
    const switchPoint = parsed(activeUpstream);
    const result = renderSwitch(activeUpstream.replace('8080', '9090'), switchPoint, 8081);
    assert.deepEqual(result, {
      ok: false,
      error: 'The switch file changed since it was read: expected port 8080 at line 3, found "9090". Read it again before switching.',
    });
    assert.equal(renderSwitch(activeUpstream.replace('8080', '18080'), switchPoint, 8081).ok, false);
  });

  void it('refuses a port out of range', () => {
    assert.deepEqual(renderSwitch(activeUpstream, parsed(activeUpstream), 70000), { ok: false, error: '70000 is not a port number (1-65535).' });
  });

  void it('can switch back and forth without drift', () => {
    const green = rendered(activeUpstream, 8081);
    assert.equal(rendered(green, 8080), activeUpstream);
  });
});

void describe('findSwitchCandidates', () => {
  void it("lists handdoc.conf's proxy_pass targets with their locations, and calls it a full config", () => {
    const scan = findSwitchCandidates('handdoc.conf', handdocConf);
    assert.equal(scan.error, undefined);
    assert.equal(scan.isPureSwitchInclude, false);
    assert.deepEqual(scan.upstreams, []);
    assert.deepEqual(scan.setTargets, []);
    assert.deepEqual(scan.proxyPassTargets, [
      { target: 'http://spring_backend', host: 'spring_backend', upstreamName: 'spring_backend', location: '/api/', line: 37 },
      { target: 'http://127.0.0.1:8000', host: '127.0.0.1', port: 8000, location: '/fastapi/ws', line: 46 },
      { target: 'http://127.0.0.1:8000', host: '127.0.0.1', port: 8000, location: '/fastapi/', line: 56 },
    ]);
  });

  void it('calls active-upstream.conf a pure switch include', () => {
    const scan = findSwitchCandidates('active-upstream.conf', activeUpstream);
    assert.equal(scan.isPureSwitchInclude, true);
    assert.deepEqual(scan.upstreams, [
      { name: 'spring_backend', line: 2, servers: [{ address: '127.0.0.1:8080', host: '127.0.0.1', port: 8080, isDown: false, isBackup: false, line: 3 }] },
    ]);
  });

  void it('lists set targets and marks down and backup servers', () => {
    const scan = findSwitchCandidates('switch.conf', 'set $spring http://127.0.0.1:8081;\nset $debug on;\nupstream u {\n  server 127.0.0.1:8080 down;\n  server 127.0.0.1:8081 backup;\n}\n');
    assert.equal(scan.isPureSwitchInclude, true);
    assert.deepEqual(scan.setTargets, [{ variable: '$spring', host: '127.0.0.1', port: 8081, line: 1 }]);
    assert.deepEqual(
      scan.upstreams[0].servers.map((s) => [s.port, s.isDown, s.isBackup]),
      [
        [8080, true, false],
        [8081, false, true],
      ],
    );
  });

  void it('handles ${var} braces and map blocks with quoted keys without confusion', () => {
    const scan = findSwitchCandidates('x.conf', "map $http_upgrade $connection_upgrade {\n  default upgrade;\n  ''      close;\n}\nserver { location / { return 200 \"${host}\"; proxy_pass http://localhost:3000; } }\n");
    assert.equal(scan.error, undefined);
    assert.deepEqual(scan.proxyPassTargets.map((t) => [t.host, t.port, t.location]), [['localhost', 3000, '/']]);
  });

  void it('reports a syntax error instead of lists', () => {
    const scan = findSwitchCandidates('broken.conf', 'server {\n  listen 80;\n');
    assert.equal(scan.error, 'broken.conf line 1: the "{" opened here is never closed');
    assert.equal(scan.isPureSwitchInclude, false);
  });
});
