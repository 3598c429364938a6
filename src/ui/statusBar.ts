import * as vscode from 'vscode';
import { serviceViews } from '../core/hostState';
import { Disposable } from './disposable';
import type { HostRegistry } from './hostRegistry';
import type { SettingsReader } from './settings';

/** One item per connected host: live color of its first Blue-Green service and a health summary. */
export class StatusBar extends Disposable {
  private readonly items = new Map<string, vscode.StatusBarItem>();

  constructor(
    private readonly hosts: HostRegistry,
    private readonly settings: SettingsReader,
  ) {
    super();
    this._register(hosts.onDidChangeHost(() => this.update()));
    this._register(hosts.onDidChangeHosts(() => this.update()));
    this._register(settings.onDidChange(() => this.update()));
    this._register({ dispose: () => this.items.forEach((item) => item.dispose()) });
    this.update();
  }

  private update(): void {
    const wanted = new Set<string>();
    if (this.settings.current.showStatusBar) {
      for (const watcher of this.hosts.all()) {
        const name = watcher.profile.name;
        const snapshot = watcher.snapshot;
        const state = watcher.connectionState.kind;
        if (state === 'idle' || state === 'closed') continue;
        wanted.add(name);
        let item = this.items.get(name);
        if (!item) {
          item = vscode.window.createStatusBarItem(`switchyard.host.${name}`, vscode.StatusBarAlignment.Left, 10);
          item.name = `Switchyard: ${name}`;
          item.command = 'workbench.view.extension.switchyard';
          this.items.set(name, item);
        }
        const unhealthy = snapshot?.containers.filter((c) => c.health === 'unhealthy').map((c) => c.name) ?? [];
        const live = snapshot ? serviceViews(watcher.profile, snapshot.containers, snapshot.nginx).find((v) => v.kind === 'blueGreen') : undefined;
        const liveText = live?.kind === 'blueGreen' && live.liveColor ? ` ${live.service.name}: ${live.liveColor}` : '';
        if (state === 'connected') {
          item.text = `$(${unhealthy.length ? 'warning' : 'server'}) ${name}${liveText}${unhealthy.length ? ` · ${unhealthy.length} unhealthy` : ''}`;
          item.tooltip = unhealthy.length ? `Unhealthy: ${unhealthy.join(', ')}` : `${name}: all containers healthy`;
          item.backgroundColor = unhealthy.length ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
        } else {
          item.text = `$(${state === 'failed' ? 'error' : 'sync~spin'}) ${name} ${state}`;
          item.tooltip = state === 'failed' ? 'Connection failed: see the Switchyard view' : 'Switchyard is connecting';
          item.backgroundColor = state === 'failed' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
        }
        item.show();
      }
    }
    for (const [name, item] of this.items) {
      if (!wanted.has(name)) {
        item.dispose();
        this.items.delete(name);
      }
    }
  }
}
