import * as vscode from 'vscode';
import { registerCommands } from './ui/commands';
import { registerDeployCommands } from './ui/deployCommands';
import { HostRegistry } from './ui/hostRegistry';
import { HostsTreeProvider } from './ui/hostsTreeProvider';
import { registerLogCommands } from './ui/logCommands';
import { OutputLogger } from './ui/outputLogger';
import { SettingsReader } from './ui/settings';
import { StatusBar } from './ui/statusBar';
import { registerWizardCommands } from './ui/wizardCommands';

/** Composition root: builds the objects, registers them, nothing else. */
export function activate(context: vscode.ExtensionContext): void {
  const logger = new OutputLogger();
  context.subscriptions.push(logger);
  try {
    const settings = new SettingsReader();
    const hosts = new HostRegistry(settings, logger, context.secrets);
    const tree = new HostsTreeProvider(hosts, settings);
    const view = vscode.window.createTreeView('switchyard.hosts', { treeDataProvider: tree, showCollapseAll: true });
    context.subscriptions.push(settings, hosts, tree, view, new StatusBar(hosts, settings));
    context.subscriptions.push(...registerCommands({ hosts, settings, logger, tree }));
    context.subscriptions.push(...registerLogCommands({ hosts, settings, logger, tree }));
    context.subscriptions.push(...registerWizardCommands({ hosts, settings, logger, tree }, context.extensionUri));
    context.subscriptions.push(...registerDeployCommands({ hosts, settings, logger, tree }));
    hosts.watchVisibility(view);
    logger.info(`Switchyard activated (${settings.current.hosts.length} host(s) configured)`);
  } catch (error) {
    void logger.reportError('Switchyard could not start', error);
  }
}

export function deactivate(): void {
  // Everything is owned by context.subscriptions and ends with it.
}
