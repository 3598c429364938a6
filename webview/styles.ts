/**
 * The wizard's CSS, adopted as a constructed stylesheet (no inline <style>, so the CSP needs no
 * 'unsafe-inline'). Every color is a VS Code theme variable, so light, dark and high-contrast themes work.
 */
export const wizardCss = `
:root {
  color-scheme: light dark;
}
[hidden] {
  /* Author display rules (grid, flex) would otherwise win over the hidden attribute. */
  display: none !important;
}
body {
  margin: 0;
  padding: 0 20px 32px;
  color: var(--vscode-foreground);
  background: var(--vscode-editor-background);
  font-family: var(--vscode-font-family);
  font-size: var(--vscode-font-size);
  line-height: 1.45;
}
h1 {
  font-size: 1.35em;
  font-weight: 600;
  margin: 16px 0 2px;
}
h2 {
  font-size: 1.05em;
  font-weight: 600;
  margin: 18px 0 6px;
}
h3 {
  font-size: 1em;
  font-weight: 600;
  margin: 12px 0 4px;
}
p {
  margin: 4px 0;
}
code, pre, .mono {
  font-family: var(--vscode-editor-font-family);
  font-size: var(--vscode-editor-font-size, 12px);
}
.muted {
  color: var(--vscode-descriptionForeground);
}
.wizard-header {
  display: flex;
  align-items: flex-end;
  justify-content: space-between;
  gap: 12px;
  border-bottom: 1px solid var(--vscode-panel-border, var(--vscode-widget-border, transparent));
  padding-bottom: 10px;
  margin-bottom: 10px;
}
.wizard-header .actions {
  display: flex;
  gap: 8px;
  align-items: center;
}
.banner {
  display: flex;
  gap: 8px;
  align-items: center;
  padding: 6px 10px;
  margin: 8px 0;
  border-left: 3px solid var(--vscode-focusBorder);
  background: var(--vscode-textBlockQuote-background, transparent);
}
.banner.error {
  border-left-color: var(--vscode-errorForeground);
  color: var(--vscode-errorForeground);
}
.banner.warning {
  border-left-color: var(--vscode-editorWarning-foreground, #cca700);
}
.banner.ok {
  border-left-color: var(--vscode-testing-iconPassed, #73c991);
}
.panel-body {
  padding: 6px 2px 12px;
}
.cards {
  display: grid;
  grid-template-columns: repeat(auto-fit, minmax(340px, 1fr));
  gap: 12px;
}
.card {
  border: 1px solid var(--vscode-panel-border, var(--vscode-widget-border, rgba(128, 128, 128, 0.35)));
  border-radius: 4px;
  padding: 8px 12px 10px;
  background: var(--vscode-sideBar-background, transparent);
}
.card h3 {
  margin-top: 2px;
  overflow-wrap: anywhere;
}
dl.facts {
  display: grid;
  grid-template-columns: max-content 1fr;
  gap: 2px 14px;
  margin: 6px 0;
}
dl.facts dt {
  color: var(--vscode-descriptionForeground);
}
dl.facts dd {
  margin: 0;
  overflow-wrap: anywhere;
}
table {
  border-collapse: collapse;
  width: 100%;
  margin: 6px 0;
}
th, td {
  text-align: left;
  padding: 3px 10px 3px 0;
  border-bottom: 1px solid var(--vscode-editorGroup-border, rgba(128, 128, 128, 0.25));
  vertical-align: top;
}
th {
  font-weight: 600;
  color: var(--vscode-descriptionForeground);
}
td.num, th.num {
  text-align: right;
  white-space: nowrap;
}
td.output {
  font-family: var(--vscode-editor-font-family);
  font-size: var(--vscode-editor-font-size, 12px);
  overflow-wrap: anywhere;
}
.pill {
  display: inline-block;
  padding: 0 7px;
  border-radius: 9px;
  font-size: 0.9em;
  border: 1px solid currentColor;
  white-space: nowrap;
}
.ok-text, .pill.healthy, .pill.done {
  color: var(--vscode-testing-iconPassed, #73c991);
}
.error-text, .pill.unhealthy, .pill.failed, .pill.timedOut {
  color: var(--vscode-errorForeground);
}
.warning-text, .pill.starting, .pill.probing, .pill.waiting, .pill.cancelled {
  color: var(--vscode-editorWarning-foreground, #cca700);
}
.pill.none {
  color: var(--vscode-descriptionForeground);
}
.pill.live-blue {
  color: var(--vscode-charts-blue, #3794ff);
}
.pill.live-green {
  color: var(--vscode-charts-green, #89d185);
}
.bar-cell {
  min-width: 180px;
}
.bar-track {
  height: 8px;
  border-radius: 4px;
  background: var(--vscode-editorWidget-background, rgba(128, 128, 128, 0.2));
  margin-top: 4px;
}
.bar {
  height: 8px;
  border-radius: 4px;
  background: var(--vscode-charts-blue, var(--vscode-focusBorder));
  width: 0;
}
.bar.slowest {
  background: var(--vscode-charts-orange, var(--vscode-editorWarning-foreground));
}
.row {
  display: flex;
  gap: 10px;
  align-items: center;
  flex-wrap: wrap;
  margin: 10px 0;
}
.row.end {
  justify-content: flex-end;
}
.fields {
  display: grid;
  grid-template-columns: max-content minmax(90px, 140px) 1fr;
  gap: 6px 14px;
  align-items: start;
  margin: 10px 0;
}
.fields .field-label {
  padding-top: 4px;
  font-weight: 600;
}
.fields .reason {
  padding-top: 4px;
}
.issue {
  display: block;
  margin-top: 2px;
}
.issue.error {
  color: var(--vscode-errorForeground);
}
.issue.warning {
  color: var(--vscode-editorWarning-foreground, #cca700);
}
.test-field {
  grid-column: 2 / 4;
}
vscode-textfield {
  width: 100%;
}
.runs-field {
  width: 70px;
}
ul.lines {
  margin: 4px 0;
  padding-left: 18px;
}
pre.diff, pre.log {
  margin: 6px 0;
  padding: 8px 10px;
  border-radius: 3px;
  background: var(--vscode-textCodeBlock-background, rgba(128, 128, 128, 0.12));
  overflow-x: auto;
  white-space: pre;
}
pre.log {
  max-height: 260px;
  overflow-y: auto;
}
.diff .add {
  display: block;
  background: var(--vscode-diffEditor-insertedLineBackground, var(--vscode-diffEditor-insertedTextBackground));
  color: var(--vscode-gitDecoration-addedResourceForeground, inherit);
}
.diff .del {
  display: block;
  background: var(--vscode-diffEditor-removedLineBackground, var(--vscode-diffEditor-removedTextBackground));
  color: var(--vscode-gitDecoration-deletedResourceForeground, inherit);
}
.diff .hunk {
  display: block;
  color: var(--vscode-descriptionForeground);
}
.diff .ctx {
  display: block;
}
.step-hint {
  margin: 2px 0 10px;
}
vscode-tabs {
  margin-top: 4px;
}
:focus-visible {
  outline: 1px solid var(--vscode-focusBorder);
  outline-offset: 1px;
}
`;
