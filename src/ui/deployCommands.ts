import * as os from 'node:os';
import * as vscode from 'vscode';
import type { DeployEvent, DeploySettings, HistoryItem, OperationResult, StepName } from '../core/deployTypes';
import type { TreeNodeModel } from '../core/hostTree';
import type { HostDeployPorts } from '../host/deployPorts';
import type { HostRegistry } from './hostRegistry';
import type { HostsTreeProvider, NodeHandle } from './hostsTreeProvider';
import type { OutputLogger } from './outputLogger';
import type { SettingsReader } from './settings';

export interface DeployCommandContext {
  hosts: HostRegistry;
  settings: SettingsReader;
  logger: OutputLogger;
  tree: HostsTreeProvider;
}

const stepTitles: Record<StepName, string> = {
  preflight: 'Checking the host',
  pull: 'Pulling the image',
  startIdle: 'Starting the idle color',
  waitReady: 'Waiting until it answers',
  switch: 'Switching Nginx',
  verify: 'Verifying through Nginx',
  drain: 'Draining the old color',
  retire: 'Retiring the old color',
  journal: 'Writing the journal',
  recreate: 'Replacing the container (the service is down until it answers)',
};

/** The engine (and the compose parser it uses) loads on the first deploy, not at activation. */
function engine(): typeof import('../core/deployEngine') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../core/deployEngine') as typeof import('../core/deployEngine');
}

const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

function who(): string {
  return `${os.userInfo().username}@${os.hostname()} (VS Code)`;
}

/** The engine settings from `switchyard.deploy.*` (also used by the healthcheck wizard's roll-out). */
export function deploySettings(settings: SettingsReader): Partial<DeploySettings> {
  const d = settings.current.deploy;
  return { drainMs: d.drainSeconds * 1000, oldColor: d.oldColor, keepWarmMinutes: d.keepWarmMinutes, readyTimeoutMs: d.readyTimeoutSeconds * 1000 };
}

/** The Blue-Green service of the node, or one picked from every connected host. */
async function pickService(ctx: DeployCommandContext, node: TreeNodeModel | undefined): Promise<{ host: string; service: string } | undefined> {
  if (node?.ref.host && node.ref.service) return { host: node.ref.host, service: node.ref.service };
  const items = ctx.hosts.profiles.flatMap((profile) =>
    profile.services.filter((s) => s.kind === 'blueGreen' && (!node?.ref.host || node.ref.host === profile.name)).map((s) => ({ label: s.name, description: profile.name, host: profile.name })),
  );
  if (items.length === 0) {
    void vscode.window.showInformationMessage('No Blue-Green service is configured: add one to switchyard.hosts (or run Add Host).');
    return undefined;
  }
  const picked = items.length === 1 ? items[0] : await vscode.window.showQuickPick(items, { title: 'Switchyard: which service?' });
  return picked ? { host: picked.host, service: picked.label } : undefined;
}

async function portsFor(ctx: DeployCommandContext, host: string): Promise<HostDeployPorts | undefined> {
  const watcher = ctx.hosts.get(host);
  if (!watcher) return undefined;
  await watcher.connection.connect();
  // The deploy machinery (compose, lock, journal) loads when first used.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { HostDeployPorts: Ports } = require('../host/deployPorts') as typeof import('../host/deployPorts');
  return new Ports(watcher.connection);
}

type Operation = 'deploy' | 'switch' | 'rollback';

/**
 * Runs one operation under a cancellable progress notification that names each step as it runs;
 * every step and its time also goes to the Switchyard log. Cancelling before the switch removes
 * the new color and leaves traffic where it was.
 */
async function runOperation(ctx: DeployCommandContext, target: { host: string; service: string }, operation: Operation, tag?: string): Promise<OperationResult | undefined> {
  const ports = await portsFor(ctx, target.host);
  const watcher = ctx.hosts.get(target.host);
  if (!ports || !watcher) return undefined;
  const { logger } = ctx;
  const title = operation === 'deploy' ? `Deploying ${target.service} ${tag}` : operation === 'switch' ? `Switching ${target.service}` : `Rolling back ${target.service}`;
  logger.info(`${target.host}: ${title.toLowerCase()} (by ${who()})`);
  const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Switchyard: ${title}`, cancellable: true }, async (progress, token) => {
    const controller = new AbortController();
    const subscription = token.onCancellationRequested(() => controller.abort());
    let switched = false;
    const onEvent = (event: DeployEvent): void => {
      if (event.kind === 'stepStarted') progress.report({ message: `${stepTitles[event.step]}…` });
      else if (event.kind === 'progress') progress.report({ message: `${stepTitles[event.step]}: ${event.message}` });
      else if (event.kind === 'stepFinished') logger.info(`${target.host}: ${engine().formatStep({ name: event.step, outcome: event.outcome, durationMs: event.durationMs, ...(event.detail ? { detail: event.detail } : {}) })}`);
      else if (event.kind === 'switched') {
        switched = true;
        logger.info(`${target.host}: Nginx now sends ${target.service} traffic to ${event.to}`);
        progress.report({ message: `Switched to ${event.to}` });
        void watcher.refresh();
      }
    };
    const request = { service: target.service, who: who(), settings: deploySettings(ctx.settings) };
    const options = { signal: controller.signal, onEvent };
    try {
      const { deploy, switchColor, rollback } = engine();
      if (operation === 'deploy') return await deploy(ports, watcher.profile, { ...request, tag: tag ?? '' }, options);
      if (operation === 'switch') return await switchColor(ports, watcher.profile, request, options);
      return await rollback(ports, watcher.profile, request, options);
    } finally {
      subscription.dispose();
      if (controller.signal.aborted && switched) void vscode.window.showWarningMessage(`Traffic had already moved when you cancelled: use "Roll Back" to go back.`);
    }
  });
  void watcher.refresh({ force: true });
  await report(ctx, target, result);
  return result;
}

async function report(ctx: DeployCommandContext, target: { host: string; service: string }, result: OperationResult): Promise<void> {
  const { logger } = ctx;
  for (const note of result.notes) logger.info(`${target.host}: note: ${note}`);
  if (result.ok) {
    const switchTime = result.readyToSwitchedMs !== undefined ? ` (ready → switched in ${(result.readyToSwitchedMs / 1000).toFixed(2)} s)` : '';
    const message = `${target.service} on ${target.host}: ${result.traffic.color ?? '?'} is live${result.to?.image ? ` with ${result.to.image}` : ''}${switchTime}.`;
    logger.info(`${target.host}: ${result.kind} succeeded in ${(result.totalMs / 1000).toFixed(1)} s; ${message}`);
    const choice = await vscode.window.showInformationMessage(message, 'Roll Back', 'Show Log');
    if (choice === 'Roll Back') await runOperation(ctx, target, 'rollback');
    else if (choice === 'Show Log') logger.show();
    return;
  }
  const error = result.error;
  if (error?.logs) logger.error(`${target.host}: logs of the new color:\n${error.logs}`);
  logger.error(`${target.host}: ${result.kind} ${result.outcome}${error?.step ? ` at ${error.step}` : ''}: ${error?.message ?? 'unknown error'}`);
  const where = result.traffic.color ? ` Traffic is on ${result.traffic.color}${result.traffic.isCertain ? '' : ' (not certain: see the log)'}.` : '';
  const show = result.outcome === 'cancelled' ? vscode.window.showWarningMessage : vscode.window.showErrorMessage;
  const choice = await show(`${result.kind} of ${target.service} ${result.outcome}: ${error?.message.split('\n')[0] ?? ''}${where}`, 'Show Log');
  if (choice === 'Show Log') logger.show();
}

function describeHistoryItem(item: HistoryItem): vscode.QuickPickItem {
  const flip = item.from && item.to ? `${item.from.color} → ${item.to.color}` : '';
  const icon = item.outcome === 'succeeded' ? '$(pass)' : item.outcome === 'interrupted' ? '$(debug-disconnect)' : item.outcome === 'cancelled' ? '$(circle-slash)' : '$(error)';
  return {
    label: `${icon} ${item.kind} ${item.service}${item.tag ? ` ${item.tag}` : ''}`,
    description: [flip, item.outcome, item.totalMs !== undefined ? `${(item.totalMs / 1000).toFixed(1)} s` : undefined].filter(Boolean).join(' · '),
    detail: `${new Date(item.startedAt).toLocaleString()} by ${item.who}${item.error ? ` — ${item.error.split('\n')[0]}` : ''}`,
  };
}

/** Deploy, switch, roll back, history and the deploy lock, as commands on tree nodes and in the palette. */
export function registerDeployCommands(ctx: DeployCommandContext): vscode.Disposable[] {
  const model = (node?: NodeHandle) => ctx.tree.model(node);
  const handlers: Record<string, (node?: NodeHandle) => Promise<unknown>> = {
    'switchyard.deploy': async (node) => {
      const target = await pickService(ctx, model(node));
      if (!target) return;
      const profile = ctx.hosts.get(target.host)?.profile;
      const lookup = profile ? engine().findBlueGreenService(profile, target.service) : undefined;
      if (!lookup?.ok) {
        if (lookup) void vscode.window.showErrorMessage(lookup.error);
        return;
      }
      const tag = await vscode.window.showInputBox({
        title: `Deploy ${target.service} on ${target.host}`,
        prompt: 'Image tag to deploy to the idle color (e.g. v2, a git SHA)',
        ignoreFocusOut: true,
        validateInput: (value) => (tagPattern.test(value.trim()) ? undefined : 'A Docker tag: letters, digits, _ . - (at most 128, not starting with . or -)'),
      });
      if (!tag) return;
      await runOperation(ctx, target, 'deploy', tag.trim());
    },
    'switchyard.switchColor': async (node) => {
      const target = await pickService(ctx, model(node));
      if (target) await runOperation(ctx, target, 'switch');
    },
    'switchyard.rollback': async (node) => {
      const target = await pickService(ctx, model(node));
      if (target) await runOperation(ctx, target, 'rollback');
    },
    'switchyard.showHistory': async (node) => {
      const host = model(node)?.ref.host || ctx.hosts.profiles[0]?.name;
      const ports = host ? await portsFor(ctx, host) : undefined;
      if (!ports || !host) return;
      const { summarizeHistory } = engine();
      const service = model(node)?.ref.service;
      const items = summarizeHistory(await ports.journal.read(200)).filter((item) => !service || item.service === service).reverse();
      await vscode.window.showQuickPick(items.length ? items.map(describeHistoryItem) : [{ label: 'No deploys, switches or rollbacks in the journal yet' }], {
        title: `Switchyard: history on ${host}${service ? ` (${service})` : ''}`,
        matchOnDescription: true,
        matchOnDetail: true,
      });
    },
    'switchyard.breakLock': async (node) => {
      const host = model(node)?.ref.host || ctx.hosts.profiles[0]?.name;
      const ports = host ? await portsFor(ctx, host) : undefined;
      if (!ports || !host) return;
      const state = await ports.lock.read();
      if (!state) {
        void vscode.window.showInformationMessage(`No deploy lock is held on ${host}.`);
        return;
      }
      const r = state.record;
      const what = `${r.holder} holds the deploy lock on ${host} (${r.operation} of ${r.service}, started ${new Date(r.startedAt).toLocaleString()}${r.step ? `, at ${r.step}` : ''}).`;
      const breakIt = 'Break Lock';
      const choice = await vscode.window.showWarningMessage(
        state.isStale ? `${what} Its holder is gone (${state.staleReason ?? 'no session'}).` : `${what} Its holder still seems to be connected: break it only if you are sure it is not running.`,
        { modal: true },
        breakIt,
      );
      if (choice !== breakIt) return;
      const broken = await ports.lock.break(r.token);
      ctx.logger.info(`${host}: deploy lock of ${r.holder} ${broken ? 'broken' : 'changed meanwhile, not broken'}`);
      if (!broken) void vscode.window.showWarningMessage('The lock changed while breaking it; look again.');
    },
  };
  const wrap = (id: string, handler: (node?: NodeHandle) => Promise<unknown>) =>
    vscode.commands.registerCommand(id, async (node?: NodeHandle) => {
      try {
        await handler(node);
      } catch (error) {
        await ctx.logger.reportError(`Switchyard: ${id.replace('switchyard.', '')} failed`, error);
      }
    });
  return Object.entries(handlers).map(([id, handler]) => wrap(id, handler));
}
