import * as vscode from 'vscode';
import { describeError } from '../core/logger';
import { saveHostFile } from '../host/hostFileEdit';
import type { HostRegistry } from './hostRegistry';
import type { OutputLogger } from './outputLogger';

export const remoteScheme = 'switchyard';
export const inspectScheme = 'switchyard-inspect';

export function remoteUri(host: string, path: string): vscode.Uri {
  return vscode.Uri.from({ scheme: remoteScheme, authority: encodeURIComponent(host), path });
}

/**
 * Compose and Nginx files of a host, opened in a normal editor. Saving writes the file back atomically
 * with a backup; an Nginx file must then pass `nginx -t` or it is restored (see host/hostFileEdit).
 */
export class RemoteFileSystem implements vscode.FileSystemProvider {
  private readonly _onDidChangeFile = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this._onDidChangeFile.event;

  constructor(
    private readonly hosts: HostRegistry,
    private readonly logger: OutputLogger,
  ) {}

  private connection(uri: vscode.Uri) {
    const host = decodeURIComponent(uri.authority);
    const watcher = this.hosts.get(host);
    if (!watcher) throw vscode.FileSystemError.Unavailable(`No host "${host}" is configured.`);
    return watcher.connection;
  }

  watch(): vscode.Disposable {
    return new vscode.Disposable(() => undefined);
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const stat = await this.connection(uri).stat(uri.path);
    if (!stat) throw vscode.FileSystemError.FileNotFound(uri);
    return { type: stat.isDirectory ? vscode.FileType.Directory : vscode.FileType.File, ctime: stat.mtimeMs, mtime: stat.mtimeMs, size: stat.size };
  }

  readDirectory(): [string, vscode.FileType][] {
    return [];
  }

  createDirectory(): void {
    throw vscode.FileSystemError.NoPermissions('Switchyard edits files only.');
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    try {
      return await this.connection(uri).readFile(uri.path);
    } catch (error) {
      throw vscode.FileSystemError.Unavailable(`${uri.path}: ${describeError(error)}`);
    }
  }

  async writeFile(uri: vscode.Uri, content: Uint8Array): Promise<void> {
    const connection = this.connection(uri);
    try {
      const saved = await saveHostFile(connection, uri.path, Buffer.from(content));
      this.logger.info(`${connection.profile.name}: wrote ${uri.path}${saved.backupPath ? ` (backup ${saved.backupPath})` : ''}${saved.nginxTest ? '; nginx -t passed' : ''}`);
    } catch (error) {
      this.logger.error(`${connection.profile.name}: saving ${uri.path} failed`, error);
      throw vscode.FileSystemError.NoPermissions(describeError(error));
    }
    this._onDidChangeFile.fire([{ type: vscode.FileChangeType.Changed, uri }]);
    void this.hosts.refresh(connection.profile.name);
  }

  delete(): void {
    throw vscode.FileSystemError.NoPermissions('Switchyard does not delete files on the host.');
  }

  rename(): void {
    throw vscode.FileSystemError.NoPermissions('Switchyard does not rename files on the host.');
  }
}

/** Read-only JSON documents (`docker inspect`). */
export class InspectDocuments implements vscode.TextDocumentContentProvider {
  private readonly contents = new Map<string, string>();

  show(name: string, value: unknown): Thenable<vscode.TextEditor> {
    const uri = vscode.Uri.from({ scheme: inspectScheme, path: `/${name}.json` });
    this.contents.set(uri.toString(), JSON.stringify(value, null, 2));
    return vscode.workspace.openTextDocument(uri).then((doc) => vscode.window.showTextDocument(doc, { preview: true }));
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString()) ?? '';
  }
}
