/**
 * What can be tailed on a host, as plain data: a container, the live color of a Blue-Green
 * service, or one of Nginx's log files. Also how a source's channel is named, how its lines read,
 * and which sources a tree node stands for.
 */
import type { LogLine } from './dockerLogParser';
import type { BufferedLine, LogLevel } from './logBuffer';
import type { Color, HostProfile } from './hostProfile';
import type { ContainerInfo } from './hostState';
import type { NodeRef } from './hostTree';

export type NginxLogFile = 'access' | 'error';

export type LogSource =
  | { kind: 'container'; host: string; container: string }
  | { kind: 'liveColor'; host: string; service: string }
  | { kind: 'nginx'; host: string; file: NginxLogFile };

export function logSourceKey(source: LogSource): string {
  switch (source.kind) {
    case 'container':
      return `${source.host}/container/${source.container}`;
    case 'liveColor':
      return `${source.host}/live/${source.service}`;
    case 'nginx':
      return `${source.host}/nginx/${source.file}`;
  }
}

/** What the source is, without the host: `handdoc-fastapi`, `spring (live color)`, `nginx error`. */
export function logSourceLabel(source: LogSource): string {
  switch (source.kind) {
    case 'container':
      return source.container;
    case 'liveColor':
      return `${source.service} (live color)`;
    case 'nginx':
      return `nginx ${source.file}`;
  }
}

/** "Switchyard: handdoc-fastapi"; with several hosts configured, the host is named too. */
export function logChannelName(source: LogSource, isMultiHost: boolean): string {
  return `Switchyard: ${logSourceLabel(source)}${isMultiHost ? ` @ ${source.host}` : ''}`;
}

/** Every source of a host: its Blue-Green services' live colors, its containers, Nginx's two logs. */
export function logSourcesOf(profile: HostProfile, containers: readonly ContainerInfo[] | undefined): LogSource[] {
  const host = profile.name;
  const names = new Set<string>(containers?.map((c) => c.name) ?? []);
  for (const service of profile.services) {
    if (service.kind === 'single') names.add(service.container);
    else for (const color of ['blue', 'green'] as const) names.add(service.colors[color].container);
  }
  return [
    ...profile.services.filter((s) => s.kind === 'blueGreen').map((s): LogSource => ({ kind: 'liveColor', host, service: s.name })),
    ...[...names].sort().map((container): LogSource => ({ kind: 'container', host, container })),
    { kind: 'nginx', host, file: 'access' },
    { kind: 'nginx', host, file: 'error' },
  ];
}

/**
 * The sources a tree node stands for (its `contextValue` and `ref`): a container or a color → that
 * container; a Blue-Green service → its live color; a single service → its container; the Nginx group
 * → both Nginx logs; a host → everything (the caller asks which).
 */
export function logSourcesForNode(ref: NodeRef, contextValue: string, profile: HostProfile | undefined, containers?: readonly ContainerInfo[]): LogSource[] {
  const host = ref.host;
  if (/^(container|color)\b/.test(contextValue) && ref.container) return [{ kind: 'container', host, container: ref.container }];
  if (contextValue.startsWith('service.blueGreen') && ref.service) return [{ kind: 'liveColor', host, service: ref.service }];
  if (contextValue.startsWith('service.single') && ref.container) return [{ kind: 'container', host, container: ref.container }];
  if (contextValue === 'group.nginx' || contextValue === 'nginxTest') {
    return [
      { kind: 'nginx', host, file: 'access' },
      { kind: 'nginx', host, file: 'error' },
    ];
  }
  if (contextValue.startsWith('host') && profile) return logSourcesOf(profile, containers);
  return [];
}

/** How a container's version reads: its tag, or the image's OCI version label when the tag says nothing (`latest`). */
export function containerVersion(container: Pick<ContainerInfo, 'tag' | 'labels'> | undefined): string | undefined {
  if (!container) return undefined;
  const label = container.labels['org.opencontainers.image.version'];
  return container.tag === 'latest' && label ? label : container.tag;
}

export function noticeLine(text: string): string {
  return `── ${text} ──`;
}

/** What a live-color stream says at a switch (framed by `noticeLine`): `switched to green (v2)`. */
export function switchedText(color: Color, version: string | undefined): string {
  return `switched to ${color}${version ? ` (${version})` : ''}`;
}

export interface LineFormat {
  /** Show Docker's timestamp (millisecond precision) in front of each container line. */
  timestamps: boolean;
}

/** A container line as the channel shows it; stderr lines are marked. */
export function formatContainerLine(line: LogLine, format: LineFormat): string {
  const time = format.timestamps && line.timestamp ? `${line.timestamp.slice(0, 23)}Z ` : '';
  return `${time}${line.stream === 'stderr' ? '[stderr] ' : ''}${line.text}`;
}

/** Nginx error log levels (`2024/05/01 10:00:00 [error] 12#12: …`) as channel levels. */
export function nginxErrorLevel(text: string): LogLevel {
  const match = /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} \[(\w+)\]/.exec(text);
  switch (match?.[1]) {
    case 'debug':
      return 'debug';
    case 'warn':
      return 'warn';
    case 'error':
    case 'crit':
    case 'alert':
    case 'emerg':
      return 'error';
    default:
      return 'info';
  }
}

/** A stream's lines as its channel shows them: container lines formatted, Nginx error lines with their level. */
export function channelLines(source: LogSource, lines: readonly LogLine[], format: LineFormat): BufferedLine[] {
  if (source.kind !== 'nginx') return lines.map((line) => ({ text: formatContainerLine(line, format) }));
  if (source.file === 'error') return lines.map((line) => ({ text: line.text, level: nginxErrorLevel(line.text) }));
  return lines.map((line) => ({ text: line.text }));
}
