// End to end (issue 6): a Blue-Green deploy run from the command palette of real VS Code
// (code-server in Chromium) against the sandbox host. The screenshots show the progress
// notification naming its steps and the tree flipping colors; then "Roll Back" flips it back.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ensureChromium, startCodeServer } from './codeServer.mjs';
import { openVSCode, REPO_ROOT } from './vscodePage.mjs';

const VSIX = path.resolve(process.env.SWITCHYARD_VSIX || path.join(REPO_ROOT, 'dist', 'switchyard.vsix'));
const log = (m) => console.log(`[e2e] ${m}`);
const sandboxDir = process.env.SWITCHYARD_SANDBOX_DIR || '/var/lib/switchyard-sandbox';

let tmp;
let cs;
let vs;
let liveBefore;

function liveColorOnDisk() {
  const info = JSON.parse(fs.readFileSync(path.join(sandboxDir, 'sandbox.json'), 'utf8'));
  const text = fs.readFileSync(path.join(info.nginx.confDir, 'active-upstream.conf'), 'utf8').replace(/#.*$/gm, '');
  return /server\s+127\.0\.0\.1:8081/.test(text) ? 'green' : 'blue';
}

/** What Nginx really serves: the demo app names its color and version. */
async function servedByNginx() {
  const response = await fetch('http://127.0.0.1:8088/api/whoami', { headers: { connection: 'close' } });
  return response.json();
}

before(
  async () => {
    assert.ok(fs.existsSync(VSIX), `${VSIX} does not exist: run \`npm run package\` first`);
    ensureChromium({ log });
    const profiles = JSON.parse(execFileSync(process.execPath, [path.join(REPO_ROOT, 'test', 'sandbox', 'sandboxProfile.mjs')], { encoding: 'utf8' }));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-e2e-deploy-'));
    const home = path.join(tmp, 'home');
    fs.mkdirSync(home);
    const folder = path.join(tmp, 'handdoc-workspace');
    fs.mkdirSync(path.join(folder, '.vscode'), { recursive: true });
    fs.writeFileSync(path.join(folder, '.vscode', 'settings.json'), `${JSON.stringify({ 'switchyard.hosts': profiles }, null, 2)}\n`);
    cs = await startCodeServer({ folder, vsixPath: VSIX, baseDir: path.join(tmp, 'code-server'), env: { HOME: home }, log });
    vs = await openVSCode(cs.url, { log });
    await vs.openViewContainer('Switchyard');
    const dialog = vs.page.locator('.monaco-dialog-box').filter({ hasText: 'has never connected to' });
    await dialog.waitFor({ state: 'visible', timeout: 120_000 });
    await dialog.getByRole('button', { name: 'Trust and Connect' }).click();
    await vs.waitForViewText(/live: (blue|green)/, { timeout: 60_000 });
    await vs.widenSideBar(700);
  },
  { timeout: 15 * 60_000 },
);

after(async () => {
  if (vs) await vs.close();
  if (cs) await cs.stop();
  if (tmp && !process.env.SWITCHYARD_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
});

test('Deploy from the command palette: progress names the steps, then the tree shows the other color live with the new tag', { timeout: 300_000 }, async () => {
  const page = vs.page;
  liveBefore = liveColorOnDisk();
  const target = liveBefore === 'blue' ? 'green' : 'blue';
  await vs.waitForViewText(`live: ${liveBefore}`);
  await vs.runCommand('Switchyard: Deploy…');
  const input = page.locator('.quick-input-widget .quick-input-box input').filter({ visible: true }).first();
  await input.waitFor({ state: 'visible' });
  await input.fill('v2');
  await page.keyboard.press('Enter');
  const toast = page.locator('.notifications-toasts .notification-toast').filter({ hasText: 'Switchyard: Deploying spring v2' });
  await toast.waitFor({ state: 'visible', timeout: 30_000 });
  // A step name in the notification while it runs.
  await toast.filter({ hasText: /Pulling the image|Starting the idle color|Waiting until it answers|Checking the host/ }).waitFor({ state: 'visible', timeout: 30_000 });
  await vs.screenshot('deploy-progress');
  await vs.waitForViewText(`live: ${target} (v2)`, { timeout: 180_000 });
  const done = page.locator('.notifications-toasts .notification-toast').filter({ hasText: `${target} is live` });
  await done.waitFor({ state: 'visible', timeout: 60_000 });
  assert.match(await done.innerText(), /ready → switched in \d+\.\d\d s/);
  const served = await servedByNginx();
  assert.equal(served.color, target, 'Nginx really serves the new color');
  assert.equal(served.version, 'v2');
  assert.equal(liveColorOnDisk(), target);
  await vs.screenshot('deploy-done');
  // "Roll Back" on the notification flips traffic back to the color that was live before.
  await done.getByRole('button', { name: 'Roll Back' }).click();
  await vs.waitForViewText(`live: ${liveBefore}`, { timeout: 120_000 });
  await page.locator('.notifications-toasts .notification-toast').filter({ hasText: `${liveBefore} is live` }).waitFor({ state: 'visible', timeout: 60_000 });
  assert.equal((await servedByNginx()).color, liveBefore);
  assert.equal(liveColorOnDisk(), liveBefore);
  await vs.screenshot('deploy-rolled-back');
});
