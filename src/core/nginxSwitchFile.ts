/**
 * The Nginx file that selects the live color of a Blue-Green service, read and rewritten
 * without guessing. Three forms are understood:
 *   upstream spring_backend { server 127.0.0.1:8080; }     (other servers may be `down`/`backup`)
 *   set $spring_upstream http://127.0.0.1:8081;
 *   proxy_pass http://127.0.0.1:8080;
 * A switch rewrites the port digits of that one address and leaves every other character alone.
 */
import type { BlueGreenService, Color } from './hostProfile';

/** Half-open range `[start, end)` of UTF-16 offsets into the file text. */
export interface TextSpan {
  start: number;
  end: number;
}

export type SwitchForm = 'upstream' | 'set' | 'proxyPass';

export interface ParsedSwitch {
  form: SwitchForm;
  /** Form `upstream`: the block's name, e.g. `spring_backend`. */
  upstreamName?: string;
  /** Form `set`: the variable, with its `$`, e.g. `$spring_upstream`. */
  variable?: string;
  /** `127.0.0.1`, `localhost`, a container name, or an IPv6 address without brackets. */
  targetHost: string;
  targetPort: number;
  /** The port digits, the only characters `renderSwitch` replaces. */
  span: TextSpan;
  /** 1-based line of the port, for messages. */
  line: number;
}

export type SwitchFileParse = { ok: true; parsed: ParsedSwitch } | { ok: false; error: string };

export interface SwitchParseOptions {
  /**
   * Only addresses on these ports count (a service's blue and green ports). Lets a full server
   * config with several `proxy_pass` lines still name one switch point without guessing.
   */
  ports?: readonly number[];
}

// ---------------------------------------------------------------------------------------------
// Tokenizer and block structure, after nginx's own ngx_conf_read_token.

type TokenKind = 'word' | 'quoted' | 'open' | 'close' | 'semicolon';

interface Token {
  kind: TokenKind;
  /** The characters as written, quotes included. */
  raw: string;
  /** The value nginx sees: quotes removed, escapes resolved. */
  value: string;
  start: number;
  end: number;
  line: number;
}

interface Directive {
  name: Token;
  args: Token[];
  /** Present when the directive opens a `{ }` block. */
  children?: Directive[];
}

class NginxSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number, value: string, startLine: number) =>
    tokens.push({ kind, raw: text.slice(start, end), value, start, end, line: startLine });
  while (i < text.length) {
    const ch = text[i];
    if (ch === '\n') {
      line++;
      i++;
    } else if (ch === ' ' || ch === '\t' || ch === '\r') {
      i++;
    } else if (ch === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (ch === '{' || ch === '}' || ch === ';') {
      push(ch === '{' ? 'open' : ch === '}' ? 'close' : 'semicolon', i, i + 1, ch, line);
      i++;
    } else if (ch === '"' || ch === "'") {
      const start = i;
      const startLine = line;
      let value = '';
      i++;
      while (i < text.length && text[i] !== ch) {
        if (text[i] === '\\' && i + 1 < text.length) {
          const next = text[i + 1];
          value += next === ch || next === '\\' ? next : next === 'n' ? '\n' : next === 't' ? '\t' : next === 'r' ? '\r' : `\\${next}`;
          if (next === '\n') line++;
          i += 2;
          continue;
        }
        if (text[i] === '\n') line++;
        value += text[i];
        i++;
      }
      if (i >= text.length) throw new NginxSyntaxError(`line ${startLine}: the string that starts with ${ch} is never closed`, startLine);
      i++;
      push('quoted', start, i, value, startLine);
    } else {
      const start = i;
      let value = '';
      let inVariableBraces = false;
      while (i < text.length) {
        const c = text[i];
        if (/\s/.test(c) || c === ';') break;
        if ((c === '{' || c === '}') && !inVariableBraces) break;
        if (c === '}' && inVariableBraces) inVariableBraces = false;
        if (c === '\\' && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
          continue;
        }
        // `${name}` is one word even though it contains braces.
        if (c === '$' && text[i + 1] === '{') inVariableBraces = true;
        value += c;
        i++;
      }
      push('word', start, i, value, line);
    }
  }
  return tokens;
}

function parseBlocks(tokens: Token[]): Directive[] {
  let position = 0;
  const readList = (closing: Token | undefined): Directive[] => {
    const list: Directive[] = [];
    let words: Token[] = [];
    while (position < tokens.length) {
      const token = tokens[position++];
      if (token.kind === 'word' || token.kind === 'quoted') {
        words.push(token);
      } else if (token.kind === 'semicolon') {
        if (words.length === 0) throw new NginxSyntaxError(`line ${token.line}: unexpected ";"`, token.line);
        list.push({ name: words[0], args: words.slice(1) });
        words = [];
      } else if (token.kind === 'open') {
        if (words.length === 0) throw new NginxSyntaxError(`line ${token.line}: unexpected "{"`, token.line);
        const directive: Directive = { name: words[0], args: words.slice(1) };
        words = [];
        directive.children = readList(token);
        list.push(directive);
      } else {
        if (words.length > 0) throw new NginxSyntaxError(`line ${words[0].line}: "${words[0].value}" is not ended with ";"`, words[0].line);
        if (!closing) throw new NginxSyntaxError(`line ${token.line}: unexpected "}"`, token.line);
        return list;
      }
    }
    if (words.length > 0) throw new NginxSyntaxError(`line ${words[0].line}: "${words[0].value}" is not ended with ";"`, words[0].line);
    if (closing) throw new NginxSyntaxError(`line ${closing.line}: the "{" opened here is never closed`, closing.line);
    return list;
  };
  return readList(undefined);
}

// ---------------------------------------------------------------------------------------------
// Addresses

interface Address {
  scheme?: string;
  host: string;
  port?: number;
  /** Offsets of the port digits in the file, when the token allows exact offsets. */
  portSpan?: TextSpan;
  /** Something after the port, e.g. `/api/` in `http://127.0.0.1:8080/api/`. */
  path?: string;
}

const hostPattern = String.raw`(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?)`;
const urlPattern = new RegExp(String.raw`^(?:(https?)://)?${hostPattern}(?::(\d{1,5}))?(/\S*)?$`);

/**
 * Reads `[scheme://]host[:port][/path]` from a token. Returns undefined for variables,
 * `unix:` sockets and anything else that is not one literal address.
 */
function readAddress(token: Token, requireScheme: boolean): Address | undefined {
  if (token.value.includes('$') || token.value.startsWith('unix:')) return undefined;
  const match = urlPattern.exec(token.value);
  if (!match) return undefined;
  const [, scheme, bracketedHost, portText, path] = match;
  if (requireScheme && !scheme) return undefined;
  const address: Address = { host: bracketedHost.replace(/^\[|\]$/g, '') };
  if (scheme) address.scheme = scheme;
  if (path) address.path = path;
  if (portText !== undefined) {
    address.port = Number(portText);
    // Exact offsets only when the raw text is the value itself (a word, or a quoted string without escapes).
    const valueOffset = token.kind === 'quoted' ? 1 : 0;
    if (token.raw.slice(valueOffset, valueOffset + token.value.length) === token.value) {
      const portIndex = (scheme ? scheme.length + 3 : 0) + bracketedHost.length + 1;
      const start = token.start + valueOffset + portIndex;
      address.portSpan = { start, end: start + portText.length };
    }
  }
  return address;
}

function isValidPort(port: number | undefined): port is number {
  return port !== undefined && Number.isInteger(port) && port >= 1 && port <= 65535;
}

// ---------------------------------------------------------------------------------------------
// Scanner used by "Add Host" detection

export interface UpstreamServer {
  /** The address as written, e.g. `127.0.0.1:8080`. */
  address: string;
  host: string;
  port?: number;
  isDown: boolean;
  isBackup: boolean;
  line: number;
}

export interface UpstreamCandidate {
  name: string;
  line: number;
  servers: UpstreamServer[];
}

export interface SetTarget {
  variable: string;
  host: string;
  port?: number;
  line: number;
}

export interface ProxyPassTarget {
  /** The argument as written, e.g. `http://spring_backend` or `http://127.0.0.1:8000`. */
  target: string;
  host: string;
  port?: number;
  /**
   * The host of a port-less target that is not an IP address: Nginx first looks for an upstream of
   * that name (in any included file), which is how `proxy_pass http://spring_backend;` reaches the switch.
   */
  upstreamName?: string;
  /** The enclosing `location` argument(s), e.g. `/api/`, when there is one. */
  location?: string;
  line: number;
}

export interface SwitchCandidates {
  fileName: string;
  upstreams: UpstreamCandidate[];
  setTargets: SetTarget[];
  proxyPassTargets: ProxyPassTarget[];
  /** Only `upstream` blocks and/or `set` lines at the top level: a file included to be rewritten at a switch. */
  isPureSwitchInclude: boolean;
  /** Set when the file is not valid Nginx syntax; the lists are then empty. */
  error?: string;
}

function walk(directives: Directive[], visit: (directive: Directive, location: string | undefined) => void, location?: string): void {
  for (const directive of directives) {
    visit(directive, location);
    if (directive.children) {
      const inner = directive.name.value === 'location' ? directive.args.map((arg) => arg.value).join(' ') : location;
      walk(directive.children, visit, inner);
    }
  }
}

function readUpstreamServers(block: Directive): UpstreamServer[] {
  const servers: UpstreamServer[] = [];
  for (const child of block.children ?? []) {
    if (child.name.value !== 'server' || child.args.length === 0) continue;
    const [addressToken, ...params] = child.args;
    const address = readAddress(addressToken, false);
    const flags = params.map((p) => p.value);
    const server: UpstreamServer = {
      address: addressToken.value,
      host: address?.host ?? addressToken.value,
      isDown: flags.includes('down'),
      isBackup: flags.includes('backup'),
      line: addressToken.line,
    };
    if (address?.port !== undefined) server.port = address.port;
    servers.push(server);
  }
  return servers;
}

function syntaxErrorMessage(fileName: string, error: unknown): string {
  if (error instanceof NginxSyntaxError) return `${fileName} ${error.message}`;
  throw error;
}

/** Lists every upstream, `set $var` address and `proxy_pass` address in one Nginx conf file. */
export function findSwitchCandidates(fileName: string, text: string): SwitchCandidates {
  const result: SwitchCandidates = { fileName, upstreams: [], setTargets: [], proxyPassTargets: [], isPureSwitchInclude: false };
  let directives: Directive[];
  try {
    directives = parseBlocks(tokenize(text));
  } catch (error) {
    result.error = syntaxErrorMessage(fileName, error);
    return result;
  }
  walk(directives, (directive, location) => {
    const name = directive.name.value;
    if (name === 'upstream' && directive.children && directive.args.length === 1) {
      result.upstreams.push({ name: directive.args[0].value, line: directive.name.line, servers: readUpstreamServers(directive) });
    } else if (name === 'set' && !directive.children && directive.args.length === 2) {
      const address = readAddress(directive.args[1], false);
      // `set $flag on;` also matches the host pattern; only host:port or a URL is a target.
      if (address && (address.port !== undefined || address.scheme)) {
        const target: SetTarget = { variable: directive.args[0].value, host: address.host, line: directive.name.line };
        if (address.port !== undefined) target.port = address.port;
        result.setTargets.push(target);
      }
    } else if (name === 'proxy_pass' && !directive.children && directive.args.length === 1) {
      const address = readAddress(directive.args[0], true);
      if (!address) return;
      const target: ProxyPassTarget = { target: directive.args[0].value, host: address.host, line: directive.name.line };
      if (address.port !== undefined) target.port = address.port;
      else if (!/^[\d.]+$|:/.test(address.host) && address.host !== 'localhost') target.upstreamName = address.host;
      if (location !== undefined) target.location = location;
      result.proxyPassTargets.push(target);
    }
  });
  result.isPureSwitchInclude =
    directives.length > 0 && directives.every((d) => (d.name.value === 'upstream' && d.children) || (d.name.value === 'set' && !d.children));
  return result;
}

// ---------------------------------------------------------------------------------------------
// Parse, resolve, render

interface Candidate {
  parsed: ParsedSwitch;
  describe: string;
}

function describeAt(fileLabel: string, line: number): string {
  return `${fileLabel} line ${line}`;
}

/**
 * Finds the one address that selects the live color. Refuses, with the reason, a file with no
 * such address, with several (unless `options.ports` narrows them to one), or an upstream that
 * sends traffic to more than one server.
 */
export function parseSwitchFile(text: string, options: SwitchParseOptions = {}, fileName = 'the switch file'): SwitchFileParse {
  let directives: Directive[];
  try {
    directives = parseBlocks(tokenize(text));
  } catch (error) {
    return { ok: false, error: `Cannot understand ${syntaxErrorMessage(fileName, error)}.` };
  }
  const ports = options.ports;
  const wanted = (port: number | undefined) => ports === undefined || (port !== undefined && ports.includes(port));
  const portList = ports ? ports.join(' or ') : '';
  const candidates: Candidate[] = [];
  const problems: string[] = [];
  const ignored: string[] = [];

  const addCandidate = (
    form: SwitchForm,
    label: string,
    address: Address | undefined,
    line: number,
    raw: string,
    extra: Partial<ParsedSwitch>,
  ) => {
    if (!address) return;
    if (address.port === undefined) {
      if (ports === undefined) problems.push(`${label} (${describeAt(fileName, line)}) sends traffic to "${raw}" without an explicit port, so there is no port to switch`);
      return;
    }
    if (!wanted(address.port)) {
      ignored.push(`${label} → ${raw} (line ${line})`);
      return;
    }
    if (!isValidPort(address.port)) {
      problems.push(`${label} (${describeAt(fileName, line)}) has port ${address.port}, which is not a valid port`);
      return;
    }
    if (!address.portSpan) {
      problems.push(`${label} (${describeAt(fileName, line)}) writes its address with escapes; rewrite it as plain text so the port can be replaced exactly`);
      return;
    }
    candidates.push({
      describe: `${label} → ${raw} (line ${line})`,
      parsed: { form, ...extra, targetHost: address.host, targetPort: address.port, span: address.portSpan, line },
    });
  };

  walk(directives, (directive) => {
    const name = directive.name.value;
    if (name === 'upstream' && directive.children) {
      const upstreamName = directive.args[0]?.value ?? '';
      const label = `upstream ${upstreamName}`;
      const servers = directive.children.filter((c) => c.name.value === 'server' && c.args.length > 0);
      const described = servers.map((s) => ({ directive: s, address: readAddress(s.args[0], false), flags: s.args.slice(1).map((a) => a.value) }));
      const relevant = described.filter((s) => ports === undefined || wanted(s.address?.port));
      if (relevant.length === 0) {
        if (servers.length === 0 && ports === undefined) problems.push(`${label} (${describeAt(fileName, directive.name.line)}) has no "server" line`);
        else if (servers.length > 0) ignored.push(...described.map((s) => `${label} → ${s.directive.args[0].value} (line ${s.directive.name.line})`));
        return;
      }
      const live = described.filter((s) => !s.flags.includes('down') && !s.flags.includes('backup'));
      if (live.length !== 1) {
        const list = described.map((s) => `${s.directive.args[0].value}${s.flags.length ? ` ${s.flags.join(' ')}` : ''} (line ${s.directive.name.line})`).join(', ');
        problems.push(
          live.length === 0
            ? `${label} (${describeAt(fileName, directive.name.line)}) has no server that takes traffic: every one is "down" or "backup" (${list})`
            : `${label} (${describeAt(fileName, directive.name.line)}) sends traffic to ${live.length} servers (${list}); a switch file must send it to exactly one, the others marked "down" or "backup"`,
        );
        return;
      }
      const server = live[0].directive;
      if (!live[0].address) {
        problems.push(`${label} (${describeAt(fileName, server.name.line)}) has the server "${server.args[0].value}", which is not a host:port address`);
        return;
      }
      addCandidate('upstream', label, live[0].address, server.name.line, server.args[0].value, { upstreamName });
    } else if (name === 'set' && !directive.children && directive.args.length === 2) {
      const address = readAddress(directive.args[1], false);
      if (!address || (address.port === undefined && !address.scheme)) return;
      addCandidate('set', `set ${directive.args[0].value}`, address, directive.name.line, directive.args[1].value, { variable: directive.args[0].value });
    } else if ((name === 'map' || name === 'split_clients') && directive.children) {
      // Its values are chosen per request (cookie, header, hash): no one line says which color is live.
      const values = directive.children.map((c) => c.args[c.args.length - 1]).filter((token) => token && wanted(readAddress(token, false)?.port));
      if (values.length > 0) {
        const label = [name, ...directive.args.map((a) => a.value)].join(' ');
        problems.push(`${label} (${describeAt(fileName, directive.name.line)}) chooses the address per request (${values.map((t) => t.value).join(', ')}), so no single address says which color is live`);
      }
    } else if (name === 'proxy_pass' && !directive.children && directive.args.length === 1) {
      const address = readAddress(directive.args[0], true);
      // `proxy_pass http://spring_backend;` refers to an upstream: the upstream is the switch, not this line.
      if (!address || address.port === undefined) return;
      addCandidate('proxyPass', 'proxy_pass', address, directive.name.line, directive.args[0].value, {});
    }
  });

  if (problems.length > 0) return { ok: false, error: `Cannot understand ${fileName}: ${problems.join('; ')}.` };
  if (candidates.length === 1) return { ok: true, parsed: candidates[0].parsed };
  if (candidates.length > 1) {
    return {
      ok: false,
      error: `Cannot understand ${fileName}: it has ${candidates.length} addresses that could be the switch (${candidates.map((c) => c.describe).join('; ')}), so which one selects the live color is ambiguous${ports ? '' : '; give the service ports to narrow it down'}.`,
    };
  }
  if (ignored.length > 0) {
    return { ok: false, error: `Cannot understand ${fileName}: no address in it uses port ${portList} (found ${ignored.join('; ')}).` };
  }
  return {
    ok: false,
    error: `Cannot understand ${fileName}: it has no "upstream { server host:port; }" block, "set $var host:port;" line or "proxy_pass http://host:port;" line.`,
  };
}

export type ActiveColorResult = { ok: true; color: Color } | { ok: false; error: string };

/** Which color the parsed switch points at, by port; a port that is neither color is an error, not a guess. */
export function resolveActiveColor(parsed: ParsedSwitch, service: BlueGreenService): ActiveColorResult {
  const { blue, green } = service.colors;
  const target = `${parsed.targetHost.includes(':') ? `[${parsed.targetHost}]` : parsed.targetHost}:${parsed.targetPort}`;
  const where = `${service.switchFile} (line ${parsed.line})`;
  const byPort: Color | undefined = parsed.targetPort === blue.port ? 'blue' : parsed.targetPort === green.port ? 'green' : undefined;
  if (!byPort) {
    return {
      ok: false,
      error: `${where} sends ${service.name} traffic to ${target}, which is neither blue (port ${blue.port}) nor green (port ${green.port}).`,
    };
  }
  // A container name as host must agree with the port, or the file says two different things.
  const byHost: Color | undefined = parsed.targetHost === blue.container ? 'blue' : parsed.targetHost === green.container ? 'green' : undefined;
  if (byHost && byHost !== byPort) {
    return {
      ok: false,
      error: `${where} sends ${service.name} traffic to ${target}: the host is the ${byHost} container but the port is ${byPort}'s (${service.colors[byPort].port}).`,
    };
  }
  return { ok: true, color: byPort };
}

/** The color a switch file's text sends the service's traffic to. */
export function liveColorOf(text: string, service: BlueGreenService): { color: Color } | { error: string } {
  const parsed = parseSwitchFile(text, { ports: [service.colors.blue.port, service.colors.green.port] }, service.switchFile);
  if (!parsed.ok) return { error: parsed.error };
  const active = resolveActiveColor(parsed.parsed, service);
  return active.ok ? { color: active.color } : { error: active.error };
}

export type RenderResult = { ok: true; text: string } | { ok: false; error: string };

/**
 * The file with only the port digits at `parsed.span` replaced by `newPort`.
 * Refuses when the text no longer holds the parsed port there (the file changed since it was read).
 */
export function renderSwitch(text: string, parsed: ParsedSwitch, newPort: number): RenderResult {
  if (!isValidPort(newPort)) return { ok: false, error: `${newPort} is not a port number (1-65535).` };
  const { start, end } = parsed.span;
  const current = text.slice(start, end);
  const isDigitBoundary = (index: number) => index < 0 || index >= text.length || !/\d/.test(text[index]);
  if (current !== String(parsed.targetPort) || !isDigitBoundary(start - 1) || !isDigitBoundary(end)) {
    return {
      ok: false,
      error: `The switch file changed since it was read: expected port ${parsed.targetPort} at line ${parsed.line}, found "${current}". Read it again before switching.`,
    };
  }
  return { ok: true, text: text.slice(0, start) + String(newPort) + text.slice(end) };
}
