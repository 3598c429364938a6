// End to end (issue 6): a Blue-Green deploy run from the command palette of real VS Code
// (code-server in Chromium) against the sandbox host. The screenshots show the progress
// notification naming its steps and the tree flipping colors; then "Roll Back" flips it back.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { liveColorOnDisk, openSandboxVSCode, trustSandboxHostKey } from './sandboxVSCode.mjs';

const log = (m) => console.log(`[e2e] ${m}`);

let session;
let vs;
let liveBefore;

/** What Nginx really serves: the demo app names its color and version. */
async function servedByNginx() {
  const response = await fetch('http://127.0.0.1:8088/api/whoami', { headers: { connection: 'close' } });
  return response.json();
}

before(
  async () => {
    session = await openSandboxVSCode('deploy', { log });
    vs = session.vs;
    await trustSandboxHostKey(vs);
    await vs.waitForViewText(/live: (blue|green)/, { timeout: 60_000 });
    await vs.widenSideBar(700);
  },
  { timeout: 15 * 60_000 },
);

after(async () => {
  if (session) await session.close();
});

test('Deploy from the command palette: progress names the steps, then the tree shows the other color live with the new tag', { timeout: 300_000 }, async () => {
  const page = vs.page;
  liveBefore = liveColorOnDisk();
  const target = liveBefore === 'blue' ? 'green' : 'blue';
  await vs.waitForViewText(`live: ${liveBefore}`);
  await vs.runCommand('Switchyard: Deploy…');
  const input = page.locator('.quick-input-widget .quick-input-box input').filter({ visible: true }).first();
  const title = page.locator('.quick-input-widget .quick-input-title').filter({ visible: true });
  // Two deployable services (spring is Blue-Green, fastapi single): the palette asks which one first.
  await title.filter({ hasText: 'which service?' }).waitFor({ state: 'visible' });
  await page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: 'Blue-Green' }).filter({ hasText: 'spring' }).waitFor({ state: 'visible' });
  await input.fill('spring');
  await page.keyboard.press('Enter');
  await title.filter({ hasText: 'Deploy spring on' }).waitFor({ state: 'visible' });
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
