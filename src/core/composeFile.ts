/**
 * docker-compose files: read what Switchyard needs (container, image, ports, healthcheck), and make
 * two surgical edits (healthcheck timings, image tag) that leave every other character of the file
 * as it was. The `yaml` Document API locates nodes; edits are splices of the original text at those
 * ranges (re-serialising the document would reflow quoting, spacing and comments).
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parse as parseYamlScalar, parseDocument, visit } from 'yaml';
import type { Alias, Document, Node, Pair, Scalar, YAMLMap } from 'yaml';
import { parseDuration } from './durations';

// ---------------------------------------------------------------------------------------------
// Model

export interface ImageReference {
  /** As written, e.g. `127.0.0.1:5005/handdoc/spring:1.4.2`. */
  raw: string;
  /** Registry host, when the first path part is one (`ghcr.io`, `localhost`, `127.0.0.1:5005`). */
  registry?: string;
  /** The path without registry, e.g. `handdoc/spring`. */
  repository: string;
  /** Everything before the tag or digest, e.g. `127.0.0.1:5005/handdoc/spring`. */
  name: string;
  tag?: string;
  digest?: string;
  /** Contains `${VAR}` interpolation, resolved by Compose from the environment / `.env`. */
  hasVariables: boolean;
}

export interface PortMapping {
  /** As written (the short syntax string, or a summary of the long syntax). */
  raw: string;
  /** Host address the port is published on; absent means all interfaces. */
  hostIp?: string;
  /** Host port; absent when only the container port is given (Docker picks a random host port). */
  publishedPort?: number;
  publishedPortEnd?: number;
  targetPort: number;
  targetPortEnd?: number;
  protocol: string;
}

export type HealthcheckTest =
  | { form: 'CMD'; argv: string[] }
  | { form: 'CMD-SHELL'; command: string }
  /** `test: curl -f ...` — Compose runs a plain string like CMD-SHELL. */
  | { form: 'string'; command: string }
  | { form: 'NONE' };

export type HealthcheckOrigin =
  /** Written under the service (possibly with `<<: *anchor` merged in). */
  | 'service'
  /** `healthcheck: *anchor`. */
  | 'alias'
  /** From a `<<: *anchor` merged into the service itself. */
  | 'merge'
  /** Inherited from another service of this file through `extends`. */
  | 'extends';

export interface ComposeHealthcheck {
  test?: HealthcheckTest;
  intervalMs?: number;
  timeoutMs?: number;
  startPeriodMs?: number;
  startIntervalMs?: number;
  retries?: number;
  /** `disable: true`, or `test: ["NONE"]`. */
  isDisabled: boolean;
  /** The durations as written (`1m30s`), for display. */
  written: Partial<Record<HealthcheckDurationKey, string>>;
  origin: HealthcheckOrigin;
  /** Anchors merged into the healthcheck mapping with `<<`. */
  mergedAnchors: string[];
}

export interface ComposeService {
  name: string;
  /** 1-based line of the service's key. */
  line: number;
  containerName?: string;
  image?: ImageReference;
  hasBuild: boolean;
  ports: PortMapping[];
  networkMode?: string;
  envFiles: string[];
  /** `environment:` entries; a name listed without a value (passed through from the shell) maps to undefined. */
  environment: Record<string, string | undefined>;
  healthcheck?: ComposeHealthcheck;
  extends?: { service: string; file?: string };
}

export interface YamlMark {
  name: string;
  line: number;
}

export interface ComposeProblem {
  message: string;
  service?: string;
  line?: number;
}

export interface ComposeFile {
  /** Top-level `name:` (the Compose project name), when set. */
  projectName?: string;
  services: ComposeService[];
  anchors: YamlMark[];
  aliases: YamlMark[];
  /** Values Switchyard could not read; the rest of the file is still reported. */
  problems: ComposeProblem[];
}

export type ComposeRead = { ok: true; compose: ComposeFile } | { ok: false; error: string; line?: number };

export type HealthcheckDurationKey = 'interval' | 'timeout' | 'start_period' | 'start_interval';

/** Docker's values when a healthcheck leaves a timing out. */
export const dockerHealthcheckDefaults = { intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5_000, retries: 3 } as const;

// ---------------------------------------------------------------------------------------------
// Small readers

type JsonObject = Record<string, unknown>;

function isRecord(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** Splits `[registry/]path[:tag][@digest]` the way Docker does, with `${VAR}` kept whole. */
export function parseImageReference(raw: string): ImageReference {
  // Mask interpolations so their `:-default` colons and slashes do not look like separators.
  const masked = raw.replace(/\$\{[^}]*\}/g, (m) => '_'.repeat(m.length));
  const hasVariables = /\$\{[^}]*\}|\$[A-Za-z_]/.test(raw);
  let rest = raw;
  let restMasked = masked;
  const reference: ImageReference = { raw, repository: '', name: '', hasVariables };
  const at = restMasked.indexOf('@');
  if (at >= 0) {
    reference.digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    restMasked = restMasked.slice(0, at);
  }
  const lastSlash = restMasked.lastIndexOf('/');
  const colon = restMasked.indexOf(':', lastSlash + 1);
  if (colon >= 0) {
    reference.tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    restMasked = restMasked.slice(0, colon);
  }
  reference.name = rest;
  const firstSlash = restMasked.indexOf('/');
  const first = firstSlash >= 0 ? restMasked.slice(0, firstSlash) : '';
  if (firstSlash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    reference.registry = rest.slice(0, firstSlash);
    reference.repository = rest.slice(firstSlash + 1);
  } else {
    reference.repository = rest;
  }
  return reference;
}

function parsePortRange(text: string): [number, number | undefined] | undefined {
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = match[2] === undefined ? undefined : Number(match[2]);
  if (start < 1 || start > 65535 || (end !== undefined && (end < start || end > 65535))) return undefined;
  return [start, end];
}

/** One `ports:` entry, short (`"127.0.0.1:8080:8080/tcp"`, `8000`) or long (`{ target, published, host_ip }`) syntax. */
export function parsePortMapping(entry: unknown): PortMapping | string {
  if (isRecord(entry)) {
    const target = parsePortRange(scalarText(entry.target) ?? '');
    if (!target) return `the long-syntax port ${JSON.stringify(entry)} has no valid "target"`;
    const mapping: PortMapping = { raw: JSON.stringify(entry), targetPort: target[0], protocol: scalarText(entry.protocol) ?? 'tcp' };
    if (target[1] !== undefined) mapping.targetPortEnd = target[1];
    const hostIp = scalarText(entry.host_ip);
    if (hostIp) mapping.hostIp = hostIp;
    const publishedText = scalarText(entry.published);
    if (publishedText !== undefined && publishedText !== '') {
      const published = parsePortRange(publishedText);
      if (!published) return `the long-syntax port ${JSON.stringify(entry)} has an invalid "published" value`;
      mapping.publishedPort = published[0];
      if (published[1] !== undefined) mapping.publishedPortEnd = published[1];
    }
    return mapping;
  }
  const raw = scalarText(entry);
  if (raw === undefined) return `the port entry ${JSON.stringify(entry)} is neither a string, a number nor a mapping`;
  let rest = raw;
  let protocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    protocol = rest.slice(slash + 1);
    rest = rest.slice(0, slash);
  }
  let hostIp: string | undefined;
  const bracketed = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (bracketed) {
    hostIp = bracketed[1];
    rest = bracketed[2];
  }
  const parts = rest.split(':');
  if (hostIp === undefined && parts.length === 3) hostIp = parts.shift();
  if (parts.length > 2 || parts.length === 0 || (hostIp !== undefined && parts.length !== 2)) return `the port "${raw}" is not [host_ip:][published:]target[/protocol]`;
  const target = parsePortRange(parts[parts.length - 1]);
  if (!target) return `the port "${raw}" has an invalid container port`;
  const mapping: PortMapping = { raw, targetPort: target[0], protocol };
  if (target[1] !== undefined) mapping.targetPortEnd = target[1];
  if (hostIp) mapping.hostIp = hostIp;
  if (parts.length === 2 && parts[0] !== '') {
    const published = parsePortRange(parts[0]);
    if (!published) return `the port "${raw}" has an invalid published port`;
    mapping.publishedPort = published[0];
    if (published[1] !== undefined) mapping.publishedPortEnd = published[1];
  }
  return mapping;
}

function readTest(value: unknown): HealthcheckTest | string {
  if (typeof value === 'string') {
    if (value.trim() === '') return 'the healthcheck "test" is an empty string';
    return { form: 'string', command: value };
  }
  if (Array.isArray(value)) {
    const items = value.map((item) => scalarText(item) ?? JSON.stringify(item));
    const [kind, ...rest] = items;
    if (kind === 'NONE') return { form: 'NONE' };
    if (kind === 'CMD') {
      if (rest.length === 0) return 'the healthcheck "test" is ["CMD"] without a command';
      return { form: 'CMD', argv: rest };
    }
    if (kind === 'CMD-SHELL') {
      if (rest.length === 0) return 'the healthcheck "test" is ["CMD-SHELL"] without a command';
      return { form: 'CMD-SHELL', command: rest.join(' ') };
    }
    return `the healthcheck "test" list must start with "CMD", "CMD-SHELL" or "NONE", not ${JSON.stringify(kind ?? '')}`;
  }
  return `the healthcheck "test" must be a string or a list, not ${JSON.stringify(value)}`;
}

const durationKeys: ReadonlyArray<readonly [HealthcheckDurationKey, 'intervalMs' | 'timeoutMs' | 'startPeriodMs' | 'startIntervalMs']> = [
  ['interval', 'intervalMs'],
  ['timeout', 'timeoutMs'],
  ['start_period', 'startPeriodMs'],
  ['start_interval', 'startIntervalMs'],
];

function readHealthcheck(raw: JsonObject, origin: HealthcheckOrigin, mergedAnchors: string[], problem: (message: string) => void): ComposeHealthcheck {
  const healthcheck: ComposeHealthcheck = { isDisabled: raw.disable === true, written: {}, origin, mergedAnchors };
  if (raw.test !== undefined && raw.test !== null) {
    const test = readTest(raw.test);
    if (typeof test === 'string') problem(test);
    else {
      healthcheck.test = test;
      if (test.form === 'NONE') healthcheck.isDisabled = true;
    }
  }
  for (const [key, field] of durationKeys) {
    const value = raw[key];
    if (value === undefined || value === null) continue;
    const text = scalarText(value) ?? JSON.stringify(value);
    healthcheck.written[key] = text;
    const parsed = parseDuration(text);
    if (parsed.ok) healthcheck[field] = parsed.valueMs;
    else problem(`healthcheck ${key}: ${parsed.message}`);
  }
  if (raw.retries !== undefined && raw.retries !== null) {
    if (typeof raw.retries === 'number' && Number.isInteger(raw.retries) && raw.retries >= 0) healthcheck.retries = raw.retries;
    else problem(`healthcheck retries must be a whole number, not ${JSON.stringify(raw.retries)}`);
  }
  return healthcheck;
}

/** The first http(s) URL in a healthcheck command, e.g. `http://127.0.0.1:8080/actuator/health`. */
export function healthcheckUrl(test: HealthcheckTest | undefined): { url: string; host: string; port?: number; path: string } | undefined {
  if (!test || test.form === 'NONE') return undefined;
  const words = test.form === 'CMD' ? test.argv : [test.command];
  for (const word of words) {
    const match = /(https?):\/\/(\[[^\]\s]+\]|[^/:?#\s'"]+)(?::(\d{1,5}))?([^?#\s'";|&)]*)/.exec(word);
    if (!match) continue;
    const result: { url: string; host: string; port?: number; path: string } = {
      url: match[0],
      host: match[2].replace(/^\[|\]$/g, ''),
      path: match[4] === '' ? '/' : match[4],
    };
    if (match[3] !== undefined) result.port = Number(match[3]);
    return result;
  }
  return undefined;
}

/** Compose's `extends` merge: mappings merge key by key (local wins), these lists add up, everything else is replaced. */
const appendedLists = new Set(['ports', 'expose', 'volumes', 'env_file', 'dns', 'dns_search', 'tmpfs', 'cap_add', 'cap_drop', 'devices', 'extra_hosts', 'security_opt']);

function mergeExtended(base: JsonObject, local: JsonObject, isServiceLevel: boolean): JsonObject {
  const merged: JsonObject = { ...base };
  for (const [key, value] of Object.entries(local)) {
    const inherited = merged[key];
    if (isRecord(inherited) && isRecord(value)) merged[key] = mergeExtended(inherited, value, false);
    else if (isServiceLevel && appendedLists.has(key) && Array.isArray(inherited) && Array.isArray(value)) merged[key] = [...inherited, ...value];
    else merged[key] = value;
  }
  delete merged.extends;
  return merged;
}

function readExtends(value: unknown): { service: string; file?: string } | undefined {
  if (typeof value === 'string') return { service: value };
  if (isRecord(value) && typeof value.service === 'string') {
    return typeof value.file === 'string' ? { service: value.service, file: value.file } : { service: value.service };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Document access

interface LoadedCompose {
  doc: Document.Parsed;
  lines: LineCounter;
  js: JsonObject;
  /** The `services:` mapping node. */
  services: YAMLMap;
}

type Loaded = { ok: true; loaded: LoadedCompose } | { ok: false; error: string; line?: number };

function loadCompose(text: string, fileName: string): Loaded {
  const lines = new LineCounter();
  const doc = parseDocument(text, { merge: true, lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const { line, col } = lines.linePos(first.pos[0]);
    const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more error${doc.errors.length > 2 ? 's' : ''})` : '';
    return { ok: false, error: `${fileName} is not valid YAML: line ${line}, column ${col}: ${first.message.replace(/\s+at line \d+.*$/s, '')}${more}`, line };
  }
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    return { ok: false, error: `${fileName} cannot be read: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!isRecord(js)) return { ok: false, error: `${fileName} is not a Compose file: its top level must be a mapping with a "services" key.` };
  const services = doc.get('services', true);
  if (!isMap(services) || !isRecord(js.services)) {
    return { ok: false, error: `${fileName} is not a Compose file: it has no "services:" mapping${isAlias(services) ? ' of its own (it is an alias)' : ''}.` };
  }
  return { ok: true, loaded: { doc, lines, js, services } };
}

function keyName(pair: Pair): string | undefined {
  if (!isScalar(pair.key)) return undefined;
  // With `merge: true` the `<<` key's value is a symbol; its source text is still `<<`.
  if (typeof pair.key.value === 'symbol') return pair.key.source;
  return scalarText(pair.key.value);
}

function findPair(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((pair) => keyName(pair) === key);
}

/** Anchor names merged into a mapping with `<<: *a` or `<<: [*a, *b]`. */
function mergedAnchorNames(map: YAMLMap): string[] {
  const names: string[] = [];
  for (const pair of map.items) {
    if (keyName(pair) !== '<<') continue;
    if (isAlias(pair.value)) names.push(pair.value.source);
    else if (isSeq(pair.value)) for (const item of pair.value.items) if (isAlias(item)) names.push(item.source);
  }
  return names;
}

function lineOf(loaded: LoadedCompose, node: Node | null | undefined): number | undefined {
  return node?.range ? loaded.lines.linePos(node.range[0]).line : undefined;
}

/** Reads a docker-compose file. Invalid YAML is an error with its line; odd values are `problems`. */
export function readCompose(text: string, fileName = 'docker-compose.yml'): ComposeRead {
  const result = loadCompose(text, fileName);
  if (!result.ok) return result;
  const loaded = result.loaded;
  const { doc, js } = loaded;
  const compose: ComposeFile = { services: [], anchors: [], aliases: [], problems: [] };
  if (typeof js.name === 'string') compose.projectName = js.name;
  visit(doc, {
    Alias: (_key, node) => {
      compose.aliases.push({ name: node.source, line: lineOf(loaded, node) ?? 0 });
    },
    Node: (_key, node) => {
      if (isAlias(node) || !node.anchor) return;
      // The node's range starts after its `&name`, which may sit on the line above (`x-hc: &hc`).
      const at = text.lastIndexOf(`&${node.anchor}`, node.range?.[0] ?? 0);
      compose.anchors.push({ name: node.anchor, line: at >= 0 ? loaded.lines.linePos(at).line : lineOf(loaded, node) ?? 0 });
    },
  });
  for (const warning of doc.warnings) {
    compose.problems.push({ message: warning.message.replace(/\s+at line \d+.*$/s, ''), line: loaded.lines.linePos(warning.pos[0]).line });
  }

  const servicesJs = js.services as JsonObject;
  for (const pair of loaded.services.items) {
    const name = keyName(pair);
    if (name === undefined) continue;
    const line = lineOf(loaded, pair.key as Node) ?? 0;
    const problem = (message: string) => compose.problems.push({ service: name, line, message });
    const own = servicesJs[name];
    if (!isRecord(own)) {
      problem(`service "${name}" is ${own === null ? 'empty' : 'not a mapping'}`);
      continue;
    }
    const effective = resolveExtends(servicesJs, name, new Set(), problem);
    const service: ComposeService = {
      name,
      line,
      hasBuild: effective.build !== undefined,
      ports: [],
      envFiles: [],
      environment: {},
    };
    const extendsRef = readExtends(own.extends);
    if (extendsRef) service.extends = extendsRef;
    else if (own.extends !== undefined) problem('"extends" must be a service name or { service, file }');
    if (typeof effective.container_name === 'string') service.containerName = effective.container_name;
    if (typeof effective.image === 'string') service.image = parseImageReference(effective.image);
    if (typeof effective.network_mode === 'string') service.networkMode = effective.network_mode;
    if (Array.isArray(effective.ports)) {
      for (const entry of effective.ports) {
        const mapping = parsePortMapping(entry);
        if (typeof mapping === 'string') problem(mapping);
        else service.ports.push(mapping);
      }
    } else if (effective.ports !== undefined) problem('"ports" must be a list');
    const envFile = effective.env_file;
    for (const entry of Array.isArray(envFile) ? envFile : envFile === undefined ? [] : [envFile]) {
      const path = typeof entry === 'string' ? entry : isRecord(entry) && typeof entry.path === 'string' ? entry.path : undefined;
      if (path === undefined) problem(`env_file entry ${JSON.stringify(entry)} has no path`);
      else service.envFiles.push(path);
    }
    const environment = effective.environment;
    if (isRecord(environment)) {
      for (const [key, value] of Object.entries(environment)) service.environment[key] = value === null ? undefined : scalarText(value) ?? JSON.stringify(value);
    } else if (Array.isArray(environment)) {
      for (const entry of environment) {
        const text = scalarText(entry);
        if (text === undefined) continue;
        const eq = text.indexOf('=');
        service.environment[eq < 0 ? text : text.slice(0, eq)] = eq < 0 ? undefined : text.slice(eq + 1);
      }
    }
    if (isRecord(effective.healthcheck)) {
      const serviceNode = isMap(pair.value) ? pair.value : undefined;
      const healthPair = serviceNode ? findPair(serviceNode, 'healthcheck') : undefined;
      let origin: HealthcheckOrigin;
      let mergedAnchors: string[] = [];
      if (healthPair) {
        origin = isAlias(healthPair.value) ? 'alias' : 'service';
        if (isMap(healthPair.value)) mergedAnchors = mergedAnchorNames(healthPair.value);
        if (isAlias(healthPair.value)) mergedAnchors = [healthPair.value.source];
      } else {
        origin = isRecord(own.healthcheck) ? 'merge' : 'extends';
      }
      service.healthcheck = readHealthcheck(effective.healthcheck, origin, mergedAnchors, problem);
    } else if (effective.healthcheck !== undefined && effective.healthcheck !== null) {
      problem('"healthcheck" must be a mapping');
    }
    compose.services.push(service);
  }
  return { ok: true, compose };
}

function resolveExtends(servicesJs: JsonObject, name: string, seen: Set<string>, problem: (message: string) => void): JsonObject {
  const own = servicesJs[name];
  if (!isRecord(own)) return {};
  const ref = readExtends(own.extends);
  if (!ref) return own;
  if (ref.file !== undefined) {
    problem(`"${name}" extends "${ref.service}" from ${ref.file}; what it inherits from that file is not read here`);
    return own;
  }
  if (seen.has(name)) {
    problem(`"extends" loops back to "${name}"`);
    return own;
  }
  seen.add(name);
  if (!isRecord(servicesJs[ref.service])) {
    problem(`"${name}" extends "${ref.service}", which is not a service of this file`);
    return own;
  }
  return mergeExtended(resolveExtends(servicesJs, ref.service, seen, problem), own, true);
}

// ---------------------------------------------------------------------------------------------
// Surgical edits

export type ComposeEdit = { ok: true; text: string; notes: string[] } | { ok: false; error: string };

export interface HealthcheckPatch {
  test?: HealthcheckTest;
  /** Compose durations such as `30s` or `1m30s` (see durations.ts `formatDuration` to write one from milliseconds). */
  interval?: string;
  timeout?: string;
  start_period?: string;
  start_interval?: string;
  retries?: number;
}

/** Replace `text[start, end)` with `text`: edits at the yaml package's node ranges leave every other byte alone. */
export interface Splice {
  start: number;
  end: number;
  text: string;
}

export function applySplices(text: string, splices: Splice[]): string {
  let out = text;
  for (const splice of [...splices].sort((a, b) => b.start - a.start)) out = out.slice(0, splice.start) + splice.text + out.slice(splice.end);
  return out;
}

/** Whether `value` reads back as the same string when written without quotes. */
function isPlainSafe(value: string, isInFlow: boolean): boolean {
  if (value === '' || value !== value.trim() || /[\n\r\t]/.test(value)) return false;
  if (/^[,[\]{}#&*!|>'"%@`]/.test(value) || /^[-?:](\s|$)/.test(value) || /: |\s#|:$/.test(value)) return false;
  if (isInFlow && /[,[\]{}]/.test(value)) return false;
  try {
    return parseYamlScalar(value) === value;
  } catch {
    return false;
  }
}

function quoteDouble(value: string): string {
  return JSON.stringify(value);
}

/** Writes a string scalar in the style of the one it replaces, falling back to double quotes when that style cannot hold it. */
function renderString(value: string, style: Scalar.Type | undefined, isInFlow: boolean): string {
  if (style === 'QUOTE_DOUBLE') return quoteDouble(value);
  if (style === 'QUOTE_SINGLE') return /[\n\r]/.test(value) ? quoteDouble(value) : `'${value.replace(/'/g, "''")}'`;
  return isPlainSafe(value, isInFlow) ? value : quoteDouble(value);
}

function testItems(test: HealthcheckTest): string[] | undefined {
  switch (test.form) {
    case 'CMD':
      return ['CMD', ...test.argv];
    case 'CMD-SHELL':
      return ['CMD-SHELL', test.command];
    case 'NONE':
      return ['NONE'];
    case 'string':
      return undefined;
  }
}

/** A test as one-line YAML: a flow list (`["CMD", "curl", …]`) or a string. */
function renderTestInline(test: HealthcheckTest, itemStyle: Scalar.Type | undefined, isPadded: boolean, isInFlow: boolean): string {
  const items = testItems(test);
  if (!items) return renderString((test as { command: string }).command, itemStyle, isInFlow);
  const body = items.map((item) => renderString(item, itemStyle ?? 'QUOTE_DOUBLE', true)).join(', ');
  return isPadded ? `[ ${body} ]` : `[${body}]`;
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

function columnOf(text: string, offset: number): number {
  return offset - lineStart(text, offset);
}

/** End offset of the last character that belongs to a node's content (not the comments or blank lines after it). */
function contentEnd(node: Node): number {
  if ((isMap(node) || isSeq(node)) && !node.flow && node.items.length > 0) {
    const last = node.items[node.items.length - 1];
    if (isPair(last)) return last.value ? contentEnd(last.value as Node) : (last.key as Node).range?.[1] ?? 0;
    return contentEnd(last as Node);
  }
  return node.range?.[1] ?? 0;
}

/** Offset where a new line may be inserted after the line holding `offset - 1`. */
function afterLine(text: string, offset: number): { at: number; needsLeadingNewline: boolean } {
  if (offset > 0 && text[offset - 1] === '\n') return { at: offset, needsLeadingNewline: false };
  const newline = text.indexOf('\n', offset);
  return newline < 0 ? { at: text.length, needsLeadingNewline: true } : { at: newline + 1, needsLeadingNewline: false };
}

function eolOf(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

/** Inserts `key: value` lines at the end of a block mapping, at its indentation. */
function insertIntoBlockMap(text: string, map: YAMLMap, lines: string[]): Splice {
  const firstKey = map.items[0].key as Node;
  const indent = ' '.repeat(columnOf(text, firstKey.range?.[0] ?? 0));
  const eol = eolOf(text);
  const { at, needsLeadingNewline } = afterLine(text, contentEnd(map));
  const body = lines
    .flatMap((line) => line.split(eol))
    .map((line) => `${indent}${line}`)
    .join(eol);
  return { start: at, end: at, text: needsLeadingNewline ? `${eol}${body}` : `${body}${eol}` };
}

/** Inserts `key: value` entries before the closing brace of a flow mapping. */
function insertIntoFlowMap(text: string, map: YAMLMap, entries: string[]): Splice {
  const close = (map.range?.[1] ?? 0) - 1;
  let at = close;
  while (at > 0 && /\s/.test(text[at - 1])) at--;
  const separator = map.items.length > 0 ? ', ' : '';
  return { start: at, end: at, text: `${separator}${entries.join(', ')}` };
}

function indentStep(text: string, services: YAMLMap, serviceMap: YAMLMap): number {
  const serviceKey = services.items[0]?.key as Node | undefined;
  const innerKey = serviceMap.items[0]?.key as Node | undefined;
  if (serviceKey?.range && innerKey?.range) {
    const step = columnOf(text, innerKey.range[0]) - columnOf(text, serviceKey.range[0]);
    if (step > 0) return step;
  }
  return 2;
}

interface LocatedService {
  loaded: LoadedCompose;
  pair: Pair;
  map: YAMLMap;
}

function locateService(text: string, serviceName: string, fileName: string): { ok: true; located: LocatedService } | { ok: false; error: string } {
  const result = loadCompose(text, fileName);
  if (!result.ok) return result;
  const { loaded } = result;
  const pair = findPair(loaded.services, serviceName);
  if (!pair) {
    const names = loaded.services.items.map(keyName).filter((n): n is string => n !== undefined);
    return { ok: false, error: `${fileName} has no service "${serviceName}" (it has: ${names.join(', ') || 'none'}).` };
  }
  if (isAlias(pair.value)) {
    return { ok: false, error: `Service "${serviceName}" in ${fileName} is the alias *${pair.value.source}; write it out as a mapping before editing it, or edit the anchor &${pair.value.source}.` };
  }
  if (!isMap(pair.value) || pair.value.items.length === 0) return { ok: false, error: `Service "${serviceName}" in ${fileName} is not a mapping with settings; nothing can be edited in it.` };
  return { ok: true, located: { loaded, pair, map: pair.value } };
}

/** Deep equality of plain JSON-like values, ignoring key order. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => key in b && sameValue(a[key], b[key]));
  }
  return false;
}

/**
 * Re-reads the edited text and checks it differs from the original only where intended.
 * Catches edits that would leak through a shared anchor, or break the YAML.
 */
function verifyEdit(editedText: string, fileName: string, expected: JsonObject): string | undefined {
  const reloaded = loadCompose(editedText, fileName);
  if (!reloaded.ok) return `The edit would make ${fileName} invalid (${reloaded.error}); nothing was changed.`;
  if (!sameValue(reloaded.loaded.js, expected)) {
    return `The edit would change more than asked in ${fileName} (probably a value shared through a YAML anchor with another service); nothing was changed. Edit the anchor by hand, or give this service its own values.`;
  }
  return undefined;
}

const healthcheckKeyOrder = ['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval'] as const;
type HealthcheckKey = (typeof healthcheckKeyOrder)[number];

function validatePatch(patch: HealthcheckPatch): string | undefined {
  for (const key of ['interval', 'timeout', 'start_period', 'start_interval'] as const) {
    const value = patch[key];
    if (value === undefined) continue;
    const parsed = parseDuration(value);
    if (!parsed.ok) return `${key}: ${parsed.message}`;
    if (value !== value.trim()) return `${key}: write it without spaces around it ("${value.trim()}").`;
  }
  if (patch.retries !== undefined && (!Number.isInteger(patch.retries) || patch.retries < 1)) {
    return `retries must be a whole number of 1 or more (0 would make Docker use its default of 3), got ${patch.retries}.`;
  }
  const test = patch.test;
  if (test) {
    if (test.form === 'CMD' && (test.argv.length === 0 || test.argv[0].trim() === '')) return 'test: a CMD test needs a program to run.';
    if ((test.form === 'CMD-SHELL' || test.form === 'string') && test.command.trim() === '') return 'test: the shell command is empty.';
  }
  if (healthcheckKeyOrder.every((key) => patch[key] === undefined)) return 'Nothing to change: the healthcheck patch is empty.';
  return undefined;
}

function testAsJs(test: HealthcheckTest): unknown {
  return testItems(test) ?? (test as { command: string }).command;
}

/** Renders one healthcheck value on its own, for a new key. */
function renderNewValue(key: HealthcheckKey, patch: HealthcheckPatch, isInFlow: boolean): string {
  if (key === 'test') return renderTestInline(patch.test as HealthcheckTest, 'QUOTE_DOUBLE', false, isInFlow);
  if (key === 'retries') return String(patch.retries);
  return renderString(patch[key] as string, 'PLAIN', isInFlow);
}

/** Renders an arbitrary inherited JSON value (copied from a merged anchor) for a new key. */
function renderInherited(value: unknown, isInFlow: boolean): string | undefined {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return renderString(value, 'PLAIN', isInFlow);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return `[${value.map((item) => quoteDouble(item)).join(', ')}]`;
  return undefined;
}

/** Replacement for an existing value node, in the style of the node it replaces. */
function replaceValue(text: string, pair: Pair, key: HealthcheckKey, patch: HealthcheckPatch, isInFlow: boolean): Splice | string {
  const node = pair.value as Node;
  const range = node.range ?? [0, 0, 0];
  if (key === 'test') {
    const test = patch.test as HealthcheckTest;
    const items = testItems(test);
    if (isSeq(node)) {
      const firstItem = node.items[0] as Node | undefined;
      const style = firstItem && isScalar(firstItem) ? firstItem.type : undefined;
      if (!node.flow && items) {
        // Keep a block list a block list, one item per line at the same indentation.
        const indent = ' '.repeat(columnOf(text, range[0]));
        const body = items.map((item, i) => `${i === 0 ? '' : indent}- ${renderString(item, style, false)}`).join(eolOf(text));
        return { start: range[0], end: contentEnd(node), text: body };
      }
      // A block list's range runs on over the comments and blank lines after it; stop at its content.
      const end = node.flow ? range[1] : contentEnd(node);
      return { start: range[0], end, text: renderTestInline(test, style, /^\[\s/.test(text.slice(range[0], range[1])), isInFlow) };
    }
    if (isScalar(node)) {
      const isBlockScalar = node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED';
      const style = isBlockScalar ? 'QUOTE_DOUBLE' : node.type;
      const rendered = items ? renderTestInline(test, 'QUOTE_DOUBLE', false, isInFlow) : renderString((test as { command: string }).command, style, isInFlow);
      // A block scalar's range ends after its last line break; keep that break.
      const end = isBlockScalar ? contentEnd(node) : range[1];
      const keepBreak = isBlockScalar && text[end - 1] === '\n' ? eolOf(text) : '';
      return scalarSplice(text, node, range[0], end, rendered + keepBreak);
    }
    return `the current "test" value is ${isAlias(node) ? `the alias *${(node as Alias).source}` : 'not a list or a string'}`;
  }
  const rendered = key === 'retries' ? String(patch.retries) : (patch[key] as string);
  if (isScalar(node)) {
    const isQuoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
    // A number stays a plain number unless the author quoted it.
    const value = key === 'retries' && !isQuoted ? rendered : renderString(rendered, node.type, isInFlow);
    return scalarSplice(text, node, range[0], range[1], value);
  }
  if (isAlias(node)) return { start: range[0], end: range[1], text: key === 'retries' ? rendered : renderString(rendered, 'PLAIN', isInFlow) };
  return `the current "${key}" value is not a single value`;
}

/** An empty value (`timeout:`) has a zero-width range right after the colon: add the space YAML needs. */
function scalarSplice(text: string, node: Scalar, start: number, end: number, rendered: string): Splice {
  if (node.value === null && start === end) return { start, end, text: text[start - 1] === ':' ? ` ${rendered}` : rendered };
  return { start, end, text: rendered };
}

/**
 * Changes only the given healthcheck keys of one service and keeps every other byte of the file.
 * Existing values are replaced in their own quoting style; missing keys are added at the end of the
 * healthcheck (or a healthcheck is added at the end of the service). A healthcheck shared through an
 * alias gets a local `<<: *anchor` mapping with the overrides, so other services keep theirs.
 */
export function setHealthcheck(text: string, serviceName: string, patch: HealthcheckPatch, fileName = 'docker-compose.yml'): ComposeEdit {
  const invalid = validatePatch(patch);
  if (invalid) return { ok: false, error: `Cannot set the healthcheck of "${serviceName}": ${invalid}` };
  const found = locateService(text, serviceName, fileName);
  if (!found.ok) return found;
  const { loaded, map: serviceMap } = found.located;
  const keys = healthcheckKeyOrder.filter((key) => patch[key] !== undefined);
  const notes: string[] = [];
  const splices: Splice[] = [];
  const eol = eolOf(text);
  const isServiceFlow = Boolean(serviceMap.flow);
  const newEntry = (key: HealthcheckKey, isInFlow: boolean) => `${key}: ${renderNewValue(key, patch, isInFlow)}`;

  const servicesJs = loaded.js.services as JsonObject;
  const ownJs = servicesJs[serviceName] as JsonObject;
  const expectedHealthcheck: JsonObject = isRecord(ownJs.healthcheck) ? { ...ownJs.healthcheck } : {};
  for (const key of keys) expectedHealthcheck[key] = key === 'test' ? testAsJs(patch.test as HealthcheckTest) : patch[key];

  const healthPair = findPair(serviceMap, 'healthcheck');
  const healthNode = healthPair?.value as Node | null | undefined;
  if (!healthPair) {
    // Inherited through a service-level `<<: *x`: writing only the patched keys would drop the
    // merged ones (merges are shallow), so copy them into the service's own healthcheck.
    const inherited = isRecord(ownJs.healthcheck) ? ownJs.healthcheck : {};
    const allEntries: string[] = [];
    for (const [key, value] of Object.entries(inherited)) {
      if ((keys as readonly string[]).includes(key)) {
        allEntries.push(newEntry(key as HealthcheckKey, isServiceFlow));
        continue;
      }
      const rendered = renderInherited(value, isServiceFlow);
      if (rendered === undefined) return { ok: false, error: `Cannot set the healthcheck of "${serviceName}": its inherited "${key}" cannot be copied safely; write the healthcheck out by hand.` };
      allEntries.push(`${key}: ${rendered}`);
    }
    for (const key of keys) if (!(key in inherited)) allEntries.push(newEntry(key, isServiceFlow));
    const extendsRef = readExtends(ownJs.extends);
    if (Object.keys(inherited).length > 0) {
      notes.push(`"${serviceName}" had its healthcheck from a merged anchor (${mergedAnchorNames(serviceMap).map((n) => `*${n}`).join(', ')}); it now has its own copy with the new values, and the anchor is unchanged.`);
    } else if (extendsRef) {
      notes.push(`"${serviceName}" extends "${extendsRef.service}"; Compose merges these healthcheck keys over the inherited healthcheck.`);
    }
    if (isServiceFlow) {
      splices.push(insertIntoFlowMap(text, serviceMap, [`healthcheck: {${allEntries.join(', ')}}`]));
    } else {
      const step = ' '.repeat(indentStep(text, loaded.services, serviceMap));
      splices.push(insertIntoBlockMap(text, serviceMap, [`healthcheck:${eol}${allEntries.map((e) => `${step}${e}`).join(eol)}`]));
    }
    notes.push(`Added a healthcheck to "${serviceName}" with ${keys.join(', ')}.`);
  } else if (isAlias(healthNode) || (isScalar(healthNode) && healthNode.value === null)) {
    // `healthcheck: *hc` is shared: give this service its own mapping that merges the anchor and overrides.
    const merge = isAlias(healthNode) ? [`<<: *${healthNode.source}`] : [];
    const entries = [...merge, ...keys.map((key) => newEntry(key, isServiceFlow))];
    const keyEnd = (healthPair.key as Node).range?.[1] ?? 0;
    const valueEnd = healthNode.range?.[1] ?? keyEnd;
    if (isServiceFlow) {
      splices.push({ start: healthNode.range?.[0] ?? keyEnd, end: valueEnd, text: `{${entries.join(', ')}}` });
    } else {
      const indent = ' '.repeat(columnOf(text, (healthPair.key as Node).range?.[0] ?? 0) + indentStep(text, loaded.services, serviceMap));
      splices.push({ start: keyEnd, end: valueEnd, text: `:${eol}${entries.map((e) => `${indent}${e}`).join(eol)}` });
    }
    if (isAlias(healthNode)) notes.push(`"${serviceName}" shared the healthcheck *${healthNode.source}; it now merges it (<<: *${healthNode.source}) and overrides ${keys.join(', ')}, so the anchor and the other services that use it are unchanged.`);
  } else if (isMap(healthNode)) {
    const isInFlow = Boolean(healthNode.flow);
    const newKeys: HealthcheckKey[] = [];
    for (const key of keys) {
      const existing = findPair(healthNode, key);
      if (!existing || existing.value === null || existing.value === undefined) {
        if (existing) return { ok: false, error: `Cannot set the healthcheck of "${serviceName}": its "${key}" key has no value node to replace.` };
        newKeys.push(key);
        continue;
      }
      const splice = replaceValue(text, existing, key, patch, isInFlow);
      if (typeof splice === 'string') return { ok: false, error: `Cannot set the healthcheck of "${serviceName}": ${splice}.` };
      splices.push(splice);
    }
    if (newKeys.length > 0) {
      const entries = newKeys.map((key) => newEntry(key, isInFlow));
      splices.push(isInFlow ? insertIntoFlowMap(text, healthNode, entries) : insertIntoBlockMap(text, healthNode, entries));
      const anchors = mergedAnchorNames(healthNode);
      if (anchors.length > 0) notes.push(`${newKeys.join(', ')} now override${newKeys.length === 1 ? 's' : ''} the value merged from ${anchors.map((a) => `*${a}`).join(', ')} for "${serviceName}" only.`);
    }
    const disable = findPair(healthNode, 'disable');
    if (disable && isScalar(disable.value) && disable.value.value === true) {
      notes.push(`The healthcheck of "${serviceName}" is disabled (disable: true); the new values take effect only once that line is removed.`);
    }
  } else {
    return { ok: false, error: `Cannot set the healthcheck of "${serviceName}": its "healthcheck" is not a mapping (line ${lineOf(loaded, healthNode ?? null) ?? '?'}).` };
  }

  const edited = applySplices(text, splices);
  const expected: JsonObject = { ...loaded.js, services: { ...servicesJs, [serviceName]: { ...ownJs, healthcheck: expectedHealthcheck } } };
  const problem = verifyEdit(edited, fileName, expected);
  if (problem) return { ok: false, error: problem };
  return { ok: true, text: edited, notes };
}

/** Docker's tag grammar. */
const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Sets the tag of a service's `image:` and keeps every other byte of the file.
 * Refuses a tag taken from a variable (`:${TAG}`), an image pinned by digest, and an image the
 * service inherits instead of writing it itself.
 */
export function setImageTag(text: string, serviceName: string, tag: string, fileName = 'docker-compose.yml'): ComposeEdit {
  if (!tagPattern.test(tag)) {
    return { ok: false, error: `"${tag}" is not a valid image tag: use letters, digits, "_", "." and "-", at most 128 characters, not starting with "." or "-".` };
  }
  const found = locateService(text, serviceName, fileName);
  if (!found.ok) return found;
  const { loaded, map } = found.located;
  const servicesJs = loaded.js.services as JsonObject;
  const ownJs = servicesJs[serviceName] as JsonObject;
  const imagePair = findPair(map, 'image');
  if (!imagePair) {
    const how = typeof ownJs.image === 'string' ? 'from a merged anchor' : readExtends(ownJs.extends) ? `from "${readExtends(ownJs.extends)?.service}" through extends` : undefined;
    return {
      ok: false,
      error: how
        ? `Service "${serviceName}" takes its image ${how}; add an "image:" line to the service so its tag can be set without changing the others.`
        : `Service "${serviceName}" has no "image:" (it is built from source); there is no tag to set.`,
    };
  }
  const node = imagePair.value as Node;
  if (!isScalar(node) || typeof node.value !== 'string') {
    return { ok: false, error: `The image of "${serviceName}" is ${isAlias(node) ? `the alias *${(node as Alias).source}` : 'not a string'}; edit it by hand.` };
  }
  const value = node.value;
  const reference = parseImageReference(value);
  if (reference.digest !== undefined) {
    return { ok: false, error: `The image of "${serviceName}" is pinned by digest (${value}); remove "@${reference.digest}" before setting a tag.` };
  }
  if (reference.tag !== undefined && reference.tag.includes('$')) {
    return { ok: false, error: `The image tag of "${serviceName}" comes from a variable (${reference.tag}); set that variable (e.g. in .env) instead of editing the file.` };
  }
  const range = node.range ?? [0, 0, 0];
  const source = text.slice(range[0], range[1]);
  const quoteWidth = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? 1 : 0;
  if (source.slice(quoteWidth, source.length - quoteWidth) !== value || node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') {
    return { ok: false, error: `The image of "${serviceName}" is written with escapes or on several lines; edit it by hand.` };
  }
  const nameEnd = range[0] + quoteWidth + reference.name.length;
  const splice: Splice = reference.tag === undefined ? { start: nameEnd, end: nameEnd, text: `:${tag}` } : { start: nameEnd + 1, end: nameEnd + 1 + reference.tag.length, text: tag };
  const edited = applySplices(text, [splice]);
  const expected: JsonObject = { ...loaded.js, services: { ...servicesJs, [serviceName]: { ...ownJs, image: `${reference.name}:${tag}` } } };
  const problem = verifyEdit(edited, fileName, expected);
  if (problem) return { ok: false, error: problem };
  const notes = [reference.tag === undefined ? `"${serviceName}" had no tag (Docker reads that as "latest"); it now uses ${tag}.` : `"${serviceName}": ${reference.tag} → ${tag}.`];
  return { ok: true, text: edited, notes };
}
