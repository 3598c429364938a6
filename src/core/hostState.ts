/**
 * What the tree shows about one host, as plain data, and the pure derivations from it: parsers for
 * the raw text the host layer reads (/proc/meminfo, /proc/loadavg, `df -Pk`, `ss -ltnH`), the
 * per-service view (which color is live), and the warnings a careful admin would raise.
 */
import type { BlueGreenService, Color, ColorProfile, HostProfile, SingleService } from './hostProfile';
import { resolveActiveColor } from './nginxSwitchFile';
import type { ParsedSwitch } from './nginxSwitchFile';

// ---------------------------------------------------------------------------------------------
// Model

export type ContainerState = 'running' | 'exited' | 'restarting' | 'paused' | 'created' | 'dead';
export type ContainerHealth = 'healthy' | 'unhealthy' | 'starting' | 'none';

export interface ContainerPort {
  /** Host address a published port is bound to (`0.0.0.0`, `::`, `127.0.0.1`). */
  ip?: string;
  privatePort: number;
  publicPort?: number;
  protocol: string;
}

export interface HealthLogEntry {
  /** ISO timestamps. */
  start: string;
  end: string;
  exitCode: number;
  output: string;
}

export interface ContainerInfo {
  name: string;
  id: string;
  image: string;
  tag: string;
  state: ContainerState;
  health: ContainerHealth;
  /** ISO timestamp of the last start. */
  startedAt: string;
  ports: ContainerPort[];
  networkMode: string;
  healthLog?: HealthLogEntry[];
  failingStreak?: number;
  labels: Record<string, string>;
  /** Resident memory, when the caller measured it (docker stats); used to size a second color. */
  memoryKb?: number;
}

export interface SwitchFileState {
  /** The Blue-Green service this file switches. */
  service: string;
  path: string;
  parsed?: ParsedSwitch;
  /** Why the file could not be read or understood; set when `parsed` is absent. */
  error?: string;
  activeColor?: Color;
}

export interface NginxState {
  switchFiles: SwitchFileState[];
  configTest: { ok: boolean; output: string };
}

export interface DiskUsage {
  /** The mount point that holds the path. */
  path: string;
  sizeKb: number;
  usedKb: number;
  availKb: number;
}

export interface HostMetrics {
  memTotalKb: number;
  memAvailableKb: number;
  swapTotalKb: number;
  swapFreeKb: number;
  load1: number;
  load5: number;
  load15: number;
  dockerRootDisk?: DiskUsage;
}

export interface ListeningSocket {
  /** `0.0.0.0`, `::`, `*`, `127.0.0.1`, `::1`, … without brackets or `%interface`. */
  address: string;
  port: number;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

// ---------------------------------------------------------------------------------------------
// Parsers of raw host text

export interface MemInfo {
  memTotalKb: number;
  memAvailableKb: number;
  swapTotalKb: number;
  swapFreeKb: number;
}

/** /proc/meminfo. Kernels before 3.14 lack MemAvailable; it is then estimated as MemFree + Buffers + Cached. */
export function parseMeminfo(text: string): ParseResult<MemInfo> {
  const fields = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line.trim());
    if (match) fields.set(match[1], Number(match[2]));
  }
  const memTotalKb = fields.get('MemTotal');
  if (memTotalKb === undefined) return { ok: false, error: 'The memory report (/proc/meminfo) has no MemTotal line.' };
  const memAvailableKb = fields.get('MemAvailable') ?? (fields.get('MemFree') ?? 0) + (fields.get('Buffers') ?? 0) + (fields.get('Cached') ?? 0);
  return { ok: true, value: { memTotalKb, memAvailableKb, swapTotalKb: fields.get('SwapTotal') ?? 0, swapFreeKb: fields.get('SwapFree') ?? 0 } };
}

/** /proc/loadavg: `0.08 0.03 0.01 1/123 4567`. */
export function parseLoadavg(text: string): ParseResult<{ load1: number; load5: number; load15: number }> {
  const match = /^\s*(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)(?:\s|$)/.exec(text);
  if (!match) return { ok: false, error: `The load report (/proc/loadavg) is not three numbers: "${text.trim().slice(0, 80)}".` };
  return { ok: true, value: { load1: Number(match[1]), load5: Number(match[2]), load15: Number(match[3]) } };
}

/** `df -Pk [path]`: one DiskUsage per filesystem row (POSIX format never wraps a row). */
export function parseDfPk(text: string): ParseResult<DiskUsage[]> {
  const rows: DiskUsage[] = [];
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  for (const line of lines) {
    if (/^Filesystem\s/.test(line)) continue;
    const match = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+%|-)\s+(.+?)\s*$/.exec(line);
    if (!match) return { ok: false, error: `A line of "df -Pk" is not in POSIX format: "${line.trim()}".` };
    rows.push({ path: match[6], sizeKb: Number(match[2]), usedKb: Number(match[3]), availKb: Number(match[4]) });
  }
  if (rows.length === 0) return { ok: false, error: '"df -Pk" printed no filesystem.' };
  return { ok: true, value: rows };
}

/** Splits `0.0.0.0:8080`, `[::]:80`, `*:22`, `127.0.0.53%lo:53`, `[fe80::1%eth0]:546` into address and port. */
function splitSocketAddress(text: string): ListeningSocket | undefined {
  const match = /^(?:\[([^\]]+)\]|(.*)):(\d+|\*)$/.exec(text);
  if (!match || match[3] === '*') return undefined;
  const address = (match[1] ?? match[2]).replace(/%.*$/, '');
  return { address, port: Number(match[3]) };
}

/** `ss -ltnH` (a header line, if present, is skipped): the listening TCP sockets. */
export function parseSsListening(text: string): ParseResult<ListeningSocket[]> {
  const sockets: ListeningSocket[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4 || fields[0] === 'State') continue;
    // `ss -l` prints State Recv-Q Send-Q Local Peer; without -t it adds Netid first.
    const localIndex = /^\d+$/.test(fields[1]) ? 3 : 4;
    const socket = splitSocketAddress(fields[localIndex] ?? '');
    if (!socket) return { ok: false, error: `A line of "ss -ltnH" has no address:port where expected: "${line.trim()}".` };
    sockets.push(socket);
  }
  return { ok: true, value: sockets };
}

// ---------------------------------------------------------------------------------------------
// Views

export interface ColorView {
  color: Color;
  profile: ColorProfile;
  /** Absent when no container of that name exists on the host. */
  container?: ContainerInfo;
  isLive: boolean;
}

export interface BlueGreenView {
  kind: 'blueGreen';
  service: BlueGreenService;
  colors: Record<Color, ColorView>;
  /** The color Nginx sends traffic to; absent when the switch file could not be read or matched. */
  liveColor?: Color;
  idleColor?: Color;
  switchFile?: SwitchFileState;
  /** Why the live color is unknown. */
  liveError?: string;
}

export interface SingleView {
  kind: 'single';
  service: SingleService;
  container?: ContainerInfo;
}

export type ServiceView = BlueGreenView | SingleView;

function otherColor(color: Color): Color {
  return color === 'blue' ? 'green' : 'blue';
}

function liveColorOf(service: BlueGreenService, switchFile: SwitchFileState | undefined): { color?: Color; error?: string } {
  if (!switchFile) return { error: `The switch file of ${service.name} (${service.switchFile}) has not been read.` };
  if (switchFile.activeColor) return { color: switchFile.activeColor };
  if (!switchFile.parsed) return { error: switchFile.error ?? `The switch file of ${service.name} (${switchFile.path}) could not be understood.` };
  const resolved = resolveActiveColor(switchFile.parsed, service);
  return resolved.ok ? { color: resolved.color } : { error: resolved.error };
}

/** For each service of the profile: its containers, and for Blue-Green which color is live (from the switch file). */
export function serviceViews(profile: HostProfile, containers: readonly ContainerInfo[], nginx: NginxState): ServiceView[] {
  const byName = new Map(containers.map((c) => [c.name, c]));
  return profile.services.map((service): ServiceView => {
    if (service.kind === 'single') {
      const container = byName.get(service.container);
      return container ? { kind: 'single', service, container } : { kind: 'single', service };
    }
    const switchFile = nginx.switchFiles.find((file) => file.service === service.name);
    const live = liveColorOf(service, switchFile);
    const colorView = (color: Color): ColorView => {
      const view: ColorView = { color, profile: service.colors[color], isLive: live.color === color };
      const container = byName.get(service.colors[color].container);
      if (container) view.container = container;
      return view;
    };
    const view: BlueGreenView = { kind: 'blueGreen', service, colors: { blue: colorView('blue'), green: colorView('green') } };
    if (switchFile) view.switchFile = switchFile;
    if (live.color) {
      view.liveColor = live.color;
      view.idleColor = otherColor(live.color);
    } else if (live.error) {
      view.liveError = live.error;
    }
    return view;
  });
}

// ---------------------------------------------------------------------------------------------
// Warnings

export type WarningSeverity = 'error' | 'warning' | 'info';

export interface HostWarning {
  severity: WarningSeverity;
  /** What the warning is about: a container, `port 8000`, `nginx`, `memory`. */
  subject: string;
  message: string;
}

export interface WarningOptions {
  /** Memory a second color needs when the live one's use is unknown. */
  secondColorFallbackKb?: number;
}

/** Used when the live color's memory was not measured: a small Spring Boot or FastAPI app needs about this much to start. */
export const defaultSecondColorKb = 300 * 1024;

const wildcardAddresses = new Set(['0.0.0.0', '::', '*']);
const loopbackAddresses = new Set(['127.0.0.1', 'localhost', '::1']);

function mib(kb: number): string {
  return `${Math.round(kb / 1024)} MiB`;
}

function servicePorts(profile: HostProfile): Array<{ port: number; owner: string }> {
  return profile.services.flatMap((service) =>
    service.kind === 'single'
      ? [{ port: service.port, owner: `${service.name} (${service.container})` }]
      : (['blue', 'green'] as const).map((color) => ({ port: service.colors[color].port, owner: `${service.name} ${color} (${service.colors[color].container})` })),
  );
}

function lastHealthOutput(container: ContainerInfo): string | undefined {
  const last = container.healthLog?.[container.healthLog.length - 1];
  if (!last) return undefined;
  const durationMs = Date.parse(last.end) - Date.parse(last.start);
  const took = Number.isFinite(durationMs) && durationMs >= 0 ? ` after ${(durationMs / 1000).toFixed(1)} s` : '';
  const output = last.output.trim().replace(/\s+/g, ' ').slice(0, 200);
  return `the last check ended with exit code ${last.exitCode}${took}${output ? `: "${output}"` : ''}`;
}

/**
 * Everything on the host that needs an admin's attention, most serious first. `metrics` and
 * `listening` may be absent (not measured); their checks are then skipped, never guessed.
 */
export function computeWarnings(
  profile: HostProfile,
  containers: readonly ContainerInfo[],
  nginx: NginxState,
  metrics: HostMetrics | undefined,
  listening: readonly ListeningSocket[] | undefined,
  options: WarningOptions = {},
): HostWarning[] {
  const warnings: HostWarning[] = [];
  const views = serviceViews(profile, containers, nginx);

  // nginx -t: a broken config makes every reload, hence every switch, fail.
  if (!nginx.configTest.ok) {
    const firstError = nginx.configTest.output.split('\n').find((line) => /\[(emerg|alert|crit|error)\]/.test(line)) ?? nginx.configTest.output.trim().split('\n')[0] ?? '';
    warnings.push({
      severity: 'error',
      subject: 'nginx',
      message: `"nginx -t" fails${firstError ? `: ${firstError.trim()}` : ''}. Nginx keeps serving the last good config, but every reload and every switch will be refused until this is fixed.`,
    });
  }

  // Services already reported as down, so the "nothing listens" check does not say it twice.
  const reportedDown = new Set<string>();
  for (const view of views) {
    if (view.kind !== 'blueGreen') continue;
    const { service } = view;
    if (!view.liveColor) {
      warnings.push({ severity: 'error', subject: service.name, message: `Cannot tell which color of ${service.name} is live: ${view.liveError ?? 'unknown reason'}` });
      continue;
    }
    const live = view.colors[view.liveColor];
    if (!live.container || live.container.state !== 'running') {
      const state = live.container ? `is ${live.container.state}` : 'does not exist';
      reportedDown.add(service.name);
      warnings.push({
        severity: 'error',
        subject: live.profile.container,
        message: `Nginx sends ${service.name} traffic to ${view.liveColor} (${live.profile.container}, port ${live.profile.port}), but that container ${state}: requests fail with 502 Bad Gateway. Start it, or switch to ${otherColor(view.liveColor)} if that one is healthy.`,
      });
    }
  }

  // Switch files that point where nothing listens (only checkable for addresses on this host).
  if (listening) {
    const listeningPorts = new Set(listening.filter((s) => wildcardAddresses.has(s.address) || loopbackAddresses.has(s.address)).map((s) => s.port));
    for (const file of nginx.switchFiles) {
      const parsed = file.parsed;
      if (!parsed || reportedDown.has(file.service) || !loopbackAddresses.has(parsed.targetHost) || listeningPorts.has(parsed.targetPort)) continue;
      warnings.push({
        severity: 'error',
        subject: file.path,
        message: `${file.path} sends ${file.service} traffic to ${parsed.targetHost}:${parsed.targetPort}, but nothing listens on port ${parsed.targetPort}: every request there gets 502 Bad Gateway. Start the container for that port, or switch to the color that is running.`,
      });
    }
  }

  for (const container of containers) {
    if (container.health === 'unhealthy') {
      const streak = container.failingStreak ? `${container.failingStreak} health check${container.failingStreak === 1 ? '' : 's'} failed in a row` : 'its health checks fail';
      const last = lastHealthOutput(container);
      warnings.push({
        severity: 'error',
        subject: container.name,
        message: `${container.name} is unhealthy: ${streak}${last ? `; ${last}` : ''}. If the app is only slow to start (e.g. loading models), the healthcheck timeout or start_period is too short; otherwise read its logs.`,
      });
    } else if (container.state === 'restarting') {
      warnings.push({ severity: 'error', subject: container.name, message: `${container.name} keeps restarting: it exits soon after each start. Read its logs for the error.` });
    }
  }

  // Published ports on all interfaces bypass Nginx (and its TLS) and, with Docker, the host firewall too.
  const warnedPorts = new Set<number>();
  for (const container of containers) {
    for (const port of container.ports) {
      if (port.publicPort === undefined || (port.ip !== undefined && !wildcardAddresses.has(port.ip)) || warnedPorts.has(port.publicPort)) continue;
      warnedPorts.add(port.publicPort);
      warnings.push({
        severity: 'warning',
        subject: `port ${port.publicPort}`,
        message: `${container.name} publishes port ${port.publicPort} on all interfaces (${port.ip ?? '0.0.0.0'}), so it can be reached directly from outside, bypassing Nginx and TLS (Docker's rules also bypass the host firewall). Publish it on 127.0.0.1 only, e.g. ports: "127.0.0.1:${port.publicPort}:${port.privatePort}", and close ${port.publicPort} in the security group.`,
      });
    }
  }
  if (listening) {
    for (const { port, owner } of servicePorts(profile)) {
      if (warnedPorts.has(port)) continue;
      const open = listening.find((s) => s.port === port && wildcardAddresses.has(s.address));
      if (!open) continue;
      warnedPorts.add(port);
      warnings.push({
        severity: 'warning',
        subject: `port ${port}`,
        message: `Port ${port} of ${owner} listens on all interfaces (${open.address === '*' ? '*' : open.address.includes(':') ? `[${open.address}]` : open.address}), so it can be reached directly from outside, bypassing Nginx and TLS. Bind it to 127.0.0.1, and close ${port} in the firewall / security group.`,
      });
    }
  }

  // Memory for a deploy: the idle color starts next to the live one.
  if (metrics) {
    for (const view of views) {
      if (view.kind !== 'blueGreen' || !view.liveColor || !view.idleColor) continue;
      const live = view.colors[view.liveColor].container;
      const idle = view.colors[view.idleColor].container;
      if (!live || live.state !== 'running' || idle?.state === 'running') continue;
      const measured = live.memoryKb;
      const neededKb = measured ?? options.secondColorFallbackKb ?? defaultSecondColorKb;
      if (metrics.memAvailableKb >= neededKb) continue;
      const basis = measured !== undefined ? `the live ${view.liveColor} uses ${mib(measured)}` : `a stated minimum of ${mib(neededKb)}, as the live color's use was not measured`;
      const swap = metrics.swapTotalKb === 0 ? ' and there is no swap' : `; swap has ${mib(metrics.swapFreeKb)} free`;
      warnings.push({
        severity: 'warning',
        subject: 'memory',
        message: `Only ${mib(metrics.memAvailableKb)} of ${mib(metrics.memTotalKb)} memory is available${swap}. Deploying ${view.service.name} starts ${view.idleColor} next to ${view.liveColor}, which needs about ${mib(neededKb)} (${basis}); the kernel may kill a container. Free memory or add swap before deploying.`,
      });
    }
  }

  const rank: Record<WarningSeverity, number> = { error: 0, warning: 1, info: 2 };
  return warnings.map((warning, index) => ({ warning, index })).sort((a, b) => rank[a.warning.severity] - rank[b.warning.severity] || a.index - b.index).map(({ warning }) => warning);
}

/** How long a container has been up, in its two largest units: `45s`, `12m 5s`, `3h 12m`, `2d 4h`. Undefined for a time that is not a real start. */
export function formatUptime(startedAt: string, now: Date): string | undefined {
  const started = Date.parse(startedAt);
  // Docker reports 0001-01-01T00:00:00Z for a container that never started.
  if (!Number.isFinite(started) || started <= 0) return undefined;
  const totalSeconds = Math.max(0, Math.floor((now.getTime() - started) / 1000));
  const days = Math.floor(totalSeconds / 86_400);
  const hours = Math.floor((totalSeconds % 86_400) / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  if (minutes > 0) return `${minutes}m ${seconds}s`;
  return `${seconds}s`;
}
