/**
 * Reads everything the tree shows about one host on the warm connection, in one round trip:
 * the containers (Docker API over the forwarded socket) in parallel with one probe command on the
 * kept-open shell (memory, load, disk, sockets, switch files). No channel per item, and what did
 * not change is not read again (SnapshotCache): `docker inspect`, `nginx -t`.
 */
import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';
import type { HostProfile } from '../core/hostProfile';
import {
  computeWarnings,
  parseLoadavg,
  parseMeminfo,
  parseSsListening,
  type ContainerHealth,
  type ContainerInfo,
  type ContainerState,
  type DiskUsage,
  type HostMetrics,
  type ListeningSocket,
  type NginxState,
  type SwitchFileState,
} from '../core/hostState';
import { parseLockRecord } from '../core/deployRecords';
import type { DeployLockSummary, HostPicture, PicturePart } from '../core/hostTree';
import { parseSwitchFile, resolveActiveColor } from '../core/nginxSwitchFile';
import type { ExecOptions, ExecResult, RemoteStat } from './hostConnection';
import { HostError, toHostError } from './hostErrors';

/** What the snapshot needs of a connection (HostConnection, or a fake in unit tests). */
export interface SnapshotSource {
  readonly profile: HostProfile;
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
  readFile(remotePath: string, options?: { sudo?: boolean }): Promise<Buffer>;
  stat(remotePath: string): Promise<RemoteStat | undefined>;
  statvfs(remotePath: string): Promise<{ sizeKb: number; usedKb: number; availKb: number }>;
  docker(): Dockerode;
}

export type SnapshotPart = PicturePart;

/** The tree's HostPicture, with the host layer's errors for the parts that could not be read. */
export interface HostSnapshot extends HostPicture {
  problems: Partial<Record<SnapshotPart, HostError>>;
}

/**
 * What need not be read again while nothing changed: `docker inspect` of a container whose list
 * entry is the same and healthy, and `nginx -t` while no file in the conf dir (or the main config)
 * changed. A forced refresh starts from an empty cache.
 */
export class SnapshotCache {
  readonly inspects = new Map<string, { listKey: string; info: ContainerInfo }>();
  nginxTest?: { filesKey: string; result: NginxState['configTest']; testedAtMs: number };

  clear(): void {
    this.inspects.clear();
    this.nginxTest = undefined;
  }
}

const knownStates: readonly ContainerState[] = ['running', 'exited', 'restarting', 'paused', 'created', 'dead'];

function splitImage(image: string): { image: string; tag: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { image: image.slice(0, at), tag: image.slice(at + 1, at + 20) };
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? { image: image.slice(0, colon), tag: image.slice(colon + 1) } : { image, tag: 'latest' };
}

/** Maps one `docker inspect` result to the tree's plain model. */
export function toContainerInfo(inspect: Dockerode.ContainerInspectInfo): ContainerInfo {
  const state = knownStates.includes(inspect.State.Status as ContainerState) ? (inspect.State.Status as ContainerState) : 'dead';
  const health = inspect.State.Health;
  const healthStatus: ContainerHealth = health && ['healthy', 'unhealthy', 'starting'].includes(health.Status) ? (health.Status as ContainerHealth) : 'none';
  const ports = Object.entries(inspect.NetworkSettings?.Ports ?? {}).flatMap(([key, bindings]) => {
    const [privatePort, protocol = 'tcp'] = key.split('/');
    if (!bindings || bindings.length === 0) return [{ privatePort: Number(privatePort), protocol }];
    return bindings.map((binding) => ({ ip: binding.HostIp || '0.0.0.0', privatePort: Number(privatePort), publicPort: Number(binding.HostPort), protocol }));
  });
  const info: ContainerInfo = {
    name: inspect.Name.replace(/^\//, ''),
    id: inspect.Id,
    ...splitImage(inspect.Config.Image),
    state,
    health: healthStatus,
    startedAt: inspect.State.StartedAt,
    ports,
    networkMode: inspect.HostConfig.NetworkMode ?? 'default',
    labels: inspect.Config.Labels ?? {},
  };
  if (health) {
    info.failingStreak = health.FailingStreak;
    info.healthLog = (health.Log ?? []).map((entry) => ({ start: entry.Start, end: entry.End, exitCode: entry.ExitCode, output: entry.Output }));
  }
  return info;
}

/**
 * One list request, then `inspect` only for containers that are new, changed, or not healthy
 * (their health log is what the tooltip shows). Steady state: one Docker request.
 */
export async function readContainers(source: SnapshotSource, cache = new SnapshotCache()): Promise<ContainerInfo[]> {
  const docker = source.docker();
  const list = await docker.listContainers({ all: true });
  const seen = new Set<string>();
  const infos = await Promise.all(
    list.map(async (item) => {
      seen.add(item.Id);
      // Status is "Up 3 minutes (healthy)": drop the uptime so the key changes only with state or health.
      const listKey = `${item.State}|${item.Image}|${item.Status.replace(/^Up .*?( \(|$)/, 'Up$1').replace(/ (About )?(an?|\d+) \w+ ago$/, '')}`;
      const cached = cache.inspects.get(item.Id);
      const isSettled = !/\((unhealthy|health: starting)\)/.test(item.Status) && item.State !== 'restarting';
      if (cached && cached.listKey === listKey && isSettled) return cached.info;
      try {
        const info = toContainerInfo(await docker.getContainer(item.Id).inspect());
        cache.inspects.set(item.Id, { listKey, info });
        return info;
      } catch {
        return undefined; // Removed between list and inspect: the next event refreshes.
      }
    }),
  );
  for (const id of cache.inspects.keys()) if (!seen.has(id)) cache.inspects.delete(id);
  return infos.filter((c): c is ContainerInfo => c !== undefined).sort((a, b) => a.name.localeCompare(b.name));
}

export function nginxArgs(profile: HostProfile, ...args: string[]): string[] {
  return [profile.nginx.binary, ...(profile.nginx.mainConfig ? ['-c', profile.nginx.mainConfig] : []), ...args];
}

/**
 * What the tree needs from the host's files and shell, in ONE command on the kept-open shell (one
 * round trip, two processes): /proc/meminfo, /proc/loadavg and the switch files through one
 * `grep -HZ` (every line tagged with its file), then `ss -ltnH`. Sections are framed by a marker
 * with a fresh nonce, so no file content can fake one.
 */
const probeScript = [
  'm=$1; shift',
  'sec() { printf \'\\n%s %s\\n\' "$m" "$1"; }',
  'end() { printf \'\\n%s exit %s\\n\' "$m" "$1"; }',
  'sec home; printf %s "$HOME"; end 0',
  // The deploy lock (~/.switchyard/lock) rides along: a missing file is just "no lock".
  'sec files; grep -HZ \'\' -- /proc/meminfo /proc/loadavg "$HOME/.switchyard/lock" "$@" 2>&1; end $?',
  'sec ss; ss -ltnH 2>&1; end $?',
].join('\n');

export interface ProbeSection {
  text: string;
  exitCode: number;
}

/** Splits the probe's output into its sections; a section missing from the output is absent. */
export function parseProbeOutput(stdout: string, marker: string): Map<string, ProbeSection> {
  const sections = new Map<string, ProbeSection>();
  const header = `\n${marker} `;
  let at = stdout.indexOf(header);
  while (at >= 0) {
    const lineEnd = stdout.indexOf('\n', at + header.length);
    if (lineEnd < 0) break;
    const name = stdout.slice(at + header.length, lineEnd);
    const footerAt = stdout.indexOf(`\n${marker} exit `, lineEnd);
    if (footerAt < 0) break;
    const footerEnd = stdout.indexOf('\n', footerAt + 1);
    const exitCode = Number(stdout.slice(footerAt + marker.length + 7, footerEnd < 0 ? undefined : footerEnd));
    sections.set(name, { text: stdout.slice(lineEnd + 1, footerAt), exitCode });
    at = stdout.indexOf(header, footerEnd < 0 ? stdout.length : footerEnd);
  }
  return sections;
}

export async function runHostProbe(source: SnapshotSource): Promise<Map<string, ProbeSection>> {
  const marker = `\u001eswitchyard-${randomBytes(6).toString('hex')}`;
  const result = await source.exec(['sh', '-c', probeScript, 'sh', marker, ...switchFilePaths(source.profile)]);
  return parseProbeOutput(`\n${result.stdout}`, marker);
}

function switchFilePaths(profile: HostProfile): string[] {
  return profile.services.flatMap((service) => (service.kind === 'blueGreen' ? [service.switchFile] : []));
}

function section(sections: Map<string, ProbeSection>, name: string): ProbeSection {
  const found = sections.get(name);
  if (!found) throw new HostError('commandFailed', `The host's answer lacks its "${name}" part (the probe command did not run to the end).`);
  return found;
}

/** The files of `grep -HZ ''` output: each line is `path\0line`; `grep: path: reason` lines are errors. */
export function splitGrepFiles(text: string, paths: readonly string[]): Map<string, { text: string } | { error: string }> {
  const lines = new Map<string, string[]>();
  const errors = new Map<string, string>();
  for (const line of text.split('\n')) {
    const nul = line.indexOf('\0');
    if (nul >= 0) {
      const path = line.slice(0, nul);
      lines.set(path, [...(lines.get(path) ?? []), line.slice(nul + 1)]);
      continue;
    }
    for (const path of paths) {
      if (line.startsWith(`grep: ${path}: `)) errors.set(path, line.slice(`grep: ${path}: `.length));
    }
  }
  const files = new Map<string, { text: string } | { error: string }>();
  for (const path of paths) {
    const error = errors.get(path);
    // An empty file prints nothing: that is an empty text, not an error.
    files.set(path, error !== undefined ? { error } : { text: (lines.get(path) ?? []).map((l) => `${l}\n`).join('') });
  }
  return files;
}

function lockPath(sections: Map<string, ProbeSection>): string {
  return `${section(sections, 'home').text}/.switchyard/lock`;
}

function probeFiles(sections: Map<string, ProbeSection>, profile: HostProfile): Map<string, { text: string } | { error: string }> {
  return splitGrepFiles(section(sections, 'files').text, ['/proc/meminfo', '/proc/loadavg', lockPath(sections), ...switchFilePaths(profile)]);
}

/** The deploy lock, when someone holds one (undefined: free, or unreadable as a lock). */
export function lockFromProbe(sections: Map<string, ProbeSection>, profile: HostProfile): DeployLockSummary | undefined {
  const file = probeFiles(sections, profile).get(lockPath(sections));
  if (!file || 'error' in file) return undefined;
  const record = parseLockRecord(file.text);
  if (!record) return { holder: 'unknown (the lock file is not readable as a Switchyard lock)', operation: '?', service: '?', startedAt: '' };
  return { holder: record.holder, operation: record.operation, service: record.service, startedAt: record.startedAt, ...(record.step ? { step: record.step } : {}) };
}

function fileText(files: Map<string, { text: string } | { error: string }>, path: string): string {
  const file = files.get(path);
  if (!file || 'error' in file) throw new HostError('commandFailed', `Cannot read ${path} on the host: ${file && 'error' in file ? file.error : 'missing from the answer'}.`);
  return file.text;
}

export function metricsFromProbe(sections: Map<string, ProbeSection>, profile: HostProfile, dockerRootDisk: DiskUsage | undefined): HostMetrics {
  const files = probeFiles(sections, profile);
  const mem = parseMeminfo(fileText(files, '/proc/meminfo'));
  const load = parseLoadavg(fileText(files, '/proc/loadavg'));
  if (!mem.ok) throw new HostError('commandFailed', mem.error);
  if (!load.ok) throw new HostError('commandFailed', load.error);
  return { ...mem.value, ...load.value, ...(dockerRootDisk ? { dockerRootDisk } : {}) };
}

export function listeningFromProbe(sections: Map<string, ProbeSection>): ListeningSocket[] {
  const ss = section(sections, 'ss');
  if (ss.exitCode !== 0) throw new HostError('commandFailed', `"ss -ltnH" failed on the host: ${ss.text.trim() || `exit ${ss.exitCode}`}`);
  const parsed = parseSsListening(ss.text);
  if (!parsed.ok) throw new HostError('commandFailed', parsed.error);
  return parsed.value;
}

/** Disk use of the Docker root through SFTP's statvfs (no process on the host); undefined when unknown. */
async function readDockerRootDisk(source: SnapshotSource, dockerRootDir: string | undefined): Promise<DiskUsage | undefined> {
  if (!dockerRootDir) return undefined;
  try {
    return { path: dockerRootDir, ...(await source.statvfs(dockerRootDir)) };
  } catch {
    return undefined; // Not readable by the user: the tree shows no disk row rather than a wrong one.
  }
}

/**
 * Sizes and mtimes of the Nginx conf dir, main config and switch files (SFTP stats, in parallel):
 * `nginx -t` runs again when this changes, or when its result is older than `nginxTestMaxAgeMs`
 * (an in-place edit of another file in conf.d does not change the dir).
 */
async function nginxFilesKey(source: SnapshotSource): Promise<string> {
  const { nginx } = source.profile;
  const paths = [nginx.confDir, ...(nginx.mainConfig ? [nginx.mainConfig] : []), ...switchFilePaths(source.profile)];
  const stats = await Promise.all(paths.map((path) => source.stat(path).catch(() => undefined)));
  return JSON.stringify(stats.map((stat, i) => [paths[i], stat?.size, stat?.mtimeMs]));
}

export const nginxTestMaxAgeMs = 30_000;

/** Switch files from the probe; `nginx -t` only when an Nginx file changed since the cached run. */
export async function nginxFromProbe(source: SnapshotSource, sections: Map<string, ProbeSection>, filesKey: string, cache: SnapshotCache, testMaxAgeMs = nginxTestMaxAgeMs): Promise<NginxState> {
  const { profile } = source;
  const files = probeFiles(sections, profile);
  const switchFiles = profile.services.flatMap((service) => (service.kind === 'blueGreen' ? [service] : [])).map((service): SwitchFileState => {
    const state: SwitchFileState = { service: service.name, path: service.switchFile };
    const file = files.get(service.switchFile);
    if (!file || 'error' in file) {
      state.error = `cannot read ${service.switchFile}: ${file && 'error' in file ? file.error : 'no answer'}`;
      return state;
    }
    const parsed = parseSwitchFile(file.text, { ports: [service.colors.blue.port, service.colors.green.port] }, service.switchFile);
    if (!parsed.ok) {
      state.error = parsed.error;
      return state;
    }
    state.parsed = parsed.parsed;
    const active = resolveActiveColor(parsed.parsed, service);
    if (active.ok) state.activeColor = active.color;
    else state.error = active.error;
    return state;
  });
  const cached = cache.nginxTest;
  if (cached && cached.filesKey === filesKey && Date.now() - cached.testedAtMs < testMaxAgeMs) return { switchFiles, configTest: cached.result };
  const test = await source.exec(nginxArgs(profile, '-t'), { sudo: profile.nginx.useSudo, timeoutMs: 20_000 });
  if (test.exitCode === 127 || /^sudo: \S+: command not found/m.test(test.stderr)) {
    throw new HostError('nginxNotInstalled', `nginx is not installed on the host (or not at "${profile.nginx.binary}").`, { hint: 'Set switchyard.hosts[].nginx.binary to its path.' });
  }
  const configTest = { ok: test.exitCode === 0, output: `${test.stderr}${test.stdout}`.trim() };
  cache.nginxTest = { filesKey, result: configTest, testedAtMs: Date.now() };
  return { switchFiles, configTest };
}

/**
 * The watcher's slow timer: memory, load and disk, and from the same one probe the switch files,
 * listening sockets and deploy lock, so a switch by the CLI, CI, deploy.sh or another editor (not a
 * Docker event) shows within one period. `nginx -t` runs only when an Nginx file changed.
 */
export async function readPeriodic(source: SnapshotSource, dockerRootDir: string | undefined, cache: SnapshotCache): Promise<Pick<HostSnapshot, 'metrics' | 'nginx' | 'listening' | 'deployLock'>> {
  const [sections, disk, filesKey] = await Promise.all([runHostProbe(source), readDockerRootDisk(source, dockerRootDir), nginxFilesKey(source)]);
  const nginx = await nginxFromProbe(source, sections, filesKey, cache, Number.POSITIVE_INFINITY);
  const deployLock = lockFromProbe(sections, source.profile);
  return { metrics: metricsFromProbe(sections, source.profile, disk), nginx, listening: listeningFromProbe(sections), ...(deployLock ? { deployLock } : {}) };
}

/**
 * One full read. Parts fail independently: no docker permission still shows Nginx and memory.
 * `dockerRootDir` comes from `docker info` once per connection (the caller caches it).
 */
export async function readHostSnapshot(source: SnapshotSource, dockerRootDir?: string, cache = new SnapshotCache()): Promise<HostSnapshot> {
  const problems: HostSnapshot['problems'] = {};
  const settle = async <T>(part: SnapshotPart, work: Promise<T>): Promise<T | undefined> => {
    try {
      return await work;
    } catch (error) {
      problems[part] = toHostError(error);
      return undefined;
    }
  };
  // All of these leave at once: one round trip on a slow link (plus nginx -t when a file changed).
  const probe = runHostProbe(source);
  const disk = readDockerRootDisk(source, dockerRootDir);
  const filesKey = nginxFilesKey(source);
  const [containers, nginx, metrics, listening] = await Promise.all([
    settle('docker', readContainers(source, cache)),
    settle('nginx', Promise.all([probe, filesKey]).then(([sections, key]) => nginxFromProbe(source, sections, key, cache))),
    settle('metrics', Promise.all([probe, disk]).then(([sections, d]) => metricsFromProbe(sections, source.profile, d))),
    settle('listening', probe.then((sections) => listeningFromProbe(sections))),
  ]);
  const nginxState = nginx ?? { switchFiles: [], configTest: { ok: true, output: '' } };
  const deployLock = await probe.then((sections) => lockFromProbe(sections, source.profile)).catch(() => undefined);
  return {
    ...(deployLock ? { deployLock } : {}),
    takenAtMs: Date.now(),
    containers: containers ?? [],
    nginx: nginxState,
    ...(metrics ? { metrics } : {}),
    ...(listening ? { listening } : {}),
    warnings: computeWarnings(source.profile, containers ?? [], nginxState, metrics, listening),
    problems,
  };
}
