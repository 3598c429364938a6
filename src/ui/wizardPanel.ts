import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as vscode from 'vscode';
import { deploy } from '../core/deployEngine';
import { parseWebviewMessage, checkWizardState, type HostMessage, type WizardState } from '../core/protocol';
import type { WizardTarget } from '../core/wizardModel';
import { HostDeployPorts } from '../host/deployPorts';
import type { HostWatcher } from '../host/hostWatcher';
import { deploySettings } from './deployCommands';
import { Disposable } from './disposable';
import type { OutputLogger } from './outputLogger';
import { WizardSession } from './wizardSession';
import type { SettingsReader } from './settings';

export const wizardViewType = 'switchyard.healthcheckWizard';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page: a strict CSP, one nonce'd module script from dist/, nothing inline. */
export function wizardHtml(webview: vscode.Webview, extensionUri: vscode.Uri, title: string): string {
  const nonce = randomBytes(18).toString('base64');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js'));
  const csp = `default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}'`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(title)}</title>
</head>
<body>
<main id="app" aria-live="polite"></main>
<script type="module" nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
}

/**
 * The webview panel of one session. Every message from the webview is validated by the protocol before
 * the session sees it; the state is sent after the webview says `ready` (again after each reload of a
 * hidden webview), so hiding and reopening shows the same wizard.
 */
export class WizardPanel extends Disposable {
  private readonly panel: vscode.WebviewPanel;
  private isReady = false;

  constructor(
    readonly session: WizardSession,
    extensionUri: vscode.Uri,
    private readonly logger: OutputLogger,
    onClosed: () => void,
  ) {
    super();
    const { target } = session;
    const title = `Healthcheck: ${target.service}`;
    this.panel = this._register(
      vscode.window.createWebviewPanel(wizardViewType, title, vscode.ViewColumn.Active, {
        enableScripts: true,
        // The webview reloads when shown again; the state comes back from the session after `ready`.
        retainContextWhenHidden: false,
        localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist')],
      }),
    );
    this.panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'switchyard.svg');
    this.panel.webview.html = wizardHtml(this.panel.webview, extensionUri, title);
    this._register(this.panel.webview.onDidReceiveMessage((data: unknown) => this.onMessage(data)));
    this._register(
      this.panel.onDidChangeViewState(() => {
        // A hidden webview is torn down; it says `ready` again when it is shown.
        if (!this.panel.visible) this.isReady = false;
      }),
    );
    this._register(session.onDidChange((state) => this.post(state)));
    this._register(
      this.panel.onDidDispose(() => {
        onClosed();
        this.dispose();
      }),
    );
  }

  reveal(): void {
    this.panel.reveal();
  }

  private onMessage(data: unknown): void {
    const parsed = parseWebviewMessage(data);
    if (!parsed.ok) {
      this.logger.warn(`Healthcheck wizard: ignored a message from the webview that does not follow the protocol (${parsed.error}).`);
      return;
    }
    const message = parsed.message;
    if (message.type === 'ready') {
      this.isReady = true;
      this.post(this.session.state);
    }
    if (message.type === 'showLog') this.logger.show();
    void this.session.handle(message);
  }

  private post(state: WizardState): void {
    if (!this.isReady || this.isDisposed) return;
    const problem = checkWizardState(state);
    if (problem) {
      this.logger.error(`Healthcheck wizard: refusing to send a state that breaks the protocol (${problem}).`);
      return;
    }
    const message: HostMessage = { type: 'state', state };
    void this.panel.webview.postMessage(message);
  }
}

/** One session per service, kept while the extension runs (closing the panel keeps its measurements). */
export class WizardPanels extends Disposable {
  private readonly sessions = new Map<string, { session: WizardSession; panel?: WizardPanel }>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly logger: OutputLogger,
    private readonly settings: SettingsReader,
  ) {
    super();
    this._register({
      dispose: () => {
        for (const entry of this.sessions.values()) {
          entry.panel?.dispose();
          entry.session.dispose();
        }
        this.sessions.clear();
      },
    });
  }

  open(target: WizardTarget, watcher: HostWatcher): void {
    const key = `${target.host}/${target.service}`;
    let entry = this.sessions.get(key);
    if (entry && entry.session.connectionOwner !== watcher.connection) {
      // The host was reconfigured (a new connection): start afresh.
      entry.panel?.dispose();
      entry.session.dispose();
      this.sessions.delete(key);
      entry = undefined;
    }
    if (!entry) {
      const connection = watcher.connection;
      const session = new WizardSession(target, {
        connection,
        logger: this.logger,
        // Read when a measurement starts, so a changed setting applies to the next one.
        settings: () => this.settings.current.wizard,
        liveColor: () => watcher.snapshot?.nginx.switchFiles.find((f) => f.service === target.service)?.activeColor,
        deployBlueGreen: ({ service, tag, signal, onEvent }) =>
          deploy(new HostDeployPorts(connection), connection.profile, { service, tag, who: `${os.userInfo().username} (healthcheck wizard)`, settings: deploySettings(this.settings) }, { signal, onEvent }),
        refreshHost: () => watcher.refresh(),
      });
      entry = { session };
      this.sessions.set(key, entry);
    }
    if (entry.panel) {
      entry.panel.reveal();
      return;
    }
    const current = entry;
    current.panel = new WizardPanel(current.session, this.extensionUri, this.logger, () => {
      current.panel = undefined;
    });
  }
}
