import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildHostNode, findNode, type HostPicture, type TreeNodeModel } from '../../../src/core/hostTree';
import type { ContainerInfo } from '../../../src/core/hostState';
import { handDoc } from './handdocProfile';

const profile = handDoc;

const now = new Date('2026-11-25T12:00:00Z');

function container(name: string, extra: Partial<ContainerInfo> = {}): ContainerInfo {
  return { name, id: name, image: 'registry/app', tag: 'v1', state: 'running', health: 'healthy', startedAt: '2026-11-25T09:00:00Z', ports: [], networkMode: 'host', labels: {}, ...extra };
}

function picture(extra: Partial<HostPicture> = {}): HostPicture {
  return {
    takenAtMs: now.getTime(),
    containers: [
      container('handdoc-spring-blue'),
      container('handdoc-spring-green', { tag: 'v2' }),
      container('handdoc-fastapi', {
        health: 'unhealthy',
        failingStreak: 30,
        healthLog: [{ start: '2026-11-25T11:59:00Z', end: '2026-11-25T11:59:03Z', exitCode: -1, output: 'Health check exceeded timeout (3s)' }],
      }),
    ],
    nginx: {
      switchFiles: [{ service: 'spring', path: '/etc/nginx/conf.d/active-upstream.conf', activeColor: 'green', parsed: { form: 'upstream', upstreamName: 'spring_backend', targetHost: '127.0.0.1', targetPort: 8081, span: { start: 0, end: 4 }, line: 2 } }],
      configTest: { ok: true, output: 'syntax is ok' },
    },
    warnings: [],
    problems: {},
    ...extra,
  };
}

function find(node: TreeNodeModel, id: string): TreeNodeModel {
  const found = findNode(node, id);
  assert.ok(found, `no node ${id} in the tree`);
  return found;
}

test('the live color is marked and colored, the idle one dimmed; the service names the live tag', () => {
  const tree = buildHostNode(profile, { kind: 'connected' }, picture(), now);
  assert.equal(find(tree, 'handdoc/services/spring').description, 'live: green (v2)');
  const green = find(tree, 'handdoc/services/spring/green');
  const blue = find(tree, 'handdoc/services/spring/blue');
  assert.equal(green.description, 'LIVE · healthy · v2 · :8081');
  assert.deepEqual(green.icon, { id: 'circle-large-filled', color: 'charts.green' });
  assert.equal(green.contextValue, 'color.live.running');
  assert.equal(blue.description, 'idle · healthy · v1 · :8080');
  assert.deepEqual(blue.icon, { id: 'circle-large-outline', color: 'disabledForeground' });
});

test('an unhealthy container shows a red icon, and its tooltip the failing streak and the probe output', () => {
  const tree = buildHostNode(profile, { kind: 'connected' }, picture(), now);
  const fastapi = find(tree, 'handdoc/containers/handdoc-fastapi');
  assert.deepEqual(fastapi.icon, { id: 'error', color: 'testing.iconFailed' });
  assert.match(fastapi.description ?? '', /^app:v1 · unhealthy · :8000 · up 3h 0m$/);
  assert.match(fastapi.tooltip ?? '', /FailingStreak 30/);
  assert.match(fastapi.tooltip ?? '', /exit -1 after 3\.0 s/);
  assert.match(fastapi.tooltip ?? '', /Health check exceeded timeout \(3s\)/);
  assert.match(tree.description ?? '', /3 containers · 1 unhealthy/);
});

test('parts that could not be read show their specific error where the data would be', () => {
  const tree = buildHostNode(
    profile,
    { kind: 'connected' },
    picture({
      containers: [],
      problems: {
        docker: { code: 'dockerPermissionDenied', message: 'ec2-user may not use the Docker socket', hint: 'sudo usermod -aG docker ec2-user' },
        nginx: { code: 'sudoNeedsPassword', message: 'sudo asks ec2-user for a password to run `nginx -t`' },
      },
    }),
    now,
  );
  const containers = find(tree, 'handdoc/containers');
  assert.equal(containers.children.length, 1);
  assert.equal(containers.children[0].label, 'ec2-user may not use the Docker socket');
  assert.equal(containers.children[0].description, 'sudo usermod -aG docker ec2-user');
  assert.equal(containers.children[0].command, 'switchyard.showLog');
  assert.equal(find(tree, 'handdoc/nginx').children[0].label, 'sudo asks ec2-user for a password to run `nginx -t`');
});

test('connection states: idle invites a click, failed shows the error with Retry and Show Log, reconnecting marks everything stale', () => {
  const idle = buildHostNode(profile, { kind: 'idle' }, undefined, now);
  assert.deepEqual(idle.children.map((c) => [c.label, c.command]), [['Not connected', 'switchyard.connectHost']]);
  assert.equal(idle.contextValue, 'host.idle');

  const failed = buildHostNode(profile, { kind: 'failed', error: { code: 'authFailed', message: 'ec2-user@3.35.120.7 refused the key', hint: 'Check identityFile' } }, undefined, now);
  assert.deepEqual(failed.children.map((c) => c.label), ['ec2-user@3.35.120.7 refused the key', 'Retry', 'Show Log']);
  assert.equal(failed.icon?.color, 'list.errorForeground');

  const reconnecting = buildHostNode(profile, { kind: 'reconnecting', attempt: 2, nextRetryMs: 2000, lastError: { code: 'connectionLost', message: 'lost' } }, picture(), now);
  assert.equal(reconnecting.children[0].label, 'Connection lost: reconnecting (attempt 2)…');
  assert.deepEqual(reconnecting.children.slice(1).map((c) => c.label), ['Services (stale)', 'Containers (stale)', 'Nginx (stale)', 'Deploys (stale)', 'Host (stale)']);

  // A closed connection never shows its old picture as if it were live.
  const closed = buildHostNode(profile, { kind: 'closed' }, picture(), now);
  assert.deepEqual(closed.children.map((c) => c.label), ['Not connected']);
});

test('warnings come first, with the worst severity as the group icon', () => {
  const tree = buildHostNode(profile, { kind: 'connected' }, picture({ warnings: [{ severity: 'warning', subject: 'port 8000', message: 'listens on all interfaces' }] }), now);
  assert.equal(tree.children[0].label, 'Warnings');
  assert.deepEqual(tree.children[0].icon, { id: 'warning', color: 'list.warningForeground' });
  assert.equal(tree.children[0].children[0].description, 'listens on all interfaces');
});

test('the Deploys group shows who holds the deploy lock, and History opens the journal', () => {
  const free = buildHostNode(profile, { kind: 'connected' }, picture(), now);
  assert.equal(find(free, 'handdoc/deploys/lock').description, 'free');
  assert.equal(find(free, 'handdoc/deploys/history').command, 'switchyard.showHistory');
  const held = buildHostNode(
    profile,
    { kind: 'connected' },
    picture({ deployLock: { holder: 'github-actions run 42', operation: 'deploy', service: 'spring', startedAt: '2026-11-25T11:58:00Z', step: 'waitReady' } }),
    now,
  );
  const lock = find(held, 'handdoc/deploys/lock');
  assert.equal(lock.description, 'held by github-actions run 42: deploy of spring (waitReady)');
  assert.equal(lock.contextValue, 'lock.held');
  assert.equal(find(held, 'handdoc/deploys').description, 'locked');
});
