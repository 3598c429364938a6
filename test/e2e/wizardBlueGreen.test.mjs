// End to end (issue 7): the healthcheck wizard's Blue-Green roll-out in real VS Code (code-server)
// in Chromium, on the sandbox's "spring" service: measure one run on a copy, write the recommended
// timings to both colors' files, "Roll Out (Blue-Green)". Nginx moves to the idle color, Docker
// reports it healthy with the new timings, and the tree and the wizard both call it live (a switch
// is no Docker event: the wizard has to re-read the host). Afterwards both files are put back and
// both colors redeployed from them with the CLI. Screenshots: test-results/wizard-bluegreen-*.png.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { sandboxProfiles } from '../sandbox/sandboxProfile.mjs';
import { liveColorOnDisk, openSandboxVSCode, trustSandboxHostKey, VSIX, waitUntil } from './sandboxVSCode.mjs';

const log = (m) => console.log(`[e2e] ${m}`);
const colors = ['blue', 'green'];
const containerOf = (color) => `handdoc-spring-${color}`;

let session;
let vs;
let info;
const originals = new Map();
const composeOf = (color) => path.join(info.appsDir, `docker-compose.spring-${color}.yml`);
const stateDir = () => `/home/${info.user}/.switchyard`;

function hostDocker(args) {
  return execFileSync('docker', ['-H', `unix://${info.dockerSocket}`, ...args], { encoding: 'utf8' });
}

/** Other tests deploy spring too: start when nobody holds the deploy lock and the journal was quiet for 20 s. */
async function quietHost() {
  await waitUntil(
    'a quiet host (no deploy lock, no journal entry for 20 s)',
    () => !fs.existsSync(path.join(stateDir(), 'lock')) && Date.now() - fs.statSync(path.join(stateDir(), 'journal.jsonl')).mtimeMs > 20_000,
    600_000,
  );
}

/** The CLI next to the VSIX (the same build): redeploys spring's idle color from its compose file. */
function cliDeployLatest() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-e2e-cli-'));
  try {
    fs.writeFileSync(path.join(dir, '.switchyard.json'), JSON.stringify({ hosts: sandboxProfiles(info) }));
    const cli = path.join(path.dirname(VSIX), 'cli.js');
    execFileSync(process.execPath, [cli, '--config', path.join(dir, '.switchyard.json'), '--accept-new-host-key', 'deploy', '--service', 'spring', '--tag', 'latest', '--old-color', 'keep'], {
      env: { ...process.env, HOME: dir },
      stdio: 'pipe',
      timeout: 180_000,
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The spring wizard's document (by its title). */
async function springFrame(timeout = 60_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    for (const frame of vs.page.frames()) {
      if ((await frame.locator('main#app h1', { hasText: 'Healthcheck wizard · spring' }).count().catch(() => 0)) > 0) return frame;
    }
    await vs.page.waitForTimeout(250);
  }
  await vs.screenshot('wizard-bluegreen-debug-no-webview');
  throw new Error('the spring wizard did not appear (see test-results/wizard-bluegreen-debug-no-webview.png)');
}

before(
  async () => {
    session = await openSandboxVSCode('wizard-bluegreen', { settings: { 'switchyard.wizard.measureRuns': 1, 'switchyard.deploy.oldColor': 'keep' }, log });
    ({ vs, info } = session);
    for (const color of colors) {
      const text = fs.readFileSync(composeOf(color), 'utf8');
      assert.match(text, /interval: 10s\n\s+timeout: 5s\n\s+retries: 3\n\s+start_period: 20s/, `${color}'s compose file has the sandbox's timings`);
      originals.set(color, text);
    }
  },
  { timeout: 15 * 60_000 },
);

after(async () => {
  if (session) await session.close();
  if (!info) return;
  // Both files as they were, and both colors recreated from them (two deploys of :latest).
  let changed = false;
  for (const [color, text] of originals) {
    if (fs.readFileSync(composeOf(color), 'utf8') !== text) {
      fs.writeFileSync(composeOf(color), text);
      changed = true;
    }
    fs.rmSync(`${composeOf(color)}.switchyard-bak`, { force: true });
  }
  if (changed) {
    await quietHost();
    cliDeployLatest();
    cliDeployLatest();
    await waitUntil('both colors healthy', () => colors.every((c) => hostDocker(['inspect', '-f', '{{.State.Health.Status}}', containerOf(c)]).trim() === 'healthy'), 90_000);
    for (const color of colors) {
      const hc = JSON.parse(hostDocker(['inspect', '-f', '{{json .Config.Healthcheck}}', containerOf(color)]));
      assert.deepEqual([hc.Interval, hc.Timeout, hc.StartPeriod, hc.Retries], [10e9, 5e9, 20e9, 3], `${color} runs the original timings again`);
    }
  }
});

test('Blue-Green roll-out from the wizard: both files written, the idle color deployed and switched to, healthy with the new timings; the tree and the wizard call it live', { timeout: 15 * 60_000 }, async () => {
  await trustSandboxHostKey(vs);
  await vs.waitForViewText(/live: (blue|green)/, { timeout: 60_000 });
  await quietHost();
  const live = liveColorOnDisk(info);
  const idle = live === 'blue' ? 'green' : 'blue';
  await vs.runCommand('Switchyard: Open Healthcheck Wizard');
  await vs.pickQuickItem('spring');
  const frame = await springFrame();
  // Other tests switched spring meanwhile (no Docker event tells the tree): opening the wizard reads the host again.
  await vs.waitForViewText(new RegExp(`live: ${live}`), { timeout: 30_000 });
  const current = frame.locator('vscode-tab-panel').nth(0);
  await current.locator('h3', { hasText: 'docker-compose.spring-green.yml' }).waitFor({ timeout: 60_000 });
  assert.match(await current.innerText(), new RegExp(`${live} · live`));

  await frame.getByText('Next: Measure').click();
  const measure = frame.locator('vscode-tab-panel').nth(1);
  await measure.getByText(new RegExp(`A throwaway copy of ${containerOf(live)}`)).waitFor({ timeout: 30_000 });
  await measure.getByText('Start measuring').click();
  await measure.locator('tbody tr').nth(0).getByText('done').waitFor({ timeout: 90_000 });

  await frame.getByText('Next: Recommend').click();
  const recommend = frame.locator('vscode-tab-panel').nth(2);
  await recommend.getByText(/Recommended \d+s: slowest startup/).waitFor({ timeout: 20_000 });
  const values = {};
  for (const key of ['interval', 'timeout', 'retries', 'start_period']) values[key] = await frame.locator(`#field-${key}`).evaluate((el) => el.value);
  await recommend.getByText('Preview Change').click();
  const apply = frame.locator('vscode-tab-panel').nth(3);
  await apply.locator('pre.diff').nth(1).waitFor({ timeout: 20_000 });
  // The sandbox is shared: write only when no one deploys, so nobody else starts a color from the edited files.
  await quietHost();
  await apply.getByText('Write Both Files').click();
  await apply.getByText(/^Written\./).waitFor({ timeout: 30_000 });
  for (const color of colors) assert.match(fs.readFileSync(composeOf(color), 'utf8'), new RegExp(`^ {6}interval: ${values.interval}$`, 'm'), `${color}'s file has the new interval`);

  const healthy = apply.getByText(new RegExp(`Docker reports ${containerOf(idle)} healthy, .* after it started, with the new timings`));
  const locked = apply.getByText(/Another operation is running on handdoc-sandbox/);
  for (let attempt = 1; ; attempt++) {
    await apply.getByText('Roll Out (Blue-Green)').click();
    // Another test may take the deploy lock first: the wizard says so, and the user tries again.
    const outcome = await Promise.race([healthy.waitFor({ timeout: 240_000 }).then(() => 'healthy'), locked.waitFor({ timeout: 240_000 }).then(() => 'locked')]).catch(async (error) => {
      await vs.screenshot('wizard-bluegreen-debug-rollout');
      throw new Error(`${error.message}\nThe Apply step says:\n${await apply.innerText().catch(() => '?')}`);
    });
    if (outcome === 'healthy') break;
    assert.ok(attempt < 3, 'the deploy lock stayed taken');
    log(`roll-out refused: the deploy lock is taken; trying again when the host is quiet`);
    await vs.screenshot('wizard-bluegreen-locked');
    await quietHost();
  }
  assert.equal(liveColorOnDisk(info), idle, 'Nginx sends traffic to the idle color now');
  const hc = JSON.parse(hostDocker(['inspect', '-f', '{{json .Config.Healthcheck}}', containerOf(idle)]));
  const ns = (text) => {
    const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
    return (Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 1e9;
  };
  assert.deepEqual([hc.Interval, hc.Timeout, hc.StartPeriod, hc.Retries], [ns(values.interval), ns(values.timeout), ns(values.start_period), Number(values.retries)]);
  assert.equal(hostDocker(['inspect', '-f', '{{.State.Status}}', containerOf(live)]).trim(), 'running', 'the old color is kept warm (switchyard.deploy.oldColor: keep reached the wizard)');
  // Without a refresh the tree keeps the old live color: a switch file rewrite is no Docker event.
  await vs.waitForViewText(new RegExp(`live: ${idle}`), { timeout: 15_000 });
  await frame.locator('vscode-tab-header', { hasText: 'Current' }).click();
  await current.getByText(new RegExp(`${idle} · live`)).waitFor({ timeout: 15_000 });
  await vs.screenshot('wizard-bluegreen-1-current-after-dark');
  await frame.locator('vscode-tab-header', { hasText: 'Apply' }).click();
  await apply.locator('.banner.ok').last().scrollIntoViewIfNeeded().catch(() => {});
  await vs.screenshot('wizard-bluegreen-2-rollout-dark');
});
