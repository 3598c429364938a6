/**
 * What the Hosts tree shows, as plain data: the ui layer turns each node into a TreeItem 1:1.
 * Kept here (pure) so the wording, icons and states can be unit-tested without VS Code.
 */
import type { Color, HostProfile } from './hostProfile';
import {
  formatUptime,
  serviceViews,
  type ContainerInfo,
  type HostMetrics,
  type HostWarning,
  type ListeningSocket,
  type NginxState,
  type ServiceView,
} from './hostState';

/** The parts of a host error the tree shows (HostError has them). */
export interface ProblemSummary {
  code: string;
  message: string;
  hint?: string;
}

export type ConnectionSummary =
  | { kind: 'idle' | 'connecting' | 'connected' | 'closed' }
  | { kind: 'reconnecting'; attempt: number; nextRetryMs: number; lastError: ProblemSummary }
  | { kind: 'failed'; error: ProblemSummary };

export type PicturePart = 'docker' | 'nginx' | 'metrics' | 'listening';

/** Who holds the host's deploy lock (`~/.switchyard/lock`), as the tree shows it. */
export interface DeployLockSummary {
  holder: string;
  operation: string;
  service: string;
  /** ISO time; empty when unknown. */
  startedAt: string;
  step?: string;
}

/** A snapshot of the host, as the host layer reads it. */
export interface HostPicture {
  deployLock?: DeployLockSummary;
  takenAtMs: number;
  containers: ContainerInfo[];
  nginx: NginxState;
  metrics?: HostMetrics;
  listening?: ListeningSocket[];
  warnings: HostWarning[];
  problems: Partial<Record<PicturePart, ProblemSummary>>;
}

export interface NodeIcon {
  /** A codicon id, e.g. `pass-filled`, `loading~spin`. */
  id: string;
  /** A theme color id, e.g. `testing.iconPassed`. */
  color?: string;
}

/** What a node is about; commands get it through the node. */
export interface NodeRef {
  host: string;
  container?: string;
  service?: string;
  color?: Color;
  /** A remote file (compose file, nginx file). */
  path?: string;
  /** Text for "Copy". */
  value?: string;
}

export interface TreeNodeModel {
  id: string;
  label: string;
  description?: string;
  /** Markdown. */
  tooltip?: string;
  icon?: NodeIcon;
  /** Dot-separated facts for `when` clauses, e.g. `container.running.live`. */
  contextValue: string;
  collapsible: 'none' | 'collapsed' | 'expanded';
  /** Command run on click (a Switchyard command id); it receives the node. */
  command?: string;
  ref: NodeRef;
  children: TreeNodeModel[];
}

export const icons = {
  healthy: { id: 'pass-filled', color: 'testing.iconPassed' },
  unhealthy: { id: 'error', color: 'testing.iconFailed' },
  starting: { id: 'loading~spin', color: 'charts.yellow' },
  running: { id: 'circle-filled', color: 'testing.iconPassed' },
  stopped: { id: 'circle-slash', color: 'disabledForeground' },
  restarting: { id: 'sync~spin', color: 'charts.yellow' },
  warning: { id: 'warning', color: 'list.warningForeground' },
  error: { id: 'error', color: 'list.errorForeground' },
  info: { id: 'info' },
  blueLive: { id: 'circle-large-filled', color: 'charts.blue' },
  greenLive: { id: 'circle-large-filled', color: 'charts.green' },
  idle: { id: 'circle-large-outline', color: 'disabledForeground' },
} satisfies Record<string, NodeIcon>;

function node(partial: Omit<TreeNodeModel, 'children' | 'collapsible'> & Partial<Pick<TreeNodeModel, 'children' | 'collapsible'>>): TreeNodeModel {
  const children = partial.children ?? [];
  return { collapsible: children.length > 0 ? 'collapsed' : 'none', ...partial, children };
}

function messageNode(host: string, key: string, label: string, icon: NodeIcon, extra: Partial<TreeNodeModel> = {}): TreeNodeModel {
  return node({ id: `${host}/message/${key}`, label, icon, contextValue: 'message', ref: { host }, ...extra });
}

function mib(kb: number): string {
  return kb >= 1024 * 1024 ? `${(kb / 1024 / 1024).toFixed(1)} GiB` : `${Math.round(kb / 1024)} MiB`;
}

export function containerIcon(container: ContainerInfo | undefined): NodeIcon {
  if (!container) return icons.stopped;
  if (container.state === 'restarting') return icons.restarting;
  if (container.state !== 'running') return icons.stopped;
  if (container.health === 'healthy') return icons.healthy;
  if (container.health === 'unhealthy') return icons.unhealthy;
  if (container.health === 'starting') return icons.starting;
  return icons.running;
}

export function containerStatus(container: ContainerInfo): string {
  if (container.state !== 'running') return container.state;
  return container.health === 'none' ? 'running' : container.health;
}

function portsText(container: ContainerInfo, profilePort: number | undefined): string | undefined {
  const published = container.ports.filter((p) => p.publicPort !== undefined).map((p) => `${p.ip && p.ip !== '0.0.0.0' ? `${p.ip}:` : ''}${p.publicPort}→${p.privatePort}`);
  if (published.length > 0) return published.join(', ');
  return profilePort !== undefined ? `:${profilePort}` : undefined;
}

function healthTooltip(container: ContainerInfo): string[] {
  const lines: string[] = [];
  if (container.health === 'none') return lines;
  lines.push(`**Health:** ${container.health}${container.failingStreak ? ` (FailingStreak ${container.failingStreak})` : ''}`);
  const last = container.healthLog?.[container.healthLog.length - 1];
  if (last && (container.health !== 'healthy' || last.exitCode !== 0)) {
    const durationMs = Date.parse(last.end) - Date.parse(last.start);
    const took = Number.isFinite(durationMs) ? ` after ${(durationMs / 1000).toFixed(1)} s` : '';
    lines.push(`**Last check:** exit ${last.exitCode}${took}`, '```', last.output.trim().slice(0, 400) || '(no output)', '```');
  }
  return lines;
}

function containerTooltip(container: ContainerInfo, now: Date, extra: string[] = []): string {
  const uptime = container.state === 'running' ? formatUptime(container.startedAt, now) : undefined;
  return [
    `**${container.name}**`,
    '',
    `**Image:** \`${container.image}:${container.tag}\``,
    `**State:** ${container.state}${uptime ? ` · up ${uptime}` : ''}`,
    `**Network:** ${container.networkMode}`,
    ...extra,
    ...healthTooltip(container),
  ].join('\n\n');
}

function containerNode(host: string, container: ContainerInfo, now: Date, context: { live?: boolean; port?: number; composeFile?: string }): TreeNodeModel {
  const uptime = container.state === 'running' ? formatUptime(container.startedAt, now) : undefined;
  const description = [`${container.image.split('/').pop()}:${container.tag}`, containerStatus(container), portsText(container, context.port), uptime ? `up ${uptime}` : undefined]
    .filter(Boolean)
    .join(' · ');
  const facts = ['container', container.state === 'running' ? 'running' : 'stopped', context.live ? 'live' : 'notLive', context.composeFile ? 'hasCompose' : 'noCompose'];
  return node({
    id: `${host}/containers/${container.name}`,
    label: container.name,
    description,
    tooltip: containerTooltip(container, now),
    icon: containerIcon(container),
    contextValue: facts.join('.'),
    ref: { host, container: container.name, value: container.name, ...(context.composeFile ? { path: context.composeFile } : {}) },
  });
}

function serviceNodes(host: string, views: ServiceView[], now: Date): TreeNodeModel[] {
  return views.map((view) => {
    if (view.kind === 'single') {
      const { service, container } = view;
      return node({
        id: `${host}/services/${service.name}`,
        label: service.name,
        description: container ? `single · ${containerStatus(container)} · :${service.port}` : `single · ${service.container} not found`,
        tooltip: container ? containerTooltip(container, now, [`**Compose file:** \`${service.composeFile}\``]) : `No container named \`${service.container}\` on the host.`,
        icon: containerIcon(container),
        contextValue: `service.single${container ? '' : '.missing'}`,
        ref: { host, service: service.name, container: service.container, path: service.composeFile },
      });
    }
    const colorNodes = (['blue', 'green'] as const).map((color) => {
      const colorView = view.colors[color];
      const { container } = colorView;
      const status = container ? containerStatus(container) : 'not created';
      const live = colorView.isLive;
      return node({
        id: `${host}/services/${view.service.name}/${color}`,
        label: color,
        description: [live ? 'LIVE' : 'idle', status, container ? container.tag : undefined, `:${colorView.profile.port}`].filter(Boolean).join(' · '),
        tooltip: container
          ? containerTooltip(container, now, [`**Color:** ${color} ${live ? '(Nginx sends traffic here)' : '(idle)'}`, `**Compose file:** \`${colorView.profile.composeFile}\``])
          : `No container \`${colorView.profile.container}\` on the host (compose file \`${colorView.profile.composeFile}\`).`,
        icon: live ? (color === 'blue' ? icons.blueLive : icons.greenLive) : icons.idle,
        contextValue: `color.${live ? 'live' : 'idle'}${container ? `.${container.state === 'running' ? 'running' : 'stopped'}` : '.missing'}`,
        ref: { host, service: view.service.name, color, container: colorView.profile.container, path: colorView.profile.composeFile },
      });
    });
    const live = view.liveColor;
    const liveTag = live ? view.colors[live].container?.tag : undefined;
    return node({
      id: `${host}/services/${view.service.name}`,
      label: view.service.name,
      description: live ? `live: ${live}${liveTag ? ` (${liveTag})` : ''}` : 'live color unknown',
      tooltip: live
        ? `Nginx sends **${view.service.name}** traffic to **${live}** (\`${view.switchFile?.path ?? view.service.switchFile}\`).`
        : `Cannot tell the live color: ${view.liveError ?? 'unknown'}`,
      icon: live ? (live === 'blue' ? icons.blueLive : icons.greenLive) : icons.warning,
      contextValue: `service.blueGreen${live ? '' : '.unknown'}`,
      collapsible: 'expanded',
      ref: { host, service: view.service.name, path: view.service.switchFile },
      children: colorNodes,
    });
  });
}

function problemNode(host: string, key: string, problem: ProblemSummary): TreeNodeModel {
  return messageNode(host, key, problem.message, icons.error, {
    description: problem.hint,
    tooltip: [problem.message, problem.hint].filter(Boolean).join('\n\n'),
    contextValue: 'problem',
    command: 'switchyard.showLog',
  });
}

function nginxNodes(host: string, profile: HostProfile, picture: HostPicture): TreeNodeModel[] {
  if (picture.problems.nginx) return [problemNode(host, 'nginx', picture.problems.nginx)];
  const { nginx } = picture;
  const files = nginx.switchFiles.map((file) => {
    const name = file.path.split('/').pop() ?? file.path;
    const target = file.parsed ? `${file.parsed.targetHost}:${file.parsed.targetPort}` : undefined;
    return node({
      id: `${host}/nginx/${file.path}`,
      label: name,
      description: file.error ? `cannot understand: ${file.error}` : `→ ${target}${file.activeColor ? ` (${file.activeColor})` : ''} · ${file.service}`,
      tooltip: file.error ? `\`${file.path}\`\n\n${file.error}` : `\`${file.path}\` sends **${file.service}** to \`${target}\` (line ${file.parsed?.line}).`,
      icon: file.error ? icons.warning : { id: 'file-code' },
      contextValue: 'nginxFile',
      command: 'switchyard.openRemoteFile',
      ref: { host, service: file.service, path: file.path },
    });
  });
  const test = node({
    id: `${host}/nginx/test`,
    label: 'nginx -t',
    description: nginx.configTest.ok ? 'configuration OK' : 'configuration FAILS',
    tooltip: ['```', nginx.configTest.output || '(no output)', '```'].join('\n'),
    icon: nginx.configTest.ok ? icons.healthy : icons.unhealthy,
    contextValue: 'nginxTest',
    ref: { host, value: nginx.configTest.output },
  });
  const confDir = node({
    id: `${host}/nginx/confDir`,
    label: 'conf.d',
    description: profile.nginx.confDir,
    icon: { id: 'folder' },
    contextValue: 'copyable',
    ref: { host, value: profile.nginx.confDir },
  });
  return [...files, test, confDir];
}

function metricNodes(host: string, picture: HostPicture): TreeNodeModel[] {
  if (picture.problems.metrics) return [problemNode(host, 'metrics', picture.problems.metrics)];
  const m = picture.metrics;
  if (!m) return [];
  const used = m.memTotalKb - m.memAvailableKb;
  const nodes = [
    node({
      id: `${host}/host/memory`,
      label: 'Memory',
      description: `${mib(used)} used of ${mib(m.memTotalKb)} · ${mib(m.memAvailableKb)} available`,
      icon: { id: 'dashboard', ...(m.memAvailableKb < 200 * 1024 ? { color: 'list.warningForeground' } : {}) },
      contextValue: 'metric',
      ref: { host, value: `${mib(m.memAvailableKb)} available of ${mib(m.memTotalKb)}` },
    }),
    node({
      id: `${host}/host/swap`,
      label: 'Swap',
      description: m.swapTotalKb === 0 ? 'none' : `${mib(m.swapTotalKb - m.swapFreeKb)} used of ${mib(m.swapTotalKb)}`,
      icon: { id: 'arrow-swap' },
      contextValue: 'metric',
      ref: { host },
    }),
    node({
      id: `${host}/host/load`,
      label: 'Load',
      description: `${m.load1.toFixed(2)} · ${m.load5.toFixed(2)} · ${m.load15.toFixed(2)}`,
      tooltip: 'Load average over 1, 5 and 15 minutes.',
      icon: { id: 'pulse' },
      contextValue: 'metric',
      ref: { host },
    }),
  ];
  if (m.dockerRootDisk) {
    const d = m.dockerRootDisk;
    const percent = d.sizeKb > 0 ? Math.round((d.usedKb / d.sizeKb) * 100) : 0;
    nodes.push(
      node({
        id: `${host}/host/disk`,
        label: 'Disk (Docker root)',
        description: `${mib(d.usedKb)} used of ${mib(d.sizeKb)} (${percent}%) · ${mib(d.availKb)} free`,
        tooltip: `Docker data root \`${d.path}\``,
        icon: { id: 'database', ...(percent >= 90 ? { color: 'list.warningForeground' } : {}) },
        contextValue: 'metric',
        ref: { host, value: d.path },
      }),
    );
  }
  return nodes;
}

function deployNodes(host: string, lock: DeployLockSummary | undefined): TreeNodeModel[] {
  const lockNode = lock
    ? node({
        id: `${host}/deploys/lock`,
        label: 'Deploy lock',
        description: `held by ${lock.holder}: ${lock.operation} of ${lock.service}${lock.step ? ` (${lock.step})` : ''}`,
        tooltip: `**${lock.holder}** holds the deploy lock: ${lock.operation} of ${lock.service}${lock.startedAt ? `, started ${lock.startedAt}` : ''}${lock.step ? `, at step ${lock.step}` : ''}.\n\nA second deploy waits for it; "Break Deploy Lock…" if its holder is gone.`,
        icon: { id: 'lock', color: 'list.warningForeground' },
        contextValue: 'lock.held',
        ref: { host, service: lock.service, value: lock.holder },
      })
    : node({ id: `${host}/deploys/lock`, label: 'Deploy lock', description: 'free', icon: { id: 'unlock' }, contextValue: 'lock.free', ref: { host } });
  const history = node({
    id: `${host}/deploys/history`,
    label: 'History…',
    description: 'deploys, switches and rollbacks on this host',
    icon: { id: 'history' },
    contextValue: 'history',
    command: 'switchyard.showHistory',
    ref: { host },
  });
  return [lockNode, history];
}

function warningNodes(host: string, warnings: HostWarning[]): TreeNodeModel[] {
  return warnings.map((warning, i) =>
    node({
      id: `${host}/warnings/${i}`,
      label: warning.subject,
      description: warning.message,
      tooltip: warning.message,
      icon: warning.severity === 'error' ? icons.error : warning.severity === 'warning' ? icons.warning : icons.info,
      contextValue: 'warning',
      ref: { host, value: warning.message },
    }),
  );
}

function group(host: string, key: string, label: string, icon: string, children: TreeNodeModel[], extra: Partial<TreeNodeModel> = {}): TreeNodeModel {
  return node({ id: `${host}/${key}`, label, icon: { id: icon }, contextValue: `group.${key}`, collapsible: 'expanded', ref: { host }, children, ...extra });
}

function connectionNodes(host: string, connection: ConnectionSummary, hasPicture: boolean): TreeNodeModel[] {
  switch (connection.kind) {
    case 'idle':
    case 'closed':
      return [messageNode(host, 'idle', 'Not connected', { id: 'debug-disconnect' }, { description: 'click to connect', command: 'switchyard.connectHost', contextValue: 'message.connect' })];
    case 'connecting':
      return hasPicture ? [] : [messageNode(host, 'connecting', 'Connecting…', { id: 'loading~spin' })];
    case 'reconnecting':
      return [
        messageNode(host, 'reconnecting', `Connection lost: reconnecting (attempt ${connection.attempt})…`, { id: 'sync~spin', color: 'list.warningForeground' }, {
          description: hasPicture ? 'what follows is stale' : undefined,
          tooltip: `${connection.lastError.message}\n\nNext try in ${Math.ceil(connection.nextRetryMs / 1000)} s.`,
        }),
      ];
    case 'failed':
      return [
        messageNode(host, 'failed', connection.error.message, icons.error, {
          description: connection.error.hint,
          tooltip: [connection.error.message, connection.error.hint].filter(Boolean).join('\n\n'),
          contextValue: 'message.failed',
          command: 'switchyard.connectHost',
        }),
        messageNode(host, 'retry', 'Retry', { id: 'refresh' }, { command: 'switchyard.connectHost', contextValue: 'message.connect' }),
        messageNode(host, 'showLog', 'Show Log', { id: 'output' }, { command: 'switchyard.showLog' }),
      ];
    case 'connected':
      return hasPicture ? [] : [messageNode(host, 'loading', 'Reading the host…', { id: 'loading~spin' })];
  }
}

export function hostDescription(profile: HostProfile, connection: ConnectionSummary, picture: HostPicture | undefined): string {
  const destination = `${profile.ssh.user ? `${profile.ssh.user}@` : ''}${profile.ssh.host}${profile.ssh.port ? `:${profile.ssh.port}` : ''}`;
  if (connection.kind !== 'connected') return `${connection.kind === 'idle' ? 'not connected' : connection.kind} · ${destination}`;
  if (!picture) return destination;
  const unhealthy = picture.containers.filter((c) => c.health === 'unhealthy').length;
  return `${picture.containers.length} containers${unhealthy ? ` · ${unhealthy} unhealthy` : ''} · ${destination}`;
}

/** The node with this id in the subtree, if any. */
export function findNode(root: TreeNodeModel, id: string): TreeNodeModel | undefined {
  if (root.id === id) return root;
  for (const child of root.children) {
    const found = findNode(child, id);
    if (found) return found;
  }
  return undefined;
}

/** The host's node and everything under it. */
export function buildHostNode(profile: HostProfile, connection: ConnectionSummary, picture: HostPicture | undefined, now: Date): TreeNodeModel {
  const host = profile.name;
  const isStale = connection.kind !== 'connected';
  const children = connectionNodes(host, connection, picture !== undefined);
  // A picture is shown only while connected, or (marked stale) while reconnecting: never as if live.
  if (picture && (connection.kind === 'connected' || connection.kind === 'reconnecting')) {
    const stale = isStale ? ' (stale)' : '';
    const views = serviceViews(profile, picture.containers, picture.nginx);
    if (picture.warnings.length > 0) {
      const worst = picture.warnings.some((w) => w.severity === 'error') ? icons.error : icons.warning;
      children.push(group(host, 'warnings', `Warnings${stale}`, worst.id, warningNodes(host, picture.warnings), { icon: worst, description: `${picture.warnings.length}` }));
    }
    children.push(
      group(host, 'services', `Services${stale}`, 'layers', views.length ? serviceNodes(host, views, now) : [messageNode(host, 'noServices', 'No services configured', icons.info, { description: 'add them in switchyard.hosts', command: 'switchyard.openSettings' })]),
    );
    const byName = new Map<string, { live?: boolean; port?: number; composeFile?: string }>();
    for (const view of views) {
      if (view.kind === 'single') byName.set(view.service.container, { port: view.service.port, composeFile: view.service.composeFile });
      else for (const color of ['blue', 'green'] as const) byName.set(view.colors[color].profile.container, { live: view.colors[color].isLive, port: view.colors[color].profile.port, composeFile: view.colors[color].profile.composeFile });
    }
    const containerChildren = picture.problems.docker
      ? [problemNode(host, 'docker', picture.problems.docker)]
      : picture.containers.length
        ? picture.containers.map((c) => containerNode(host, c, now, byName.get(c.name) ?? {}))
        : [messageNode(host, 'noContainers', 'No containers on this host', icons.info)];
    children.push(group(host, 'containers', `Containers${stale}`, 'package', containerChildren, { description: picture.problems.docker ? undefined : `${picture.containers.length}` }));
    children.push(group(host, 'nginx', `Nginx${stale}`, 'globe', nginxNodes(host, profile, picture)));
    children.push(group(host, 'deploys', `Deploys${stale}`, 'rocket', deployNodes(host, picture.deployLock), { collapsible: 'collapsed', description: picture.deployLock ? 'locked' : undefined }));
    children.push(group(host, 'host', `Host${stale}`, 'server-environment', metricNodes(host, picture), { collapsible: 'collapsed' }));
  }
  const icon: NodeIcon =
    connection.kind === 'connected'
      ? picture?.warnings.some((w) => w.severity === 'error')
        ? { id: 'server', color: 'list.errorForeground' }
        : { id: 'server', color: 'testing.iconPassed' }
      : connection.kind === 'failed'
        ? { id: 'server', color: 'list.errorForeground' }
        : connection.kind === 'reconnecting'
          ? { id: 'server', color: 'list.warningForeground' }
          : { id: 'server', color: 'disabledForeground' };
  return node({
    id: host,
    label: host,
    description: hostDescription(profile, connection, picture),
    tooltip: `**${host}**\n\nSSH: \`${profile.ssh.user ?? ''}${profile.ssh.user ? '@' : ''}${profile.ssh.host}${profile.ssh.port ? `:${profile.ssh.port}` : ''}\`\n\nApps: \`${profile.appsDir}\``,
    icon,
    contextValue: `host.${connection.kind}`,
    collapsible: 'expanded',
    ref: { host, value: host },
    children,
  });
}
