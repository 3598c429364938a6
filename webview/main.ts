/**
 * The healthcheck wizard in the webview: four steps (current → measure → recommend → apply) drawn
 * from the state the extension sends. It only shows and asks: every decision and every effect is in
 * the extension, reached through the messages of src/core/protocol.ts (validated both ways).
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import type { VscodeTabs } from '@vscode-elements/elements/dist/vscode-tabs/vscode-tabs.js';
import type { VscodeTextfield } from '@vscode-elements/elements/dist/vscode-textfield/vscode-textfield.js';
import {
  parseHostMessage,
  stepIds,
  type ComposeFileView,
  type ContainerView,
  type HealthcheckView,
  type StepId,
  type TimingFieldId,
  type TimingValues,
  type WebviewMessage,
  type WizardState,
} from '../src/core/protocol';
import { wizardCss } from './styles';

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();

// ---------------------------------------------------------------------------------------------
// Local UI state (survives the webview being hidden and recreated)

interface UiState {
  step: StepId;
  runs: string;
}

function loadUiState(): UiState {
  const raw = vscode.getState() as Partial<UiState> | undefined;
  const step = stepIds.find((s) => s === raw?.step) ?? 'current';
  const runs = typeof raw?.runs === 'string' && /^\d{1,2}$/.test(raw.runs) ? raw.runs : '';
  return { step, runs };
}

const ui = loadUiState();
let hasChosenStep = vscode.getState() !== undefined;
function saveUiState(): void {
  vscode.setState(ui);
}

function post(message: WebviewMessage): void {
  vscode.postMessage(message);
}

// ---------------------------------------------------------------------------------------------
// DOM helpers

type Child = Node | string | undefined | false | null;

function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: { class?: string; key?: string; attrs?: Record<string, string>; onClick?: () => void } = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.key) el.dataset.key = props.key;
  for (const [name, value] of Object.entries(props.attrs ?? {})) el.setAttribute(name, value);
  if (props.onClick) el.addEventListener('click', props.onClick);
  for (const child of children) if (child !== undefined && child !== false && child !== null) el.append(child);
  return el;
}

function button(label: string, key: string, onClick: () => void, options: { secondary?: boolean; disabled?: boolean } = {}): HTMLElement {
  const el = document.createElement('vscode-button');
  el.textContent = label;
  el.dataset.key = key;
  if (options.secondary) el.setAttribute('secondary', '');
  if (options.disabled) el.setAttribute('disabled', '');
  el.addEventListener('click', () => {
    if (!el.hasAttribute('disabled')) onClick();
  });
  return el;
}

function pill(text: string, kind: string): HTMLElement {
  return h('span', { class: `pill ${kind}` }, text);
}

function banner(kind: 'info' | 'warning' | 'error' | 'ok', ...children: Child[]): HTMLElement {
  return h('div', { class: `banner ${kind}`, attrs: { role: kind === 'error' ? 'alert' : 'status' } }, ...children);
}

function fmtMs(ms: number | undefined): string {
  if (ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function fileName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function timeOf(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleTimeString();
}

// ---------------------------------------------------------------------------------------------
// Skeleton (built once)

const app = document.getElementById('app') as HTMLElement;
const sheet = new CSSStyleSheet();
sheet.replaceSync(wizardCss);
document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];

const title = h('h1', {}, 'Healthcheck wizard');
const subtitle = h('p', { class: 'muted' });
const headerActions = h('div', { class: 'actions' });
const banners = h('div');
const stepTitles: Record<StepId, string> = { current: '1 · Current', measure: '2 · Measure', recommend: '3 · Recommend', apply: '4 · Apply' };
const tabs = document.createElement('vscode-tabs') as VscodeTabs;
const panels = {} as Record<StepId, HTMLElement>;
for (const step of stepIds) {
  const header = document.createElement('vscode-tab-header');
  header.setAttribute('slot', 'header');
  header.dataset.step = step;
  header.textContent = stepTitles[step];
  const panel = document.createElement('vscode-tab-panel');
  const body = h('div', { class: 'panel-body' });
  panel.append(body);
  panels[step] = body;
  tabs.append(header, panel);
}
tabs.addEventListener('vsc-tabs-select', (event) => {
  ui.step = stepIds[(event as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex] ?? 'current';
  hasChosenStep = true;
  saveUiState();
});
app.append(h('div', { class: 'wizard-header' }, h('div', {}, title, subtitle), headerActions), banners, tabs);

function goTo(step: StepId): void {
  ui.step = step;
  hasChosenStep = true;
  saveUiState();
  tabs.selectedIndex = stepIds.indexOf(step);
}

// ---------------------------------------------------------------------------------------------
// Rendering

let state: WizardState | undefined;

/** Re-renders a container, keeping keyboard focus on the element with the same data-key. */
function replace(container: HTMLElement, ...children: Child[]): void {
  const active = document.activeElement as HTMLElement | null;
  const key = active && container.contains(active) ? active.dataset.key : undefined;
  container.replaceChildren(...children.filter((c): c is Node | string => c !== undefined && c !== false && c !== null));
  if (key) (container.querySelector(`[data-key="${CSS.escape(key)}"]`) as HTMLElement | null)?.focus();
}

function renderHeader(s: WizardState): void {
  title.textContent = `Healthcheck wizard · ${s.service}`;
  const current = s.current;
  const what = s.kind === 'single' ? `single container ${current?.containers[0]?.name ?? ''}` : 'Blue-Green service';
  subtitle.textContent = `${s.host} · ${what}${current ? ` · probes ${current.healthPath} on port ${current.port}` : ''}`;
  replace(
    headerActions,
    s.busy ? h('vscode-progress-ring', { attrs: { 'aria-label': s.busy } }) : undefined,
    button('Reload', 'reload', () => post({ type: 'reload' }), { secondary: true, disabled: Boolean(s.busy) }),
    button('Show Log', 'showLog', () => post({ type: 'showLog' }), { secondary: true }),
  );
  replace(banners, s.busy ? banner('info', s.busy) : undefined, s.error ? banner('error', s.error) : undefined);
}

function healthcheckFacts(hc: HealthcheckView): HTMLElement {
  const rows: Array<[string, string | undefined]> = [
    ['test', hc.test],
    ['interval', hc.interval ?? 'default (30s)'],
    ['timeout', hc.timeout ?? 'default (30s)'],
    ['retries', hc.retries !== undefined ? String(hc.retries) : 'default (3)'],
    ['start_period', hc.startPeriod ?? 'default (0s)'],
    ['start_interval', hc.startInterval],
    ['from', hc.source],
  ];
  return h(
    'dl',
    { class: 'facts' },
    ...rows.filter(([, v]) => v !== undefined && v !== '').flatMap(([k, v]) => [h('dt', {}, k), h('dd', { class: k === 'test' ? 'mono' : '' }, v as string)]),
    hc.isDisabled ? h('dt', {}, 'state') : undefined,
    hc.isDisabled ? h('dd', { class: 'warning-text' }, 'disabled') : undefined,
  );
}

function fileCard(file: ComposeFileView): HTMLElement {
  return h(
    'section',
    { class: 'card', attrs: { 'aria-label': `compose file ${fileName(file.path)}` } },
    h('h3', {}, file.color ? pill(file.color, `live-${file.color}`) : undefined, file.color ? ' ' : undefined, fileName(file.path)),
    h('p', { class: 'muted mono' }, file.path, file.serviceKey ? ` · service "${file.serviceKey}"` : ''),
    file.error ? h('p', { class: 'error-text' }, file.error) : undefined,
    file.healthcheck ? healthcheckFacts(file.healthcheck) : !file.error ? h('p', { class: 'warning-text' }, 'No healthcheck in this file.') : undefined,
    file.problems.length > 0 ? h('ul', { class: 'lines warning-text' }, ...file.problems.map((p) => h('li', {}, p))) : undefined,
  );
}

function containerSection(c: ContainerView): HTMLElement {
  const failing = c.log.filter((e) => e.exitCode !== 0).length;
  const excused = c.log.filter((e) => e.isExcused).length;
  return h(
    'section',
    { attrs: { 'aria-label': `health log of ${c.name}` } },
    h(
      'h3',
      {},
      c.name,
      ' ',
      pill(c.health === 'none' ? 'no healthcheck' : c.health, c.health),
      c.color ? ' ' : undefined,
      c.color ? pill(c.isLive ? `${c.color} · live` : `${c.color} · idle`, c.isLive ? `live-${c.color}` : 'none') : undefined,
    ),
    h(
      'p',
      { class: 'muted' },
      `${c.state} · failing streak ${c.failingStreak}${c.log.length > 0 ? ` · ${failing} of the last ${c.log.length} probes failed` : ''}${excused > 0 ? ` (${excused} while starting, within start_period: not counted)` : ''}`,
    ),
    c.log.length === 0
      ? h('p', { class: 'muted' }, 'Docker has no probe results for it yet.')
      : h(
          'table',
          {},
          h('thead', {}, h('tr', {}, h('th', {}, 'Started'), h('th', { class: 'num' }, 'Duration'), h('th', { class: 'num' }, 'Exit code'), h('th', {}, 'Output'))),
          h(
            'tbody',
            {},
            ...c.log
              .slice()
              .reverse()
              .map((e) =>
                h(
                  'tr',
                  {},
                  h('td', {}, timeOf(e.start)),
                  h('td', { class: 'num' }, fmtMs(e.durationMs)),
                  h('td', { class: `num ${e.exitCode === 0 ? 'ok-text' : 'error-text'}` }, String(e.exitCode)),
                  h(
                    'td',
                    { class: 'output' },
                    e.output.trim() === '' ? '(no output)' : e.output.trim().slice(0, 300),
                    e.isExcused ? h('span', { class: 'muted' }, ' · within start_period, not counted') : undefined,
                  ),
                ),
              ),
          ),
        ),
  );
}

function renderCurrent(s: WizardState): void {
  const c = s.current;
  if (!c) {
    replace(panels.current, h('p', { class: 'muted' }, s.busy ?? 'Loading…'));
    return;
  }
  const files = c.files;
  replace(
    panels.current,
    h('p', { class: 'step-hint muted' }, 'What Docker is told to check today, and what it saw recently.'),
    h('h2', {}, files.length > 1 ? 'Compose files (both colors)' : 'Compose file'),
    h('div', { class: 'cards' }, ...files.map(fileCard)),
    h('h2', {}, 'Image'),
    h(
      'div',
      { class: 'card' },
      h('p', { class: 'mono' }, c.image.ref),
      c.image.error ? h('p', { class: 'error-text' }, c.image.error) : undefined,
      c.image.healthcheck ? healthcheckFacts(c.image.healthcheck) : !c.image.error ? h('p', { class: 'muted' }, 'The image has no HEALTHCHECK of its own (nothing to inherit).') : undefined,
    ),
    ...c.notes.map((note) => banner('warning', note)),
    h('h2', {}, 'Recent health log'),
    c.containers.length === 0 ? h('p', { class: 'muted' }, 'No container of this service exists on the host.') : undefined,
    ...c.containers.map(containerSection),
    h('div', { class: 'row end' }, button('Next: Measure', 'next-measure', () => goTo('measure'))),
  );
}

const runStatusWords: Record<string, string> = {
  waiting: 'waiting',
  starting: 'starting',
  probing: 'waiting for an answer',
  done: 'done',
  timedOut: 'no answer',
  failed: 'failed',
  cancelled: 'cancelled',
};

function renderMeasure(s: WizardState): void {
  const m = s.measure;
  const running = m.status === 'running';
  const runsField = document.createElement('vscode-textfield') as VscodeTextfield;
  runsField.className = 'runs-field';
  runsField.type = 'number';
  runsField.min = 1;
  runsField.max = 10;
  runsField.value = ui.runs || String(m.runsPlanned);
  runsField.id = 'runs';
  runsField.dataset.key = 'runs';
  runsField.addEventListener('input', () => {
    ui.runs = runsField.value;
    saveUiState();
  });
  const runs = (): number => Math.min(10, Math.max(1, Number.parseInt(runsField.value, 10) || m.runsPlanned));
  const startups = m.runs.map((r) => r.startupMs ?? 0);
  const slowest = Math.max(0, ...startups);
  const scale = Math.max(slowest, 1);
  const table = h(
    'table',
    { attrs: { 'aria-label': 'measurements' } },
    h(
      'thead',
      {},
      h('tr', {}, h('th', {}, 'Run'), h('th', {}, 'Status'), h('th', { class: 'bar-cell' }, 'Time to first answer'), h('th', {}, 'Probe durations once up'), h('th', { class: 'num' }, 'Memory at rest')),
    ),
    h(
      'tbody',
      {},
      ...m.runs.map((r) => {
        const bar = h('div', { class: `bar${r.startupMs !== undefined && r.startupMs === slowest && m.runs.length > 1 ? ' slowest' : ''}` });
        // CSSOM, not a style attribute: allowed by the CSP without 'unsafe-inline'.
        bar.style.width = `${r.startupMs !== undefined ? Math.max(2, (r.startupMs / scale) * 100) : 0}%`;
        return h(
          'tr',
          {},
          h('td', {}, String(r.run)),
          h('td', {}, pill(runStatusWords[r.status] ?? r.status, r.status)),
          h('td', { class: 'bar-cell' }, r.startupMs !== undefined ? fmtMs(r.startupMs) : '–', h('div', { class: 'bar-track' }, bar)),
          h('td', { class: 'mono' }, r.probeMs.length > 0 ? r.probeMs.map((p) => Math.round(p)).join(', ') + ' ms' : '–', r.message ? h('div', { class: 'issue warning' }, r.message) : undefined),
          h('td', { class: 'num' }, r.memoryKb !== undefined ? `${(r.memoryKb / 1024).toFixed(1)} MiB` : '–'),
        );
      }),
    ),
  );
  replace(
    panels.measure,
    h('p', { class: 'step-hint muted' }, `Starts the app ${m.runsPlanned > 1 ? 'several times' : ''} and times it: until its health path first answers, then a few probes, then its memory. Each run gives up after ${Math.round(m.deadlineMs / 1000)} s.`),
    m.method ? banner('info', m.method) : undefined,
    m.consentQuestion
      ? banner(
          'warning',
          h('span', {}, m.consentQuestion),
          button('Restart and measure', 'consent', () => post({ type: 'measure', runs: runs(), allowRestart: true })),
          button('Don’t restart', 'decline', () => post({ type: 'declineRestart' }), { secondary: true }),
        )
      : undefined,
    h(
      'div',
      { class: 'row' },
      h('vscode-label', { attrs: { for: 'runs' } }, 'Runs'),
      runsField,
      button(m.runs.length > 0 && !running ? 'Measure again' : 'Start measuring', 'measure', () => post({ type: 'measure', runs: runs() }), { disabled: running || Boolean(s.busy) || !s.current }),
      running ? button('Cancel', 'cancel-measure', () => post({ type: 'cancelMeasure' }), { secondary: true }) : undefined,
      running ? h('vscode-progress-ring', { attrs: { 'aria-label': 'measuring' } }) : undefined,
    ),
    m.error ? banner('error', m.error) : undefined,
    m.status === 'cancelled' ? banner('warning', 'Measurement cancelled; the throwaway copy was removed.') : undefined,
    m.runs.length > 0 ? table : h('p', { class: 'muted' }, 'No measurement yet.'),
    m.dockerProbeMs.length > 0
      ? h('p', { class: 'muted' }, `Docker's own recent probes of the live container (once it was up): ${m.dockerProbeMs.join(', ')} ms.`)
      : undefined,
    h('div', { class: 'row end' }, button('Back', 'back-current', () => goTo('current'), { secondary: true }), button('Next: Recommend', 'next-recommend', () => goTo('recommend'), { disabled: !s.recommendation && !s.recommendationProblem })),
  );
}

// The form keeps its text fields between renders, so typing is never interrupted.
const fieldIds: TimingFieldId[] = ['start_period', 'timeout', 'interval', 'retries'];
const fieldLabels: Record<TimingFieldId, string> = { start_period: 'start_period', timeout: 'timeout', interval: 'interval', retries: 'retries' };
const fields = {} as Record<TimingFieldId | 'test', VscodeTextfield>;
const reasonEls = {} as Record<TimingFieldId | 'test', HTMLElement>;
const issueEls = {} as Record<TimingFieldId | 'test', HTMLElement>;
let shownRevision = -1;
let editTimer: ReturnType<typeof setTimeout> | undefined;

function makeField(id: TimingFieldId | 'test'): VscodeTextfield {
  const field = document.createElement('vscode-textfield') as VscodeTextfield;
  field.id = `field-${id}`;
  field.dataset.key = `field-${id}`;
  field.addEventListener('input', () => {
    if (editTimer) clearTimeout(editTimer);
    editTimer = setTimeout(() => post({ type: 'edit', values: formValues() }), 250);
  });
  return field;
}
for (const id of [...fieldIds, 'test'] as const) {
  fields[id] = makeField(id);
  reasonEls[id] = h('div', { class: 'reason muted' });
  issueEls[id] = h('div', { attrs: { 'aria-live': 'polite' } });
}
fields.test.className = 'test-field';

function formValues(): TimingValues {
  const values: TimingValues = { interval: fields.interval.value, timeout: fields.timeout.value, retries: fields.retries.value, start_period: fields.start_period.value };
  if (state?.edit?.needsTest) values.test = fields.test.value;
  return values;
}

const form = h('div', { class: 'fields', attrs: { role: 'group', 'aria-label': 'healthcheck timings' } });
for (const id of fieldIds) {
  form.append(h('vscode-label', { class: 'field-label', attrs: { for: `field-${id}` } }, fieldLabels[id]), fields[id], h('div', {}, reasonEls[id], issueEls[id]));
}
const testRow = h('div', { class: 'fields' }, h('vscode-label', { class: 'field-label', attrs: { for: 'field-test' } }, 'test (CMD-SHELL)'), fields.test, h('span'), h('span'), h('div', { class: 'test-field' }, reasonEls.test, issueEls.test));
const recommendSummary = h('div');
const recommendTop = h('div');
const recommendButtons = h('div', { class: 'row end' });

function renderRecommend(s: WizardState): void {
  if (panels.recommend.childElementCount === 0) {
    panels.recommend.append(
      h('p', { class: 'step-hint muted' }, 'Timings from the measurements, each with its reason. Edit any field; the checks explain values Docker or Compose would get wrong.'),
      recommendTop,
      testRow,
      form,
      recommendSummary,
      recommendButtons,
    );
  }
  const edit = s.edit;
  const rec = s.recommendation;
  replace(
    recommendTop,
    s.recommendationProblem ? banner('error', s.recommendationProblem) : undefined,
    !rec && !s.recommendationProblem ? banner('info', 'Measure first (step 2) for a recommendation; meanwhile the fields show the current values, and you can still check and write your own.') : undefined,
    ...(rec?.warnings ?? []).map((w) => banner('warning', w)),
  );
  testRow.hidden = !edit?.needsTest;
  if (edit && edit.revision !== shownRevision) {
    shownRevision = edit.revision;
    for (const id of fieldIds) fields[id].value = edit.values[id];
    fields.test.value = edit.values.test ?? '';
  }
  for (const id of [...fieldIds, 'test'] as const) {
    const advice = id === 'test' ? undefined : rec?.[id];
    reasonEls[id].textContent = id === 'test' ? `Docker runs this in the container; it must exit 0 when ${s.current?.healthPath ?? 'the health path'} answers. Check the path and that the image has wget.` : advice ? `Recommended ${advice.value}: ${advice.reason}` : '';
    const issues = (edit?.issues ?? []).filter((i) => i.field === id);
    fields[id].invalid = issues.some((i) => i.severity === 'error');
    replace(issueEls[id], ...issues.map((i) => h('span', { class: `issue ${i.severity}` }, `${i.severity === 'error' ? 'Error' : 'Warning'}: ${i.message}`)));
  }
  const general = (edit?.issues ?? []).filter((i) => i.field === 'general');
  replace(
    recommendSummary,
    ...general.map((i) => banner(i.severity === 'error' ? 'error' : 'warning', i.message)),
    edit && edit.outlook.length > 0 ? h('h3', {}, 'With these values') : undefined,
    edit && edit.outlook.length > 0 ? h('ul', { class: 'lines' }, ...edit.outlook.map((line) => h('li', { class: /UNHEALTHY/.test(line) ? 'error-text' : '' }, line))) : undefined,
    rec && rec.summary.length > 0 ? h('p', { class: 'muted' }, rec.summary.filter((l) => l.startsWith('Memory')).join(' ')) : undefined,
  );
  const hasErrors = (edit?.issues ?? []).some((i) => i.severity === 'error');
  replace(
    recommendButtons,
    button('Back', 'back-measure', () => goTo('measure'), { secondary: true }),
    button('Use Recommendation', 'use-recommendation', () => post({ type: 'useRecommendation' }), { secondary: true, disabled: !rec || Boolean(s.busy) }),
    button('Preview Change', 'preview', () => {
      if (editTimer) clearTimeout(editTimer);
      post({ type: 'preview', values: formValues() });
      goTo('apply');
    }, { disabled: !edit || hasErrors || Boolean(s.busy) }),
  );
}

function diffBlock(diff: string): HTMLElement {
  const pre = h('pre', { class: 'diff', attrs: { tabindex: '0', 'aria-label': 'diff' } });
  for (const line of diff.replace(/\n$/, '').split('\n')) {
    const kind = line.startsWith('+++') || line.startsWith('---') ? 'hunk' : line.startsWith('@@') ? 'hunk' : line.startsWith('+') ? 'add' : line.startsWith('-') ? 'del' : 'ctx';
    pre.append(h('span', { class: kind }, line || ' '));
  }
  return pre;
}

function renderApply(s: WizardState): void {
  const a = s.apply;
  const r = s.rollout;
  const count = a.diffs.length;
  const writeLabel = count > 1 ? 'Write Both Files' : `Write ${a.diffs[0] ? fileName(a.diffs[0].path) : 'File'}`;
  replace(
    panels.apply,
    h('p', { class: 'step-hint muted' }, 'The change to the compose file(s): only the healthcheck keys; comments and everything else stay as they are. Written atomically, with a backup.'),
    a.status === 'idle' ? banner('info', 'Preview the change from step 3 first.') : undefined,
    ...a.diffs.map((d) => h('section', { attrs: { 'aria-label': `change to ${fileName(d.path)}` } }, h('h3', { class: 'mono' }, d.path), diffBlock(d.diff), ...d.notes.map((n) => h('p', { class: 'muted' }, n)))),
    a.message ? banner(a.status === 'failed' || a.status === 'refused' ? 'error' : a.status === 'written' ? 'ok' : 'info', a.message) : undefined,
    a.changedOnHost ? h('section', {}, h('h3', {}, `What changed on the host in ${fileName(a.changedOnHost.path)}`), diffBlock(a.changedOnHost.diff)) : undefined,
    a.backups.length > 0 ? h('ul', { class: 'lines muted' }, ...a.backups.map((b) => h('li', {}, `Backup of ${fileName(b.path)}: `, h('span', { class: 'mono' }, b.backupPath)))) : undefined,
    h(
      'div',
      { class: 'row' },
      button('Back', 'back-recommend', () => goTo('recommend'), { secondary: true }),
      button(writeLabel, 'write', () => post({ type: 'apply' }), { disabled: a.status !== 'previewed' || Boolean(s.busy) || a.diffs.every((d) => d.diff.startsWith('(no change')) }),
      a.status === 'refused' ? button('Reload', 'reload-refused', () => post({ type: 'reload' }), { secondary: true, disabled: Boolean(s.busy) }) : undefined,
      a.status === 'writing' ? h('vscode-progress-ring', { attrs: { 'aria-label': 'writing' } }) : undefined,
    ),
    h('h2', {}, 'Roll out'),
    h('p', {}, r.plan),
    h(
      'div',
      { class: 'row' },
      button(s.kind === 'blueGreen' ? 'Roll Out (Blue-Green)' : 'Roll Out (Recreate)', 'rollout', () => post({ type: 'rollOut' }), { disabled: a.status !== 'written' || r.status === 'running' || Boolean(s.busy) }),
      r.status === 'running' ? button('Cancel', 'cancel-rollout', () => post({ type: 'cancelRollOut' }), { secondary: true }) : undefined,
      r.status === 'running' ? h('vscode-progress-ring', { attrs: { 'aria-label': 'rolling out' } }) : undefined,
    ),
    r.lines.length > 0 ? h('pre', { class: 'log', attrs: { tabindex: '0', 'aria-label': 'roll-out log' } }, r.lines.join('\n')) : undefined,
    r.message ? banner(r.status === 'done' ? 'ok' : r.status === 'running' ? 'info' : 'error', r.message) : undefined,
    r.nextStep ? banner('info', r.nextStep) : undefined,
  );
}

/** Where a freshly opened wizard starts: the furthest step with something to see. */
function furthestStep(s: WizardState): StepId {
  if (s.apply.status !== 'idle' || s.rollout.status !== 'idle') return 'apply';
  if (s.recommendation) return 'recommend';
  if (s.measure.runs.length > 0) return 'measure';
  return 'current';
}

let renderCount = 0;

function render(s: WizardState): void {
  // For tests and for looking at it in the devtools: how many states were drawn, and the last one's version.
  document.body.dataset.renders = String(++renderCount);
  document.body.dataset.version = String(s.version);
  renderHeader(s);
  renderCurrent(s);
  renderMeasure(s);
  renderRecommend(s);
  renderApply(s);
  if (!hasChosenStep) {
    hasChosenStep = true;
    ui.step = furthestStep(s);
    saveUiState();
  }
  if (tabs.selectedIndex !== stepIds.indexOf(ui.step)) tabs.selectedIndex = stepIds.indexOf(ui.step);
}

window.addEventListener('message', (event: MessageEvent) => {
  const parsed = parseHostMessage(event.data);
  if (!parsed.ok) {
    replace(banners, banner('error', `Ignored a message that does not follow the wizard's protocol: ${parsed.error}`));
    return;
  }
  const next = parsed.message.state;
  if (state && next.version < state.version && next.host === state.host && next.service === state.service) return;
  state = next;
  render(next);
});

tabs.selectedIndex = stepIds.indexOf(ui.step);
post({ type: 'ready' });
