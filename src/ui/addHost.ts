import * as vscode from 'vscode';
import { parseHostProfiles, parseSshDestination } from '../core/hostProfile';
import { proposeProfile } from '../host/proposeProfile';
import type { HostRegistry } from './hostRegistry';
import type { OutputLogger } from './outputLogger';
import type { SettingsReader } from './settings';
import { withCancellableProgress } from './progress';

/**
 * "Add Host": ask for the SSH destination, connect (host key asked like OpenSSH), find the
 * compose files and the Nginx switch file, and propose the profile for the user to confirm.
 */
export async function addHost(hosts: HostRegistry, settings: SettingsReader, logger: OutputLogger): Promise<void> {
  const destination = await vscode.window.showInputBox({
    title: 'Add Host (1/3): SSH destination',
    prompt: 'An ~/.ssh/config alias, or user@host[:port] (e.g. ec2-user@203.0.113.7)',
    ignoreFocusOut: true,
    validateInput: (value) => (parseSshDestination(value) ? undefined : 'Expected an alias or user@host[:port]'),
  });
  if (!destination) return;
  const keyChoice = await vscode.window.showQuickPick(
    [
      { label: '$(key) Use ~/.ssh/config, ssh-agent and default keys', value: 'default' as const },
      { label: '$(file) Choose a private key file…', description: 'e.g. handdoc-key.pem', value: 'file' as const },
    ],
    { title: 'Add Host (2/3): key', ignoreFocusOut: true },
  );
  if (!keyChoice) return;
  let identityFile: string | undefined;
  if (keyChoice.value === 'file') {
    const picked = await vscode.window.showOpenDialog({ title: 'Private key for this host', canSelectMany: false, openLabel: 'Use Key' });
    if (!picked?.[0]) return;
    identityFile = picked[0].fsPath;
  }
  const target = parseSshDestination(destination);
  const taken = new Set(settings.current.hosts.map((h) => h.name));
  const name = await vscode.window.showInputBox({
    title: 'Add Host (3/3): name',
    value: target?.host ?? destination,
    prompt: 'A short name for the tree and the status bar',
    ignoreFocusOut: true,
    validateInput: (value) => (!value.trim() ? 'A name is required' : taken.has(value.trim()) ? `"${value.trim()}" is already configured` : undefined),
  });
  if (!name) return;

  const provisional = parseHostProfiles([{ name: name.trim(), ssh: destination, ...(identityFile ? { identityFile } : {}) }]).profiles[0];
  if (!provisional) return;
  const connection = hosts.createConnection(provisional);
  try {
    const proposal = await withCancellableProgress(`Switchyard: looking at ${destination}`, async (signal, report) => {
      report('connecting over SSH…');
      await connection.connect(signal);
      report('reading compose files and the Nginx configuration…');
      return proposeProfile(connection, { name: name.trim(), sshDestination: destination, ...(identityFile ? { identityFile } : {}), signal });
    });
    if (!proposal) return;
    logger.info(`Add Host ${name}: ${JSON.stringify(proposal.json)}`);
    const found = proposal.notes.map((n) => `${n.kind === 'found' ? '✓' : n.kind === 'ambiguous' ? '?' : '✗'} ${n.message}`).join('\n');
    const errors = proposal.errors.map((e) => `${e.path}: ${e.message}`).join('\n');
    const services = (proposal.json.services as Array<{ name: string; kind: string }>).map((s) => `${s.name} (${s.kind === 'single' ? 'single' : 'Blue-Green'})`).join(', ') || 'none';
    const save = 'Save Host';
    const choice = await vscode.window.showInformationMessage(
      `Found on ${destination}: ${services}`,
      { modal: true, detail: [found, errors ? `\nTo fix before it can be used:\n${errors}` : ''].join('\n') },
      save,
      'Save and Edit',
    );
    if (!choice) return;
    await settings.addHostProfile(proposal.json);
    if (choice === 'Save and Edit') await vscode.commands.executeCommand('workbench.action.openWorkspaceSettingsFile');
  } catch (error) {
    await logger.reportError(`Add Host ${destination} failed`, error);
  } finally {
    connection.dispose();
  }
}
