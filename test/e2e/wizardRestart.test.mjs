// End to end (issue 7): the healthcheck wizard's restart-with-permission path in real VS Code
// (code-server) in Chromium. A single container whose port is fixed inside its start command
// (host networking, nothing a copy could change) cannot be measured on a throwaway copy, so the
// wizard asks before restarting it. "Don't restart" leaves it alone; "Restart and measure"
// restarts it once per run and fills the table. The container is the FastAPI stand-in under its own
// name, port and compose project (not handDoc's), added to the workspace's profile as a service.
// Screenshots: test-results/wizard-restart-*.png.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { readSandboxInfo, sandboxProfiles } from '../sandbox/sandboxProfile.mjs';
import { restartOnlyCompose } from '../sandbox/restartOnlyCompose.mjs';
import { openSandboxVSCode, trustSandboxHostKey, waitUntil } from './sandboxVSCode.mjs';

const log = (m) => console.log(`[e2e] ${m}`);
const container = 'switchyard-wizard-restart-only';
const port = 18123;

let info;
let dir;
let composeFile;
let session;
let vs;

function hostDocker(args) {
  return execFileSync('docker', ['-H', `unix://${info.dockerSocket}`, ...args], { encoding: 'utf8' });
}

function compose(...args) {
  execFileSync('docker-compose', ['-p', container, '-f', composeFile, ...args], { env: { ...process.env, DOCKER_HOST: `unix://${info.dockerSocket}` }, stdio: 'pipe' });
}

function state() {
  const [id, startedAt, status] = hostDocker(['inspect', '-f', '{{.Id}} {{.State.StartedAt}} {{.State.Status}}', container]).trim().split(' ');
  return { id, startedAt, status };
}

function answers() {
  return new Promise((resolve) => {
    http
      .get(`http://127.0.0.1:${port}/health`, { agent: false, timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      })
      .on('error', () => resolve(false))
      .on('timeout', function () {
        this.destroy();
        resolve(false);
      });
  });
}

/** The wizard's document: the inner frame of the webview whose page has the wizard's title. */
async function wizardFrame(title, timeout = 60_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    for (const frame of vs.page.frames()) {
      if ((await frame.locator('main#app h1', { hasText: title }).count().catch(() => 0)) > 0) return frame;
    }
    await vs.page.waitForTimeout(250);
  }
  await vs.screenshot('wizard-restart-debug-no-webview');
  throw new Error('the wizard webview did not appear (see test-results/wizard-restart-debug-no-webview.png)');
}

before(
  async () => {
    info = readSandboxInfo();
    dir = path.join(`/home/${info.user}`, 'switchyard-wizard-e2e');
    fs.mkdirSync(dir, { recursive: true });
    composeFile = path.join(dir, 'docker-compose.restart-only.yml');
    fs.writeFileSync(composeFile, restartOnlyCompose({ registry: info.registry, container, port, modelLoadS: 3 }));
    compose('up', '-d', '--force-recreate');
    await waitUntil(`${container} answers /health`, answers, 60_000);
    const profiles = sandboxProfiles(info);
    profiles[0].services.push({ kind: 'single', name: 'restart-only', container, composeFile, port, healthPath: '/health' });
    session = await openSandboxVSCode('wizard-restart', { settings: { 'switchyard.hosts': profiles, 'switchyard.wizard.measureRuns': 2 }, log });
    vs = session.vs;
  },
  { timeout: 15 * 60_000 },
);

after(async () => {
  if (session) await session.close();
  if (composeFile) {
    try {
      compose('down', '--remove-orphans');
    } catch {
      execFileSync('docker', ['-H', `unix://${info.dockerSocket}`, 'rm', '-f', container], { stdio: 'ignore' });
    }
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a container no copy can stand in for: the wizard asks; "Don’t restart" leaves it alone; "Restart and measure" restarts it per run', { timeout: 300_000 }, async () => {
  await trustSandboxHostKey(vs);
  await vs.waitForViewText(/live: (blue|green)/, { timeout: 60_000 });
  await vs.runCommand('Switchyard: Open Healthcheck Wizard');
  await vs.pickQuickItem('restart-only');
  const frame = await wizardFrame('Healthcheck wizard · restart-only');
  await frame.getByText('docker-compose.restart-only.yml', { exact: true }).waitFor({ timeout: 60_000 });
  await frame.getByText('Next: Measure').click();
  const measure = frame.locator('vscode-tab-panel').nth(1);
  await measure.getByText(/The only way left is to restart switchyard-wizard-restart-only itself for each run/).waitFor({ timeout: 30_000 });
  assert.match(await measure.innerText(), new RegExp(`uses host networking and neither an environment variable \\(like PORT=${port}\\) nor a command argument carries its port`));

  const before = state();
  await measure.getByText('Start measuring').click();
  const question = measure.locator('.banner.warning', { hasText: `Restart ${container} for each run?` });
  await question.waitFor({ timeout: 20_000 });
  assert.match(await question.innerText(), /It serves traffic: users get errors until it answers again/);
  await vs.closePanel();
  await vs.screenshot('wizard-restart-1-ask-dark');

  await question.getByText('Don’t restart').click();
  await question.waitFor({ state: 'detached', timeout: 10_000 });
  assert.match(await measure.innerText(), /No measurement yet\./);
  assert.deepEqual(state(), before, 'not restarted, not recreated');
  await vs.screenshot('wizard-restart-2-declined-dark');

  await measure.getByText('Start measuring').click();
  await question.waitFor({ timeout: 20_000 });
  await question.getByText('Restart and measure').click();
  await measure.locator('tbody tr').nth(1).getByText('done').waitFor({ timeout: 120_000 });
  const rows = await measure.locator('tbody tr').allInnerTexts();
  assert.equal(rows.length, 2);
  for (const row of rows) assert.match(row, /done\s+\d+\.\d+ s/);
  const after = state();
  assert.equal(after.id, before.id, 'the same container');
  assert.notEqual(after.startedAt, before.startedAt, 'restarted');
  assert.equal(after.status, 'running');
  await vs.screenshot('wizard-restart-3-measured-dark');
});
