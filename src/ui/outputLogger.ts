import * as vscode from 'vscode';
import { describeError, Logger } from '../core/logger';

/** Switchyard's own leveled channel, as the core `Logger`. Never give it keys, passphrases or .env values. */
export class OutputLogger implements Logger, vscode.Disposable {
  readonly channel: vscode.LogOutputChannel;

  constructor(name = 'Switchyard') {
    this.channel = vscode.window.createOutputChannel(name, { log: true });
  }

  trace(message: string): void {
    this.channel.trace(message);
  }
  debug(message: string): void {
    this.channel.debug(message);
  }
  info(message: string): void {
    this.channel.info(message);
  }
  warn(message: string): void {
    this.channel.warn(message);
  }
  error(message: string, cause?: unknown): void {
    this.channel.error(cause === undefined ? message : `${message}: ${describeError(cause)}`);
  }

  show(): void {
    this.channel.show(true);
  }

  /** Logs the error with its cause and shows a short message with a "Show Log" button. */
  async reportError(message: string, cause?: unknown): Promise<void> {
    this.error(message, cause);
    const detail = cause === undefined ? message : `${message}: ${describeError(cause)}`;
    const choice = await vscode.window.showErrorMessage(detail, 'Show Log');
    if (choice === 'Show Log') this.show();
  }

  dispose(): void {
    this.channel.dispose();
  }
}
