import * as vscode from 'vscode';

/**
 * Runs long work under a cancellable notification; the core gets an AbortSignal.
 * Resolves undefined when the user cancelled.
 */
export async function withCancellableProgress<T>(title: string, work: (signal: AbortSignal, report: (message: string) => void) => Promise<T>): Promise<T | undefined> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
    const controller = new AbortController();
    const subscription = token.onCancellationRequested(() => controller.abort());
    try {
      return await work(controller.signal, (message) => progress.report({ message }));
    } catch (error) {
      if (controller.signal.aborted) return undefined;
      throw error;
    } finally {
      subscription.dispose();
    }
  });
}
