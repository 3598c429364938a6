/**
 * "Convert to Blue-Green" for a single-container service, as pure functions: the memory verdict for a
 * second copy, the twin compose file (the user's file with the container name and port changed, every
 * other character kept), the upstream include Switchyard will rewrite at each switch, the one change
 * the user's server block needs (proxy_pass to the upstream), and the new profile entry.
 * Nothing here reads or writes the host: src/host/blueGreenConversion.ts does, after the user confirms.
 */
import { isMap, isScalar, isSeq, parseDocument, visit } from 'yaml';
import type { Node, Pair, Scalar, YAMLMap } from 'yaml';
import { applySplices, type Splice } from './composeFile';
import type { HostResources } from './deployTypes';
import type { SingleService } from './hostProfile';
import { unifiedDiff } from './lineDiff';

export interface TwinNames {
  /** `handdoc-fastapi-green` */
  container: string;
  /** Absolute path of the twin compose file, next to the original. */
  composeFile: string;
  port: number;
  /** `fastapi_backend` */
  upstreamName: string;
  /** Absolute path of the upstream include in the Nginx conf dir. */
  upstreamFile: string;
}

/** The default names: `<container>-green`, port + 1, `<dir>/docker-compose.<name>-green.yml`, `<name>_backend` in `<confDir>/<name>-upstream.conf`. */
export function twinNames(service: SingleService, confDir: string, port = service.port + 1): TwinNames {
  const dir = service.composeFile.replace(/\/[^/]*$/, '');
  const base = service.composeFile.slice(dir.length + 1);
  const twinBase = /\.ya?ml$/.test(base) ? base.replace(/(\.ya?ml)$/, '-green$1') : `docker-compose.${service.name}-green.yml`;
  const safe = service.name.replace(/[^A-Za-z0-9_]/g, '_');
  return {
    container: `${service.container}-green`,
    composeFile: `${dir}/${twinBase}`,
    port,
    upstreamName: `${safe}_backend`,
    upstreamFile: `${confDir.replace(/\/+$/, '')}/${service.name}-upstream.conf`,
  };
}

// ---------------------------------------------------------------------------------------------
// Memory

export interface MemoryVerdict {
  fits: boolean;
  /** What the second copy is expected to need: the live container's use now, or the fallback. */
  neededKb: number;
  /** Memory still available after the twin starts, if it needs `neededKb`. */
  leftKb: number;
  isMeasured: boolean;
  message: string;
}

const mib = (kb: number): string => `${Math.round(kb / 1024)} MiB`;

/**
 * A second copy needs about what the container uses now (docker stats); it fits when that much is
 * available and `reserveKb` is left for the host (Nginx, sshd, Docker itself, the page cache).
 */
export function twinMemoryVerdict(resources: HostResources, container: string, options: { reserveKb: number; fallbackKb: number }): MemoryVerdict {
  const isMeasured = resources.containerMemoryKb !== undefined;
  const neededKb = resources.containerMemoryKb ?? options.fallbackKb;
  const leftKb = resources.memAvailableKb - neededKb;
  const fits = leftKb >= options.reserveKb;
  const basis = isMeasured ? `${container} uses ${neededKb > 0 && neededKb < 512 ? 'less than 1 MiB' : mib(neededKb)} now (docker stats)` : `${container}'s use could not be measured; assuming ${mib(neededKb)}`;
  const message = fits
    ? `A second copy fits: ${basis}; ${mib(resources.memAvailableKb)} of ${mib(resources.memTotalKb)} is available, ${mib(leftKb)} would be left (at least ${mib(options.reserveKb)} kept for the host).`
    : `A second copy does not fit: ${basis}, but only ${mib(resources.memAvailableKb)} of ${mib(resources.memTotalKb)} is available, which would leave ${mib(Math.max(0, leftKb))} (at least ${mib(options.reserveKb)} must stay free for the host). Add swap or a bigger instance, or keep ${container} as a single container.`;
  return { fits, neededKb, leftKb, isMeasured, message };
}

// ---------------------------------------------------------------------------------------------
// The twin compose file

export type TwinCompose = { ok: true; text: string; composeService: string; changes: string[]; warnings: string[] } | { ok: false; error: string };

/** The scalar rendered in its original quoting style. */
function renderLike(node: Scalar, value: string): string {
  if (node.type === 'QUOTE_DOUBLE') return JSON.stringify(value);
  if (node.type === 'QUOTE_SINGLE') return `'${value.replace(/'/g, "''")}'`;
  return value;
}

function keyOf(pair: Pair): string | undefined {
  return isScalar(pair.key) ? String(pair.key.value) : undefined;
}

function pairIn(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((p) => keyOf(p) === key);
}

/** The port number in a string (`PORT=8000`, `http://127.0.0.1:8000/health`, `--port 8000`), as a whole number only. */
function portPattern(port: number): RegExp {
  return new RegExp(`(^|[=:\\s])${port}(?![0-9])`, 'g');
}

/**
 * The twin of the service's compose file: container_name and compose service renamed, the port moved.
 * With `ports:`, the host side becomes `127.0.0.1:<twin port>` (the container keeps its own port);
 * with `network_mode: host`, the port number in environment, command and healthcheck strings changes
 * (the app must listen on the port its environment says). Other services are refused, not copied.
 */
export function renderTwinCompose(text: string, fileName: string, service: SingleService, twin: Pick<TwinNames, 'container' | 'port'>, sourceName: string): TwinCompose {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length) return { ok: false, error: `${fileName} is not valid YAML: ${doc.errors[0].message}` };
  const services = doc.get('services', true) as Node | undefined;
  if (!isMap(services)) return { ok: false, error: `${fileName} has no "services:" mapping.` };
  const pairs = services.items as Pair[];
  const pair =
    pairs.find((p) => isMap(p.value) && (p.value.get('container_name') as unknown) === service.container) ?? (pairs.length === 1 ? pairs[0] : undefined);
  if (!pair || !isMap(pair.value) || !isScalar(pair.key)) return { ok: false, error: `${fileName} has no service with "container_name: ${service.container}".` };
  if (pairs.length > 1) {
    return { ok: false, error: `${fileName} defines ${pairs.length} services; Switchyard copies a file with one service only. Move ${keyOf(pair)} into a file of its own first.` };
  }
  const map = pair.value;
  const name = keyOf(pair) as string;
  const composeService = `${name}-green`;
  const splices: Splice[] = [];
  const changes: string[] = [];
  const warnings: string[] = [];
  const key = pair.key;
  if (!key.range) return { ok: false, error: `Cannot locate the service "${name}" in ${fileName}.` };
  splices.push({ start: key.range[0], end: key.range[1], text: renderLike(key, composeService) });
  changes.push(`service ${name} → ${composeService} (its own service name, so compose never touches the original)`);

  const containerPair = pairIn(map, 'container_name');
  if (!containerPair || !isScalar(containerPair.value) || !containerPair.value.range) return { ok: false, error: `Service "${name}" in ${fileName} has no plain container_name.` };
  const cn = containerPair.value;
  const cnRange = cn.range as [number, number, number];
  splices.push({ start: cnRange[0], end: cnRange[1], text: renderLike(cn, twin.container) });
  changes.push(`container_name: ${service.container} → ${twin.container}`);

  const network = map.get('network_mode');
  const portsNode = map.get('ports', true) as Node | undefined;
  if (isSeq(portsNode) && portsNode.items.length > 0) {
    let moved = 0;
    for (const item of portsNode.items) {
      if (!isScalar(item) || !item.range) continue;
      const raw = String(item.value);
      // "8000:8000", "127.0.0.1:8000:8000", "8000:80/tcp"
      const match = /^(?:(\d+\.\d+\.\d+\.\d+|\[[^\]]+\]):)?(\d+):(\d+(?:\/\w+)?)$/.exec(raw);
      if (!match || Number(match[2]) !== service.port) continue;
      const next = `127.0.0.1:${twin.port}:${match[3]}`;
      const itemRange = item.range as [number, number, number];
      splices.push({ start: itemRange[0], end: itemRange[1], text: item.type === 'PLAIN' ? JSON.stringify(next) : renderLike(item, next) });
      changes.push(`ports: ${raw} → ${next} (published on the host's loopback only; Nginx reaches it there)`);
      moved++;
    }
    if (moved === 0) return { ok: false, error: `Service "${name}" in ${fileName} publishes no port ${service.port} under "ports:", so Switchyard cannot tell which one to move.` };
  } else if (network === 'host') {
    const pattern = portPattern(service.port);
    for (const section of ['environment', 'command', 'entrypoint', 'healthcheck']) {
      const node = map.get(section, true) as Node | undefined;
      if (!node) continue;
      visit(node, {
        Scalar: (_key, scalar) => {
          if (!scalar.range) return;
          const value = scalar.value;
          const textValue = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : undefined;
          if (textValue === undefined) return;
          const isBare = textValue === String(service.port);
          pattern.lastIndex = 0;
          if (!isBare && !pattern.test(textValue)) return;
          // A bare number is only a port in the environment (`PORT: 8000`).
          if (isBare && section !== 'environment') return;
          pattern.lastIndex = 0;
          const next = isBare ? String(twin.port) : textValue.replace(pattern, `$1${twin.port}`);
          const range = scalar.range as [number, number, number];
          splices.push({ start: range[0], end: range[1], text: typeof value === 'number' ? next : renderLike(scalar, next) });
          changes.push(`${section}: ${textValue} → ${next}`);
        },
      });
    }
    if (!changes.some((c) => c.startsWith('environment:') || c.startsWith('command:') || c.startsWith('entrypoint:'))) {
      warnings.push(
        `${service.container} uses network_mode: host and nothing in its environment or command names port ${service.port}: the image probably listens on ${service.port} whatever the file says, so the twin would clash with it. Make the port configurable (e.g. PORT=${service.port}) before converting.`,
      );
    }
  } else {
    return { ok: false, error: `Service "${name}" in ${fileName} neither publishes port ${service.port} ("ports:") nor uses network_mode: host; Switchyard cannot tell how to give the twin another port.` };
  }

  const header = `# Generated by Switchyard from ${sourceName}: the green twin of ${service.container}, on port ${twin.port}.\n# The blue color is ${service.container} (${sourceName}, port ${service.port}); Nginx's upstream decides which one is live.\n`;
  const out = header + applySplices(text, splices);
  const check = parseDocument(out);
  if (check.errors.length) return { ok: false, error: `The twin of ${fileName} would not be valid YAML (${check.errors[0].message}); nothing was written.` };
  return { ok: true, text: out, composeService, changes, warnings };
}

// ---------------------------------------------------------------------------------------------
// Nginx

/** The switch file of the converted service: one upstream with one server, the live color. */
export function renderUpstreamInclude(service: SingleService, twin: Pick<TwinNames, 'container' | 'port' | 'upstreamName'>): string {
  return [
    `# Live ${service.name} color, written by Switchyard (Convert to Blue-Green). Rewritten at every switch, then nginx reload.`,
    `#   blue  = ${service.container} (127.0.0.1:${service.port})`,
    `#   green = ${twin.container} (127.0.0.1:${twin.port})`,
    `upstream ${twin.upstreamName} {`,
    `    server 127.0.0.1:${service.port};`,
    '}',
    '',
  ].join('\n');
}

export interface ProxyPassEdit {
  path: string;
  oldText: string;
  newText: string;
  /** Line numbers (1-based) of the changed proxy_pass directives. */
  lines: number[];
  diff: string;
}

/**
 * In one Nginx file, every `proxy_pass http://127.0.0.1:<port>…` (or localhost) becomes
 * `proxy_pass http://<upstream>…`: only the address changes, any URI part and the rest of the line stay.
 */
export function proxyPassEdit(path: string, text: string, port: number, upstreamName: string): ProxyPassEdit | undefined {
  const pattern = new RegExp(`^(\\s*proxy_pass\\s+https?://)(?:127\\.0\\.0\\.1|localhost):${port}(?![0-9])`, 'gm');
  const lines: number[] = [];
  const newText = text.replace(pattern, (_match: string, head: string, offset: number) => {
    lines.push(text.slice(0, offset).split('\n').length);
    return `${head}${upstreamName}`;
  });
  if (lines.length === 0) return undefined;
  return { path, oldText: text, newText, lines, diff: unifiedDiff(text, newText, { oldName: path, newName: `${path} (proxy_pass to ${upstreamName})` }) };
}

// ---------------------------------------------------------------------------------------------
// Profile

/** The service's new profile entry (kind blueGreen), with paths as the user wrote the old one where possible. */
export function blueGreenProfileEntry(service: SingleService, twin: TwinNames, appsDir: string, confDir: string): Record<string, unknown> {
  const rel = (path: string, dir: string): string => (path.startsWith(`${dir.replace(/\/+$/, '')}/`) ? path.slice(dir.replace(/\/+$/, '').length + 1) : path);
  return {
    kind: 'blueGreen',
    name: service.name,
    switchFile: rel(twin.upstreamFile, confDir),
    healthPath: service.healthPath,
    colors: {
      blue: { container: service.container, composeFile: rel(service.composeFile, appsDir), port: service.port },
      green: { container: twin.container, composeFile: rel(twin.composeFile, appsDir), port: twin.port },
    },
  };
}
