/** Shared by the integration tests: the running sandbox host, connections to it, and real fault injection. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseHostProfiles, type HostProfile } from '../../src/core/hostProfile';
import type { Logger } from '../../src/core/logger';
import { HostConnection, type HostConnectionDeps } from '../../src/host/hostConnection';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const sandboxDir = process.env.SWITCHYARD_SANDBOX_DIR ?? '/var/lib/switchyard-sandbox';

export interface SandboxInfo {
  sshHost: string;
  sshPort: number;
  user: string;
  identityFile: string;
  hostKeyFile: string;
  dockerSocket: string;
  registry: string;
  appsDir: string;
  nginx: { binary: string; mainConfig: string; confDir: string; accessLog: string; errorLog: string; httpUrl: string; httpsUrl: string };
}

export function readSandbox(): SandboxInfo {
  const file = path.join(sandboxDir, 'sandbox.json');
  assert.ok(fs.existsSync(file), `${file} is missing: start the sandbox first (bash test/sandbox/sandbox.sh up)`);
  const info = JSON.parse(fs.readFileSync(file, 'utf8')) as SandboxInfo;
  assert.match(info.sshHost, /^127\./, 'the sandbox must be on loopback');
  return info;
}

/** The handDoc profile of the sandbox, from the same builder `npm start` uses. */
export function sandboxProfile(): HostProfile {
  const json = execFileSync(process.execPath, [path.join(repoRoot, 'test', 'sandbox', 'sandboxProfile.mjs')], { encoding: 'utf8' });
  const { profiles, errors } = parseHostProfiles(JSON.parse(json));
  assert.deepEqual(errors, []);
  return profiles[0];
}

export function testLogger(lines: string[] = []): Logger {
  const push = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  return { trace: () => undefined, debug: push('debug'), info: push('info'), warn: push('warn'), error: (m, c) => void lines.push(`error ${m} ${String(c ?? '')}`) };
}

/** A connection with its own known_hosts (the sandbox key trusted on first use, as a user would). */
export function connectTo(profile: HostProfile, deps: Partial<HostConnectionDeps> = {}): HostConnection {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-it-'));
  fs.writeFileSync(path.join(dir, 'ssh_config'), '');
  return new HostConnection(profile, {
    logger: testLogger(),
    hostKeys: { confirmUnknown: async () => true },
    credentials: { getPassphrase: async () => undefined, rememberPassphrase: async () => undefined, forgetPassphrase: async () => undefined },
    knownHostsPath: path.join(dir, 'known_hosts'),
    sshConfigPath: path.join(dir, 'ssh_config'),
    agentSocket: null,
    ...deps,
  });
}

/** Polls until `check` holds; fails with `what` after `timeoutMs` (a bound, not a timing assertion). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for: ${what}`);
}

export function sh(command: string, args: string[], input?: string): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...(input === undefined ? {} : { input }) });
}

/** `docker` against the sandbox engine, as root on this machine (the test's own hand on the host). */
export function hostDocker(info: SandboxInfo, args: string[]): string {
  return sh('docker', ['-H', `unix://${info.dockerSocket}`, ...args]);
}

export function ppidOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** The sshd processes serving this connection: the command shell's parent (user side) and its parent (the privileged monitor). */
export async function sshdSessionOf(connection: HostConnection): Promise<{ shell: number; session: number; monitor: number }> {
  const shell = Number((await connection.exec(['sh', '-c', `cut -d' ' -f5 /proc/$$/stat`])).stdout.trim());
  const session = ppidOf(shell);
  const monitor = ppidOf(session);
  assert.match(cmdline(session), /^sshd: /, `parent of the command shell is sshd (${cmdline(session)})`);
  assert.match(cmdline(monitor), /^sshd: /, `its parent is sshd too (${cmdline(monitor)})`);
  return { shell, session, monitor };
}

/** Cuts the connection for real: kills the sshd processes serving it, as a network drop would end them. */
export async function dropConnection(connection: HostConnection): Promise<void> {
  const { session, monitor } = await sshdSessionOf(connection);
  process.kill(monitor, 'SIGKILL');
  process.kill(session, 'SIGKILL');
}
