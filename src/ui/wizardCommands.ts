import * as vscode from 'vscode';
import { wizardTargetFor, type WizardTarget } from '../core/wizardModel';
import type { CommandContext } from './commands';
import type { NodeHandle } from './hostsTreeProvider';
import type { WizardPanels } from './wizardPanel';

export type WizardCommandId = 'switchyard.openHealthcheckWizard';

type Handler = (node?: NodeHandle) => unknown;

/** "Open Healthcheck Wizard": from a service, color or container in the tree, or from the palette (asks which service). */
export function registerWizardCommands(ctx: CommandContext, extensionUri: vscode.Uri): vscode.Disposable[] {
  const { hosts, tree, logger } = ctx;
  let panels: WizardPanels | undefined;

  const pickTarget = async (node: NodeHandle | undefined): Promise<WizardTarget | undefined> => {
    const model = tree.model(node);
    if (model) {
      const profile = hosts.profiles.find((p) => p.name === model.ref.host);
      const target = profile && wizardTargetFor(profile, model.ref);
      if (!target) void vscode.window.showWarningMessage(`Switchyard: ${model.ref.container ?? model.label} is not part of a service in the host's profile; add it to switchyard.hosts to tune its healthcheck.`);
      return target;
    }
    const items = hosts.profiles.flatMap((profile) =>
      profile.services.map((service) => ({
        label: service.name,
        description: service.kind === 'single' ? `single container ${service.container}` : `Blue-Green ${service.colors.blue.container} / ${service.colors.green.container}`,
        detail: hosts.profiles.length > 1 ? profile.name : undefined,
        target: wizardTargetFor(profile, { service: service.name }),
      })),
    );
    if (items.length === 0) {
      void vscode.window.showInformationMessage('Switchyard: no service is configured yet (switchyard.hosts).');
      return undefined;
    }
    const picked = items.length === 1 ? items[0] : await vscode.window.showQuickPick(items, { title: 'Switchyard: tune the healthcheck of…' });
    return picked?.target;
  };

  const handlers: Record<WizardCommandId, Handler> = {
    'switchyard.openHealthcheckWizard': async (node) => {
      try {
        const target = await pickTarget(node);
        if (!target) return;
        const watcher = hosts.get(target.host);
        if (!watcher) return;
        if (!panels) {
          // The wizard brings the compose parser and the deploy engine: load them when first opened.
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const { WizardPanels } = require('./wizardPanel') as typeof import('./wizardPanel');
          panels = new WizardPanels(extensionUri, logger, ctx.settings);
        }
        panels.open(target, watcher);
      } catch (error) {
        await logger.reportError('Could not open the healthcheck wizard', error);
      }
    },
  };

  return [{ dispose: () => panels?.dispose() }, ...Object.entries(handlers).map(([id, handler]) => vscode.commands.registerCommand(id, handler))];
}
