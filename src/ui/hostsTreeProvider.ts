import * as vscode from 'vscode';
import { buildHostNode, type TreeNodeModel } from '../core/hostTree';
import { Disposable } from './disposable';
import type { HostRegistry } from './hostRegistry';
import type { SettingsReader } from './settings';

/** A stable object per node id: VS Code finds refreshed elements by identity. */
export interface NodeHandle {
  readonly id: string;
}

/**
 * Maps the core tree model to TreeItems. It does not fetch or decide: the registry's watchers
 * hold the data, `buildHostNode` decides what it looks like. Refreshes are debounced and fire
 * only the subtrees whose model changed.
 */
export class HostsTreeProvider extends Disposable implements vscode.TreeDataProvider<NodeHandle> {
  private readonly _onDidChangeTreeData = this._register(new vscode.EventEmitter<NodeHandle | undefined>());
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;
  private readonly handles = new Map<string, NodeHandle>();
  private models = new Map<string, TreeNodeModel>();
  private roots: TreeNodeModel[] = [];
  private readonly pendingHosts = new Set<string>();
  private pendingTimer?: NodeJS.Timeout;

  constructor(
    private readonly hosts: HostRegistry,
    private readonly settings: SettingsReader,
  ) {
    super();
    this.rebuild();
    this._register(hosts.onDidChangeHosts(() => this.refreshAll()));
    this._register(settings.onDidChange(() => this.refreshAll()));
    this._register(hosts.onDidChangeHost(({ host }) => this.scheduleHost(host)));
    this._register({ dispose: () => clearTimeout(this.pendingTimer) });
  }

  /** The current model of a node (for commands). */
  model(handle: NodeHandle | undefined): TreeNodeModel | undefined {
    return handle ? this.models.get(handle.id) : undefined;
  }

  private handle(id: string): NodeHandle {
    let handle = this.handles.get(id);
    if (!handle) {
      handle = { id };
      this.handles.set(id, handle);
    }
    return handle;
  }

  private buildRoots(): TreeNodeModel[] {
    const now = new Date();
    const errors = this.settings.current.hostErrors.map(
      (error, i): TreeNodeModel => ({
        id: `settings/error/${i}`,
        label: `Settings: ${error.path}`,
        description: error.message,
        tooltip: `\`${error.path}\` ${error.message}\n\nFix it in your settings (switchyard.hosts).`,
        icon: { id: 'error', color: 'list.errorForeground' },
        contextValue: 'settingsError',
        collapsible: 'none',
        command: 'switchyard.openSettings',
        ref: { host: '' },
        children: [],
      }),
    );
    const hosts = this.hosts.all().map((watcher) => buildHostNode(watcher.profile, watcher.connectionState, watcher.snapshot, now));
    return [...errors, ...hosts];
  }

  private index(nodes: TreeNodeModel[], into: Map<string, TreeNodeModel>): void {
    for (const n of nodes) {
      into.set(n.id, n);
      this.index(n.children, into);
    }
  }

  private rebuild(): void {
    this.roots = this.buildRoots();
    const models = new Map<string, TreeNodeModel>();
    this.index(this.roots, models);
    this.models = models;
  }

  refreshAll(): void {
    this.rebuild();
    this._onDidChangeTreeData.fire(undefined);
  }

  private scheduleHost(host: string): void {
    this.pendingHosts.add(host);
    if (this.pendingTimer) return;
    this.pendingTimer = setTimeout(() => {
      this.pendingTimer = undefined;
      const hosts = [...this.pendingHosts];
      this.pendingHosts.clear();
      this.refreshHosts(hosts);
    }, 100);
  }

  /** Fires the smallest subtrees that changed: a group when only it changed, else the host. */
  private refreshHosts(hosts: string[]): void {
    const before = this.models;
    this.rebuild();
    for (const host of hosts) {
      const oldHost = before.get(host);
      const newHost = this.models.get(host);
      if (!oldHost || !newHost) {
        this._onDidChangeTreeData.fire(undefined);
        return;
      }
      const sameShape = oldHost.children.map((c) => c.id).join() === newHost.children.map((c) => c.id).join();
      const { children: _oldChildren, ...oldOwn } = oldHost;
      const { children: _newChildren, ...newOwn } = newHost;
      if (!sameShape || JSON.stringify(oldOwn) !== JSON.stringify(newOwn)) {
        this._onDidChangeTreeData.fire(this.handle(host));
        continue;
      }
      newHost.children.forEach((child, i) => {
        if (JSON.stringify(child) !== JSON.stringify(oldHost.children[i])) this._onDidChangeTreeData.fire(this.handle(child.id));
      });
    }
  }

  getTreeItem(handle: NodeHandle): vscode.TreeItem {
    const model = this.models.get(handle.id);
    if (!model) return new vscode.TreeItem('(gone)');
    const state =
      model.collapsible === 'none' ? vscode.TreeItemCollapsibleState.None : model.collapsible === 'expanded' ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(model.label, state);
    item.id = model.id;
    item.description = model.description;
    item.contextValue = model.contextValue;
    if (model.tooltip) item.tooltip = new vscode.MarkdownString(model.tooltip);
    if (model.icon) item.iconPath = new vscode.ThemeIcon(model.icon.id, model.icon.color ? new vscode.ThemeColor(model.icon.color) : undefined);
    if (model.command) item.command = { command: model.command, title: model.label, arguments: [handle] };
    return item;
  }

  getChildren(handle?: NodeHandle): NodeHandle[] {
    const nodes = handle ? (this.models.get(handle.id)?.children ?? []) : this.roots;
    return nodes.map((n) => this.handle(n.id));
  }

  getParent(handle: NodeHandle): NodeHandle | undefined {
    const slash = handle.id.lastIndexOf('/');
    if (slash < 0) return undefined;
    for (let id = handle.id.slice(0, slash); id; id = id.slice(0, Math.max(0, id.lastIndexOf('/')))) {
      if (this.models.has(id)) return this.handle(id);
      if (!id.includes('/')) break;
    }
    return undefined;
  }
}
