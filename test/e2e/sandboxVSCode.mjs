// Real VS Code (code-server in Chromium) with a workspace configured for the sandbox host, for the
// e2e tests: its own HOME (the sandbox's host key is trusted into a throwaway known_hosts), the
// packaged VSIX installed, and helpers to trust the host key and read the live color from disk.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readSandboxInfo, sandboxProfiles } from '../sandbox/sandboxProfile.mjs';
import { ensureChromium, startCodeServer } from './codeServer.mjs';
import { openVSCode, REPO_ROOT } from './vscodePage.mjs';

export const VSIX = path.resolve(process.env.SWITCHYARD_VSIX || path.join(REPO_ROOT, 'dist', 'switchyard.vsix'));

/**
 * Starts code-server on a fresh workspace whose settings hold the sandbox profile (plus `settings`)
 * and opens it in Chromium. `close()` stops both and removes the temp dir.
 */
export async function openSandboxVSCode(name, { settings = {}, log = () => {} } = {}) {
  assert.ok(fs.existsSync(VSIX), `${VSIX} does not exist: run \`npm run package\` first (or point SWITCHYARD_VSIX at a .vsix)`);
  const info = readSandboxInfo();
  ensureChromium({ log });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `switchyard-e2e-${name}-`));
  const home = path.join(tmp, 'home');
  fs.mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
  const folder = path.join(tmp, 'handdoc-workspace');
  fs.mkdirSync(path.join(folder, '.vscode'), { recursive: true });
  // The sandbox is shared by every test file, which expect both Spring colors running: an earlier run's
  // keep-warm time must not stop one in the middle of a test (test/integration/warmRetire.test.ts covers that timer).
  const defaults = { 'switchyard.hosts': sandboxProfiles(info), 'switchyard.deploy.stopWarmColorWhenDue': false };
  fs.writeFileSync(path.join(folder, '.vscode', 'settings.json'), `${JSON.stringify({ ...defaults, ...settings }, null, 2)}\n`);
  const cs = await startCodeServer({ folder, vsixPath: VSIX, baseDir: path.join(tmp, 'code-server'), env: { HOME: home }, log });
  const vs = await openVSCode(cs.url, { log });
  return {
    info,
    home,
    cs,
    vs,
    async close() {
      await vs.close();
      await cs.stop();
      if (!process.env.SWITCHYARD_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** Opens the Switchyard view and answers the unknown-host-key dialog with "Trust and Connect". Returns the dialog's text. */
export async function trustSandboxHostKey(vs) {
  await vs.openViewContainer('Switchyard');
  const dialog = vs.page.locator('.monaco-dialog-box').filter({ hasText: 'has never connected to' });
  await dialog.waitFor({ state: 'visible', timeout: 120_000 });
  const text = await dialog.innerText();
  await dialog.getByRole('button', { name: 'Trust and Connect' }).click();
  return text;
}

/** The color the sandbox's switch file really points to (read from disk, not from the extension). */
export function liveColorOnDisk(info = readSandboxInfo()) {
  const text = fs.readFileSync(path.join(info.nginx.confDir, 'active-upstream.conf'), 'utf8').replace(/#.*$/gm, '');
  return /server\s+127\.0\.0\.1:8081/.test(text) ? 'green' : 'blue';
}

export { waitUntil } from '../sandbox/waitUntil.mjs';
