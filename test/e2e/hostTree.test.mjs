// End to end (issue 4): the packaged extension in real VS Code (code-server) in Chromium, with a
// workspace configured for the sandbox host. The first connection asks about the host key (a real
// unknown-host case); after "Trust and Connect" the tree shows both Spring colors with the live one
// marked, health icons, Nginx state and host metrics, and the status bar names the live color.
// Screenshots (dark and light theme) go to test-results/.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { liveColorOnDisk, openSandboxVSCode, trustSandboxHostKey } from './sandboxVSCode.mjs';

const log = (m) => console.log(`[e2e] ${m}`);

let session;
let vs;
let home;

before(
  async () => {
    session = await openSandboxVSCode('tree', { log });
    ({ vs, home } = session);
  },
  { timeout: 15 * 60_000 },
);

after(async () => {
  if (session) await session.close();
});

test('the first connection asks about the unknown host key and records it after "Trust and Connect"', { timeout: 180_000 }, async () => {
  const dialog = vs.page.locator('.monaco-dialog-box').filter({ hasText: 'has never connected to [127.0.0.1]:2222' });
  await vs.openViewContainer('Switchyard');
  await dialog.waitFor({ state: 'visible', timeout: 120_000 });
  await vs.screenshot('tree-host-key');
  const text = await trustSandboxHostKey(vs);
  const fingerprint = execFileSync('ssh-keygen', ['-lf', session.info.hostKeyFile], { encoding: 'utf8' }).split(' ')[1];
  assert.ok(text.includes(fingerprint), `the dialog shows the key’s SHA256 fingerprint ${fingerprint}`);
  await vs.waitForViewText(/live: (blue|green)/, { timeout: 60_000 });
  const knownHosts = fs.readFileSync(path.join(home, '.ssh', 'known_hosts'), 'utf8');
  assert.match(knownHosts, /^\[127\.0\.0\.1\]:2222 ssh-ed25519 /m, 'the trusted key is in the test HOME’s known_hosts');
});

test('the tree shows both colors with the live one marked, health icons, Nginx and host state', { timeout: 120_000 }, async () => {
  const page = vs.page;
  const live = liveColorOnDisk();
  const idle = live === 'blue' ? 'green' : 'blue';
  const row = (label) => page.locator('.part.sidebar .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${label}$`) }) }).first();
  await vs.waitForViewText(`live: ${live}`, { timeout: 60_000 });
  await row(live).waitFor({ state: 'visible' });
  assert.match(await row(live).innerText(), /LIVE · healthy/);
  assert.match(await row(idle).innerText(), /idle · (healthy|starting)/);
  // Theme-colored codicons: the live color filled, the idle one an outline.
  assert.equal(await row(live).locator('.codicon-circle-large-filled').count(), 1);
  assert.equal(await row(idle).locator('.codicon-circle-large-outline').count(), 1);
  await row('handdoc-fastapi').waitFor({ state: 'visible' });
  assert.match(await row('handdoc-fastapi').innerText(), /healthy · :8000 · up /);
  assert.equal(await row('handdoc-fastapi').locator('.codicon-pass-filled').count(), 1);
  assert.match(await row('nginx -t').innerText(), /configuration OK/);
  assert.match(await row('active-upstream.conf').innerText(), new RegExp(`127\\.0\\.0\\.1:${live === 'blue' ? 8080 : 8081} \\(${live}\\)`));
  const status = page.locator('.part.statusbar').getByText(new RegExp(`handdoc-sandbox spring: ${live}`));
  await status.waitFor({ state: 'visible', timeout: 30_000 });
  await vs.closePanel();
  await vs.widenSideBar(700);
  await row('Host').click();
  await vs.waitForViewText(/^Memory$/);
  assert.match(await row('Memory').innerText(), /used of .* available/);
  await vs.screenshot('tree-dark');
});

test('clicking the switch file opens it from the host in an editor', { timeout: 60_000 }, async () => {
  const page = vs.page;
  const live = liveColorOnDisk();
  await page.locator('.part.sidebar .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: /^active-upstream\.conf$/ }) }).first().click();
  const tab = page.locator('.tabs-container .tab').filter({ hasText: 'active-upstream.conf' });
  await tab.waitFor({ state: 'visible', timeout: 30_000 });
  const editorText = page.locator('.editor-instance .view-lines').first();
  await page.waitForFunction(
    (port) => [...document.querySelectorAll('.editor-instance .view-lines')].some((el) => el.textContent.replace(/\u00a0/g, ' ').includes(`server 127.0.0.1:${port};`)),
    live === 'blue' ? 8080 : 8081,
    { timeout: 30_000 },
  );
  assert.match((await editorText.innerText()).replace(/\u00a0/g, ' '), /upstream spring_backend/);
  await vs.screenshot('tree-open-switch-file');
});

test('the same tree in a light theme', { timeout: 120_000 }, async () => {
  const page = vs.page;
  await vs.runCommand('Preferences: Color Theme');
  await page.keyboard.type('Light Modern');
  await vs.pickQuickItem('Light Modern');
  await page.waitForFunction(() => document.querySelector('.monaco-workbench')?.classList.contains('vs'), undefined, { timeout: 15_000 });
  await vs.waitForViewText(/live: (blue|green)/);
  await vs.screenshot('tree-light');
});
