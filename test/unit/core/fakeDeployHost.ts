/**
 * A simulated handDoc host behind the deploy engine's ports: containers that start, become ready,
 * fail their health or crash on a fake clock; an Nginx that serves whatever the switch file said at
 * its last successful reload; a lock, a journal, and fault injection by port call and by step.
 */
import type {
  CommandOutcome,
  ComposeTarget,
  ContainerStatus,
  DeployEvent,
  DeployPorts,
  HostResources,
  ImageCheck,
  JournalEntry,
  LockAcquire,
  LockRecord,
  LockState,
  StepName,
} from '../../../src/core/deployTypes';
import type { BlueGreenService, Color, HostProfile, SingleService } from '../../../src/core/hostProfile';

export const registry = '127.0.0.1:5005/handdoc-spring';
export const switchPath = '/etc/nginx/conf.d/active-upstream.conf';
export const verifyPort = 8088;

export function switchFileFor(port: number): string {
  return `# Live Spring color. Rewritten at every switch, then nginx reload.\nupstream spring_backend {\n    server 127.0.0.1:${port};\n}\n`;
}

function composeFileFor(color: Color, port: number): string {
  return [
    'version: "3.8"',
    '',
    `# Spring Boot API — ${color.toUpperCase()} color (port ${port}).`,
    'services:',
    `  spring-${color}:`,
    `    image: ${registry}:latest`,
    `    container_name: handdoc-spring-${color}`,
    '    network_mode: host',
    '    healthcheck:',
    `      test: ["CMD-SHELL", "wget -q -O- http://127.0.0.1:${port}/actuator/health || exit 1"]`,
    '      interval: 30s',
    '      timeout: 15s',
    '      retries: 3',
    '      start_period: 60s',
    '',
  ].join('\n');
}

export const spring: BlueGreenService = {
  kind: 'blueGreen',
  name: 'spring',
  switchFile: switchPath,
  healthPath: '/actuator/health',
  verifyUrl: `http://127.0.0.1:${verifyPort}/api/whoami`,
  colors: {
    blue: { container: 'handdoc-spring-blue', composeFile: '/home/ec2-user/apps/docker-compose.spring-blue.yml', port: 8080 },
    green: { container: 'handdoc-spring-green', composeFile: '/home/ec2-user/apps/docker-compose.spring-green.yml', port: 8081 },
  },
};

export const fastapiRegistry = '127.0.0.1:5005/handdoc-fastapi';
export const fastapiComposePath = '/home/ec2-user/apps/docker-compose.fastapi.yml';
export const fastapi: SingleService = { kind: 'single', name: 'fastapi', container: 'handdoc-fastapi', composeFile: fastapiComposePath, port: 8000, healthPath: '/health' };

/** The sandbox's docker-compose.fastapi.yml (network_mode host, PORT=8000, the fixed healthcheck). */
export const fastapiCompose = [
  'version: "3.8"',
  '',
  '# FastAPI inference server (sign-language + Whisper). Single container, redeployed in place.',
  'services:',
  '  fastapi:',
  `    image: ${fastapiRegistry}:latest`,
  '    container_name: handdoc-fastapi',
  '    network_mode: host          # nginx proxies /fastapi/ to 127.0.0.1:8000',
  '    env_file:',
  '      - .env',
  '    environment:',
  '      - PORT=8000',
  '    restart: unless-stopped',
  '    healthcheck:',
  '      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8000/health"]',
  '      interval: 30s',
  '      timeout: 15s',
  '      retries: 3',
  '      start_period: 60s',
  '',
].join('\n');

export const profile: HostProfile = {
  name: 'fake-host',
  ssh: { host: '127.0.0.1', user: 'ec2-user' },
  dockerSocket: '/var/run/docker.sock',
  appsDir: '/home/ec2-user/apps',
  nginx: { binary: 'nginx', confDir: '/etc/nginx/conf.d', accessLog: '/var/log/nginx/access.log', errorLog: '/var/log/nginx/error.log', useSudo: true },
  services: [spring, fastapi],
};

export function connectionLost(): Error {
  return Object.assign(new Error('The connection to fake-host was lost.'), { code: 'connectionLost' });
}

export function cancelledError(): Error {
  return Object.assign(new Error('Cancelled.'), { code: 'cancelled' });
}

/** How a container made from an image behaves (keyed by tag). */
export interface Behaviour {
  /** Time after start when the port opens and the health path answers. */
  readyAfterMs: number;
  /** False: the health path answers 500 forever (`:broken`). */
  isHealthy: boolean;
  /** The process exits with code 1 this long after start. */
  exitAfterMs?: number;
}

interface FakeContainer {
  name: string;
  id: string;
  image: string;
  /** Undefined for the single-container service (handdoc-fastapi). */
  color?: Color;
  port: number;
  createdMs: number;
  behaviour: Behaviour;
  healthcheck: { intervalMs: number; timeoutMs: number; startPeriodMs: number; retries: number };
  isStopped: boolean;
  restartCount: number;
  labels: Record<string, string>;
}

interface Fault {
  call: string;
  when?: () => boolean;
  times: number;
  error: () => Error;
  /** The connection stays down after this fault until `reconnect()`. */
  isPersistent?: boolean;
}

const colorOfPort = (port: number): Color | undefined => (port === 8080 ? 'blue' : port === 8081 ? 'green' : undefined);

export class FakeHost implements DeployPorts {
  readonly hostName = 'fake-host';
  readonly startMs = 1_800_000_000_000;
  nowMs = this.startMs;
  readonly calls: string[] = [];
  readonly events: DeployEvent[] = [];
  readonly fileMap = new Map<string, string>();
  readonly containers = new Map<string, FakeContainer>();
  readonly behaviours = new Map<string, Behaviour>([
    ['broken', { readyAfterMs: 2000, isHealthy: false }],
    ['crashes', { readyAfterMs: 2000, isHealthy: true, exitAfterMs: 5000 }],
    ['slow', { readyAfterMs: 40_000, isHealthy: true }],
  ]);
  /** How long handdoc-fastapi takes to load its models before /health answers. */
  fastapiLoadMs = 9000;
  readonly registryTags = new Set([...['latest', 'v1', 'v2', 'v3', 'broken', 'crashes', 'slow'].map((t) => `${registry}:${t}`), ...['latest', 'v1', 'v2', 'broken', 'crashes'].map((t) => `${fastapiRegistry}:${t}`)]);
  readonly localImages = new Set([`${registry}:latest`, `${registry}:v1`, `${fastapiRegistry}:v1`]);
  isRegistryDown = false;
  /** The port Nginx proxies to, as of its last successful reload. */
  servingPort: number;
  isNginxBroken = false;
  reloadBehaviour: 'ok' | 'fails' | 'ignored' = 'ok';
  readonly readOnlyPaths = new Set<string>();
  memAvailableKb = 600 * 1024;
  liveMemoryKb: number | undefined = 350 * 1024;
  lockState?: LockState;
  readonly journalEntries: JournalEntry[] = [];
  readonly faults: Fault[] = [];
  isDisconnected = false;
  /** The step the engine is in (from its events), for faults that fire "during step X". */
  step?: StepName;
  private readonly timers: Array<{ atMs: number; run: () => void }> = [];
  private idCounter = 0;

  constructor(live: Color = 'blue') {
    this.servingPort = spring.colors[live].port;
    this.fileMap.set(switchPath, switchFileFor(this.servingPort));
    for (const color of ['blue', 'green'] as const) {
      const { container, composeFile, port } = spring.colors[color];
      this.fileMap.set(composeFile, composeFileFor(color, port));
      this.addContainer(color, `${registry}:v1`, this.startMs - 3_600_000);
      void container;
    }
    this.fileMap.set(fastapiComposePath, fastapiCompose);
    this.addFastapi(`${fastapiRegistry}:v1`, this.startMs - 3_600_000);
  }

  /** (Re)creates handdoc-fastapi from `image`, as compose up --force-recreate does. */
  addFastapi(image: string, createdMs = this.nowMs): FakeContainer {
    const tag = image.slice(image.lastIndexOf(':') + 1);
    const behaviour = this.behaviours.get(tag);
    const fake: FakeContainer = {
      name: fastapi.container,
      id: `id-${++this.idCounter}`,
      image,
      port: fastapi.port,
      createdMs,
      behaviour: behaviour ? { ...behaviour, readyAfterMs: Math.max(behaviour.readyAfterMs, this.fastapiLoadMs) } : { readyAfterMs: this.fastapiLoadMs, isHealthy: true },
      healthcheck: { intervalMs: 30_000, timeoutMs: 15_000, startPeriodMs: 60_000, retries: 3 },
      isStopped: false,
      restartCount: 0,
      labels: { 'com.docker.compose.project': fastapi.container, 'com.docker.compose.service': 'fastapi' },
    };
    this.containers.set(fastapi.container, fake);
    return fake;
  }

  addContainer(color: Color, image: string, createdMs = this.nowMs): FakeContainer {
    const { container, port } = spring.colors[color];
    const tag = image.slice(image.lastIndexOf(':') + 1);
    const fake: FakeContainer = {
      name: container,
      id: `id-${++this.idCounter}`,
      image,
      color,
      port,
      createdMs,
      behaviour: this.behaviours.get(tag) ?? { readyAfterMs: 2000, isHealthy: true },
      healthcheck: { intervalMs: 30_000, timeoutMs: 15_000, startPeriodMs: 60_000, retries: 3 },
      isStopped: false,
      restartCount: 0,
      labels: { 'com.docker.compose.project': container, 'com.docker.compose.service': `spring-${color}` },
    };
    this.containers.set(container, fake);
    return fake;
  }

  // -------------------------------------------------------------------------------------------
  // test controls

  /** Feeds the engine's events here: records them and tracks the current step. */
  readonly onEvent = (event: DeployEvent): void => {
    this.events.push(event);
    if (event.kind === 'stepStarted') this.step = event.step;
  };

  /** Runs `action` once the fake clock passes `afterMs` from now. */
  at(afterMs: number, action: () => void): void {
    this.timers.push({ atMs: this.nowMs + afterMs, run: action });
  }

  fail(call: string, options: { times?: number; when?: () => boolean; error?: () => Error; isPersistent?: boolean } = {}): void {
    this.faults.push({ call, times: options.times ?? 1, error: options.error ?? connectionLost, ...(options.when ? { when: options.when } : {}), ...(options.isPersistent ? { isPersistent: true } : {}) });
  }

  reconnect(): void {
    this.isDisconnected = false;
    this.faults.length = 0;
  }

  /** The holder's SSH session is gone: its lock becomes stale. */
  holderGone(): void {
    if (this.lockState) this.lockState = { ...this.lockState, isStale: true, staleReason: 'its SSH session on the host has ended' };
  }

  crash(container: string): void {
    const fake = this.containers.get(container);
    if (fake) {
      fake.restartCount++;
      fake.createdMs = this.nowMs;
    }
  }

  liveColorOnDisk(): Color | undefined {
    const match = /server\s+127\.0\.0\.1:(\d+)/.exec(this.fileMap.get(switchPath) ?? '');
    return match ? colorOfPort(Number(match[1])) : undefined;
  }

  servingColor(): Color | undefined {
    return colorOfPort(this.servingPort);
  }

  isRunning(container: string): boolean {
    const fake = this.containers.get(container);
    return !!fake && this.stateOf(fake).state === 'running';
  }

  writes(path = switchPath): number {
    return this.calls.filter((c) => c === `files.write ${path}`).length;
  }

  private async enter(name: string, detail?: string): Promise<void> {
    this.calls.push(detail ? `${name} ${detail}` : name);
    if (this.isDisconnected) throw connectionLost();
    for (const fault of this.faults) {
      if (fault.times > 0 && fault.call === name && (fault.when?.() ?? true)) {
        fault.times--;
        if (fault.isPersistent) this.isDisconnected = true;
        throw fault.error();
      }
    }
    await Promise.resolve();
  }

  private advance(ms: number): void {
    const target = this.nowMs + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.atMs <= target).sort((a, b) => a.atMs - b.atMs)[0];
      if (!due) break;
      this.timers.splice(this.timers.indexOf(due), 1);
      this.nowMs = Math.max(this.nowMs, due.atMs);
      due.run();
    }
    this.nowMs = target;
  }

  private stateOf(fake: FakeContainer): { state: 'running' | 'exited'; exitCode?: number; health: ContainerStatus['health'] } {
    if (fake.isStopped) return { state: 'exited', exitCode: 0, health: 'none' };
    const elapsed = this.nowMs - fake.createdMs;
    if (fake.behaviour.exitAfterMs !== undefined && elapsed >= fake.behaviour.exitAfterMs) return { state: 'exited', exitCode: 1, health: 'unhealthy' };
    const { intervalMs, startPeriodMs, retries } = fake.healthcheck;
    const checks = Math.floor(elapsed / intervalMs);
    if (checks === 0) return { state: 'running', health: 'starting' };
    const lastCheckMs = checks * intervalMs;
    if (fake.behaviour.isHealthy && lastCheckMs >= fake.behaviour.readyAfterMs) return { state: 'running', health: 'healthy' };
    let failures = 0;
    for (let k = 1; k <= checks; k++) if (k * intervalMs > startPeriodMs) failures++;
    return { state: 'running', health: failures >= retries ? 'unhealthy' : 'starting' };
  }

  private answering(port: number): FakeContainer | undefined {
    const fake = [...this.containers.values()].find((c) => c.port === port);
    if (!fake || this.stateOf(fake).state !== 'running' || this.nowMs - fake.createdMs < fake.behaviour.readyAfterMs) return undefined;
    return fake;
  }

  // -------------------------------------------------------------------------------------------
  // ports

  readonly files = {
    read: async (path: string): Promise<string | undefined> => {
      await this.enter('files.read', path);
      return this.fileMap.get(path);
    },
    write: async (path: string, text: string, options: { backup: boolean }): Promise<{ backupPath?: string }> => {
      await this.enter('files.write', path);
      if (this.readOnlyPaths.has(path)) throw Object.assign(new Error(`ec2-user may not write ${path} (read-only file system)`), { code: 'permissionDenied' });
      const old = this.fileMap.get(path);
      let backupPath: string | undefined;
      if (options.backup && old !== undefined) {
        backupPath = `${path}.switchyard-bak`;
        this.fileMap.set(backupPath, old);
      }
      this.fileMap.set(path, text);
      return backupPath ? { backupPath } : {};
    },
  };

  readonly nginx = {
    test: async (): Promise<CommandOutcome> => {
      await this.enter('nginx.test');
      if (this.isNginxBroken) return { ok: false, output: 'nginx: [emerg] unknown directive "brokn" in /etc/nginx/conf.d/zz-broken.conf:1\nnginx: configuration file /etc/nginx/nginx.conf test failed' };
      return { ok: true, output: 'nginx: configuration file /etc/nginx/nginx.conf test is successful' };
    },
    reload: async (): Promise<CommandOutcome> => {
      await this.enter('nginx.reload');
      if (this.reloadBehaviour === 'fails') return { ok: false, output: 'nginx: [alert] kill(1234, 1) failed (3: No such process)' };
      if (this.reloadBehaviour === 'ignored') return { ok: true, output: '' };
      const match = /server\s+127\.0\.0\.1:(\d+)/.exec(this.fileMap.get(switchPath) ?? '');
      if (match) this.servingPort = Number(match[1]);
      return { ok: true, output: '' };
    },
  };

  readonly docker = {
    inspect: async (container: string): Promise<ContainerStatus | undefined> => {
      await this.enter('docker.inspect', container);
      const fake = this.containers.get(container);
      if (!fake) return undefined;
      const state = this.stateOf(fake);
      return {
        name: fake.name,
        id: fake.id,
        image: fake.image,
        state: state.state,
        health: state.health,
        startedAt: new Date(fake.createdMs).toISOString(),
        restartCount: fake.restartCount,
        ...(state.exitCode !== undefined ? { exitCode: state.exitCode } : {}),
        healthLog: state.health === 'unhealthy' ? [{ start: '', end: '', exitCode: 1, output: 'wget: server returned error: HTTP/1.0 500 Internal Server Error' }] : [],
        healthcheck: { ...fake.healthcheck },
        labels: { ...fake.labels },
      };
    },
    logs: async (container: string, tail: number): Promise<string> => {
      await this.enter('docker.logs', container);
      return `${container}: Starting HanddocApplication\n${container}: (last ${tail} lines)\n`;
    },
    checkImage: async (image: string): Promise<ImageCheck> => {
      await this.enter('docker.checkImage', image);
      const isLocal = this.localImages.has(image);
      if (this.isRegistryDown) {
        const message = 'dial tcp 127.0.0.1:5005: connect: connection refused';
        return isLocal ? { kind: 'localOnly', registryProblem: message } : { kind: 'unreachable', message };
      }
      if (!this.registryTags.has(image)) return isLocal ? { kind: 'localOnly', registryProblem: 'the registry does not have it' } : { kind: 'missing', message: 'manifest unknown: manifest unknown' };
      return { kind: 'available', isLocal };
    },
    pull: async (image: string, onProgress: (line: string) => void, signal?: AbortSignal): Promise<void> => {
      await this.enter('docker.pull', image);
      if (signal?.aborted) throw cancelledError();
      if (this.isRegistryDown) throw new Error('docker pull failed: connection refused');
      onProgress(`${image.slice(image.lastIndexOf(':') + 1)}: Pulling from handdoc-spring`);
      this.advance(1500);
      if (signal?.aborted) throw cancelledError();
      onProgress(`Status: Downloaded newer image for ${image}`);
      this.localImages.add(image);
    },
    stop: async (container: string, _timeoutS: number): Promise<void> => {
      await this.enter('docker.stop', container);
      const fake = this.containers.get(container);
      if (fake) fake.isStopped = true;
    },
    remove: async (container: string): Promise<void> => {
      await this.enter('docker.remove', container);
      this.containers.delete(container);
    },
  };

  /** The override texts compose.up got, in order. */
  readonly overrides: Array<{ target: ComposeTarget; text: string }> = [];

  readonly compose = {
    up: async (target: ComposeTarget, overrideText: string, signal?: AbortSignal): Promise<void> => {
      await this.enter('compose.up', target.service);
      if (signal?.aborted) throw cancelledError();
      this.overrides.push({ target, text: overrideText });
      const image = /image: "([^"]+)"/.exec(overrideText)?.[1];
      if (image && target.service === 'fastapi') {
        this.localImages.add(image);
        this.addFastapi(image);
        this.advance(500);
        return;
      }
      const color = (['blue', 'green'] as const).find((c) => `spring-${c}` === target.service);
      if (!image || !color) throw new Error(`compose up: cannot read the override for ${target.service}`);
      this.localImages.add(image);
      this.addContainer(color, image);
      this.advance(500);
    },
  };

  readonly http = {
    get: async (port: number, path: string, _timeoutMs: number, signal?: AbortSignal): Promise<{ status: number; body: string }> => {
      await this.enter('http.get', `${port}${path}`);
      if (signal?.aborted) throw cancelledError();
      if (port === verifyPort) {
        const fake = this.answering(this.servingPort);
        if (!fake) return { status: 502, body: '<html>502 Bad Gateway</html>' };
        return { status: 200, body: JSON.stringify({ app: 'spring', color: fake.color, version: fake.image.slice(fake.image.lastIndexOf(':') + 1) }) };
      }
      const fake = this.answering(port);
      if (!fake) throw Object.assign(new Error(`Nothing accepts connections on 127.0.0.1:${port}.`), { code: 'unreachable' });
      return fake.behaviour.isHealthy ? { status: 200, body: '{"status":"UP"}' } : { status: 500, body: '{"status":"DOWN"}' };
    },
  };

  readonly host = {
    resources: async (options: { container?: string }): Promise<HostResources> => {
      await this.enter('host.resources');
      return { memAvailableKb: this.memAvailableKb, memTotalKb: 1024 * 1024, dockerDiskAvailableKb: 4 * 1024 * 1024, ...(options.container && this.liveMemoryKb !== undefined ? { containerMemoryKb: this.liveMemoryKb } : {}) };
    },
  };

  readonly lock = {
    acquire: async (record: LockRecord): Promise<LockAcquire> => {
      await this.enter('lock.acquire');
      if (this.lockState) return { acquired: false, current: this.lockState };
      this.lockState = { record, isStale: false };
      return { acquired: true };
    },
    refresh: async (record: LockRecord): Promise<boolean> => {
      await this.enter('lock.refresh');
      if (this.lockState?.record.token !== record.token) return false;
      this.lockState = { record, isStale: false };
      return true;
    },
    release: async (token: string): Promise<void> => {
      await this.enter('lock.release');
      if (this.lockState?.record.token === token) this.lockState = undefined;
    },
    read: async (): Promise<LockState | undefined> => {
      await this.enter('lock.read');
      return this.lockState;
    },
    break: async (token: string): Promise<boolean> => {
      await this.enter('lock.break');
      if (this.lockState?.record.token !== token) return false;
      this.lockState = undefined;
      return true;
    },
  };

  readonly journal = {
    append: async (entry: JournalEntry): Promise<void> => {
      await this.enter('journal.append', entry.phase);
      this.journalEntries.push(JSON.parse(JSON.stringify(entry)) as JournalEntry);
    },
    read: async (limit: number): Promise<JournalEntry[]> => {
      await this.enter('journal.read');
      return this.journalEntries.slice(-limit);
    },
  };

  readonly clock = {
    now: (): number => this.nowMs,
    sleep: async (ms: number, signal?: AbortSignal): Promise<void> => {
      if (signal?.aborted) throw cancelledError();
      this.advance(ms);
      await Promise.resolve();
      if (signal?.aborted) throw cancelledError();
    },
  };
}
