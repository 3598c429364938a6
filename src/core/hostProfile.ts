/**
 * Host profiles: what Switchyard manages on one server, as typed data.
 * They come from the `switchyard.hosts` setting or a `.switchyard.json` file; both go through
 * `parseHostProfiles`, which never throws and reports every problem with its JSON path.
 */

export interface SshTarget {
  /** An `~/.ssh/config` alias or a host name / address. */
  host: string;
  port?: number;
  user?: string;
  identityFile?: string;
}

export interface NginxProfile {
  binary: string;
  /** Passed as `-c` when set; absent means nginx's compiled-in default. */
  mainConfig?: string;
  confDir: string;
  accessLog: string;
  errorLog: string;
  /** Run nginx and read its logs through `sudo -n`. */
  useSudo: boolean;
}

export interface ColorProfile {
  container: string;
  composeFile: string;
  port: number;
}

export type Color = 'blue' | 'green';
export const colors: readonly Color[] = ['blue', 'green'];

export interface BlueGreenService {
  kind: 'blueGreen';
  name: string;
  /** The Nginx file rewritten at every switch (e.g. conf.d/active-upstream.conf). */
  switchFile: string;
  healthPath: string;
  colors: Record<Color, ColorProfile>;
  /**
   * An http URL on the host's loopback that Nginx routes to this service (e.g. `http://127.0.0.1/api/whoami`):
   * after a switch, Switchyard asks it until the new color answers. Absent: the switch is not verified.
   */
  verifyUrl?: string;
}

export interface SingleService {
  kind: 'single';
  name: string;
  container: string;
  composeFile: string;
  port: number;
  healthPath: string;
}

export type ServiceProfile = BlueGreenService | SingleService;

export interface HostProfile {
  name: string;
  ssh: SshTarget;
  dockerSocket: string;
  appsDir: string;
  nginx: NginxProfile;
  services: ServiceProfile[];
}

export interface ProfileError {
  /** JSON path of the offending value, e.g. `hosts[0].services[1].colors.green.port`. */
  path: string;
  message: string;
}

export interface ParsedProfiles {
  profiles: HostProfile[];
  errors: ProfileError[];
}

export const defaultDockerSocket = '/var/run/docker.sock';
export const defaultNginx: NginxProfile = {
  binary: 'nginx',
  confDir: '/etc/nginx/conf.d',
  accessLog: '/var/log/nginx/access.log',
  errorLog: '/var/log/nginx/error.log',
  useSudo: true,
};

export type VerifyTarget = { ok: true; port: number; path: string } | { ok: false; error: string };

/** A service's `verifyUrl`: http on the host's own loopback (Switchyard asks it through the SSH connection). */
export function parseVerifyUrl(url: string): VerifyTarget {
  const match = /^http:\/\/(127\.0\.0\.1|localhost)(?::(\d{1,5}))?(\/[^\s#]*)?$/.exec(url);
  if (!match) return { ok: false, error: `expected http://127.0.0.1[:port]/path (Nginx as seen from the host itself), got "${url}"` };
  const port = match[2] === undefined ? 80 : Number(match[2]);
  if (port < 1 || port > 65535) return { ok: false, error: `"${url}" has an invalid port` };
  return { ok: true, port, path: match[3] ?? '/' };
}

/** Parses `[user@]host[:port]`; returns undefined when it is not of that shape. */
export function parseSshDestination(text: string): SshTarget | undefined {
  const match = /^(?:([^@\s:]+)@)?(\[[^\]]+\]|[^@\s:[\]]+)(?::(\d{1,5}))?$/.exec(text.trim());
  if (!match) return undefined;
  const host = match[2].replace(/^\[|\]$/g, '');
  const target: SshTarget = { host };
  if (match[1]) target.user = match[1];
  if (match[3]) {
    const port = Number(match[3]);
    if (port < 1 || port > 65535) return undefined;
    target.port = port;
  }
  return target;
}

type Json = unknown;

/** Collects errors while reading one untrusted JSON value. */
class Reader {
  readonly errors: ProfileError[] = [];

  fail(path: string, message: string): undefined {
    this.errors.push({ path, message });
    return undefined;
  }

  object(value: Json, path: string): Record<string, Json> | undefined {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return this.fail(path, 'expected an object');
    return value as Record<string, Json>;
  }

  string(obj: Record<string, Json>, key: string, path: string, options: { optional?: boolean; absolutePath?: boolean } = {}): string | undefined {
    const value = obj[key];
    const at = `${path}.${key}`;
    if (value === undefined) return options.optional ? undefined : this.fail(at, 'is required');
    if (typeof value !== 'string' || value.trim() === '') return this.fail(at, 'expected a non-empty string');
    if (options.absolutePath && !value.startsWith('/')) return this.fail(at, `expected an absolute path on the host, got "${value}"`);
    if (/[\0\n\r]/.test(value)) return this.fail(at, 'must not contain NUL or line breaks');
    return value;
  }

  port(obj: Record<string, Json>, key: string, path: string, optional = false): number | undefined {
    const value = obj[key];
    const at = `${path}.${key}`;
    if (value === undefined) return optional ? undefined : this.fail(at, 'is required');
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) return this.fail(at, `expected a port number 1-65535, got ${JSON.stringify(value)}`);
    return value;
  }

  boolean(obj: Record<string, Json>, key: string, path: string, fallback: boolean): boolean {
    const value = obj[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') {
      this.fail(`${path}.${key}`, 'expected true or false');
      return fallback;
    }
    return value;
  }

  unknownKeys(obj: Record<string, Json>, known: readonly string[], path: string): void {
    for (const key of Object.keys(obj)) {
      if (!known.includes(key)) this.fail(`${path}.${key}`, `unknown key (expected one of: ${known.join(', ')})`);
    }
  }
}

const containerName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const hostKeys = ['name', 'ssh', 'port', 'user', 'identityFile', 'dockerSocket', 'appsDir', 'nginx', 'services'] as const;
const nginxKeys = ['binary', 'mainConfig', 'confDir', 'accessLog', 'errorLog', 'useSudo'] as const;
const blueGreenKeys = ['kind', 'name', 'switchFile', 'healthPath', 'colors', 'verifyUrl'] as const;
const singleKeys = ['kind', 'name', 'container', 'composeFile', 'port', 'healthPath'] as const;
const colorKeys = ['container', 'composeFile', 'port'] as const;

function readNginx(r: Reader, value: Json, path: string): NginxProfile {
  if (value === undefined) return { ...defaultNginx };
  const obj = r.object(value, path);
  if (!obj) return { ...defaultNginx };
  r.unknownKeys(obj, nginxKeys, path);
  const nginx: NginxProfile = {
    binary: r.string(obj, 'binary', path, { optional: true }) ?? defaultNginx.binary,
    confDir: r.string(obj, 'confDir', path, { optional: true, absolutePath: true }) ?? defaultNginx.confDir,
    accessLog: r.string(obj, 'accessLog', path, { optional: true, absolutePath: true }) ?? defaultNginx.accessLog,
    errorLog: r.string(obj, 'errorLog', path, { optional: true, absolutePath: true }) ?? defaultNginx.errorLog,
    useSudo: r.boolean(obj, 'useSudo', path, defaultNginx.useSudo),
  };
  const mainConfig = r.string(obj, 'mainConfig', path, { optional: true, absolutePath: true });
  if (mainConfig) nginx.mainConfig = mainConfig;
  return nginx;
}

function readHealthPath(r: Reader, obj: Record<string, Json>, path: string): string {
  const value = r.string(obj, 'healthPath', path, { optional: true }) ?? '/';
  if (!value.startsWith('/')) {
    r.fail(`${path}.healthPath`, `expected a URL path starting with "/", got "${value}"`);
    return '/';
  }
  return value;
}

function readContainer(r: Reader, obj: Record<string, Json>, path: string): string | undefined {
  const value = r.string(obj, 'container', path);
  if (value !== undefined && !containerName.test(value)) return r.fail(`${path}.container`, `"${value}" is not a valid Docker container name`);
  return value;
}

function resolvePath(appsDir: string, file: string): string {
  return file.startsWith('/') ? file : `${appsDir.replace(/\/+$/, '')}/${file}`;
}

function readColor(r: Reader, value: Json, path: string, appsDir: string): ColorProfile | undefined {
  const obj = r.object(value, path);
  if (!obj) return undefined;
  r.unknownKeys(obj, colorKeys, path);
  const container = readContainer(r, obj, path);
  const composeFile = r.string(obj, 'composeFile', path);
  const port = r.port(obj, 'port', path);
  if (container === undefined || composeFile === undefined || port === undefined) return undefined;
  return { container, composeFile: resolvePath(appsDir, composeFile), port };
}

function readService(r: Reader, value: Json, path: string, appsDir: string, nginx: NginxProfile): ServiceProfile | undefined {
  const obj = r.object(value, path);
  if (!obj) return undefined;
  const name = r.string(obj, 'name', path);
  const kind = obj.kind ?? 'blueGreen';
  if (kind === 'blueGreen') {
    r.unknownKeys(obj, blueGreenKeys, path);
    const switchFile = r.string(obj, 'switchFile', path);
    const healthPath = readHealthPath(r, obj, path);
    const verifyUrl = r.string(obj, 'verifyUrl', path, { optional: true });
    if (verifyUrl !== undefined) {
      const verify = parseVerifyUrl(verifyUrl);
      if (!verify.ok) r.fail(`${path}.verifyUrl`, verify.error);
    }
    const colorsObj = r.object(obj.colors, `${path}.colors`);
    const blue = colorsObj && readColor(r, colorsObj.blue, `${path}.colors.blue`, appsDir);
    const green = colorsObj && readColor(r, colorsObj.green, `${path}.colors.green`, appsDir);
    if (colorsObj) r.unknownKeys(colorsObj, colors, `${path}.colors`);
    if (blue && green) {
      if (blue.container === green.container) r.fail(`${path}.colors`, 'blue and green must be different containers');
      if (blue.port === green.port) r.fail(`${path}.colors`, `blue and green must listen on different ports (both are ${blue.port})`);
    }
    if (name === undefined || switchFile === undefined || !blue || !green) return undefined;
    return { kind, name, switchFile: resolvePath(nginx.confDir, switchFile), healthPath, colors: { blue, green }, ...(verifyUrl !== undefined ? { verifyUrl } : {}) };
  }
  if (kind === 'single') {
    r.unknownKeys(obj, singleKeys, path);
    const container = readContainer(r, obj, path);
    const composeFile = r.string(obj, 'composeFile', path);
    const port = r.port(obj, 'port', path);
    const healthPath = readHealthPath(r, obj, path);
    if (name === undefined || container === undefined || composeFile === undefined || port === undefined) return undefined;
    return { kind, name, container, composeFile: resolvePath(appsDir, composeFile), port, healthPath };
  }
  return r.fail(`${path}.kind`, `expected "blueGreen" or "single", got ${JSON.stringify(kind)}`);
}

function readSsh(r: Reader, obj: Record<string, Json>, path: string): SshTarget | undefined {
  const destination = r.string(obj, 'ssh', path);
  if (destination === undefined) return undefined;
  const target = parseSshDestination(destination);
  if (!target) return r.fail(`${path}.ssh`, `expected an ~/.ssh/config alias or user@host[:port], got "${destination}"`);
  const port = r.port(obj, 'port', path, true);
  const user = r.string(obj, 'user', path, { optional: true });
  const identityFile = r.string(obj, 'identityFile', path, { optional: true });
  if (port !== undefined) {
    if (target.port !== undefined && target.port !== port) r.fail(`${path}.port`, `conflicts with the port in "ssh" (${target.port})`);
    target.port = port;
  }
  if (user !== undefined) {
    if (target.user !== undefined && target.user !== user) r.fail(`${path}.user`, `conflicts with the user in "ssh" (${target.user})`);
    target.user = user;
  }
  if (identityFile !== undefined) target.identityFile = identityFile;
  return target;
}

function readHost(r: Reader, value: Json, path: string): HostProfile | undefined {
  const obj = r.object(value, path);
  if (!obj) return undefined;
  r.unknownKeys(obj, hostKeys, path);
  const name = r.string(obj, 'name', path);
  const ssh = readSsh(r, obj, path);
  const dockerSocket = r.string(obj, 'dockerSocket', path, { optional: true, absolutePath: true }) ?? defaultDockerSocket;
  const appsDir = r.string(obj, 'appsDir', path, { optional: true, absolutePath: true }) ?? `/home/${ssh?.user ?? 'ec2-user'}/apps`;
  const nginx = readNginx(r, obj.nginx, `${path}.nginx`);
  const services: ServiceProfile[] = [];
  if (obj.services !== undefined) {
    if (!Array.isArray(obj.services)) r.fail(`${path}.services`, 'expected an array');
    else {
      obj.services.forEach((service, i) => {
        const parsed = readService(r, service, `${path}.services[${i}]`, appsDir, nginx);
        if (parsed) services.push(parsed);
      });
      const seen = new Set<string>();
      for (const service of services) {
        if (seen.has(service.name)) r.fail(`${path}.services`, `service "${service.name}" is listed twice`);
        seen.add(service.name);
      }
    }
  }
  if (name === undefined || ssh === undefined) return undefined;
  return { name, ssh, dockerSocket, appsDir, nginx, services };
}

/**
 * Validates a list of host profiles (the `switchyard.hosts` setting, or `hosts` of `.switchyard.json`).
 * A host with errors is left out of `profiles`; every error is reported.
 */
export function parseHostProfiles(value: unknown, basePath = 'hosts'): ParsedProfiles {
  const r = new Reader();
  const profiles: HostProfile[] = [];
  if (value === undefined || value === null) return { profiles, errors: [] };
  if (!Array.isArray(value)) {
    r.fail(basePath, 'expected an array of host profiles');
    return { profiles, errors: r.errors };
  }
  value.forEach((host, i) => {
    const before = r.errors.length;
    const parsed = readHost(r, host, `${basePath}[${i}]`);
    if (parsed && r.errors.length === before) profiles.push(parsed);
  });
  const names = new Set<string>();
  for (const profile of profiles) {
    if (names.has(profile.name)) r.fail(basePath, `host "${profile.name}" is listed twice`);
    names.add(profile.name);
  }
  return { profiles, errors: r.errors };
}

/** Parses the text of a `.switchyard.json` file: `{ "hosts": [...] }`. */
export function parseProfileFile(text: string, fileName = '.switchyard.json'): ParsedProfiles {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { profiles: [], errors: [{ path: fileName, message: `is not valid JSON: ${error instanceof Error ? error.message : String(error)}` }] };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { profiles: [], errors: [{ path: fileName, message: 'expected an object with a "hosts" array' }] };
  }
  return parseHostProfiles((json as Record<string, unknown>).hosts, 'hosts');
}

/** The host's profile in the JSON form the setting stores (what "Add Host" writes). */
export function serializeHostProfile(profile: HostProfile): Record<string, unknown> {
  const { ssh } = profile;
  const destination = `${ssh.user ? `${ssh.user}@` : ''}${ssh.host.includes(':') ? `[${ssh.host}]` : ssh.host}${ssh.port ? `:${ssh.port}` : ''}`;
  const out: Record<string, unknown> = { name: profile.name, ssh: destination };
  if (ssh.identityFile) out.identityFile = ssh.identityFile;
  if (profile.dockerSocket !== defaultDockerSocket) out.dockerSocket = profile.dockerSocket;
  out.appsDir = profile.appsDir;
  const nginx: Record<string, unknown> = {};
  for (const key of nginxKeys) {
    if (profile.nginx[key] !== undefined && profile.nginx[key] !== defaultNginx[key]) nginx[key] = profile.nginx[key];
  }
  if (Object.keys(nginx).length > 0) out.nginx = nginx;
  out.services = profile.services.map((service) => ({ ...service }));
  return out;
}
