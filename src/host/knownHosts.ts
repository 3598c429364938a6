/**
 * OpenSSH `known_hosts`: parse (plain, `[host]:port`, comma lists, wildcards, hashed `|1|` names, markers),
 * check a server's key like `ssh` does, and record newly accepted keys atomically.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { matchPattern } from './sshConfig';

export interface KnownHostsEntry {
  file: string;
  /** 1-based line number, as editors and `ssh-keygen -R` show it. */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** Host patterns of a plain entry (`host`, `[host]:port`, wildcards, `!negated`). */
  patterns: string[];
  /** Salt and HMAC-SHA1 of a hashed entry (`|1|salt|hash`). */
  hashed?: { salt: Buffer; hash: Buffer };
  keyType: string;
  keyBlob: Buffer;
}

export type HostKeyStatus = 'match' | 'unknown' | 'changed' | 'revoked';

export interface HostKeyCheck {
  status: HostKeyStatus;
  /** Entries for this host whose key differs (for `changed`), or the revoking entry. */
  conflicting: KnownHostsEntry[];
  /** The matching entry (for `match`). */
  matched?: KnownHostsEntry;
}

/** The name `ssh` looks up: `host` on port 22, else `[host]:port`. */
export function knownHostsName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

export function parseKnownHosts(text: string, file = 'known_hosts'): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostsEntry['marker'];
    if (fields[0].startsWith('@')) {
      const name = fields.shift();
      if (name === '@revoked') marker = 'revoked';
      else if (name === '@cert-authority') marker = 'cert-authority';
      else return; // an unknown marker: OpenSSH ignores the line
    }
    if (fields.length < 3) return;
    const [hostField, keyType, keyBase64] = fields;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyBase64)) return;
    const keyBlob = Buffer.from(keyBase64, 'base64');
    if (keyTypeOfBlob(keyBlob) !== keyType) return;
    const entry: KnownHostsEntry = { file, line: index + 1, patterns: [], keyType, keyBlob };
    if (marker) entry.marker = marker;
    const hashed = /^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$/.exec(hostField);
    if (hashed) entry.hashed = { salt: Buffer.from(hashed[1], 'base64'), hash: Buffer.from(hashed[2], 'base64') };
    else entry.patterns = hostField.split(',').filter((p) => p !== '');
    entries.push(entry);
  });
  return entries;
}

/** The algorithm name stored at the start of an SSH public key blob (`ssh-ed25519`, `ssh-rsa`, ...). */
export function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > blob.length) return undefined;
  return blob.subarray(4, 4 + length).toString('latin1');
}

function hashHostName(name: string, salt: Buffer): Buffer {
  return createHmac('sha1', salt).update(name).digest();
}

/** Does this entry name the host? (`[host]:port` form for non-22 ports; negated patterns exclude.) */
export function entryMatchesHost(entry: KnownHostsEntry, host: string, port: number): boolean {
  const name = knownHostsName(host, port);
  if (entry.hashed) return hashHostName(name, entry.hashed.salt).equals(entry.hashed.hash);
  let matched = false;
  for (const pattern of entry.patterns) {
    const negated = pattern.startsWith('!');
    if (matchPattern(name, negated ? pattern.slice(1) : pattern)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** Checks a server key against known_hosts entries, with the entries involved (for messages). */
export function checkHostKeyDetailed(entries: readonly KnownHostsEntry[], host: string, port: number, keyType: string, keyBlob: Buffer): HostKeyCheck {
  const revoked = entries.filter((e) => e.marker === 'revoked' && e.keyBlob.equals(keyBlob));
  if (revoked.length > 0) return { status: 'revoked', conflicting: revoked };
  // Host certificates are not offered by our client, so CA lines neither match nor conflict.
  const forHost = entries.filter((e) => e.marker === undefined && entryMatchesHost(e, host, port));
  const matched = forHost.find((e) => e.keyType === keyType && e.keyBlob.equals(keyBlob));
  if (matched) return { status: 'match', conflicting: [], matched };
  if (forHost.length === 0) return { status: 'unknown', conflicting: [] };
  // Same type with another key is a changed key; only other types known is also a warning in OpenSSH.
  const sameType = forHost.filter((e) => e.keyType === keyType);
  return { status: 'changed', conflicting: sameType.length > 0 ? sameType : forHost };
}

export function checkHostKey(entries: readonly KnownHostsEntry[], host: string, port: number, keyType: string, keyBlob: Buffer): HostKeyStatus {
  return checkHostKeyDetailed(entries, host, port, keyType, keyBlob).status;
}

/** `SHA256:<base64 without padding>`, exactly as `ssh-keygen -lf` and `ssh` print it. */
export function fingerprintSha256(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

export function formatKnownHostsLine(host: string, port: number, keyType: string, keyBlob: Buffer, hashed = false): string {
  const name = knownHostsName(host, port);
  let hostField = name;
  if (hashed) {
    const salt = randomBytes(20);
    hostField = `|1|${salt.toString('base64')}|${hashHostName(name, salt).toString('base64')}`;
  }
  return `${hostField} ${keyType} ${keyBlob.toString('base64')}`;
}

/** Reads and parses every file that exists; missing or unreadable files count as empty. */
export async function loadKnownHosts(files: readonly string[]): Promise<KnownHostsEntry[]> {
  const all: KnownHostsEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch {
      continue;
    }
    all.push(...parseKnownHosts(text, file));
  }
  return all;
}

/**
 * Appends one line to a known_hosts file without ever leaving a half-written file:
 * the new content goes to a temporary file in the same directory, is fsynced, then renamed over.
 * Creates the directory with mode 0700 when it is missing (as `ssh` does for ~/.ssh).
 */
export async function appendKnownHostsLine(file: string, line: string): Promise<void> {
  const dir = path.dirname(file);
  if (!fs.existsSync(dir)) await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
  let existing = '';
  let mode = 0o644;
  try {
    existing = await fs.promises.readFile(file, 'utf8');
    mode = (await fs.promises.stat(file)).mode & 0o777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const content = `${existing}${existing === '' || existing.endsWith('\n') ? '' : '\n'}${line}\n`;
  const tmp = path.join(dir, `.${path.basename(file)}.switchyard-tmp-${randomBytes(6).toString('hex')}`);
  const handle = await fs.promises.open(tmp, 'wx', mode);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.promises.chmod(tmp, mode);
    await fs.promises.rename(tmp, file);
  } catch (error) {
    await fs.promises.rm(tmp, { force: true });
    throw error;
  }
}
