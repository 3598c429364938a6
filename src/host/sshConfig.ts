/**
 * Reads OpenSSH client configuration (`~/.ssh/config`) the way `ssh` does, for the keys Switchyard uses:
 * Host blocks with `*`, `?` and `!negation`, first value wins per key, `Include`, `%` tokens and `~`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SshTarget } from '../core/hostProfile';

export interface ResolvedSshTarget {
  /** What the profile named (an alias or a host name); `Host` patterns are matched against it. */
  alias: string;
  hostName: string;
  port: number;
  user: string;
  /** In the order `ssh` tries them: the profile's key first, then `IdentityFile` lines, else the defaults. */
  identityFiles: string[];
  /** True when no key was configured and `identityFiles` are the defaults (missing ones are skipped quietly). */
  identityFilesAreDefaults: boolean;
  identitiesOnly: boolean;
  proxyJump?: string;
  /** Files searched for host keys; new keys are written to the first one. */
  knownHostsFiles: string[];
  globalKnownHostsFiles: string[];
  connectTimeoutS?: number;
  serverAliveIntervalS?: number;
  serverAliveCountMax?: number;
  /** Lines or keys that were ignored, for the log. */
  warnings: string[];
}

export interface SshConfigOptions {
  homeDir?: string;
  localUser?: string;
  /** Reads the files an `Include` names (a path, possibly with globs); absent: `Include` is ignored with a warning. */
  readInclude?: (pattern: string) => { path: string; text: string }[];
}

interface ConfigLine {
  keyword: string;
  args: string[];
  source: string;
}

/** Splits a config line into keyword and arguments (`Key value`, `Key=value`, double quotes). */
export function tokenizeConfigLine(line: string): { keyword: string; args: string[] } | undefined {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  const m = /^([A-Za-z][A-Za-z0-9]*)\s*(?:=\s*|\s+|$)(.*)$/.exec(trimmed);
  if (!m) return undefined;
  const args: string[] = [];
  const rest = m[2];
  let i = 0;
  while (i < rest.length) {
    while (i < rest.length && /\s/.test(rest[i])) i++;
    if (i >= rest.length) break;
    if (rest[i] === '#') break;
    let arg = '';
    if (rest[i] === '"') {
      const end = rest.indexOf('"', i + 1);
      arg = end === -1 ? rest.slice(i + 1) : rest.slice(i + 1, end);
      i = end === -1 ? rest.length : end + 1;
    } else {
      while (i < rest.length && !/\s/.test(rest[i])) arg += rest[i++];
    }
    args.push(arg);
  }
  return { keyword: m[1].toLowerCase(), args };
}

/** OpenSSH's wildcard match: `*` any run, `?` one character; case-insensitive for host names. */
export function matchPattern(text: string, pattern: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(text);
}

/** A `Host` line matches when some positive pattern matches and no `!pattern` does. */
export function matchHostPatterns(host: string, patterns: readonly string[]): boolean {
  let matched = false;
  for (const pattern of patterns) {
    if (pattern.startsWith('!')) {
      if (matchPattern(host, pattern.slice(1))) return false;
    } else if (matchPattern(host, pattern)) {
      matched = true;
    }
  }
  return matched;
}

export function expandTilde(file: string, homeDir: string): string {
  if (file === '~') return homeDir;
  if (file.startsWith('~/')) return path.posix.join(homeDir, file.slice(2));
  return file;
}

interface TokenValues {
  host: string;
  alias: string;
  port: number;
  remoteUser: string;
  localUser: string;
  homeDir: string;
}

function expandTokens(value: string, t: TokenValues, allowed: string): string {
  return value.replace(/%(.)/g, (whole, ch: string) => {
    if (ch === '%') return '%';
    if (!allowed.includes(ch)) return whole;
    switch (ch) {
      case 'h':
        return t.host;
      case 'n':
        return t.alias;
      case 'p':
        return String(t.port);
      case 'r':
        return t.remoteUser;
      case 'u':
        return t.localUser;
      case 'd':
        return t.homeDir;
      default:
        return whole;
    }
  });
}

const maxIncludeDepth = 16;
const includeStart = '\0include-start';
const includeEnd = '\0include-end';

function collectLines(text: string, source: string, options: SshConfigOptions, warnings: string[], depth: number): ConfigLine[] {
  const out: ConfigLine[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const token = tokenizeConfigLine(raw);
    if (!token) return;
    const where = `${source}:${index + 1}`;
    if (token.keyword !== 'include') {
      out.push({ ...token, source: where });
      return;
    }
    if (!options.readInclude) {
      warnings.push(`${where}: Include ignored`);
      return;
    }
    if (depth >= maxIncludeDepth) {
      warnings.push(`${where}: Include nested too deeply`);
      return;
    }
    // As in OpenSSH: an Include inside an inactive block includes nothing active, and the
    // enclosing block's state is restored after it.
    out.push({ keyword: includeStart, args: [], source: where });
    for (const pattern of token.args) {
      for (const file of options.readInclude(pattern)) out.push(...collectLines(file.text, file.path, options, warnings, depth + 1));
    }
    out.push({ keyword: includeEnd, args: [], source: where });
  });
  return out;
}

/** Resolves a profile's SSH target against the text of `~/.ssh/config` (the profile's own values win). */
export function resolveSshTarget(target: SshTarget, configText = '', options: SshConfigOptions = {}): ResolvedSshTarget {
  const homeDir = options.homeDir ?? os.homedir();
  const localUser = options.localUser ?? safeLocalUser();
  const warnings: string[] = [];
  const lines = collectLines(configText, 'ssh config', options, warnings, 0);

  const first = new Map<string, string[]>();
  const identityFiles: string[] = [];
  let active = true;
  let neverMatch = false;
  const saved: { active: boolean; neverMatch: boolean }[] = [];
  for (const line of lines) {
    if (line.keyword === includeStart) {
      saved.push({ active, neverMatch });
      neverMatch = neverMatch || !active;
      continue;
    }
    if (line.keyword === includeEnd) {
      ({ active, neverMatch } = saved.pop() ?? { active: true, neverMatch: false });
      continue;
    }
    if (line.keyword === 'host') {
      active = !neverMatch && matchHostPatterns(target.host, line.args);
      continue;
    }
    if (line.keyword === 'match') {
      // Match criteria (exec, user, canonical...) are not evaluated; `Match all` is the one safe case.
      active = !neverMatch && line.args.length === 1 && line.args[0].toLowerCase() === 'all';
      if (!(line.args.length === 1 && line.args[0].toLowerCase() === 'all')) warnings.push(`${line.source}: Match block ignored`);
      continue;
    }
    if (!active) continue;
    if (line.keyword === 'identityfile') {
      identityFiles.push(...line.args);
      continue;
    }
    if (!first.has(line.keyword)) first.set(line.keyword, line.args);
  }

  const value = (key: string): string | undefined => first.get(key)?.[0];
  const configPort = value('port');
  const port = target.port ?? (configPort !== undefined && /^\d+$/.test(configPort) ? Number(configPort) : 22);
  const user = target.user ?? value('user') ?? localUser;
  const tokens: TokenValues = { host: target.host, alias: target.host, port, remoteUser: user, localUser, homeDir };
  const hostName = expandTokens(value('hostname') ?? target.host, tokens, 'h');
  tokens.host = hostName;

  const explicit = [...(target.identityFile ? [target.identityFile] : []), ...identityFiles.filter((f) => f.toLowerCase() !== 'none')];
  const identityFilesAreDefaults = explicit.length === 0 && !identityFiles.some((f) => f.toLowerCase() === 'none');
  const chosen = identityFilesAreDefaults ? ['~/.ssh/id_ed25519', '~/.ssh/id_ecdsa', '~/.ssh/id_rsa'] : explicit;
  const expandPath = (file: string): string => expandTilde(expandTokens(file, tokens, 'hnprud'), homeDir);

  const knownHosts = first.get('userknownhostsfile') ?? ['~/.ssh/known_hosts', '~/.ssh/known_hosts2'];
  const globalKnownHosts = first.get('globalknownhostsfile') ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'];
  const proxyJump = value('proxyjump');
  const number = (key: string): number | undefined => {
    const v = value(key);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
  };

  const resolved: ResolvedSshTarget = {
    alias: target.host,
    hostName,
    port,
    user,
    identityFiles: [...new Set(chosen.map(expandPath))],
    identityFilesAreDefaults,
    identitiesOnly: (value('identitiesonly') ?? 'no').toLowerCase() === 'yes',
    knownHostsFiles: knownHosts.filter((f) => f.toLowerCase() !== 'none').map(expandPath),
    globalKnownHostsFiles: globalKnownHosts.filter((f) => f.toLowerCase() !== 'none').map(expandPath),
    warnings,
  };
  if (proxyJump !== undefined && proxyJump.toLowerCase() !== 'none') resolved.proxyJump = expandTokens(proxyJump, tokens, 'hnpr');
  const connectTimeoutS = number('connecttimeout');
  if (connectTimeoutS !== undefined) resolved.connectTimeoutS = connectTimeoutS;
  const serverAliveIntervalS = number('serveraliveinterval');
  if (serverAliveIntervalS !== undefined) resolved.serverAliveIntervalS = serverAliveIntervalS;
  const serverAliveCountMax = number('serveralivecountmax');
  if (serverAliveCountMax !== undefined) resolved.serverAliveCountMax = serverAliveCountMax;
  return resolved;
}

function safeLocalUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'root';
  }
}

/** Reads `Include` targets from disk: relative paths are under ~/.ssh, `*` and `?` glob the last component. */
export function fileIncludeReader(homeDir = os.homedir()): (pattern: string) => { path: string; text: string }[] {
  return (pattern) => {
    const expanded = expandTilde(pattern, homeDir);
    const full = path.isAbsolute(expanded) ? expanded : path.join(homeDir, '.ssh', expanded);
    const dir = path.dirname(full);
    const base = path.basename(full);
    let names: string[];
    if (/[*?]/.test(base)) {
      try {
        names = fs.readdirSync(dir).filter((name) => matchPattern(name, base)).sort();
      } catch {
        names = [];
      }
    } else {
      names = [base];
    }
    const out: { path: string; text: string }[] = [];
    for (const name of names) {
      const file = path.join(dir, name);
      try {
        out.push({ path: file, text: fs.readFileSync(file, 'utf8') });
      } catch {
        // OpenSSH skips Include targets that do not exist.
      }
    }
    return out;
  };
}

/** Loads the config file (missing is fine: an empty config) and resolves the target against it. */
export async function loadAndResolveSshTarget(target: SshTarget, configPath?: string, homeDir = os.homedir()): Promise<ResolvedSshTarget> {
  const file = configPath ?? path.join(homeDir, '.ssh', 'config');
  let text = '';
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch {
    text = '';
  }
  return resolveSshTarget(target, text, { homeDir, readInclude: fileIncludeReader(homeDir) });
}
