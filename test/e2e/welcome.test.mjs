// End to end: the packaged extension in real VS Code (code-server 4.139) in Debian's Chromium.
// With an empty workspace (no host configured) the Switchyard view shows its welcome content,
// and the extension really activates (its "Switchyard" output channel says so).
//
//   npm run package && node --test test/e2e/welcome.test.mjs
//
// SWITCHYARD_VSIX overrides the VSIX (default dist/switchyard.vsix); SWITCHYARD_CACHE where
// code-server is installed (first use ~3-5 min). Screenshots go to test-results/.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ensureChromium, ensureCodeServer, startCodeServer } from './codeServer.mjs';
import { openVSCode, REPO_ROOT, waitForLogFile } from './vscodePage.mjs';

const VSIX = path.resolve(process.env.SWITCHYARD_VSIX || path.join(REPO_ROOT, 'dist', 'switchyard.vsix'));
const log = (m) => console.log(`[e2e] ${m}`);

let tmp;
let cs;
let vs;
const timings = {};

before(
  async () => {
    if (!fs.existsSync(VSIX)) {
      throw new Error(`${VSIX} does not exist: build it first with \`npm run package\` (or point SWITCHYARD_VSIX at a .vsix).`);
    }
    ensureChromium({ log });
    const t0 = Date.now();
    await ensureCodeServer({ log });
    timings.ensureCodeServerMs = Date.now() - t0;

    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-e2e-welcome-'));
    const folder = path.join(tmp, 'empty-workspace');
    fs.mkdirSync(folder);
    const t1 = Date.now();
    cs = await startCodeServer({ folder, vsixPath: VSIX, baseDir: path.join(tmp, 'code-server'), log });
    timings.startCodeServerMs = Date.now() - t1;
    log(`code-server at ${cs.url} (user data: ${cs.userDataDir})`);

    vs = await openVSCode(cs.url, { log });
    timings.workbenchMs = vs.workbenchAt - vs.loadStartedAt;
  },
  { timeout: 15 * 60_000 },
);

after(async () => {
  if (vs) await vs.close();
  if (cs) await cs.stop();
  if (tmp && !process.env.SWITCHYARD_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
  log(`timings: ${JSON.stringify(timings)}`);
});

test('the Switchyard view shows its welcome content when no host is configured', { timeout: 120_000 }, async () => {
  await vs.openViewContainer('Switchyard');
  await vs.waitForViewText('No host configured', { timeout: 90_000 });
  timings.welcomeVisibleMs = Date.now() - vs.loadStartedAt;
  for (const name of ['Add Host', 'Open Settings']) {
    await vs.viewButton(name).waitFor({ state: 'visible', timeout: 10_000 });
  }
  const text = await vs.sidebarText();
  assert.match(text, /No host configured/);
  assert.match(text, /Add Host/);
  assert.match(text, /Open Settings/);
  const file = await vs.screenshot('welcome');
  log(`screenshot ${file}`);
});

test('the extension activated (its log and the "Switchyard" output channel say so)', { timeout: 120_000 }, async () => {
  // The extension host writes a LogOutputChannel to <userDataDir>/logs/<ts>/exthost*/<publisher.name>/Switchyard.log
  const { file } = await waitForLogFile(path.join(cs.userDataDir, 'logs'), /exthost[^/]*\/.*Switchyard\.log$/, /Switchyard activated/, {
    timeout: 90_000,
  });
  timings.activatedMs = Date.now() - vs.loadStartedAt;
  log(`activation logged in ${file}`);

  // … and the Output panel has the channel, showing the same line.
  const out = await vs.readOutput('Switchyard', { waitFor: 'Switchyard activated', timeout: 30_000 });
  assert.match(out, /Switchyard activated/);
  await vs.screenshot('welcome-output');
  await vs.closePanel();
});
