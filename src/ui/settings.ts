import * as vscode from 'vscode';
import { HostProfile, parseHostProfiles, ProfileError } from '../core/hostProfile';
import { Disposable } from './disposable';
import type { WizardSettings } from './wizardSession';

/** Every Switchyard setting, typed. Add a key here and in package.json `contributes.configuration`. */
export interface Settings {
  hosts: HostProfile[];
  /** Problems in `switchyard.hosts`, with their JSON paths; shown in the tree. */
  hostErrors: ProfileError[];
  autoConnect: boolean;
  showStatusBar: boolean;
  confirmLiveColorActions: boolean;
  logs: LogSettings;
  deploy: DeployUiSettings;
  /** `switchyard.wizard.*`: how the healthcheck wizard measures. */
  wizard: WizardSettings;
}

/** `switchyard.deploy.*`: how a deploy ends (the engine's DeploySettings are built from these). */
export interface DeployUiSettings {
  drainSeconds: number;
  oldColor: 'auto' | 'keep' | 'stop';
  keepWarmMinutes: number;
  /** Stop a kept old color once its keep-warm time is up (HostWatcher's minute timer). */
  stopWarmColorWhenDue: boolean;
  readyTimeoutSeconds: number;
}

/** `switchyard.logs.*`: how log streams start and how much a channel keeps. */
export interface LogSettings {
  /** Lines shown from before the start of a stream (`docker logs --tail`, `tail -n`). */
  tailLines: number;
  /** Lines one log channel keeps; older ones are dropped with a notice. */
  maxLines: number;
  /** Show Docker's timestamp in front of each container line. */
  timestamps: boolean;
}

function clampedInteger(value: unknown, fallback: number, min: number, max: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.min(max, Math.max(min, Math.floor(value))) : fallback;
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
    logs: {
      tailLines: clampedInteger(configuration.get<unknown>('logs.tailLines'), 200, 0, 100_000),
      maxLines: clampedInteger(configuration.get<unknown>('logs.maxLines'), 10_000, 100, 1_000_000),
      timestamps: configuration.get<boolean>('logs.timestamps', false),
    },
    deploy: {
      drainSeconds: clampedInteger(configuration.get<unknown>('deploy.drainSeconds'), 5, 0, 3600),
      oldColor: (['auto', 'keep', 'stop'] as const).find((v) => v === configuration.get<unknown>('deploy.oldColor')) ?? 'auto',
      keepWarmMinutes: clampedInteger(configuration.get<unknown>('deploy.keepWarmMinutes'), 30, 0, 24 * 60),
      stopWarmColorWhenDue: configuration.get<boolean>('deploy.stopWarmColorWhenDue', true),
      readyTimeoutSeconds: clampedInteger(configuration.get<unknown>('deploy.readyTimeoutSeconds'), 120, 1, 3600),
    },
    wizard: {
      measureRuns: clampedInteger(configuration.get<unknown>('wizard.measureRuns'), 3, 1, 10),
      measureDeadlineMs: clampedInteger(configuration.get<unknown>('wizard.measureDeadlineSeconds'), 180, 10, 1800) * 1000,
    },
  };
}
