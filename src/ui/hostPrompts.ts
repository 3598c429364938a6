import * as vscode from 'vscode';
import type { CredentialProvider, HostKeyInfo, HostKeyPolicy } from '../host/hostConnection';

/** Asks the user about a host key known_hosts does not have, showing its SHA256 fingerprint. */
export class HostKeyPrompt implements HostKeyPolicy {
  async confirmUnknown(info: HostKeyInfo): Promise<boolean> {
    const trust = 'Trust and Connect';
    const where = info.port === 22 ? info.host : `[${info.host}]:${info.port}`;
    const choice = await vscode.window.showWarningMessage(
      `Switchyard has never connected to ${where}.`,
      {
        modal: true,
        detail: `Its ${info.keyType} host key fingerprint is\n${info.fingerprint}\n\nCompare it with the server's (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the server, or your cloud console) before you trust it. Trusting adds it to ~/.ssh/known_hosts.`,
      },
      trust,
    );
    return choice === trust;
  }
}

/** Key passphrases: asked once, kept in VS Code's SecretStorage only if the user agrees. */
export class SecretCredentials implements CredentialProvider {
  constructor(private readonly secrets: vscode.SecretStorage) {}

  private key(keyPath: string): string {
    return `switchyard.passphrase:${keyPath}`;
  }

  async getPassphrase(keyPath: string, attempt: number): Promise<string | undefined> {
    if (attempt === 1) {
      const stored = await this.secrets.get(this.key(keyPath));
      if (stored !== undefined) return stored;
    }
    return vscode.window.showInputBox({
      title: 'Switchyard: key passphrase',
      prompt: attempt === 1 ? `Passphrase for ${keyPath}` : `Wrong passphrase for ${keyPath}; try again (attempt ${attempt} of 3)`,
      password: true,
      ignoreFocusOut: true,
    });
  }

  async rememberPassphrase(keyPath: string, passphrase: string): Promise<void> {
    if ((await this.secrets.get(this.key(keyPath))) === passphrase) return;
    const remember = 'Remember';
    const choice = await vscode.window.showInformationMessage(`Remember the passphrase of ${keyPath} in VS Code's secret storage?`, remember, 'Not Now');
    if (choice === remember) await this.secrets.store(this.key(keyPath), passphrase);
  }

  async forgetPassphrase(keyPath: string): Promise<void> {
    await this.secrets.delete(this.key(keyPath));
  }
}
