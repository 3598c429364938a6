// The VSIX the wizard's e2e test installs: the repository's, once its package.json contributes the
// wizard; until then one packaged from a copy of the manifest patched with WIZARD_CONTRIBUTIONS.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './vscodePage.mjs';

const COMMAND = 'switchyard.openHealthcheckWizard';

/** What package.json must contribute for the wizard (the same JSON is in the issue-7 report). */
export const WIZARD_CONTRIBUTIONS = {
  commands: [{ command: COMMAND, title: 'Open Healthcheck Wizard', category: 'Switchyard', icon: '$(pulse)' }],
  menus: {
    'view/item/context': [
      { command: COMMAND, when: 'view == switchyard.hosts && viewItem =~ /^(service\\.|color\\.|container\\.)/', group: '4_health@1' },
    ],
    commandPalette: [{ command: COMMAND, when: 'switchyard.hostCount > 0' }],
  },
  configuration: {
    'switchyard.wizard.measureRuns': {
      type: 'integer',
      default: 3,
      minimum: 1,
      maximum: 10,
      markdownDescription: 'How many times the healthcheck wizard starts the app to measure its startup (each run on a throwaway copy, or the idle color).',
    },
    'switchyard.wizard.measureDeadlineSeconds': {
      type: 'integer',
      default: 180,
      minimum: 10,
      maximum: 1800,
      markdownDescription: 'How long one measurement run waits for the health path to answer before it reports "no answer".',
    },
  },
};

/** The VSIX to install: the repository's when its manifest has the wizard, else one from a patched manifest. */
export function wizardVsix(dir, log = () => {}) {
  const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  const given = process.env.SWITCHYARD_VSIX || path.join(REPO_ROOT, 'dist', 'switchyard.vsix');
  if (manifest.contributes.commands.some((c) => c.command === COMMAND) && fs.existsSync(given)) return given;
  if (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'webview.js'))) execFileSync(process.execPath, ['esbuild.js'], { cwd: REPO_ROOT, stdio: 'inherit' });
  const stage = path.join(dir, 'vsix');
  fs.mkdirSync(path.join(stage, 'dist'), { recursive: true });
  for (const file of ['dist/extension.js', 'dist/webview.js', 'README.md', 'CHANGELOG.md', 'LICENSE', '.vscodeignore']) fs.copyFileSync(path.join(REPO_ROOT, file), path.join(stage, file));
  fs.cpSync(path.join(REPO_ROOT, 'media'), path.join(stage, 'media'), { recursive: true });
  const c = manifest.contributes;
  c.commands = [...c.commands.filter((x) => x.command !== COMMAND), ...WIZARD_CONTRIBUTIONS.commands];
  for (const [menu, items] of Object.entries(WIZARD_CONTRIBUTIONS.menus)) c.menus[menu] = [...(c.menus[menu] ?? []).filter((x) => x.command !== COMMAND), ...items];
  Object.assign(c.configuration.properties, WIZARD_CONTRIBUTIONS.configuration);
  delete manifest.scripts;
  fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const out = path.join(dir, 'switchyard-wizard.vsix');
  execFileSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'vsce'), ['package', '--no-dependencies', '--no-rewrite-relative-links', '--allow-missing-repository', '--out', out], { cwd: stage, stdio: 'pipe' });
  log(`packaged ${out} from a manifest patched with the wizard's contributions`);
  return out;
}

