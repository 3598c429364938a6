/**
 * "Add Host" proposal: from the compose and Nginx files someone else read off the host, propose
 * the host's profile (Blue-Green pairs, single services, the switch file) and say, in notes, what
 * was found, what was ambiguous and what is missing. Nothing here guesses silently: every choice
 * that is not certain is written down in `notes`.
 */
import { readCompose, healthcheckUrl } from './composeFile';
import type { ComposeService } from './composeFile';
import { defaultNginx, parseSshDestination } from './hostProfile';
import type { BlueGreenService, Color, SingleService } from './hostProfile';
import { findSwitchCandidates, parseSwitchFile } from './nginxSwitchFile';
import type { SwitchCandidates } from './nginxSwitchFile';

export interface HostFile {
  /** Absolute path on the host. */
  path: string;
  text: string;
}

export interface LayoutInput {
  appsDir: string;
  composeFiles: HostFile[];
  nginxFiles: HostFile[];
  /** The SSH user, used when the destination does not name one. */
  user: string;
  /** What the user typed: an `~/.ssh/config` alias or `user@host[:port]`. */
  sshDestination: string;
}

/** `warning`: found and usable, but risky (e.g. an app port published to the world). */
export type LayoutNoteKind = 'found' | 'ambiguous' | 'missing' | 'warning';

export interface LayoutNote {
  kind: LayoutNoteKind;
  message: string;
}

/** A profile in the JSON shape of the `switchyard.hosts` setting (what `parseHostProfiles` reads). */
export interface ProposedHostProfile {
  name: string;
  ssh: string;
  appsDir: string;
  nginx?: { confDir: string };
  services: Array<BlueGreenService | SingleService>;
}

export interface IncompleteService {
  name: string;
  kind: 'blueGreen' | 'single';
  /** What is missing, e.g. "port of green", "switch file". */
  missing: string[];
}

export interface LayoutProposal {
  profile: ProposedHostProfile;
  /** Services seen but left out of `profile` because something needed is missing. */
  incomplete: IncompleteService[];
  notes: LayoutNote[];
}

interface ReadComposeFile {
  file: HostFile;
  baseName: string;
  services: ComposeService[];
}

interface ColorDraft {
  container: string;
  composeFile: string;
  port?: number;
  healthPath?: string;
}

interface PortFinding {
  port?: number;
  /** Where the port came from, for notes ("the healthcheck URL", "ports 8080:8080"). */
  source?: string;
  problem?: string;
}

const colorFilePattern = /^(.*?)[-_.]?(blue|green)\.ya?ml$/i;
const composeFilePattern = /\.ya?ml$/i;
const loopbackHosts = new Set(['127.0.0.1', 'localhost', '0.0.0.0', '::1']);

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function dirName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

/** `docker-compose.spring` → `spring`; `compose` or `docker-compose` → empty. */
function serviceNameFromStem(stem: string): string {
  return stem.replace(/^(docker-)?compose(\.override)?/i, '').replace(/^[-_.]+|[-_.]+$/g, '');
}

function sanitizeName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/^[-_.]+|[-_.]+$/g, '');
}

/** Compose's default container name when `container_name` is not set: `<project>-<service>-1`. */
function defaultContainerName(projectName: string, serviceName: string): string {
  return `${sanitizeName(projectName)}-${serviceName}-1`;
}

function internalPortEvidence(service: ComposeService): PortFinding[] {
  const evidence: PortFinding[] = [];
  const url = healthcheckUrl(service.healthcheck?.test);
  if (url?.port !== undefined && loopbackHosts.has(url.host)) evidence.push({ port: url.port, source: `the healthcheck URL ${url.url}` });
  for (const key of ['PORT', 'SERVER_PORT']) {
    const value = service.environment[key];
    if (value !== undefined && /^\d{1,5}$/.test(value)) evidence.push({ port: Number(value), source: `${key}=${value}` });
  }
  return evidence;
}

/**
 * The host port Nginx reaches the service on. With `network_mode: host` that is the port the app
 * listens on; otherwise it is the published side of the `ports:` mapping to that app port.
 */
function findHostPort(service: ComposeService): PortFinding {
  const evidence = internalPortEvidence(service);
  const internal = evidence[0];
  const disagreeing = evidence.find((e) => e.port !== internal?.port);
  if (internal && disagreeing) {
    return { problem: `${internal.source} and ${disagreeing.source} name different ports` };
  }
  if (service.networkMode === 'host') {
    if (internal) return { port: internal.port, source: `${internal.source} (network_mode: host)` };
    return { problem: 'it uses network_mode: host but neither its healthcheck URL nor a PORT / SERVER_PORT variable names its port' };
  }
  const published = service.ports.filter((p) => p.publishedPort !== undefined && p.protocol === 'tcp' && p.publishedPortEnd === undefined);
  if (internal) {
    const mapping = published.find((p) => p.targetPort === internal.port);
    if (mapping) return { port: mapping.publishedPort, source: `${internal.source} and ports "${mapping.raw}"` };
    if (published.length === 0 && service.ports.length === 0) {
      return { problem: `it listens on ${internal.port} (${internal.source}) but publishes no port, so Nginx on the host cannot reach it at 127.0.0.1` };
    }
    return { problem: `it listens on ${internal.port} (${internal.source}) but no "ports:" entry publishes that port` };
  }
  if (published.length === 1) return { port: published[0].publishedPort, source: `ports "${published[0].raw}"` };
  if (published.length > 1) return { problem: `it publishes ${published.length} ports (${published.map((p) => p.raw).join(', ')}) and nothing says which one serves HTTP` };
  return { problem: 'it has no healthcheck URL, PORT / SERVER_PORT variable or published port' };
}

function healthPathOf(service: ComposeService): string | undefined {
  return healthcheckUrl(service.healthcheck?.test)?.path;
}

function portNote(container: string, finding: PortFinding): string {
  return `${container} serves on port ${finding.port} (from ${finding.source}).`;
}

/** Published on every interface, the app is reachable without Nginx and its TLS. */
function exposureNotes(container: string, service: ComposeService): LayoutNote[] {
  if (service.networkMode === 'host') return [];
  return service.ports
    .filter((p) => p.publishedPort !== undefined && (p.hostIp === undefined || p.hostIp === '0.0.0.0' || p.hostIp === '::'))
    .map((p) => ({
      kind: 'warning' as const,
      message: `${container} publishes port ${p.publishedPort} on all interfaces (ports "${p.raw}"), so it can be reached without Nginx; "127.0.0.1:${p.publishedPort}:${p.targetPort}" would keep it behind Nginx.`,
    }));
}

interface SwitchChoice {
  path?: string;
  notes: LayoutNote[];
}

/** Picks the Nginx file whose upstream / set / proxy_pass points at one of the pair's ports. */
function findSwitchFile(serviceName: string, ports: number[], scans: Array<{ file: HostFile; scan: SwitchCandidates }>): SwitchChoice {
  const notes: LayoutNote[] = [];
  const matches: Array<{ file: HostFile; scan: SwitchCandidates; what: string }> = [];
  for (const { file, scan } of scans) {
    const hits: string[] = [];
    for (const upstream of scan.upstreams) {
      for (const server of upstream.servers) {
        if (server.port !== undefined && ports.includes(server.port)) hits.push(`upstream ${upstream.name} → ${server.address}${server.isDown ? ' (down)' : server.isBackup ? ' (backup)' : ''}`);
      }
    }
    for (const target of scan.setTargets) if (target.port !== undefined && ports.includes(target.port)) hits.push(`set ${target.variable} → ${target.host}:${target.port}`);
    for (const target of scan.proxyPassTargets) if (target.port !== undefined && ports.includes(target.port)) hits.push(`proxy_pass ${target.target}`);
    if (hits.length > 0) matches.push({ file, scan, what: hits.join(', ') });
  }
  if (matches.length === 0) {
    notes.push({ kind: 'missing', message: `No Nginx file sends traffic to port ${ports.join(' or ')}, so the switch file of "${serviceName}" is unknown; choose it by hand.` });
    return { notes };
  }
  // A file included only to be rewritten (active-upstream.conf) is the switch; a full server config is a fallback.
  const pure = matches.filter((m) => m.scan.isPureSwitchInclude);
  const chosen = pure.length === 1 ? pure[0] : pure.length === 0 && matches.length === 1 ? matches[0] : undefined;
  if (!chosen) {
    const list = (pure.length > 1 ? pure : matches).map((m) => `${m.file.path} (${m.what})`).join('; ');
    notes.push({ kind: 'ambiguous', message: `Several Nginx files point at the ports of "${serviceName}": ${list}. Choose its switch file by hand.` });
    return { notes };
  }
  const parsed = parseSwitchFile(chosen.file.text, { ports }, chosen.file.path);
  if (!parsed.ok) {
    notes.push({ kind: 'ambiguous', message: `${chosen.file.path} points at "${serviceName}" (${chosen.what}) but cannot be used as its switch file: ${parsed.error}` });
    return { notes };
  }
  notes.push({ kind: 'found', message: `Switch file of "${serviceName}": ${chosen.file.path} (${chosen.what}).` });
  if (!chosen.scan.isPureSwitchInclude) {
    notes.push({ kind: 'ambiguous', message: `${chosen.file.path} is a full server config, not a file that only selects the color; a switch will rewrite one port in it.` });
  }
  const upstreamName = parsed.parsed.upstreamName;
  if (upstreamName) {
    const users = scans.flatMap(({ file, scan }) => scan.proxyPassTargets.filter((t) => t.upstreamName === upstreamName).map((t) => `${t.location ?? '(no location)'} in ${baseName(file.path)}`));
    if (users.length > 0) {
      notes.push({ kind: 'found', message: `Nginx routes ${users.join(', ')} to upstream ${upstreamName}.` });
      const location = scans.flatMap(({ scan }) => scan.proxyPassTargets).find((t) => t.upstreamName === upstreamName && t.location)?.location;
      notes.push({
        kind: 'missing',
        message: `Set "verifyUrl" of "${serviceName}" to a URL on the host that Nginx sends to ${upstreamName}${location ? ` (a route under ${location}, e.g. http://127.0.0.1${location}…)` : ''} and that answers 200: after each switch Switchyard asks it until the new color answers. Without it a switch is reported as reloaded, not confirmed.`,
      });
    } else notes.push({ kind: 'missing', message: `No proxy_pass uses upstream ${upstreamName}; check that Nginx really routes "${serviceName}" through it.` });
  }
  return { path: chosen.file.path, notes };
}

/** The common `prefix-` of all container names (`handdoc-spring-blue`, `handdoc-fastapi` → `handdoc`). */
function commonContainerPrefix(containers: string[]): string | undefined {
  if (containers.length === 0) return undefined;
  const prefixes = containers.map((c) => c.split(/[-_]/)[0]);
  return prefixes.every((p) => p === prefixes[0]) && prefixes[0] !== '' && containers.some((c) => c !== prefixes[0]) ? prefixes[0] : undefined;
}

/** Proposes a host profile from the files found on the host. Pure: the caller reads the files. */
export function detectLayout(input: LayoutInput): LayoutProposal {
  const notes: LayoutNote[] = [];
  const incomplete: IncompleteService[] = [];
  const services: Array<BlueGreenService | SingleService> = [];
  const appsDir = input.appsDir.replace(/\/+$/, '') || '/';

  // SSH destination: add the user when the destination has none and is not an alias with its own.
  let ssh = input.sshDestination.trim();
  const target = parseSshDestination(ssh);
  if (!target) notes.push({ kind: 'missing', message: `"${input.sshDestination}" is not an ~/.ssh/config alias or user@host[:port]; fix the SSH destination.` });
  else if (!target.user && input.user) ssh = `${input.user}@${ssh}`;

  // Compose files.
  const composeFiles: ReadComposeFile[] = [];
  for (const file of input.composeFiles) {
    if (!composeFilePattern.test(file.path)) continue;
    const read = readCompose(file.text, baseName(file.path));
    if (!read.ok) {
      notes.push({ kind: 'missing', message: `${file.path} was skipped: ${read.error}` });
      continue;
    }
    for (const problem of read.compose.problems) {
      notes.push({ kind: 'ambiguous', message: `${file.path}${problem.line ? ` line ${problem.line}` : ''}: ${problem.message}.` });
    }
    composeFiles.push({ file, baseName: baseName(file.path), services: read.compose.services });
    if (read.compose.services.length === 0) notes.push({ kind: 'missing', message: `${file.path} defines no services.` });
  }
  if (input.composeFiles.length === 0) notes.push({ kind: 'missing', message: `No compose files were found in ${appsDir}.` });

  // Nginx files.
  const scans: Array<{ file: HostFile; scan: SwitchCandidates }> = [];
  for (const file of input.nginxFiles) {
    const scan = findSwitchCandidates(file.path, file.text);
    if (scan.error) notes.push({ kind: 'ambiguous', message: `${scan.error}; it was not searched for a switch.` });
    else scans.push({ file, scan });
  }
  if (input.nginxFiles.length === 0) notes.push({ kind: 'missing', message: 'No Nginx config files were given, so no switch file can be found.' });

  // Pair the *-blue / *-green files by their common stem.
  const pairs = new Map<string, Partial<Record<Color, ReadComposeFile>>>();
  const singles: ReadComposeFile[] = [];
  for (const compose of composeFiles) {
    const match = colorFilePattern.exec(compose.baseName);
    if (!match) {
      singles.push(compose);
      continue;
    }
    const stem = match[1];
    const color = match[2].toLowerCase() as Color;
    const pair = pairs.get(stem) ?? {};
    if (pair[color]) notes.push({ kind: 'ambiguous', message: `Both ${pair[color]?.file.path} and ${compose.file.path} look like the ${color} file of "${stem}"; only the first is used.` });
    else pair[color] = compose;
    pairs.set(stem, pair);
  }

  // Only names someone chose say what the host is; Compose defaults start with the directory name.
  const namedContainers: string[] = [];
  const projectName = baseName(appsDir) || 'apps';

  for (const [stem, pair] of pairs) {
    const name = serviceNameFromStem(stem) || sanitizeName(stem);
    if (!pair.blue || !pair.green) {
      const present = (pair.blue ?? pair.green) as ReadComposeFile;
      const missingColor = pair.blue ? 'green' : 'blue';
      notes.push({ kind: 'missing', message: `${present.file.path} has no ${missingColor} twin, so "${name}" is not set up as Blue-Green; add the ${missingColor} compose file or add the service by hand.` });
      incomplete.push({ name, kind: 'blueGreen', missing: [`${missingColor} compose file`] });
      continue;
    }
    const missing: string[] = [];
    const colorProfiles: Partial<Record<Color, ColorDraft>> = {};
    for (const color of ['blue', 'green'] as const) {
      const compose = pair[color] as ReadComposeFile;
      const service = pickColorService(compose, color, notes);
      if (!service) {
        missing.push(`${color} service`);
        continue;
      }
      const container = service.containerName ?? defaultContainerName(projectName, service.name);
      if (!service.containerName) notes.push({ kind: 'ambiguous', message: `${compose.file.path} sets no container_name; assuming Compose's default name ${container} (project "${projectName}").` });
      const finding = findHostPort(service);
      const port = finding.problem ? undefined : finding.port;
      if (port !== undefined) notes.push({ kind: 'found', message: portNote(container, finding) }, ...exposureNotes(container, service));
      else notes.push({ kind: 'missing', message: `The port of ${container} is unknown: ${finding.problem}.` });
      colorProfiles[color] = { container, composeFile: compose.file.path, port, healthPath: healthPathOf(service) };
      if (service.containerName) namedContainers.push(service.containerName);
    }
    const blue = colorProfiles.blue;
    const green = colorProfiles.green;
    // One color's port unknown: the other one's upstream may list it as its `down`/`backup` twin.
    if (blue && green && (blue.port === undefined) !== (green.port === undefined)) {
      const known = (blue.port ?? green.port) as number;
      const unknownColor: Color = blue.port === undefined ? 'blue' : 'green';
      const twin = upstreamTwinPort(known, scans);
      const draft = colorProfiles[unknownColor];
      if (twin && draft) {
        draft.port = twin.port;
        notes.push({ kind: 'ambiguous', message: `Took port ${twin.port} for ${draft.container} from ${twin.where}, next to ${known}; check it.` });
      }
    }
    for (const color of ['blue', 'green'] as const) if (colorProfiles[color] && colorProfiles[color].port === undefined) missing.push(`port of ${color}`);
    if (blue?.port !== undefined && blue.port === green?.port) {
      notes.push({ kind: 'ambiguous', message: `Blue and green of "${name}" both use port ${blue.port}; Blue-Green needs two ports.` });
      missing.push('distinct ports');
    }
    const healthPaths = [blue?.healthPath, green?.healthPath].filter((p): p is string => p !== undefined);
    const healthPath = healthPaths[0] ?? '/';
    if (healthPaths.length === 0) notes.push({ kind: 'missing', message: `Neither color of "${name}" has a healthcheck URL; its health path is set to "/". Set the real one (e.g. /actuator/health).` });
    else if (healthPaths.some((p) => p !== healthPath)) notes.push({ kind: 'ambiguous', message: `Blue and green of "${name}" check different paths (${healthPaths.join(', ')}); using ${healthPath}.` });
    else notes.push({ kind: 'found', message: `Health path of "${name}": ${healthPath} (from the healthcheck).` });

    let switchFile: string | undefined;
    const ports = [blue?.port, green?.port].filter((p): p is number => p !== undefined);
    if (ports.length > 0) {
      const choice = findSwitchFile(name, ports, scans);
      notes.push(...choice.notes);
      switchFile = choice.path;
    }
    if (!switchFile) missing.push('switch file');
    if (missing.length > 0 || !blue || !green || blue.port === undefined || green.port === undefined || !switchFile) {
      incomplete.push({ name, kind: 'blueGreen', missing });
      continue;
    }
    services.push({
      kind: 'blueGreen',
      name,
      switchFile,
      healthPath,
      colors: {
        blue: { container: blue.container, composeFile: blue.composeFile, port: blue.port },
        green: { container: green.container, composeFile: green.composeFile, port: green.port },
      },
    });
    notes.push({ kind: 'found', message: `Blue-Green service "${name}": blue ${blue.container} on ${blue.port}, green ${green.container} on ${green.port}.` });
  }

  for (const compose of singles) {
    const stemName = serviceNameFromStem(compose.baseName.replace(composeFilePattern, ''));
    for (const service of compose.services) {
      // One service in docker-compose.fastapi.yml is "fastapi"; in a shared file each keeps its own name.
      const name = compose.services.length === 1 && stemName ? stemName : service.name;
      const container = service.containerName ?? defaultContainerName(projectName, service.name);
      if (!service.containerName) notes.push({ kind: 'ambiguous', message: `${compose.file.path}: "${service.name}" sets no container_name; assuming Compose's default name ${container} (project "${projectName}").` });
      const finding = findHostPort(service);
      if (finding.port === undefined || finding.problem) {
        notes.push({ kind: 'missing', message: `${compose.file.path}: "${service.name}" was left out: its port is unknown (${finding.problem}).` });
        incomplete.push({ name, kind: 'single', missing: ['port'] });
        continue;
      }
      notes.push({ kind: 'found', message: portNote(container, finding) }, ...exposureNotes(container, service));
      const healthPath = healthPathOf(service);
      if (healthPath) notes.push({ kind: 'found', message: `Health path of "${name}": ${healthPath} (from the healthcheck).` });
      else notes.push({ kind: 'missing', message: `"${name}" has no healthcheck URL; its health path is set to "/".` });
      const routes = scans.flatMap(({ file, scan }) =>
        scan.proxyPassTargets.filter((t) => t.port === finding.port && loopbackHosts.has(t.host)).map((t) => `${t.location ?? '(no location)'} in ${baseName(file.path)}`),
      );
      if (routes.length > 0) notes.push({ kind: 'found', message: `Nginx routes ${routes.join(', ')} to "${name}" (port ${finding.port}).` });
      services.push({ kind: 'single', name, container, composeFile: compose.file.path, port: finding.port, healthPath: healthPath ?? '/' });
      notes.push({ kind: 'found', message: `Single service "${name}": ${container} on ${finding.port}.` });
      if (service.containerName) namedContainers.push(service.containerName);
    }
  }

  // Two services under one name would be rejected by parseHostProfiles: keep the first.
  const seen = new Set<string>();
  const unique = services.filter((service) => {
    if (!seen.has(service.name)) {
      seen.add(service.name);
      return true;
    }
    notes.push({ kind: 'ambiguous', message: `Two services would be named "${service.name}"; only the first is kept. Rename one by hand.` });
    return false;
  });

  const prefix = commonContainerPrefix(namedContainers);
  const name = prefix ?? target?.host ?? input.sshDestination;
  notes.push({ kind: 'found', message: prefix ? `Host named "${name}" after its containers' common prefix.` : `Host named "${name}" after its SSH destination.` });

  const profile: ProposedHostProfile = { name, ssh, appsDir, services: unique };
  const confDirs = new Set(input.nginxFiles.map((file) => dirName(file.path)));
  if (confDirs.size === 1) {
    const [confDir] = confDirs;
    if (confDir !== defaultNginx.confDir) profile.nginx = { confDir };
  } else if (confDirs.size > 1) {
    notes.push({ kind: 'ambiguous', message: `The Nginx files are in several directories (${[...confDirs].join(', ')}); the profile keeps the default ${defaultNginx.confDir}.` });
  }
  return { profile, incomplete, notes };
}

/** In a color compose file, the service to use: the only one, or the one named after the color. */
function pickColorService(compose: ReadComposeFile, color: Color, notes: LayoutNote[]): ComposeService | undefined {
  const { services } = compose;
  if (services.length === 1) return services[0];
  const named = services.filter((s) => new RegExp(`(^|[-_.])${color}$`).test(s.containerName ?? s.name));
  if (named.length === 1) return named[0];
  notes.push({
    kind: 'ambiguous',
    message: `${compose.file.path} has ${services.length} services (${services.map((s) => s.name).join(', ')}) and ${named.length === 0 ? 'none' : 'more than one'} is named for ${color}; choose the ${color} container by hand.`,
  });
  return undefined;
}

/** A port listed next to `knownPort` in the same upstream block (the idle color kept as `down`/`backup`). */
function upstreamTwinPort(knownPort: number, scans: Array<{ file: HostFile; scan: SwitchCandidates }>): { port: number; where: string } | undefined {
  const twins: Array<{ port: number; where: string }> = [];
  for (const { file, scan } of scans) {
    for (const upstream of scan.upstreams) {
      const ports = upstream.servers.map((s) => s.port).filter((p): p is number => p !== undefined);
      if (!ports.includes(knownPort)) continue;
      const others = [...new Set(ports.filter((p) => p !== knownPort))];
      if (others.length === 1) twins.push({ port: others[0], where: `upstream ${upstream.name} in ${baseName(file.path)}` });
    }
  }
  return twins.length === 1 ? twins[0] : undefined;
}
