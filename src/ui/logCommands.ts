import * as vscode from 'vscode';
import { logSourceKey, logSourceLabel, logSourcesForNode, logSourcesOf, type LogSource } from '../core/logSources';
import type { CommandContext } from './commands';
import type { NodeHandle } from './hostsTreeProvider';
import { LogChannels } from './logChannels';

export type LogCommandId = 'switchyard.showLogs' | 'switchyard.stopLogStream' | 'switchyard.stopAllLogStreams';

type Handler = (node?: NodeHandle) => unknown;

interface SourceItem extends vscode.QuickPickItem {
  source?: LogSource;
}

const sourceIcons: Record<LogSource['kind'], string> = { liveColor: 'layers', container: 'package', nginx: 'globe' };

/** "Show Logs", "Stop Tailing", "Stop All Log Streams"; the channels they drive end with the returned disposables. */
export function registerLogCommands(ctx: CommandContext): vscode.Disposable[] {
  const { hosts, tree } = ctx;
  const channels = new LogChannels(hosts, ctx.settings, ctx.logger);
  const isMultiHost = (): boolean => hosts.profiles.length > 1;

  const items = (sources: LogSource[]): SourceItem[] => {
    const result: SourceItem[] = [];
    let host: string | undefined;
    for (const source of sources) {
      if (isMultiHost() && source.host !== host) result.push({ label: source.host, kind: vscode.QuickPickItemKind.Separator });
      host = source.host;
      result.push({ label: logSourceLabel(source), iconPath: new vscode.ThemeIcon(sourceIcons[source.kind]), description: channels.isActive(source) ? 'tailing' : undefined, source });
    }
    return result;
  };

  const pick = async (sources: LogSource[], title: string): Promise<LogSource | undefined> => {
    if (sources.length <= 1) return sources[0];
    return (await vscode.window.showQuickPick(items(sources), { title, matchOnDescription: true }))?.source;
  };

  /** The sources a tree node stands for; without a node, every source of every host. */
  const sourcesFor = (node: NodeHandle | undefined): LogSource[] => {
    const model = tree.model(node);
    if (model) {
      const watcher = hosts.get(model.ref.host);
      return logSourcesForNode(model.ref, model.contextValue, watcher?.profile, watcher?.snapshot?.containers);
    }
    return hosts.profiles.flatMap((profile) => logSourcesOf(profile, hosts.get(profile.name)?.snapshot?.containers));
  };

  const handlers: Record<LogCommandId, Handler> = {
    'switchyard.showLogs': async (node) => {
      const source = await pick(sourcesFor(node), 'Switchyard: show the log of…');
      if (source) channels.show(source);
    },
    'switchyard.stopLogStream': async (node) => {
      const active = channels.active();
      const activeKeys = new Set(active.map(logSourceKey));
      const ofNode = node ? sourcesFor(node).filter((source) => activeKeys.has(logSourceKey(source))) : [];
      if (ofNode.length > 0) {
        ofNode.forEach((source) => channels.stop(source));
        return;
      }
      // From the palette or the Output panel there is no node: ask which, unless only one runs.
      if (active.length === 0) {
        void vscode.window.showInformationMessage('Switchyard: no log is being tailed.');
        return;
      }
      const source = await pick(active, 'Switchyard: stop tailing…');
      if (source) channels.stop(source);
    },
    'switchyard.stopAllLogStreams': () => channels.stopAll(),
  };

  return [channels, ...Object.entries(handlers).map(([id, handler]) => vscode.commands.registerCommand(id, handler))];
}
