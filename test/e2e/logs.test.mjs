// End to end: log tailing in real VS Code (code-server 4.139) in Debian's Chromium, against the sandbox host.
// A workspace whose .vscode/settings.json has the sandbox profile; the host key is trusted in the dialog
// (VS Code runs with a temporary HOME, so it lands in a throwaway ~/.ssh/known_hosts); "Show Logs" on the
// handdoc-fastapi container opens "Switchyard: handdoc-fastapi" in the Output panel, which shows a request
// made by the test; the panel's "Stop Tailing" button ends the stream.
//
//   npm run package && node --test test/e2e/logs.test.mjs      (the sandbox must be up)
//
// SWITCHYARD_VSIX overrides the VSIX (default dist/switchyard.vsix). Screenshot: test-results/logs.png.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { openSandboxVSCode, trustSandboxHostKey } from './sandboxVSCode.mjs';
const log = (m) => console.log(`[e2e logs] ${m}`);
const nonce = randomBytes(4).toString('hex');
const channelName = 'Switchyard: handdoc-fastapi';
const tailLines = 137;

/** `tail -n 137 -F <access.log>` processes on this machine (the sandbox host is this machine). */
function remoteTails() {
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.startsWith('tail ') && cmdline.includes(`-n ${tailLines} -F ${info.nginx.accessLog}`)) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

let cs;
let vs;
let info;

function request(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { Connection: 'close' } }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode));
      })
      .on('error', reject);
  });
}

let session;

before(
  async () => {
    // An unusual tailLines makes this test's `tail -n 137 -F` easy to find on the host.
    session = await openSandboxVSCode('logs', { settings: { 'switchyard.logs.tailLines': tailLines }, log });
    ({ vs, cs, info } = session);
    log(`code-server at ${cs.url}`);
  },
  { timeout: 15 * 60_000 },
);

after(async () => {
  if (session) await session.close();
});

test('Show Logs on a container streams its log into the Output panel; Stop Tailing ends it', { timeout: 240_000 }, async () => {
  try {
    await showAndStop();
  } catch (error) {
    await vs.screenshot('logs-failed').catch(() => undefined);
    throw error;
  }
});

async function showAndStop() {
  const page = vs.page;
  // First connection to the sandbox: its host key is unknown, the extension asks.
  await trustSandboxHostKey(vs);
  const knownHosts = path.join(session.home, '.ssh', 'known_hosts');
  for (let i = 0; i < 100 && !fs.existsSync(knownHosts); i++) await page.waitForTimeout(100);
  assert.match(fs.readFileSync(knownHosts, 'utf8'), /^\[127\.0\.0\.1\]:\d+ ssh-ed25519 /m, 'the key went to the temporary known_hosts');

  // The container row in the tree: its context menu offers "Show Logs"; the row's inline button runs it.
  const row = page.locator('.part.sidebar .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: /^handdoc-fastapi$/ }) }).first();
  await row.waitFor({ state: 'visible', timeout: 90_000 });
  await row.click({ button: 'right' });
  await page.getByRole('menuitem', { name: 'Show Logs' }).waitFor({ state: 'visible', timeout: 10_000 });
  await page.keyboard.press('Escape');
  await row.hover();
  await row.locator('.action-label[aria-label="Show Logs"]').click();

  // The channel opens by itself; a request through Nginx shows up in it, marked as stderr (uvicorn logs there).
  await page.locator('.part.panel').waitFor({ state: 'visible', timeout: 30_000 });
  await page.locator('.part.panel .monaco-editor .view-lines').first().waitFor({ state: 'visible', timeout: 30_000 });
  // The last lines come first (the panel scrolls to the end, so the header line may be out of view).
  await vs.readOutput(channelName, { waitFor: /\[stderr\] .*INFO: +127\.0\.0\.1 - "GET /, timeout: 60_000 });
  assert.equal(await request(`${info.nginx.httpUrl}/fastapi/?e2e=${nonce}`), 200);
  const withRequest = await vs.readOutput(channelName, { waitFor: `e2e=${nonce}`, timeout: 30_000 });
  const requestLine = withRequest.split('\n').find((l) => l.includes(`e2e=${nonce}`));
  assert.match(requestLine ?? '', /^\[stderr\] .*INFO: +127\.0\.0\.1 - "GET \/fastapi\/\?e2e=\w+ HTTP\/1\.1" 200 OK/);
  const file = await vs.screenshot('logs');
  log(`screenshot ${file}`);

  // The Output panel's own "Stop Tailing" button (shown for Switchyard's log channels) ends the stream.
  const stop = page.locator('.part.panel .action-label[aria-label="Stop Tailing"]').first();
  await stop.waitFor({ state: 'visible', timeout: 10_000 });
  await stop.click();
  await vs.readOutput(channelName, { waitFor: '── stopped tailing ──', timeout: 15_000 });
  assert.equal(await request(`${info.nginx.httpUrl}/fastapi/?e2e=${nonce}-after-stop`), 200);
  // Give a still-running stream every chance to show the line, then check it did not.
  await page.waitForTimeout(2000);
  const afterStop = await vs.readOutput(channelName, { timeout: 10_000 });
  assert.ok(!afterStop.includes(`e2e=${nonce}-after-stop`), 'nothing arrives after Stop Tailing');

  // From the palette: a quick pick of the host's sources; Nginx's access log runs `tail -F` on the host.
  await vs.runCommand('Switchyard: Show Logs');
  await vs.pickQuickItem('nginx access');
  assert.equal(await request(`${info.nginx.httpUrl}/api/whoami?e2e=${nonce}-access`), 200);
  await vs.readOutput('Switchyard: nginx access', { waitFor: `GET /api/whoami?e2e=${nonce}-access HTTP/1.1" 200`, timeout: 30_000 });
  assert.equal(remoteTails().length, 1, 'one tail runs on the host');
  await vs.screenshot('logs-nginx');
}

test('closing the editor leaves nothing running on the host', { timeout: 60_000 }, async () => {
  assert.equal(remoteTails().length, 1, 'the access log is still tailed');
  await vs.close();
  vs = undefined;
  await cs.stop();
  cs = undefined;
  const deadline = Date.now() + 15_000;
  while (remoteTails().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(remoteTails(), [], 'no tail left after the editor closed');
});
