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

type ServiceKind = 'blueGreen' | 'single';

/** The service of the node, or one of the given kinds picked from every connected host. */
async function pickService(ctx: DeployCommandContext, node: TreeNodeModel | undefined, kinds: readonly ServiceKind[] = ['blueGreen']): Promise<{ host: string; service: string } | undefined> {
  if (node?.ref.host && node.ref.service) return { host: node.ref.host, service: node.ref.service };
  const items = ctx.hosts.profiles.flatMap((profile) =>
    profile.services
      .filter((s) => kinds.includes(s.kind) && (!node?.ref.host || node.ref.host === profile.name))
      .map((s) => ({ label: s.name, description: `${profile.name} · ${s.kind === 'single' ? 'single container' : 'Blue-Green'}`, host: profile.name })),
  );
  if (items.length === 0) {
    void vscode.window.showInformationMessage(`No ${kinds.includes('blueGreen') ? 'Blue-Green ' : ''}${kinds.includes('single') ? `${kinds.length > 1 ? 'or ' : ''}single-container ` : ''}service is configured: add one to switchyard.hosts (or run Add Host).`);
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
      else if (event.kind === 'downtimeStarted') {
        logger.info(`${target.host}: stopping ${event.container}: ${target.service} is down until the new container answers`);
        progress.report({ message: `${stepTitles.recreate}: ${event.container} stopped…` });
      } else if (event.kind === 'backUp') {
        logger.info(`${target.host}: ${event.container} answers again after ${(event.downtimeMs / 1000).toFixed(2)} s of downtime`);
        progress.report({ message: `Back up after ${(event.downtimeMs / 1000).toFixed(1)} s of downtime` });
        void watcher.refresh();
      } else if (event.kind === 'switched') {
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
  if (result.ok && result.inPlace) {
    const downtime = result.downtimeMs !== undefined ? ` Measured downtime: ${(result.downtimeMs / 1000).toFixed(1)} s (stop of the old container → first answer of the new one).` : '';
    const message = `${target.service} on ${target.host}: ${result.inPlace.container} runs ${result.inPlace.to}.${downtime}`;
    logger.info(`${target.host}: ${result.kind} succeeded in ${(result.totalMs / 1000).toFixed(1)} s; ${message}`);
    const choice = await vscode.window.showInformationMessage(message, 'Roll Back', 'Show Log');
    if (choice === 'Roll Back') await runOperation(ctx, target, 'rollback');
    else if (choice === 'Show Log') logger.show();
    return;
  }
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
  const kind = `${result.kind.charAt(0).toUpperCase()}${result.kind.slice(1)}`;
  const choice = await show(`${kind} of ${target.service} ${result.outcome}: ${error?.message.split('\n')[0] ?? ''}${where}`, 'Show Log');
  if (choice === 'Show Log') logger.show();
}

function describeHistoryItem(item: HistoryItem): vscode.QuickPickItem {
  const flip = item.from && item.to ? `${item.from.color} → ${item.to.color}` : item.inPlace ? `in place${item.downtimeMs !== undefined ? `, down ${(item.downtimeMs / 1000).toFixed(1)} s` : ''}` : '';
  const icon = item.outcome === 'succeeded' ? '$(pass)' : item.outcome === 'interrupted' ? '$(debug-disconnect)' : item.outcome === 'cancelled' ? '$(circle-slash)' : '$(error)';
  return {
    label: `${icon} ${item.kind} ${item.service}${item.tag ? ` ${item.tag}` : ''}`,
    description: [flip, item.outcome, item.totalMs !== undefined ? `${(item.totalMs / 1000).toFixed(1)} s` : undefined].filter(Boolean).join(' · '),
    detail: `${new Date(item.startedAt).toLocaleString()} by ${item.who}${item.error ? ` — ${item.error.split('\n')[0]}` : ''}`,
  };
}

const previewScheme = 'switchyard-preview';

/** Read-only preview documents: named after what they show, never "unsaved" (an untitled document asks to be saved on close). */
class PreviewDocuments implements vscode.TextDocumentContentProvider {
  private readonly contents = new Map<string, string>();
  private readonly _onDidChange = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this._onDidChange.event;

  async show(name: string, content: string): Promise<void> {
    const uri = vscode.Uri.from({ scheme: previewScheme, path: `/${name}` });
    this.contents.set(uri.toString(), content);
    this._onDidChange.fire(uri);
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), { preview: true });
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString()) ?? '';
  }

  dispose(): void {
    this._onDidChange.dispose();
  }
}

/**
 * Convert to Blue-Green: previews every file and change in a read-only document, changes nothing until
 * the user picks how much to apply, then shows what was done (and the root script when Nginx's conf dir
 * is not writable over SSH), and offers the new profile entry to copy into the settings.
 */
async function convertToBlueGreen(ctx: DeployCommandContext, previews: PreviewDocuments, target: { host: string; service: string }): Promise<void> {
  const ports = await portsFor(ctx, target.host);
  const watcher = ctx.hosts.get(target.host);
  if (!ports || !watcher) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const conversion = require('../host/blueGreenConversion') as typeof import('../host/blueGreenConversion');
  const planned = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Switchyard: reading ${target.service} on ${target.host}…` }, () =>
    conversion.planConversion(watcher.connection, ports, target.service),
  );
  if (!planned.ok) {
    void vscode.window.showErrorMessage(planned.error);
    return;
  }
  const { plan } = planned;
  await previews.show(`Convert ${target.service} to Blue-Green on ${target.host} (preview).diff`, `${conversion.describeConversionPlan(plan).join('\n')}\n`);
  if (plan.refusals.length) {
    ctx.logger.warn(`${target.host}: convert ${target.service} refused: ${plan.refusals.join(' ')}`);
    void vscode.window.showErrorMessage(`Cannot convert ${target.service}: ${plan.refusals[0]}`, { modal: true });
    return;
  }
  const filesOnly = 'Apply (files, include, start the twin)';
  const withProxy = 'Apply and change proxy_pass';
  // The first choice is the default button (Enter): the one that leaves the user's server block alone.
  const choices = plan.proxyPass.length ? [filesOnly, withProxy] : [filesOnly];
  const detail = [
    plan.memory.message,
    'The preview shows every file and change; nothing is written until you choose.',
    `"${filesOnly}" leaves Nginx proxying to ${plan.service.container}.${plan.proxyPass.length ? ` "${withProxy}" also edits ${plan.proxyPass.map((e) => e.path).join(', ')} (backup, nginx -t, put back on failure).` : ''}`,
  ].join('\n\n');
  const choice = await vscode.window.showWarningMessage(`Convert ${target.service} to Blue-Green on ${target.host}?`, { modal: true, detail }, ...choices);
  if (!choice) return;
  ctx.logger.info(`${target.host}: converting ${target.service} to Blue-Green (${choice})`);
  const report = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Switchyard: converting ${target.service}`, cancellable: true }, async (progress, token) => {
    const controller = new AbortController();
    const subscription = token.onCancellationRequested(() => controller.abort());
    try {
      return await conversion.applyConversion(watcher.connection, ports, plan, {
        editServerBlocks: choice === withProxy,
        startTwin: true,
        signal: controller.signal,
        onProgress: (message) => {
          progress.report({ message });
          ctx.logger.info(`${target.host}: convert: ${message}`);
        },
      });
    } finally {
      subscription.dispose();
    }
  });
  void watcher.refresh({ force: true });
  for (const line of report.done) ctx.logger.info(`${target.host}: convert: ${line}`);
  if (report.manual) {
    ctx.logger.warn(`${target.host}: convert: ${report.manual.reason}`);
    const script = await vscode.workspace.openTextDocument({ language: 'shellscript', content: report.manual.script });
    await vscode.window.showTextDocument(script, { preview: false });
  }
  const entry = JSON.stringify(plan.profileEntry, null, 2);
  if (!report.ok) {
    ctx.logger.error(`${target.host}: convert ${target.service}: ${report.error ?? 'failed'}`);
    void vscode.window.showErrorMessage(`Convert ${target.service}: ${report.error?.split('\n')[0] ?? 'failed'}`, 'Show Log').then((c) => c && ctx.logger.show());
    return;
  }
  const copy = 'Copy Profile Entry';
  const done = report.manual
    ? `${target.service}: the twin runs; the Nginx part needs root: run the script shown, then replace the service in switchyard.hosts with the new entry.`
    : `${target.service} is ready for Blue-Green: replace the service in switchyard.hosts with the new entry.`;
  const picked = await vscode.window.showInformationMessage(done, copy, 'Open Settings');
  if (picked === copy) await vscode.env.clipboard.writeText(entry);
  else if (picked === 'Open Settings') await vscode.commands.executeCommand('workbench.action.openSettingsJson');
}

/** Deploy, switch, roll back, history and the deploy lock, as commands on tree nodes and in the palette. */
export function registerDeployCommands(ctx: DeployCommandContext): vscode.Disposable[] {
  const model = (node?: NodeHandle) => ctx.tree.model(node);
  const previews = new PreviewDocuments();
  const handlers: Record<string, (node?: NodeHandle) => Promise<unknown>> = {
    'switchyard.deploy': async (node) => {
      const target = await pickService(ctx, model(node), ['blueGreen', 'single']);
      if (!target) return;
      const profile = ctx.hosts.get(target.host)?.profile;
      const lookup = profile ? engine().findService(profile, target.service) : undefined;
      if (!lookup?.ok) {
        if (lookup) void vscode.window.showErrorMessage(lookup.error);
        return;
      }
      const isSingle = lookup.service.kind === 'single';
      const tag = await vscode.window.showInputBox({
        title: `Deploy ${target.service} on ${target.host}${isSingle ? ' (single container: in place)' : ''}`,
        prompt: isSingle
          ? `Image tag to deploy in place (e.g. v2, a git SHA). It is pulled first; then ${lookup.service.kind === 'single' ? lookup.service.container : 'the container'} is recreated and the service is down until the new one answers.`
          : 'Image tag to deploy to the idle color (e.g. v2, a git SHA)',
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
      const target = await pickService(ctx, model(node), ['blueGreen', 'single']);
      if (target) await runOperation(ctx, target, 'rollback');
    },
    'switchyard.convertToBlueGreen': async (node) => {
      const target = await pickService(ctx, model(node), ['single']);
      if (target) await convertToBlueGreen(ctx, previews, target);
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
  return [previews, vscode.workspace.registerTextDocumentContentProvider(previewScheme, previews), ...Object.entries(handlers).map(([id, handler]) => wrap(id, handler))];
}
