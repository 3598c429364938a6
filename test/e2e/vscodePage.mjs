// Drive the VS Code workbench (code-server) in Debian's Chromium with playwright-core.
// Selectors are the workbench's own roles / aria labels / part classes, which VS Code keeps stable.
//
// Usage:
//   const vs = await openVSCode(url);                  // Chromium + workbench ready
//   await vs.openViewContainer('Switchyard');          // activity-bar item by title
//   await vs.waitForViewText('No host configured');    // waits for CONTENT, not for time
//   await vs.runCommand('Switchyard: Add Host');       // command palette, by title
//   const text = await vs.readOutput('Switchyard');    // Output panel, one channel
//   await vs.screenshot('welcome');                    // → test-results/welcome.png
//   await vs.close();

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RESULTS_DIR = path.join(REPO_ROOT, 'test-results');
export const CHROMIUM = process.env.SWITCHYARD_CHROMIUM || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--disable-dev-shm-usage',
  '--no-default-browser-check',
  '--password-store=basic',
  '--use-mock-keychain',
  // Network rule: the browser resolves nothing but loopback names.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Launch Chromium (headless, fresh profile), open url and wait for the workbench.
 * @param {string} url code-server URL (…/?folder=…)
 * @param {{ headless?: boolean, viewport?: {width:number,height:number}, timeout?: number, log?: (m:string)=>void }} [o]
 */
export async function openVSCode(url, { headless = true, viewport = { width: 1400, height: 900 }, timeout = 60_000, log = () => {} } = {}) {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (Debian's browser; never \`npx playwright install\`)`);
  }
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-chromium-'));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless,
    args: CHROMIUM_ARGS,
    viewport,
    deviceScaleFactor: 1,
    colorScheme: 'dark',
    timeout,
  });
  const page = context.pages()[0] || (await context.newPage());
  const consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  const vs = new VSCodePage(context, page, profileDir, log);
  vs.consoleErrors = consoleErrors;
  try {
    vs.loadStartedAt = Date.now();
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout });
    await vs.waitForWorkbench({ timeout });
  } catch (e) {
    await vs.screenshot('open-failed').catch(() => {});
    await vs.close();
    throw e;
  }
  return vs;
}

export class VSCodePage {
  constructor(context, page, profileDir, log) {
    this.context = context;
    this.page = page;
    this.profileDir = profileDir;
    this.log = log;
    this.loadStartedAt = Date.now();
  }

  /** The workbench is there: activity bar drawn and the explorer / status bar rendered. */
  async waitForWorkbench({ timeout = 60_000 } = {}) {
    const p = this.page;
    await p.locator('.monaco-workbench').waitFor({ state: 'visible', timeout });
    await p.locator('.part.activitybar [role="tablist"] [role="tab"]').first().waitFor({ state: 'visible', timeout });
    await p.locator('.part.statusbar').waitFor({ state: 'visible', timeout });
    this.workbenchAt = Date.now();
  }

  /** The activity-bar item (li role=tab) whose action label's aria-label starts with title ("Explorer (Ctrl+Shift+E)"). */
  activityBarItem(title) {
    const t = title.replace(/"/g, '\\"');
    return this.page.locator(`.part.activitybar [role="tab"]:has(> .action-label[aria-label^="${t}"])`);
  }

  /**
   * Show a view container by its activity-bar title (e.g. "Switchyard"); a no-op if it is shown.
   * Waits for the side bar to show that container's title.
   */
  async openViewContainer(title, { timeout = 30_000 } = {}) {
    const item = this.activityBarItem(title).first();
    await item.waitFor({ state: 'visible', timeout });
    const selected = (await item.getAttribute('aria-selected')) === 'true';
    const sidebar = this.page.locator('.part.sidebar');
    if (!selected || !(await sidebar.isVisible())) await item.click();
    await this.page
      .locator('.part.sidebar .composite.title h2, .part.sidebar .title-label h2')
      .filter({ hasText: new RegExp(`^${esc(title)}`, 'i') })
      .first()
      .waitFor({ state: 'visible', timeout });
    return sidebar;
  }

  /** Wait until text (string or RegExp) is visible in the side bar (or in `within`). Returns the locator. */
  async waitForViewText(text, { within = '.part.sidebar', timeout = 60_000 } = {}) {
    const loc = this.page.locator(within).getByText(text).first();
    await loc.waitFor({ state: 'visible', timeout });
    return loc;
  }

  /** A button (role=button, e.g. a welcome-view button) in the side bar by its label. */
  viewButton(name, { within = '.part.sidebar' } = {}) {
    return this.page.locator(within).getByRole('button', { name, exact: true });
  }

  /** Visible text of the side bar (welcome content, tree rows, headers). */
  async sidebarText() {
    return this.page.locator('.part.sidebar').innerText();
  }

  /** Open the command palette, pick the command whose label is title, run it. */
  async runCommand(title, { timeout = 15_000 } = {}) {
    const p = this.page;
    // (1.139 keeps more than one .quick-input-widget in the DOM: use the visible one)
    const input = p.locator('.quick-input-widget .quick-input-box input').filter({ visible: true }).first();
    // Close whatever quick input is (still) open, then F1 until the palette shows ">".
    for (let attempt = 0; ; attempt++) {
      if (await input.isVisible().catch(() => false)) {
        await p.keyboard.press('Escape');
        await input.waitFor({ state: 'hidden', timeout: 3000 }).catch(() => {});
      }
      await p.keyboard.press(attempt % 2 === 0 ? 'F1' : 'Control+Shift+P');
      const opened = await input
        .waitFor({ state: 'visible', timeout: 3000 })
        .then(async () => (await input.inputValue()).startsWith('>'))
        .catch(() => false);
      if (opened) break;
      if (attempt >= 4) throw new Error(`the command palette did not open (to run "${title}")`);
    }
    await input.fill(`>${title}`);
    const row = p
      .locator('.quick-input-widget .quick-input-list [role="option"]')
      .filter({ visible: true })
      .filter({ has: p.locator('.label-name', { hasText: new RegExp(`^${esc(title)}$`) }) })
      .first();
    await row.waitFor({ state: 'visible', timeout });
    await row.click();
    // Done when the palette closed, or when the command opened its own quick pick (input changed).
    const cmd = `>${title}`;
    await p
      .waitForFunction(
        (value) => {
          const inputs = [...document.querySelectorAll('.quick-input-widget .quick-input-box input')];
          const shown = inputs.filter((i) => i.offsetParent !== null && i.getClientRects().length > 0);
          return shown.length === 0 || shown.every((i) => i.value !== value);
        },
        cmd,
        { timeout },
      )
      .catch(() => {});
  }

  /** Pick an entry in an open quick pick by its label. */
  async pickQuickItem(label, { timeout = 15_000 } = {}) {
    const p = this.page;
    const row = p
      .locator('.quick-input-widget .quick-input-list [role="option"]')
      .filter({ visible: true })
      .filter({ has: p.locator('.label-name', { hasText: new RegExp(`^${esc(label)}$`) }) })
      .first();
    await row.waitFor({ state: 'visible', timeout });
    await row.click();
  }

  /**
   * Show the Output panel on channel `name` and return its text. With `waitFor` (string/RegExp)
   * it waits until the channel shows that text. Reads the lines the output editor renders
   * (the panel is maximized first so that a short log is wholly rendered).
   */
  async readOutput(name, { waitFor, timeout = 30_000 } = {}) {
    const p = this.page;
    await this.runCommand('Output: Show Output Channels...');
    await this.pickQuickItem(name, { timeout });
    const panel = p.locator('.part.panel');
    await panel.waitFor({ state: 'visible', timeout });
    const lines = panel.locator('.monaco-editor .view-lines');
    await lines.first().waitFor({ state: 'attached', timeout });
    const deadline = Date.now() + timeout;
    for (;;) {
      const text = (await lines.first().innerText()).replace(/\u00a0/g, ' ');
      const ok = !waitFor || (typeof waitFor === 'string' ? text.includes(waitFor) : waitFor.test(text));
      if (ok) return text;
      if (Date.now() > deadline) {
        throw new Error(`Output channel "${name}" did not show ${waitFor} within ${timeout} ms; it shows:\n${text}`);
      }
      await p.waitForTimeout(250);
    }
  }

  /** The names in the Output panel's channel list (via "Output: Show Output Channels..."). */
  async outputChannels() {
    const p = this.page;
    await this.runCommand('Output: Show Output Channels...');
    const rows = p.locator('.quick-input-widget .quick-input-list [role="option"] .label-name').filter({ visible: true });
    await rows.first().waitFor({ state: 'visible' });
    const names = await rows.allInnerTexts();
    await p.keyboard.press('Escape');
    return names.map((n) => n.trim());
  }

  /** Hide the bottom panel (e.g. before a side-bar screenshot). Returns whether it is hidden. */
  async closePanel() {
    const panel = this.page.locator('.part.panel');
    for (const title of ['View: Hide Panel', 'View: Close Panel']) {
      if (!(await panel.isVisible().catch(() => false))) return true;
      await this.runCommand(title, { timeout: 5000 }).catch(() => {});
      await panel.waitFor({ state: 'hidden', timeout: 3000 }).catch(() => {});
    }
    return !(await panel.isVisible().catch(() => false));
  }

  /** Drag the sash right of the side bar so rows show their whole description (for screenshots). */
  async widenSideBar(width = 640) {
    const box = await this.page.locator('.part.sidebar').boundingBox();
    if (!box || box.width >= width) return;
    const y = box.y + box.height / 2;
    await this.page.mouse.move(box.x + box.width + 2, y);
    await this.page.mouse.down();
    await this.page.mouse.move(box.x + width, y, { steps: 8 });
    await this.page.mouse.up();
  }

  /** Screenshot of the page (or of a locator) into test-results/<name>.png. Returns the path. */
  async screenshot(name, { locator } = {}) {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const file = path.join(RESULTS_DIR, `${name}.png`);
    // Park the mouse on the empty editor area so no hover / tooltip is in the picture.
    const vp = this.page.viewportSize() || { width: 1400, height: 900 };
    await this.page.mouse.move(vp.width - 40, Math.round(vp.height / 3)).catch(() => {});
    await this.page.waitForTimeout(300);
    if (locator) await locator.screenshot({ path: file });
    else await this.page.screenshot({ path: file });
    return file;
  }

  async close() {
    try {
      await this.context.close();
    } catch {
      /* already gone */
    }
    fs.rmSync(this.profileDir, { recursive: true, force: true });
  }
}

/**
 * Wait until a file under dir (searched recursively) whose path matches fileRe contains textRe.
 * For the extension host's logs: `<userDataDir>/logs/<ts>/exthost1/remoteexthost.log`, and a
 * LogOutputChannel's file `…/exthost1/<publisher.name>/<Channel>.log`.
 * @returns {Promise<{file: string, text: string}>}
 */
export async function waitForLogFile(dir, fileRe, textRe, { timeout = 60_000 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    for (const file of walk(dir)) {
      if (!fileRe.test(file)) continue;
      const text = fs.readFileSync(file, 'utf8');
      if (textRe.test(text)) return { file, text };
    }
    if (Date.now() > deadline) {
      throw new Error(`no file matching ${fileRe} under ${dir} contains ${textRe} after ${timeout} ms; files: ${walk(dir).filter((f) => f.endsWith('.log')).join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function walk(dir) {
  const out = [];
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop();
    let ents;
    try {
      ents = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of ents) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) stack.push(f);
      else out.push(f);
    }
  }
  return out;
}
