// End to end: the single-container service (handdoc-fastapi) in real VS Code (code-server in Chromium)
// against the sandbox host. "Deploy…" from the tree's context menu replaces the container in place: the
// progress notification names the pull, the recreate and the wait, and the result names the measured
// downtime. "Convert to Blue-Green…" opens its preview and asks in a modal; dismissing the modal
// changes nothing on the host. Screenshots: single-deploy-*, convert-preview, convert-modal.
// Leaves handdoc-fastapi on :latest, recreated from the user's compose file alone, and healthy.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { restoreFastapiAsStarted } from '../sandbox/fastapiAsStarted.mjs';
import { openSandboxVSCode, trustSandboxHostKey } from './sandboxVSCode.mjs';

const log = (m) => console.log(`[e2e] ${m}`);
const TAG = 'v1'; // in the registry next to latest (same build): a real pull and a real recreate

let session;
let vs;
let info;
let deployed = false;

function hostDocker(args) {
  return execFileSync('docker', ['-H', `unix://${info.dockerSocket}`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function inspectFastapi(format) {
  try {
    return hostDocker(['inspect', '-f', format, 'handdoc-fastapi']).trim();
  } catch {
    return '';
  }
}

/** What a conversion would touch on the host: the apps dir, Nginx's conf.d (names and bytes), the containers. */
function hostSnapshot() {
  const confDir = info.nginx.confDir;
  const conf = Object.fromEntries(fs.readdirSync(confDir).sort().map((name) => [name, crypto.createHash('sha256').update(fs.readFileSync(path.join(confDir, name))).digest('hex')]));
  return {
    apps: fs.readdirSync(info.appsDir).sort(),
    conf,
    containers: hostDocker(['ps', '-a', '--format', '{{.Names}}']).split('\n').filter(Boolean).sort(),
    fastapiId: inspectFastapi('{{.Id}}'),
  };
}

/** Another client (a test file on the shared sandbox) may hold the host's deploy lock: wait until it is free. */
async function waitForFreeLock(timeoutMs = 240_000) {
  const lock = `/home/${info.user}/.switchyard/lock`;
  const deadline = Date.now() + timeoutMs;
  while (fs.existsSync(lock)) {
    if (Date.now() > deadline) assert.fail(`the deploy lock ${lock} stayed held: ${fs.readFileSync(lock, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Runs a test body; on failure keeps a screenshot of what VS Code showed (test-results/<name>-failed.png). */
function shotOnFailure(name, body) {
  return async () => {
    try {
      await body();
    } catch (error) {
      await vs.screenshot(`${name}-failed`).catch(() => undefined);
      throw error;
    }
  };
}

/** Another test file may have stopped the registry (a fault it injects): wait until it answers. */
async function waitForRegistry(timeoutMs = 240_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`http://${info.registry}/v2/`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) assert.fail(`the registry ${info.registry} stayed down`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A tree row by its label. */
function row(label) {
  const page = vs.page;
  return page.locator('.part.sidebar .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${label}$`) }) }).first();
}

/** Right-click the fastapi service row and pick `item` from its context menu. */
async function fromContextMenu(item) {
  await row('fastapi').click({ button: 'right' });
  const entry = vs.page.locator('.context-view .monaco-menu .action-item').filter({ hasText: item }).first();
  await entry.waitFor({ state: 'visible', timeout: 15_000 });
  // The menu ignores a click that comes too soon after it opened: click until it closes.
  for (let attempt = 0; attempt < 5 && (await entry.isVisible().catch(() => false)); attempt++) {
    await entry.hover();
    await entry.click().catch(() => undefined);
    await entry.waitFor({ state: 'hidden', timeout: 2000 }).catch(() => undefined);
  }
  assert.equal(await entry.isVisible(), false, `the context menu took the click on ${item}`);
}

/** The lines the active editor renders (its viewport). */
async function editorText() {
  return (await vs.page.locator('.editor-instance .view-lines').first().innerText()).replace(/\u00a0/g, ' ');
}

/** Drag the sash right of the side bar to the left (the tests before widened it for the tree's descriptions). */
async function narrowSideBar(width) {
  const box = await vs.page.locator('.part.sidebar').boundingBox();
  if (!box || box.width <= width) return;
  const y = box.y + box.height / 2;
  await vs.page.mouse.move(box.x + box.width + 2, y);
  await vs.page.mouse.down();
  await vs.page.mouse.move(box.x + width, y, { steps: 8 });
  await vs.page.mouse.up();
}

/** Records every text the notification toasts show (progress messages change faster than one can poll). */
async function recordToasts() {
  await vs.page.evaluate(() => {
    const seen = (window.__switchyardToasts = []);
    const take = () => {
      for (const toast of document.querySelectorAll('.notifications-toasts .notification-toast')) {
        const text = toast.innerText.replace(/\u00a0/g, ' ');
        if (seen[seen.length - 1] !== text && !seen.includes(text)) seen.push(text);
      }
    };
    new MutationObserver(take).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  return async () => vs.page.evaluate(() => window.__switchyardToasts);
}

before(
  async () => {
    session = await openSandboxVSCode('single', { log });
    ({ vs, info } = session);
    await trustSandboxHostKey(vs);
    await vs.waitForViewText(/live: (blue|green)/, { timeout: 60_000 });
    await vs.widenSideBar(700);
    await row('fastapi').waitFor({ state: 'visible', timeout: 30_000 });
  },
  { timeout: 15 * 60_000 },
);

after(
  async () => {
    try {
      if (session) await session.close();
    } finally {
      if (deployed) await restoreFastapiAsStarted(info);
    }
  },
  { timeout: 180_000 },
);

test('Deploy… from the tree on fastapi: the progress names pull, recreate and the wait; the result names the measured downtime; healthy in the tree', { timeout: 240_000 }, shotOnFailure('single-deploy', async () => {
  const page = vs.page;
  const oldId = inspectFastapi('{{.Id}}');
  // The host must really pull the tag (v1 is the same build as latest: drop only the tag).
  try {
    hostDocker(['rmi', `${info.registry}/handdoc-fastapi:${TAG}`]);
  } catch {
    /* the host did not have it */
  }
  const toasts = await recordToasts();
  const progress = page.locator('.notifications-toasts .notification-toast').filter({ hasText: `Switchyard: Deploying fastapi ${TAG}` });
  // Another test file on the shared sandbox may take the host's deploy lock or stop the registry at any moment: then try again.
  const locked = page.locator('.notifications-toasts .notification-toast').filter({ hasText: /Another operation is running|cannot be pulled: .*connection refused/ });
  for (let attempt = 1; ; attempt++) {
    await waitForFreeLock();
    await waitForRegistry();
    await fromContextMenu('Deploy…');
    const input = page.locator('.quick-input-widget .quick-input-box input').filter({ visible: true }).first();
    await input.waitFor({ state: 'visible' });
    assert.match(await page.locator('.quick-input-widget').filter({ visible: true }).first().innerText(), /Deploy fastapi on handdoc-sandbox \(single container: in place\)/);
    await input.fill(TAG);
    await page.keyboard.press('Enter');
    deployed = true;
    await progress.or(locked).first().waitFor({ state: 'visible', timeout: 30_000 });
    const isLocked = await locked
      .waitFor({ state: 'visible', timeout: 5000 })
      .then(() => true)
      .catch(() => false);
    if (!isLocked) break;
    assert.ok(attempt < 5, 'the deploy lock stayed taken by other clients');
    log(`the host's deploy lock was taken or the registry stopped by another client (attempt ${attempt}): waiting`);
    await locked.locator('.codicon-notifications-clear, .codicon-close').first().click();
  }
  // While the new container loads its models (7–15 s) the notification says the service is down.
  await progress.filter({ hasText: /down until the new one answers|Waiting until it answers/ }).waitFor({ state: 'visible', timeout: 60_000 });
  await vs.screenshot('single-deploy-progress');

  const done = page.locator('.notifications-toasts .notification-toast').filter({ hasText: 'Measured downtime' });
  await done.waitFor({ state: 'visible', timeout: 120_000 });
  const message = (await done.innerText()).replace(/\u00a0/g, ' ');
  assert.match(message, new RegExp(`fastapi on handdoc-sandbox: handdoc-fastapi runs 127\\.0\\.0\\.1:5005/handdoc-fastapi:${TAG}\\.`));
  const downtimeS = Number(/Measured downtime: (\d+\.\d) s/.exec(message)?.[1]);
  // At least the model load of the new container (its /health answers only after it).
  assert.ok(downtimeS >= 7, `measured downtime ${downtimeS} s`);
  assert.ok(await done.getByRole('button', { name: 'Roll Back' }).isVisible());

  const seen = (await toasts()).join('\n');
  for (const step of ['Pulling the image', 'Replacing the container', 'Waiting until it answers']) assert.ok(seen.includes(step), `the progress showed "${step}"; it showed:\n${seen}`);
  assert.ok(seen.indexOf('Pulling the image') < seen.indexOf('Replacing the container'), 'pull before the recreate');
  await vs.screenshot('single-deploy-result');

  // On the host: a new container on the tag, answering through Nginx.
  assert.notEqual(inspectFastapi('{{.Id}}'), oldId);
  assert.equal(inspectFastapi('{{.Config.Image}}'), `${info.registry}/handdoc-fastapi:${TAG}`);
  const health = await fetch(`${info.nginx.httpUrl}/fastapi/health`, { headers: { connection: 'close' } });
  assert.equal(health.status, 200);
  // Docker's first health check comes one interval (30 s) after the start; the tree follows it.
  await page.waitForFunction(() => [...document.querySelectorAll('.part.sidebar .monaco-list-row')].some((r) => r.querySelector('.label-name')?.textContent === 'fastapi' && /single · healthy/.test(r.textContent)), undefined, { timeout: 90_000 });
  assert.equal(await row('fastapi').locator('.codicon-pass-filled').count(), 1);
  await done.locator('.codicon-notifications-clear, .codicon-close').first().click().catch(() => {});
  await vs.screenshot('single-deploy-healthy');
}));

test('Convert to Blue-Green… on fastapi: the preview shows every file, the modal asks; dismissing it changes nothing on the host', { timeout: 120_000 }, shotOnFailure('convert', async () => {
  const page = vs.page;
  const before = hostSnapshot();
  await narrowSideBar(360);
  await fromContextMenu('Convert to Blue-Green…');
  const modal = page.locator('.monaco-dialog-box').filter({ hasText: 'Convert fastapi to Blue-Green on handdoc-sandbox?' });
  await modal.waitFor({ state: 'visible', timeout: 60_000 });
  const modalText = await modal.innerText();
  assert.ok(await modal.getByRole('button', { name: 'Apply and change proxy_pass' }).isVisible());
  assert.ok(await modal.getByRole('button', { name: 'Apply (files, include, start the twin)' }).isVisible());
  assert.match(modalText, /handdoc\.conf/);
  await vs.screenshot('convert-modal');

  await page.keyboard.press('Escape');
  await modal.waitFor({ state: 'hidden', timeout: 10_000 });
  // The preview stays open: every file and change, as a read-only diff document (not an unsaved one).
  const tab = page.locator('.tabs-container .tab.active');
  assert.match((await tab.innerText()).replace(/\n/g, ''), /Convert fastapi to Blue-Green on handdoc-sandbox \(preview\)\.diff/);
  assert.equal(await tab.evaluate((el) => el.classList.contains('dirty')), false, 'the preview is not an unsaved document');
  const top = await editorText();
  for (const expected of ['Convert fastapi (handdoc-fastapi, port 8000) on handdoc-sandbox to Blue-Green', '1. new file /home/ec2-user/apps/docker-compose.fastapi-green.yml', '+    container_name: handdoc-fastapi-green']) {
    assert.ok(top.includes(expected), `the preview shows ${expected}; it shows:\n${top}`);
  }
  await vs.screenshot('convert-preview');
  // Its end: the include, the proxy_pass diff of handdoc.conf and the new profile entry.
  await page.locator('.editor-instance .view-lines').first().click();
  await page.keyboard.press('Control+End');
  await page.waitForFunction(() => (document.querySelector('.editor-instance .view-lines')?.textContent ?? '').replace(/\u00a0/g, ' ').includes('"kind": "blueGreen"'), undefined, { timeout: 10_000 });
  const end = await editorText();
  for (const expected of ['+        proxy_pass http://fastapi_backend;', '"kind": "blueGreen"', '"switchFile": "fastapi-upstream.conf"']) {
    assert.ok(end.includes(expected), `the end of the preview shows ${expected}; it shows:\n${end}`);
  }
  await vs.screenshot('convert-preview-end');

  // Nothing happened on the host: no twin file or container, conf.d byte for byte, the same fastapi container.
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(hostSnapshot(), before);
  assert.equal(fs.existsSync(path.join(info.appsDir, 'docker-compose.fastapi-green.yml')), false);
  assert.ok(!before.containers.includes('handdoc-fastapi-green'));
}));
