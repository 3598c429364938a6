// End to end (issue 7): the healthcheck wizard in real VS Code (code-server) in Chromium, on the
// sandbox host. Opened from the "fastapi" service in the tree, it shows the current healthcheck and
// health log, measures the slow-start image on a throwaway copy (the table fills in run by run),
// recommends timings (a bad value is explained), refuses to overwrite a compose file changed on the
// host, writes the file, recreates the service and shows Docker's "healthy" with the new timings.
// The wizard survives being hidden and closed; the Blue-Green service shows both compose files.
// Screenshots of every step, dark and light, go to test-results/wizard-*.png.
//
// Until package.json contributes `switchyard.openHealthcheckWizard`, this test packages a VSIX from a
// patched copy of the manifest in a temp dir (see wizardVsix.mjs); the repository's package.json is never changed.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ensureChromium, startCodeServer } from './codeServer.mjs';
import { openVSCode, REPO_ROOT } from './vscodePage.mjs';
import { wizardVsix } from './wizardVsix.mjs';
import { waitUntil } from './sandboxVSCode.mjs';

const log = (m) => console.log(`[e2e] ${m}`);
const sandboxDir = process.env.SWITCHYARD_SANDBOX_DIR || '/var/lib/switchyard-sandbox';

let tmp;
let home;
let cs;
let vs;
let info;
let composePath;
let originalCompose;

function hostDocker(args, env = {}) {
  return execFileSync('docker', ['-H', `unix://${info.dockerSocket}`, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
}

function fastapiState() {
  const [startedAt, health] = hostDocker(['inspect', '-f', '{{.State.StartedAt}} {{.State.Health.Status}}', 'handdoc-fastapi']).trim().split(' ');
  return { startedAt, health };
}

/** The wizard's document: the inner frame of the webview whose page has #app. */
async function wizardFrame(timeout = 60_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    for (const frame of vs.page.frames()) {
      if (!/fake\.html|index\.html/.test(frame.url())) continue;
      const has = await frame.locator('main#app h1').count().catch(() => 0);
      if (has > 0 && (await frame.locator('main#app h1').first().isVisible().catch(() => false))) return frame;
    }
    await vs.page.waitForTimeout(250);
  }
  await vs.screenshot('wizard-debug-no-webview');
  throw new Error('the wizard webview did not appear (see test-results/wizard-debug-no-webview.png)');
}

/** Right-click a tree row → "Open Healthcheck Wizard" (the menu needs a moment before it takes a click). */
async function openFromTree(label) {
  const page = vs.page;
  for (let attempt = 0; attempt < 3; attempt++) {
    await treeRow(label).click({ button: 'right' });
    const item = page.getByRole('menuitem', { name: 'Open Healthcheck Wizard' });
    await item.waitFor({ state: 'visible', timeout: 10_000 });
    await page.waitForTimeout(400);
    await item.click();
    const opened = await page
      .locator('.tabs-container .tab', { hasText: `Healthcheck: ${label}` })
      .waitFor({ state: 'visible', timeout: 10_000 })
      .then(() => true)
      .catch(() => false);
    if (opened) return;
    await page.keyboard.press('Escape');
  }
  throw new Error(`"Open Healthcheck Wizard" on ${label} did not open the wizard`);
}

/** Keyboard shortcuts go to the workbench, not into the webview's frame. */
async function focusWorkbench() {
  await vs.page.locator('.part.statusbar').click({ position: { x: 5, y: 5 } }).catch(() => {});
}

async function selectStep(frame, label) {
  await frame.locator('vscode-tab-header', { hasText: label }).click();
}

async function shot(name) {
  await vs.screenshot(name);
}

function treeRow(label) {
  const page = vs.page;
  return page.locator('.part.sidebar .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${label}$`) }) }).first();
}

before(
  async () => {
    ensureChromium({ log });
    info = JSON.parse(fs.readFileSync(path.join(sandboxDir, 'sandbox.json'), 'utf8'));
    composePath = path.join(info.appsDir, 'docker-compose.fastapi.yml');
    originalCompose = fs.readFileSync(composePath, 'utf8');
    await waitUntil('handdoc-fastapi healthy', () => fastapiState().health === 'healthy', 150_000);
    const profiles = JSON.parse(execFileSync(process.execPath, [path.join(REPO_ROOT, 'test', 'sandbox', 'sandboxProfile.mjs')], { encoding: 'utf8' }));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-e2e-wizard-'));
    const vsix = wizardVsix(tmp, log);
    home = path.join(tmp, 'home');
    fs.mkdirSync(home);
    const folder = path.join(tmp, 'handdoc-workspace');
    fs.mkdirSync(path.join(folder, '.vscode'), { recursive: true });
    fs.writeFileSync(path.join(folder, '.vscode', 'settings.json'), `${JSON.stringify({ 'switchyard.hosts': profiles, 'switchyard.wizard.measureRuns': 2 }, null, 2)}\n`);
    cs = await startCodeServer({ folder, vsixPath: vsix, baseDir: path.join(tmp, 'code-server'), env: { HOME: home }, log });
    vs = await openVSCode(cs.url, { log, viewport: { width: 1500, height: 1000 } });
  },
  { timeout: 15 * 60_000 },
);

after(async () => {
  if (vs) await vs.close();
  if (cs) await cs.stop();
  // Put the sandbox back as it was: the compose file and a container created from it.
  if (info && fs.readFileSync(composePath, 'utf8') !== originalCompose) {
    fs.writeFileSync(composePath, originalCompose);
    execFileSync('docker-compose', ['-p', 'handdoc-fastapi', '-f', composePath, 'up', '-d', '--no-deps', 'fastapi'], {
      cwd: info.appsDir,
      env: { ...process.env, DOCKER_HOST: `unix://${info.dockerSocket}` },
      stdio: 'pipe',
    });
    await waitUntil('handdoc-fastapi healthy again', () => fastapiState().health === 'healthy', 150_000).catch((e) => log(e.message));
  }
  if (composePath) fs.rmSync(`${composePath}.switchyard-bak`, { force: true });
  if (tmp && !process.env.SWITCHYARD_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
});

/**
 * For a screenshot only: the webview re-renders when state arrives (e.g. the tree's refresh after a
 * roll-out), which can detach the element mid-scroll; try again on the re-rendered one.
 */
async function scrollIntoView(locator) {
  for (let attempt = 1; ; attempt++) {
    try {
      await locator.scrollIntoViewIfNeeded({ timeout: 5_000 });
      return;
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
}

test('opened from the fastapi service in the tree, step 1 shows the compose healthcheck, the image and the health log', { timeout: 240_000 }, async () => {
  const page = vs.page;
  await vs.openViewContainer('Switchyard');
  const dialog = page.locator('.monaco-dialog-box').filter({ hasText: 'has never connected to [127.0.0.1]:2222' });
  await dialog.waitFor({ state: 'visible', timeout: 120_000 });
  await dialog.getByRole('button', { name: 'Trust and Connect' }).click();
  await vs.waitForViewText(/live: (blue|green)/, { timeout: 60_000 });
  await openFromTree('fastapi');
  const frame = await wizardFrame();
  await frame.getByText('Healthcheck wizard · fastapi').waitFor({ timeout: 30_000 });
  await frame.getByText('docker-compose.fastapi.yml', { exact: true }).waitFor({ timeout: 60_000 });
  const current = frame.locator('vscode-tab-panel').nth(0);
  const text = await current.innerText();
  assert.match(text, /interval\s+30s/);
  assert.match(text, /timeout\s+15s/);
  assert.match(text, /start_period\s+60s/);
  assert.match(text, /CMD wget -q -O- http:\/\/127\.0\.0\.1:8000\/health/);
  assert.match(text, /no HEALTHCHECK of its own/);
  assert.match(text, /handdoc-fastapi\s+healthy/);
  assert.match(text, /failing streak 0/);
  assert.ok((await current.locator('table tbody tr').count()) >= 1, 'the recent probes, each with its exit code, duration and output');
  assert.match(await current.locator('table').innerText(), /\{"status":"ok"\}/);
  // The stylesheet is a constructed one (no inline <style>): it applies under `style-src ${cspSource}` alone.
  assert.equal(await frame.locator('.wizard-header').evaluate((el) => getComputedStyle(el).display), 'flex');
  const csp = await frame.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  assert.match(csp, /^default-src 'none'; style-src [^;]+; script-src 'nonce-[A-Za-z0-9+/]{24}'$/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  await vs.closePanel();
  await shot('wizard-1-current-dark');
});

test('step 2 measures on a throwaway copy; the table fills in run by run; the live container is not touched', { timeout: 240_000 }, async () => {
  const frame = await wizardFrame();
  const liveBefore = fastapiState();
  await frame.getByText('Next: Measure').click();
  const measure = frame.locator('vscode-tab-panel').nth(1);
  await measure.getByText(/A throwaway copy of handdoc-fastapi/).waitFor({ timeout: 30_000 });
  await measure.getByText('Start measuring').click();
  // First run done while the second still runs: the table fills in as runs come in.
  await measure.locator('tbody tr').nth(1).getByText(/waiting for an answer|starting/).waitFor({ timeout: 90_000 });
  await measure.locator('tbody tr').nth(0).getByText('done').waitFor({ timeout: 90_000 });
  await shot('wizard-2-measure-running-dark');
  await measure.locator('tbody tr').nth(1).getByText('done').waitFor({ timeout: 90_000 });
  const rows = await measure.locator('tbody tr').allInnerTexts();
  assert.equal(rows.length, 2);
  for (const row of rows) assert.match(row, /done\s+\d+\.\d+ s/);
  assert.match(rows[0], /MiB/);
  const liveAfter = fastapiState();
  assert.equal(liveAfter.startedAt, liveBefore.startedAt, 'the live container was not restarted');
  assert.equal(hostDocker(['ps', '-a', '--filter', 'label=io.switchyard.measure', '--format', '{{.Names}}']).trim(), '', 'no copy left');
  await shot('wizard-2-measure-dark');
});

test('step 3 recommends timings with one-line reasons, and explains a bad value', { timeout: 60_000 }, async () => {
  const frame = await wizardFrame();
  await frame.getByText('Next: Recommend').click();
  const panel = frame.locator('vscode-tab-panel').nth(2);
  await panel.getByText(/Recommended \d+s: slowest startup/).waitFor({ timeout: 20_000 });
  const startPeriod = await frame.locator('#field-start_period').evaluate((el) => el.value);
  assert.match(startPeriod, /^\d+s$/);
  assert.equal(await frame.locator('#field-timeout').evaluate((el) => el.value), '1s');
  assert.match(await panel.innerText(), /Worst case until a broken deploy is reported unhealthy/);
  await shot('wizard-3-recommend-dark');
  // A value Compose would refuse: the field is marked and the reason is given.
  const interval = frame.locator('#field-interval');
  await interval.evaluate((el) => el.focus());
  await vs.page.keyboard.press('Control+A');
  await vs.page.keyboard.type('30');
  await panel.getByText(/Error: "30" has no unit/).waitFor({ timeout: 10_000 });
  assert.equal(await interval.evaluate((el) => el.invalid), true);
  await shot('wizard-3-validation-dark');
  // Keyboard only: Tab to "Use Recommendation" and press Enter.
  await frame.locator('[data-key="use-recommendation"]').focus();
  await vs.page.keyboard.press('Enter');
  await waitUntil('the recommended interval back', async () => (await interval.evaluate((el) => el.value)) !== '30', 10_000);
  await panel.getByText(/Error:/).waitFor({ state: 'detached', timeout: 10_000 });
});

test('step 4 shows the diff, refuses a file changed on the host, writes it, rolls it out, and Docker reports healthy with the new timings', { timeout: 300_000 }, async () => {
  const frame = await wizardFrame();
  const recommend = frame.locator('vscode-tab-panel').nth(2);
  const values = {};
  for (const key of ['interval', 'timeout', 'retries', 'start_period']) values[key] = await frame.locator(`#field-${key}`).evaluate((el) => el.value);
  await recommend.getByText('Preview Change').click();
  const apply = frame.locator('vscode-tab-panel').nth(3);
  await apply.locator('pre.diff').first().waitFor({ timeout: 20_000 });
  const diff = await apply.locator('pre.diff').first().innerText();
  assert.match(diff, /^- {6}interval: 30s$/m);
  assert.match(diff, new RegExp(`^\\+ {6}interval: ${values.interval}$`, 'm'));
  assert.match(diff, /^ {7}# Raised after a few days of debugging:$/m, 'comments around the edit are kept');
  await vs.closePanel();
  await shot('wizard-4-diff-dark');

  // Someone edits the file on the host meanwhile: nothing is written and their change is shown.
  fs.writeFileSync(composePath, originalCompose.replace('restart: unless-stopped', 'restart: always'));
  await apply.getByText('Write docker-compose.fastapi.yml').click();
  await apply.getByText(/changed on the host since the wizard read it: nothing was written/).waitFor({ timeout: 20_000 });
  assert.match(await apply.innerText(), /\+\s+restart: always/);
  assert.match(fs.readFileSync(composePath, 'utf8'), /restart: always/, 'their edit is kept');
  await shot('wizard-4-refused-dark');
  fs.writeFileSync(composePath, originalCompose);
  await apply.locator('[data-key="reload-refused"]').click();
  // The reload ends by clearing the refused write.
  await apply.getByText(/changed on the host since the wizard read it/).waitFor({ state: 'detached', timeout: 30_000 });
  await selectStep(frame, 'Recommend');
  await recommend.getByText('Use Recommendation').click();
  await waitUntil('recommended values back', async () => (await frame.locator('#field-interval').evaluate((el) => el.value)) === values.interval, 15_000);
  await recommend.getByText('Preview Change').click();
  await apply.locator('pre.diff').first().waitFor({ timeout: 20_000 });

  await apply.getByText('Write docker-compose.fastapi.yml').click();
  await apply.getByText(/^Written\./).waitFor({ timeout: 30_000 });
  const written = fs.readFileSync(composePath, 'utf8');
  assert.match(written, new RegExp(`^ {6}interval: ${values.interval}$`, 'm'));
  assert.equal(fs.readFileSync(`${composePath}.switchyard-bak`, 'utf8'), originalCompose, 'backup of the original');
  assert.equal(written.replace(/^ {6}(interval|timeout|retries|start_period): .*$/gm, ''), originalCompose.replace(/^ {6}(interval|timeout|retries|start_period): .*$/gm, ''));

  await apply.getByText('Roll Out (Recreate)').click();
  await apply.getByText(/Docker reports handdoc-fastapi healthy, .* after it started, with the new timings/).waitFor({ timeout: 180_000 });
  const hc = JSON.parse(hostDocker(['inspect', '-f', '{{json .Config.Healthcheck}}', 'handdoc-fastapi']));
  const seconds = (text) => {
    const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
    return (Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 1e9;
  };
  assert.equal(hc.Interval, seconds(values.interval));
  assert.equal(hc.Timeout, seconds(values.timeout));
  assert.equal(hc.StartPeriod, seconds(values.start_period));
  assert.equal(hc.Retries, Number(values.retries));
  assert.equal(fastapiState().health, 'healthy');
  await scrollIntoView(apply.locator('.banner.ok').last());
  await shot('wizard-4-rollout-dark');
});

test('the wizard survives being hidden and being closed and reopened', { timeout: 120_000 }, async () => {
  const page = vs.page;
  // Hide: another editor in front of it.
  await focusWorkbench();
  await vs.runCommand('File: New Untitled Text File');
  await page.locator('.tabs-container .tab', { hasText: 'Untitled-1' }).waitFor({ timeout: 15_000 });
  assert.equal(await page.locator('.tabs-container .tab.active', { hasText: 'Healthcheck: fastapi' }).count(), 0, 'the wizard is hidden');
  await page.locator('.tabs-container .tab', { hasText: 'Healthcheck: fastapi' }).click();
  let frame = await wizardFrame();
  await frame.getByText(/Docker reports handdoc-fastapi healthy/).waitFor({ timeout: 20_000 });
  // Close, then open again from the palette: the session kept its measurements and results.
  await focusWorkbench();
  await vs.runCommand('View: Close Editor');
  await page.locator('.tabs-container .tab', { hasText: 'Healthcheck: fastapi' }).waitFor({ state: 'detached', timeout: 15_000 });
  await vs.runCommand('Switchyard: Open Healthcheck Wizard');
  await vs.pickQuickItem('fastapi');
  frame = await wizardFrame();
  await frame.getByText(/Docker reports handdoc-fastapi healthy/).waitFor({ timeout: 20_000 });
  await selectStep(frame, 'Measure');
  assert.equal(await frame.locator('vscode-tab-panel').nth(1).locator('tbody tr').count(), 2);
});

test('every step in a light theme, and the Blue-Green service with both compose files', { timeout: 180_000 }, async () => {
  const page = vs.page;
  await focusWorkbench();
  await vs.runCommand('Preferences: Color Theme');
  await page.keyboard.type('Light Modern');
  await vs.pickQuickItem('Light Modern');
  await page.waitForFunction(() => document.querySelector('.monaco-workbench')?.classList.contains('vs'), undefined, { timeout: 15_000 });
  const frame = await wizardFrame();
  await frame.locator('body').evaluate((body) => new Promise((resolve) => requestAnimationFrame(() => resolve(getComputedStyle(body).backgroundColor))));
  const bg = await frame.locator('body').evaluate((body) => getComputedStyle(body).backgroundColor);
  assert.match(bg, /rgb\((2[0-9]{2}), (2[0-9]{2}), (2[0-9]{2})\)/, `a light background from the theme, got ${bg}`);
  for (const [label, name] of [
    ['Current', 'wizard-1-current-light'],
    ['Measure', 'wizard-2-measure-light'],
    ['Recommend', 'wizard-3-recommend-light'],
    ['Apply', 'wizard-4-rollout-light'],
  ]) {
    await selectStep(frame, label);
    if (label === 'Apply') await scrollIntoView(frame.locator('vscode-tab-panel').nth(3).locator('.banner.ok').last());
    await page.waitForTimeout(300);
    await shot(name);
  }
  await focusWorkbench();
  await vs.runCommand('Switchyard: Open Healthcheck Wizard');
  await vs.pickQuickItem('spring');
  const deadline = Date.now() + 60_000;
  let spring;
  while (!spring && Date.now() < deadline) {
    for (const f of page.frames()) {
      if ((await f.locator('h1', { hasText: 'Healthcheck wizard · spring' }).count().catch(() => 0)) > 0) spring = f;
    }
    if (!spring) await page.waitForTimeout(250);
  }
  assert.ok(spring, 'the spring wizard opened');
  await spring.locator('h3', { hasText: 'docker-compose.spring-green.yml' }).waitFor({ timeout: 60_000 });
  const text = await spring.locator('vscode-tab-panel').nth(0).innerText();
  assert.match(text, /docker-compose\.spring-blue\.yml/);
  assert.match(text, /Compose files \(both colors\)/);
  assert.match(text, /handdoc-spring-blue/);
  assert.match(text, /handdoc-spring-green/);
  assert.match(text, /(blue|green) · live/);
  await shot('wizard-1-current-bluegreen-light');
  const cspErrors = vs.consoleErrors.filter((e) => /Content Security Policy|Refused to (load|apply|execute|evaluate)/i.test(e));
  assert.deepEqual(cspErrors, [], 'nothing the wizard does is blocked by its CSP');
});
