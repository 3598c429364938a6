import * as vscode from 'vscode';
import { HostProfile, parseHostProfiles, ProfileError } from '../core/hostProfile';
import { Disposable } from './disposable';

/** Every Switchyard setting, typed. Add a key here and in package.json `contributes.configuration`. */
export interface Settings {
  hosts: HostProfile[];
  /** Problems in `switchyard.hosts`, with their JSON paths; shown in the tree. */
  hostErrors: ProfileError[];
  autoConnect: boolean;
  showStatusBar: boolean;
  confirmLiveColorActions: boolean;
}

export const settingsSection = 'switchyard';

/** The only place that calls `getConfiguration`; fires when a Switchyard setting changes. */
export class SettingsReader extends Disposable {
  private readonly _onDidChange = this._register(new vscode.EventEmitter<Settings>());
  readonly onDidChange = this._onDidChange.event;
  private _current: Settings;

  constructor() {
    super();
    this._current = readSettings();
    this._register(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (!event.affectsConfiguration(settingsSection)) return;
        this._current = readSettings();
        this._onDidChange.fire(this._current);
      }),
    );
  }

  get current(): Settings {
    return this._current;
  }

  /** Appends a host profile to `switchyard.hosts` in the workspace when one is open, else in user settings. */
  async addHostProfile(profileJson: Record<string, unknown>): Promise<vscode.ConfigurationTarget> {
    const configuration = vscode.workspace.getConfiguration(settingsSection);
    const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    const inspected = configuration.inspect<unknown[]>('hosts');
    const existing = (target === vscode.ConfigurationTarget.Workspace ? inspected?.workspaceValue : inspected?.globalValue) ?? [];
    await configuration.update('hosts', [...existing, profileJson], target);
    return target;
  }
}

function readSettings(): Settings {
  const configuration = vscode.workspace.getConfiguration(settingsSection);
  const parsed = parseHostProfiles(configuration.get<unknown>('hosts'), 'switchyard.hosts');
  return {
    hosts: parsed.profiles,
    hostErrors: parsed.errors,
    autoConnect: configuration.get<boolean>('autoConnect', true),
    showStatusBar: configuration.get<boolean>('showStatusBar', true),
    confirmLiveColorActions: configuration.get<boolean>('confirmLiveColorActions', true),
  };
}
