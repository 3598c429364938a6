/**
 * Saving a file the user edited on the host: atomically, with a backup; an Nginx file is then
 * checked with `nginx -t` and put back as it was if the check fails, so a typo never reaches
 * the next reload.
 */
import type { HostProfile } from '../core/hostProfile';
import type { ExecOptions, ExecResult, WriteFileOptions, WriteFileResult } from './hostConnection';
import { HostError } from './hostErrors';
import { nginxArgs } from './hostSnapshot';

export interface FileEditTarget {
  readonly profile: HostProfile;
  readFile(remotePath: string): Promise<Buffer>;
  writeFileAtomic(remotePath: string, data: string | Buffer, options?: WriteFileOptions): Promise<WriteFileResult>;
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
}

export function isNginxFile(profile: HostProfile, path: string): boolean {
  return path.startsWith(`${profile.nginx.confDir.replace(/\/+$/, '')}/`) || path === profile.nginx.mainConfig;
}

export interface SaveResult {
  backupPath?: string;
  /** Set for Nginx files: the `nginx -t` output that accepted it. */
  nginxTest?: string;
}

/** Throws HostError `commandFailed` (file restored, nothing changed) when nginx rejects the new content. */
export async function saveHostFile(target: FileEditTarget, path: string, content: Buffer): Promise<SaveResult> {
  const { profile } = target;
  if (!isNginxFile(profile, path)) {
    const written = await target.writeFileAtomic(path, content, { backup: true });
    return written.backupPath ? { backupPath: written.backupPath } : {};
  }
  const previous = await target.readFile(path);
  const written = await target.writeFileAtomic(path, content, { backup: true });
  const test = await target.exec(nginxArgs(profile, '-t'), { sudo: profile.nginx.useSudo });
  const output = `${test.stderr}${test.stdout}`.trim();
  if (test.exitCode !== 0) {
    await target.writeFileAtomic(path, previous, { backup: false });
    const reason = output.split('\n').find((line) => /\[(emerg|alert|crit|error)\]/.test(line)) ?? output.split('\n')[0] ?? 'nginx -t failed';
    throw new HostError('commandFailed', `Not saved: nginx -t rejects ${path}: ${reason.trim()}. The file on the host is back as it was.`);
  }
  return { ...(written.backupPath ? { backupPath: written.backupPath } : {}), nginxTest: output };
}
