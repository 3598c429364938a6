import * as vscode from 'vscode';
import type { TreeNodeModel } from '../core/hostTree';
import type { HostRegistry } from './hostRegistry';
import type { HostsTreeProvider, NodeHandle } from './hostsTreeProvider';
import type { OutputLogger } from './outputLogger';
import { InspectDocuments, inspectScheme, RemoteFileSystem, remoteScheme, remoteUri } from './remoteFiles';
import type { SettingsReader } from './settings';

export interface CommandContext {
  hosts: HostRegistry;
  settings: SettingsReader;
  logger: OutputLogger;
  tree: HostsTreeProvider;
}

/** Every command id of package.json `contributes.commands`. */
export type CommandId =
  | 'switchyard.addHost'
  | 'switchyard.openSettings'
  | 'switchyard.refresh'
  | 'switchyard.connectHost'
  | 'switchyard.disconnectHost'
  | 'switchyard.showLog'
  | 'switchyard.copyValue'
  | 'switchyard.inspectContainer'
  | 'switchyard.restartContainer'
  | 'switchyard.stopContainer'
  | 'switchyard.startContainer'
  | 'switchyard.openRemoteFile';

type Handler = (node?: NodeHandle) => unknown;

async function pickHost(ctx: CommandContext, node: TreeNodeModel | undefined): Promise<string | undefined> {
  if (node?.ref.host) return node.ref.host;
  const names = ctx.hosts.profiles.map((p) => p.name);
  if (names.length <= 1) return names[0];
  return vscode.window.showQuickPick(names, { title: 'Switchyard: which host?' });
}

async function pickContainer(ctx: CommandContext, node: TreeNodeModel | undefined): Promise<{ host: string; container: string } | undefined> {
  if (node?.ref.host && node.ref.container) return { host: node.ref.host, container: node.ref.container };
  const host = await pickHost(ctx, node);
  const snapshot = host ? ctx.hosts.get(host)?.snapshot : undefined;
  if (!host || !snapshot) return undefined;
  const picked = await vscode.window.showQuickPick(
    snapshot.containers.map((c) => ({ label: c.name, description: `${c.image}:${c.tag} · ${c.state}` })),
    { title: `Switchyard: container on ${host}` },
  );
  return picked ? { host, container: picked.label } : undefined;
}

/** The commands as data: one handler per id; each takes the tree node or asks with a quick pick. */
export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  const { hosts, logger, tree } = ctx;
  const inspectDocs = new InspectDocuments();
  const model = (node?: NodeHandle) => tree.model(node);

  const containerAction = (verb: 'restart' | 'stop' | 'start') => async (node?: NodeHandle) => {
    const target = await pickContainer(ctx, model(node));
    if (!target) return;
    const watcher = hosts.get(target.host);
    if (!watcher) return;
    const isLive = model(node)?.contextValue.includes('.live') ?? false;
    if (verb !== 'start' && isLive && ctx.settings.current.confirmLiveColorActions) {
      const confirm = `${verb[0].toUpperCase()}${verb.slice(1)} Live Container`;
      const choice = await vscode.window.showWarningMessage(
        `${target.container} is the LIVE color: Nginx sends traffic to it. ${verb === 'stop' ? 'Stopping' : 'Restarting'} it interrupts users.`,
        { modal: true },
        confirm,
      );
      if (choice !== confirm) return;
    }
    try {
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Switchyard: ${verb} ${target.container}` }, async () => {
        const container = watcher.connection.docker().getContainer(target.container);
        if (verb === 'restart') await container.restart();
        else if (verb === 'stop') await container.stop();
        else await container.start();
      });
      logger.info(`${target.host}: ${verb} ${target.container}`);
    } catch (error) {
      await logger.reportError(`Could not ${verb} ${target.container}`, error);
    }
  };

  const handlers: Record<CommandId, Handler> = {
    // The Add Host flow pulls in the compose parser (yaml): load it when used.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    'switchyard.addHost': () => (require('./addHost') as typeof import('./addHost')).addHost(hosts, ctx.settings, logger),
    'switchyard.openSettings': () => vscode.commands.executeCommand('workbench.action.openSettings', '@ext:switchyard.switchyard'),
    'switchyard.refresh': async (node) => hosts.refresh(model(node)?.ref.host || undefined),
    'switchyard.connectHost': async (node) => {
      const host = await pickHost(ctx, model(node));
      if (host) await hosts.connect(host);
    },
    'switchyard.disconnectHost': async (node) => {
      const host = await pickHost(ctx, model(node));
      if (host) hosts.disconnect(host);
    },
    'switchyard.showLog': () => logger.show(),
    'switchyard.copyValue': async (node) => {
      const value = model(node)?.ref.value ?? model(node)?.label;
      if (value) await vscode.env.clipboard.writeText(value);
    },
    'switchyard.inspectContainer': async (node) => {
      const target = await pickContainer(ctx, model(node));
      const watcher = target && hosts.get(target.host);
      if (!target || !watcher) return;
      try {
        await inspectDocs.show(`${target.host}-${target.container}`, await watcher.connection.docker().getContainer(target.container).inspect());
      } catch (error) {
        await logger.reportError(`Could not inspect ${target.container}`, error);
      }
    },
    'switchyard.restartContainer': containerAction('restart'),
    'switchyard.stopContainer': containerAction('stop'),
    'switchyard.startContainer': containerAction('start'),
    'switchyard.openRemoteFile': async (node) => {
      const ref = model(node)?.ref;
      if (!ref?.path) return;
      await vscode.window.showTextDocument(remoteUri(ref.host, ref.path), { preview: false });
    },
  };

  return [
    vscode.workspace.registerFileSystemProvider(remoteScheme, new RemoteFileSystem(hosts, logger), { isCaseSensitive: true }),
    vscode.workspace.registerTextDocumentContentProvider(inspectScheme, inspectDocs),
    ...Object.entries(handlers).map(([id, handler]) => vscode.commands.registerCommand(id, handler)),
  ];
}
