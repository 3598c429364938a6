import * as os from 'node:os';
import * as vscode from 'vscode';
import type { HostProfile } from '../core/hostProfile';
import type { HostConnection } from '../host/hostConnection';
import type { HostWatcher, WatchChange } from '../host/hostWatcher';
import { Disposable } from './disposable';
import { HostKeyPrompt, SecretCredentials } from './hostPrompts';
import type { OutputLogger } from './outputLogger';
import type { Settings, SettingsReader } from './settings';

export interface HostChange {
  host: string;
  change: WatchChange;
}

/** One HostWatcher (one SSH connection) per configured host; follows the settings live. */
export class HostRegistry extends Disposable {
  private readonly _onDidChangeHosts = this._register(new vscode.EventEmitter<void>());
  /** Hosts were added, removed or replaced. */
  readonly onDidChangeHosts = this._onDidChangeHosts.event;
  private readonly _onDidChangeHost = this._register(new vscode.EventEmitter<HostChange>());
  /** Something about one host changed: its connection or its snapshot. */
  readonly onDidChangeHost = this._onDidChangeHost.event;
  private readonly watchers = new Map<string, { watcher: HostWatcher; profileJson: string; subscription: { dispose(): void } }>();
  private readonly hostKeys = new HostKeyPrompt();
  private readonly credentials: SecretCredentials;
  private isViewVisible = false;
  private hostModules?: { HostConnection: typeof HostConnection; HostWatcher: typeof HostWatcher };

  constructor(
    private readonly settings: SettingsReader,
    private readonly logger: OutputLogger,
    secrets: vscode.SecretStorage,
  ) {
    super();
    this.credentials = new SecretCredentials(secrets);
    this.sync(settings.current);
    this._register(settings.onDidChange((current) => this.sync(current)));
    this._register({ dispose: () => this.watchers.forEach((entry) => this.disposeEntry(entry)) });
  }

  get profiles(): HostProfile[] {
    return this.settings.current.hosts;
  }

  get(host: string): HostWatcher | undefined {
    return this.watchers.get(host)?.watcher;
  }

  all(): HostWatcher[] {
    return this.profiles.map((profile) => this.get(profile.name)).filter((w): w is HostWatcher => w !== undefined);
  }

  /** A connection for a profile that is not (yet) configured, e.g. while "Add Host" probes a server. */
  createConnection(profile: HostProfile): HostConnection {
    return new this.modules.HostConnection(profile, { logger: this.logger, hostKeys: this.hostKeys, credentials: this.credentials });
  }

  /** ssh2 and dockerode load on first use, so activating with no host configured stays cheap. */
  private get modules(): { HostConnection: typeof HostConnection; HostWatcher: typeof HostWatcher } {
    if (!this.hostModules) {
      /* eslint-disable @typescript-eslint/no-require-imports */
      this.hostModules = {
        HostConnection: (require('../host/hostConnection') as typeof import('../host/hostConnection')).HostConnection,
        HostWatcher: (require('../host/hostWatcher') as typeof import('../host/hostWatcher')).HostWatcher,
      };
      /* eslint-enable @typescript-eslint/no-require-imports */
    }
    return this.hostModules;
  }

  /** Connects when the view is first shown (if `switchyard.autoConnect`). */
  watchVisibility(view: vscode.TreeView<unknown>): void {
    const update = (): void => {
      this.isViewVisible = view.visible;
      if (this.isViewVisible && this.settings.current.autoConnect) this.connectIdle();
    };
    this._register(view.onDidChangeVisibility(update));
    update();
  }

  private connectIdle(): void {
    for (const watcher of this.all()) {
      if (watcher.connectionState.kind === 'idle') void watcher.start();
    }
  }

  async connect(host: string): Promise<void> {
    let watcher = this.get(host);
    if (!watcher) return;
    if (['failed', 'closed'].includes(watcher.connectionState.kind)) watcher = this.recreate(host);
    await watcher?.start();
  }

  disconnect(host: string): void {
    const watcher = this.get(host);
    if (!watcher) return;
    this.recreate(host);
    this.logger.info(`${host}: disconnected`);
  }

  async refresh(host?: string): Promise<void> {
    const targets = host ? [this.get(host)] : this.all();
    await Promise.all(
      targets.map((watcher) => {
        if (!watcher) return undefined;
        return watcher.connectionState.kind === 'connected' ? watcher.refresh({ force: true }) : this.connect(watcher.profile.name);
      }),
    );
  }

  private recreate(host: string): HostWatcher | undefined {
    const entry = this.watchers.get(host);
    const profile = this.profiles.find((p) => p.name === host);
    if (entry) this.disposeEntry(entry);
    this.watchers.delete(host);
    if (!profile) return undefined;
    const watcher = this.createEntry(profile);
    this._onDidChangeHost.fire({ host, change: { kind: 'connection' } });
    return watcher;
  }

  private createEntry(profile: HostProfile): HostWatcher {
    const watcher = new this.modules.HostWatcher(this.createConnection(profile), this.logger, {
      retireWarm: { who: `${os.userInfo().username}@${os.hostname()} (VS Code)`, isEnabled: () => this.settings.current.deploy.stopWarmColorWhenDue },
    });
    const subscription = watcher.onDidChange((change) => this._onDidChangeHost.fire({ host: profile.name, change }));
    this.watchers.set(profile.name, { watcher, profileJson: JSON.stringify(profile), subscription });
    return watcher;
  }

  private disposeEntry(entry: { watcher: HostWatcher; subscription: { dispose(): void } }): void {
    entry.subscription.dispose();
    entry.watcher.dispose();
  }

  /** Settings changed: keep unchanged hosts connected, replace changed ones, drop removed ones. */
  private sync(settings: Settings): void {
    const wanted = new Map(settings.hosts.map((profile) => [profile.name, profile]));
    let changed = false;
    for (const [name, entry] of [...this.watchers]) {
      const profile = wanted.get(name);
      if (!profile || JSON.stringify(profile) !== entry.profileJson) {
        this.disposeEntry(entry);
        this.watchers.delete(name);
        changed = true;
      }
    }
    for (const profile of settings.hosts) {
      if (!this.watchers.has(profile.name)) {
        this.createEntry(profile);
        changed = true;
      }
    }
    void vscode.commands.executeCommand('setContext', 'switchyard.hostCount', settings.hosts.length);
    void vscode.commands.executeCommand('setContext', 'switchyard.hasSettingsErrors', settings.hostErrors.length > 0);
    if (changed) this._onDidChangeHosts.fire();
    if (this.isViewVisible && settings.autoConnect) this.connectIdle();
  }
}
