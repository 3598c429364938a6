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
  parseDfPk,
  parseLoadavg,
  parseMeminfo,
  parseSsListening,
  type ContainerHealth,
  type ContainerInfo,
  type ContainerState,
  type HostMetrics,
  type HostWarning,
  type ListeningSocket,
  type NginxState,
  type SwitchFileState,
} from '../core/hostState';
import { parseSwitchFile, resolveActiveColor } from '../core/nginxSwitchFile';
import type { ExecOptions, ExecResult } from './hostConnection';
import { HostError, toHostError } from './hostErrors';

/** What the snapshot needs of a connection (HostConnection, or a fake in unit tests). */
export interface SnapshotSource {
  readonly profile: HostProfile;
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
  readFile(remotePath: string, options?: { sudo?: boolean }): Promise<Buffer>;
  docker(): Dockerode;
}

export type SnapshotPart = 'docker' | 'nginx' | 'metrics' | 'listening';

export interface HostSnapshot {
  takenAtMs: number;
  containers: ContainerInfo[];
  nginx: NginxState;
  metrics?: HostMetrics;
  listening?: ListeningSocket[];
  warnings: HostWarning[];
  /** Parts that could not be read, and why; the tree shows them where the data would be. */
  problems: Partial<Record<SnapshotPart, HostError>>;
}

/**
 * What need not be read again while nothing changed: `docker inspect` of a container whose list
 * entry is the same and healthy, and `nginx -t` while no file in the conf dir (or the main config)
 * changed. A forced refresh starts from an empty cache.
 */
export class SnapshotCache {
  readonly inspects = new Map<string, { listKey: string; info: ContainerInfo }>();
  nginxTest?: { filesKey: string; result: NginxState['configTest'] };

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
 * Everything the tree needs from the host's shell and files, in ONE command on the kept-open shell
 * (one round trip): memory, load, disk of the Docker root, listening sockets, the switch files, and
 * a listing of the Nginx files whose change makes `nginx -t` run again. Sections are framed by a
 * marker with a fresh nonce, so no file content can fake one.
 */
const probeScript = [
  'm=$1; root=$2; confdir=$3; mainconf=$4; shift 4',
  'sec() { printf \'\\n%s %s\\n\' "$m" "$1"; }',
  'end() { printf \'\\n%s exit %s\\n\' "$m" "$1"; }',
  'sec meminfo; cat /proc/meminfo 2>&1; end $?',
  'sec loadavg; cat /proc/loadavg 2>&1; end $?',
  'sec df; if [ -n "$root" ]; then df -Pk -- "$root" 2>&1; end $?; else end 0; fi',
  'sec ss; ss -ltnH 2>&1; end $?',
  'sec nginxfiles; ls -l --time-style=+%s.%N -- "$confdir" ${mainconf:+"$mainconf"} 2>&1; end $?',
  'for f in "$@"; do sec "file:$f"; cat -- "$f" 2>&1; end $?; done',
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

export async function runHostProbe(source: SnapshotSource, dockerRootDir: string | undefined): Promise<Map<string, ProbeSection>> {
  const { profile } = source;
  const marker = `\u001eswitchyard-${randomBytes(6).toString('hex')}`;
  const switchFiles = profile.services.flatMap((service) => (service.kind === 'blueGreen' ? [service.switchFile] : []));
  const result = await source.exec(['sh', '-c', probeScript, 'sh', marker, dockerRootDir ?? '', profile.nginx.confDir, profile.nginx.mainConfig ?? '', ...switchFiles]);
  return parseProbeOutput(`\n${result.stdout}`, marker);
}

function section(sections: Map<string, ProbeSection>, name: string): ProbeSection {
  const found = sections.get(name);
  if (!found) throw new HostError('commandFailed', `The host's answer lacks its "${name}" part (the probe command did not run to the end).`);
  return found;
}

export function metricsFromProbe(sections: Map<string, ProbeSection>, dockerRootDir: string | undefined): HostMetrics {
  const mem = parseMeminfo(section(sections, 'meminfo').text);
  const load = parseLoadavg(section(sections, 'loadavg').text);
  if (!mem.ok) throw new HostError('commandFailed', mem.error);
  if (!load.ok) throw new HostError('commandFailed', load.error);
  const metrics: HostMetrics = { ...mem.value, ...load.value };
  const df = sections.get('df');
  if (dockerRootDir && df?.exitCode === 0) {
    const rows = parseDfPk(df.text);
    if (rows.ok) metrics.dockerRootDisk = { ...rows.value[0], path: dockerRootDir };
  }
  return metrics;
}

export function listeningFromProbe(sections: Map<string, ProbeSection>): ListeningSocket[] {
  const ss = section(sections, 'ss');
  if (ss.exitCode !== 0) throw new HostError('commandFailed', `"ss -ltnH" failed on the host: ${ss.text.trim() || `exit ${ss.exitCode}`}`);
  const parsed = parseSsListening(ss.text);
  if (!parsed.ok) throw new HostError('commandFailed', parsed.error);
  return parsed.value;
}

/** Switch files from the probe; `nginx -t` only when an Nginx file changed since the cached run. */
export async function nginxFromProbe(source: SnapshotSource, sections: Map<string, ProbeSection>, cache: SnapshotCache): Promise<NginxState> {
  const { profile } = source;
  const switchFiles = profile.services.flatMap((service) => (service.kind === 'blueGreen' ? [service] : [])).map((service): SwitchFileState => {
    const state: SwitchFileState = { service: service.name, path: service.switchFile };
    const file = section(sections, `file:${service.switchFile}`);
    if (file.exitCode !== 0) {
      state.error = `cannot read ${service.switchFile}: ${file.text.trim().replace(/^cat: /, '')}`;
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
  const filesKey = section(sections, 'nginxfiles').text;
  if (cache.nginxTest?.filesKey === filesKey) return { switchFiles, configTest: cache.nginxTest.result };
  const test = await source.exec(nginxArgs(profile, '-t'), { sudo: profile.nginx.useSudo, timeoutMs: 20_000 });
  if (test.exitCode === 127 || /^sudo: \S+: command not found/m.test(test.stderr)) {
    throw new HostError('nginxNotInstalled', `nginx is not installed on the host (or not at "${profile.nginx.binary}").`, { hint: 'Set switchyard.hosts[].nginx.binary to its path.' });
  }
  const configTest = { ok: test.exitCode === 0, output: `${test.stderr}${test.stdout}`.trim() };
  cache.nginxTest = { filesKey, result: configTest };
  return { switchFiles, configTest };
}

/** Memory, load and disk alone (the watcher's slow timer). */
export async function readMetrics(source: SnapshotSource, dockerRootDir: string | undefined): Promise<HostMetrics> {
  return metricsFromProbe(await runHostProbe(source, dockerRootDir), dockerRootDir);
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
  const probe = runHostProbe(source, dockerRootDir);
  const [containers, nginx, metrics, listening] = await Promise.all([
    settle('docker', readContainers(source, cache)),
    settle('nginx', probe.then((sections) => nginxFromProbe(source, sections, cache))),
    settle('metrics', probe.then((sections) => metricsFromProbe(sections, dockerRootDir))),
    settle('listening', probe.then((sections) => listeningFromProbe(sections))),
  ]);
  const nginxState = nginx ?? { switchFiles: [], configTest: { ok: true, output: '' } };
  return {
    takenAtMs: Date.now(),
    containers: containers ?? [],
    nginx: nginxState,
    ...(metrics ? { metrics } : {}),
    ...(listening ? { listening } : {}),
    warnings: computeWarnings(source.profile, containers ?? [], nginxState, metrics, listening),
    problems,
  };
}
