/**
 * The deploy engine's ports on one kept-open HostConnection: files over SFTP, nginx and compose on the
 * command shell (argv arrays, quoted once), containers over the forwarded Docker socket, health probes
 * over direct-tcpip, and the deploy lock and journal in ~/.switchyard on the host, shared by every
 * client (two editors, an editor and a CI job).
 */
import type Dockerode from 'dockerode';
import type { ComposeTarget, CommandOutcome, ContainerStatus, DeployPorts, HostResources, ImageCheck, JournalEntry, LockAcquire, LockRecord, LockState } from '../core/deployTypes';
import { parseJournal, parseLockRecord } from '../core/deployRecords';
import type { HostProfile } from '../core/hostProfile';
import { parseDfPk, parseMeminfo } from '../core/hostState';
import type { ExecOptions, ExecResult, ExecStream, HttpResult, WriteFileOptions, WriteFileResult } from './hostConnection';
import { HostError, isHostError } from './hostErrors';
import { nginxArgs, toContainerInfo } from './hostSnapshot';

/** What the ports need of a connection (HostConnection, or a fake in unit tests). */
export interface DeployConnection {
  readonly profile: HostProfile;
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
  execStream(argv: string[], options?: { sudo?: boolean; signal?: AbortSignal }): Promise<ExecStream>;
  readFile(remotePath: string, options?: { sudo?: boolean }): Promise<Buffer>;
  writeFileAtomic(remotePath: string, data: string | Buffer, options?: WriteFileOptions): Promise<WriteFileResult>;
  docker(): Dockerode;
  httpGet(port: number, path: string, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<HttpResult>;
}

export type ComposeFlavor = { version: 'v2'; argv: ['docker', 'compose'] } | { version: 'v1'; argv: ['docker-compose'] };

/** A lock whose holder left no session and no heartbeat for this long is stale. */
const heartbeatStaleMs = 15 * 60_000;
const composeTimeoutMs = 10 * 60_000;

/**
 * Prints `<pid> <starttime>` of the sshd process serving this command (the holder's SSH session),
 * found by walking up from the shell; `0 0` when there is none (e.g. not run over ssh).
 */
const sessionScript = [
  'p=$$',
  'while [ "$p" -gt 1 ] 2>/dev/null; do',
  '  read -r stat < "/proc/$p/stat" || break',
  '  rest=${stat##*) }',
  '  set -- $rest',
  '  c=$(cat "/proc/$p/comm" 2>/dev/null)',
  '  case $c in sshd*) echo "$p ${20}"; exit 0;; esac',
  '  p=$2',
  'done',
  'echo "0 0"',
].join('\n');

/** `alive` when process $1 still exists with start time $2 and is an sshd; `gone` otherwise. */
const sessionAliveScript = [
  'read -r stat 2>/dev/null < "/proc/$1/stat" || { echo gone; exit 0; }',
  'c=$(cat "/proc/$1/comm" 2>/dev/null)',
  'case $c in sshd*) ;; *) echo gone; exit 0;; esac',
  'want=$2',
  'rest=${stat##*) }',
  'set -- $rest',
  'if [ "${20}" = "$want" ]; then echo alive; else echo gone; fi',
].join('\n');

/** Creates the lock file only if it does not exist (hard link: atomic, and complete when it appears). */
const acquireScript = [
  'umask 077',
  'mkdir -p -- "$1" || exit 3',
  't="$2.tmp.$$"',
  'cat > "$t" || exit 3',
  'if ln -- "$t" "$2" 2>/dev/null; then rm -f -- "$t"; echo acquired; else rm -f -- "$t"; echo held; cat -- "$2" 2>/dev/null; fi',
].join('\n');

/** Replaces the lock with stdin only while it still holds our token. */
const refreshScript = [
  'umask 077',
  'grep -qF -- "$3" "$2" 2>/dev/null || { echo lost; exit 0; }',
  'cat > "$2.new.$$" && mv -f -- "$2.new.$$" "$2" && echo ok',
].join('\n');

const removeIfOursScript = 'if grep -qF -- "$2" "$1" 2>/dev/null; then rm -f -- "$1" && echo removed; else echo kept; fi';

function tokenNeedle(token: string): string {
  return `"token":${JSON.stringify(token)}`;
}

function nsToMs(ns: number | undefined, fallbackMs: number): number {
  return ns && ns > 0 ? ns / 1e6 : fallbackMs;
}

function dockerStatusCode(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** A Docker API call that died with its SSH channel (no answer from dockerd at all): the connection dropped, so it may be retried. */
function isDockerTransportLost(error: unknown): boolean {
  if (dockerStatusCode(error) !== undefined || isHostError(error)) return false;
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up|no response from server|not connected/i.test(error instanceof Error ? error.message : String(error));
}

function dockerMessage(error: unknown): string {
  const json = (error as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === 'string') return json.message.trim();
  return error instanceof Error ? error.message : String(error);
}

/** Docker's log stream without a TTY: frames of `[stream, 0, 0, 0, size(4, big endian)]` + payload. */
export function demuxDockerLogs(buffer: Buffer): string {
  const looksMultiplexed = buffer.length >= 8 && buffer[0] <= 2 && buffer[1] === 0 && buffer[2] === 0 && buffer[3] === 0;
  if (!looksMultiplexed) return buffer.toString('utf8');
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, Math.min(buffer.length, offset + 8 + size)));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** `docker inspect` reduced to what the engine needs. */
export function toContainerStatus(inspect: Dockerode.ContainerInspectInfo): ContainerStatus {
  const info = toContainerInfo(inspect);
  const config = inspect.Config as Dockerode.ContainerInspectInfo['Config'] & { Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number } };
  const hc = config.Healthcheck;
  const status: ContainerStatus = {
    name: info.name,
    id: info.id,
    image: inspect.Config.Image,
    state: info.state,
    health: info.health,
    startedAt: info.startedAt,
    restartCount: inspect.RestartCount ?? 0,
    healthLog: info.healthLog ?? [],
    labels: info.labels,
  };
  if (info.state === 'exited' || info.state === 'dead') status.exitCode = inspect.State.ExitCode;
  if (hc?.Test && hc.Test.length > 0 && hc.Test[0] !== 'NONE') {
    status.healthcheck = {
      intervalMs: nsToMs(hc.Interval, 30_000),
      timeoutMs: nsToMs(hc.Timeout, 30_000),
      startPeriodMs: nsToMs(hc.StartPeriod, 0),
      retries: hc.Retries && hc.Retries > 0 ? hc.Retries : 3,
    };
  }
  return status;
}

export interface DeployPortsOptions {
  /** Where lock, journal and compose overrides live, relative to the user's home (default `.switchyard`). */
  stateDir?: string;
  /** The journal moves to journal.1.jsonl (replacing the one before) once it reaches this size; default 1 MiB. */
  journalMaxBytes?: number;
}

export class HostDeployPorts implements DeployPorts {
  readonly hostName: string;
  private home?: string;
  private composeFlavor?: ComposeFlavor;
  private dockerRootDir?: string | null;
  private readonly stateDirName: string;
  private readonly journalMaxBytes: number;

  constructor(
    private readonly connection: DeployConnection,
    options: DeployPortsOptions = {},
  ) {
    this.hostName = connection.profile.name;
    this.stateDirName = options.stateDir ?? '.switchyard';
    this.journalMaxBytes = options.journalMaxBytes ?? 1024 * 1024;
  }

  private get profile(): HostProfile {
    return this.connection.profile;
  }

  /** The error as the engine should see it: a dropped Docker request is `connectionLost`, like a dropped command. */
  private dockerError(error: unknown, what: string): unknown {
    if (!isDockerTransportLost(error)) return error;
    return new HostError('connectionLost', `The connection to ${this.hostName} was lost during ${what} (${dockerMessage(error)}).`, { cause: error });
  }

  /** `env DOCKER_HOST=unix://<socket>`: the CLI and compose talk to the profile's engine, whatever the login shell sets. */
  private dockerEnv(): string[] {
    return ['env', `DOCKER_HOST=unix://${this.profile.dockerSocket}`];
  }

  async stateDir(): Promise<string> {
    if (this.home === undefined) {
      const result = await this.connection.exec(['sh', '-c', 'printf %s "$HOME"']);
      const home = result.stdout.trim();
      if (result.exitCode !== 0 || !home.startsWith('/')) throw new HostError('commandFailed', `Cannot find the home directory of the SSH user on ${this.hostName}.`);
      this.home = home;
    }
    return `${this.home.replace(/\/+$/, '')}/${this.stateDirName}`;
  }

  private async lockPath(): Promise<string> {
    return `${await this.stateDir()}/lock`;
  }

  // -------------------------------------------------------------------------------------------
  // files and nginx

  readonly files = {
    read: async (path: string): Promise<string | undefined> => {
      try {
        return (await this.connection.readFile(path)).toString('utf8');
      } catch (error) {
        if (isHostError(error, 'fileNotFound')) return undefined;
        throw error;
      }
    },
    write: async (path: string, text: string, options: { backup: boolean }): Promise<{ backupPath?: string }> => {
      const written = await this.connection.writeFileAtomic(path, text, { backup: options.backup });
      return written.backupPath ? { backupPath: written.backupPath } : {};
    },
  };

  private async runNginx(...args: string[]): Promise<CommandOutcome> {
    const result = await this.connection.exec(nginxArgs(this.profile, ...args), { sudo: this.profile.nginx.useSudo, timeoutMs: 30_000 });
    return { ok: result.exitCode === 0, output: `${result.stderr}${result.stdout}`.trim() };
  }

  readonly nginx: DeployPorts['nginx'] = {
    test: (): Promise<CommandOutcome> => this.runNginx('-t'),
    reload: (): Promise<CommandOutcome> => this.runNginx('-s', 'reload'),
  };

  // -------------------------------------------------------------------------------------------
  // docker

  readonly docker: DeployPorts['docker'] = {
    inspect: async (container: string): Promise<ContainerStatus | undefined> => {
      try {
        return toContainerStatus(await this.connection.docker().getContainer(container).inspect());
      } catch (error) {
        if (dockerStatusCode(error) === 404) return undefined;
        throw this.dockerError(error, `docker inspect ${container}`);
      }
    },
    logs: async (container: string, tail: number): Promise<string> => {
      const raw = (await this.connection
        .docker()
        .getContainer(container)
        .logs({ stdout: true, stderr: true, follow: false, tail })
        .catch((error: unknown) => {
          throw this.dockerError(error, `docker logs ${container}`);
        })) as unknown as Buffer;
      return demuxDockerLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
    },
    checkImage: (image: string): Promise<ImageCheck> => this.checkImage(image),
    pull: (image: string, onProgress: (line: string) => void, signal?: AbortSignal): Promise<void> => this.pull(image, onProgress, signal),
    stop: async (container: string, timeoutS: number): Promise<void> => {
      try {
        await this.connection.docker().getContainer(container).stop({ t: timeoutS });
      } catch (error) {
        const status = dockerStatusCode(error);
        if (status === 304 || status === 404) return;
        if (isDockerTransportLost(error)) throw this.dockerError(error, `docker stop ${container}`);
        throw new HostError('commandFailed', `docker stop ${container}: ${dockerMessage(error)}`, { cause: error });
      }
    },
    remove: async (container: string): Promise<void> => {
      try {
        await this.connection.docker().getContainer(container).remove({ force: true });
      } catch (error) {
        if (dockerStatusCode(error) === 404) return;
        if (isDockerTransportLost(error)) throw this.dockerError(error, `docker rm -f ${container}`);
        throw new HostError('commandFailed', `docker rm -f ${container}: ${dockerMessage(error)}`, { cause: error });
      }
    },
  };

  /** Asks the engine (which knows its insecure loopback registries) for the tag's manifest, without pulling. */
  private async checkImage(image: string): Promise<ImageCheck> {
    const docker = this.connection.docker();
    let isLocal = false;
    try {
      await docker.getImage(image).inspect();
      isLocal = true;
    } catch (error) {
      if (dockerStatusCode(error) !== 404) throw this.dockerError(error, `docker image inspect ${image}`);
    }
    try {
      await docker.getImage(image).distribution();
      return { kind: 'available', isLocal };
    } catch (error) {
      const status = dockerStatusCode(error);
      const message = dockerMessage(error);
      if (status === undefined) throw this.dockerError(error, `checking ${image} in its registry`);
      if (status === 401 || status === 403 || /unauthorized|authentication required|denied/i.test(message)) {
        return isLocal ? { kind: 'localOnly', registryProblem: message } : { kind: 'unverified', reason: message };
      }
      if (status === 404 || /manifest unknown|not found|name unknown/i.test(message)) {
        return isLocal ? { kind: 'localOnly', registryProblem: `the registry does not have it (${message})` } : { kind: 'missing', message };
      }
      return isLocal ? { kind: 'localOnly', registryProblem: message } : { kind: 'unreachable', message };
    }
  }

  /**
   * `docker pull` on the host, so the host's own `docker login` credentials apply (the engine API would
   * need them sent by us). Its own channel, because a pull may take minutes and reports progress lines.
   */
  private async pull(image: string, onProgress: (line: string) => void, signal?: AbortSignal): Promise<void> {
    const stream = await this.connection.execStream(['sh', '-c', 'exec "$@" 2>&1', 'sh', ...this.dockerEnv(), 'docker', 'pull', image], signal ? { signal } : {});
    const tail: string[] = [];
    let partial = '';
    stream.stdout.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 10) tail.shift();
        onProgress(line.trim());
      }
    });
    const exit = await stream.exit;
    if (partial.trim()) tail.push(partial.trim());
    if (signal?.aborted) throw new HostError('cancelled', 'Cancelled.');
    // No exit status: the channel went down with the connection (the pull may even have finished); pulling again is safe.
    if (exit === null) throw new HostError('connectionLost', `The connection to ${this.hostName} was lost during docker pull ${image} (last output: ${tail.slice(-1)[0] ?? 'none'}).`);
    if (exit !== 0) throw new HostError('commandFailed', `docker pull ${image} failed (exit ${exit}): ${tail.slice(-3).join(' / ') || 'no output'}`);
  }

  // -------------------------------------------------------------------------------------------
  // compose

  /** Detects Compose v2 (`docker compose`) or v1 (`docker-compose`), once per connection. */
  async detectCompose(): Promise<ComposeFlavor> {
    if (this.composeFlavor) return this.composeFlavor;
    const v2 = await this.connection.exec([...this.dockerEnv(), 'docker', 'compose', 'version', '--short'], { timeoutMs: 30_000 });
    if (v2.exitCode === 0) return (this.composeFlavor = { version: 'v2', argv: ['docker', 'compose'] });
    const v1 = await this.connection.exec([...this.dockerEnv(), 'docker-compose', 'version', '--short'], { timeoutMs: 30_000 });
    if (v1.exitCode === 0) return (this.composeFlavor = { version: 'v1', argv: ['docker-compose'] });
    throw new HostError('commandFailed', `Neither "docker compose" (Compose v2) nor "docker-compose" (v1) works on ${this.hostName}: ${(v1.stderr || v2.stderr).trim().split('\n')[0] || 'not installed'}.`);
  }

  /** The override file's path for one compose project. */
  async overridePath(project: string): Promise<string> {
    return `${await this.stateDir()}/compose/${project.replace(/[^A-Za-z0-9_.-]/g, '_')}.image.yml`;
  }

  readonly compose = {
    up: async (target: ComposeTarget, overrideText: string, signal?: AbortSignal): Promise<void> => {
      const flavor = await this.detectCompose();
      const overridePath = await this.overridePath(target.project);
      const made = await this.connection.exec(['mkdir', '-p', overridePath.replace(/\/[^/]+$/, '')]);
      if (made.exitCode !== 0) throw new HostError('commandFailed', `Cannot create ${overridePath.replace(/\/[^/]+$/, '')}: ${made.stderr.trim()}`);
      await this.connection.writeFileAtomic(overridePath, overrideText, { mode: 0o644 });
      const argv = [...this.dockerEnv(), ...flavor.argv, '-p', target.project, '-f', target.composeFile, '-f', overridePath, 'up', '-d', '--no-deps', '--force-recreate', target.service];
      const result = await this.connection.exec(argv, { timeoutMs: composeTimeoutMs, ...(signal ? { signal } : {}) });
      if (result.exitCode !== 0) {
        const output = `${result.stderr}${result.stdout}`.trim().split('\n').slice(-5).join(' / ');
        throw new HostError('commandFailed', `${flavor.argv.join(' ')} up ${target.service} failed (exit ${result.exitCode}): ${output}`);
      }
    },
  };

  // -------------------------------------------------------------------------------------------
  // http, host, clock

  readonly http = {
    get: async (port: number, path: string, timeoutMs: number, signal?: AbortSignal): Promise<{ status: number; body: string }> => {
      const result = await this.connection.httpGet(port, path, { timeoutMs, ...(signal ? { signal } : {}) });
      return { status: result.status, body: result.body };
    },
  };

  readonly host = {
    resources: async (options: { container?: string }): Promise<HostResources> => {
      const docker = this.connection.docker();
      if (this.dockerRootDir === undefined) {
        try {
          this.dockerRootDir = ((await docker.info()) as { DockerRootDir?: string }).DockerRootDir ?? null;
        } catch {
          this.dockerRootDir = null;
        }
      }
      const root = this.dockerRootDir;
      const [probe, memoryKb] = await Promise.all([
        this.connection.exec(['sh', '-c', 'cat /proc/meminfo; echo @@df; [ -n "$1" ] && df -Pk -- "$1" 2>/dev/null', 'sh', root ?? '']),
        options.container ? this.containerMemoryKb(options.container) : Promise.resolve(undefined),
      ]);
      const [meminfoText, dfText = ''] = probe.stdout.split('@@df\n');
      const mem = parseMeminfo(meminfoText);
      if (!mem.ok) throw new HostError('commandFailed', mem.error);
      const resources: HostResources = { memAvailableKb: mem.value.memAvailableKb, memTotalKb: mem.value.memTotalKb };
      const df = dfText.trim() ? parseDfPk(dfText) : undefined;
      if (df?.ok && df.value[0]) resources.dockerDiskAvailableKb = df.value[0].availKb;
      if (memoryKb !== undefined) resources.containerMemoryKb = memoryKb;
      return resources;
    },
  };

  /** Memory in use by a container (without page cache), from one `docker stats` sample. */
  private async containerMemoryKb(container: string): Promise<number | undefined> {
    try {
      const stats = (await this.connection.docker().getContainer(container).stats({ stream: false, 'one-shot': true } as { stream: false })) as unknown as {
        memory_stats?: { usage?: number; stats?: Record<string, number> };
      };
      const usage = stats.memory_stats?.usage;
      if (!usage) return undefined;
      const cache = stats.memory_stats?.stats?.inactive_file ?? stats.memory_stats?.stats?.total_inactive_file ?? stats.memory_stats?.stats?.cache ?? 0;
      return Math.round((usage - cache) / 1024);
    } catch {
      return undefined;
    }
  }

  readonly clock = {
    now: (): number => Date.now(),
    sleep: (ms: number, signal?: AbortSignal): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) {
          reject(new HostError('cancelled', 'Cancelled.'));
          return;
        }
        const onAbort = (): void => {
          clearTimeout(timer);
          reject(new HostError('cancelled', 'Cancelled.'));
        };
        const timer = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, ms);
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
  };

  // -------------------------------------------------------------------------------------------
  // lock and journal

  /** This connection's sshd session on the host: what tells a live lock holder from a gone one. */
  async session(): Promise<{ pid: number; startTicks: string } | undefined> {
    const result = await this.connection.exec(['sh', '-c', sessionScript]);
    const [pidText, ticks] = result.stdout.trim().split(/\s+/);
    const pid = Number(pidText);
    return Number.isInteger(pid) && pid > 1 && ticks ? { pid, startTicks: ticks } : undefined;
  }

  private async withSession(record: LockRecord): Promise<LockRecord> {
    const session = await this.session();
    const { session: _old, ...rest } = record;
    return session ? { ...rest, session } : rest;
  }

  /** Whether the holder of `record` is gone, and why. */
  async lockState(record: LockRecord, nowMs = Date.now()): Promise<LockState> {
    if (record.session) {
      const alive = await this.connection.exec(['sh', '-c', sessionAliveScript, 'sh', String(record.session.pid), record.session.startTicks]);
      if (alive.stdout.trim() === 'gone') {
        return { record, isStale: true, staleReason: `its SSH session on the host (sshd pid ${record.session.pid}) has ended` };
      }
      return { record, isStale: false };
    }
    const heartbeatMs = Date.parse(record.heartbeatAt ?? record.startedAt);
    if (Number.isFinite(heartbeatMs) && nowMs - heartbeatMs > heartbeatStaleMs) {
      return { record, isStale: true, staleReason: `no heartbeat for ${Math.round((nowMs - heartbeatMs) / 60_000)} minutes` };
    }
    return { record, isStale: false };
  }

  private async stateOfText(text: string): Promise<LockState> {
    const record = parseLockRecord(text);
    if (record) return this.lockState(record);
    // Not Switchyard's format: held, by someone we cannot name; never called stale.
    const unknown: LockRecord = { token: '', holder: `unknown (the lock file says: ${text.trim().slice(0, 80) || 'nothing'})`, host: this.hostName, operation: 'deploy', service: '?', startedAt: '?', heartbeatAt: '?' };
    return { record: unknown, isStale: false };
  }

  readonly lock = {
    acquire: async (record: LockRecord): Promise<LockAcquire> => {
      const dir = await this.stateDir();
      const path = await this.lockPath();
      const content = JSON.stringify(await this.withSession(record));
      for (let attempt = 0; attempt < 2; attempt++) {
        const result = await this.connection.exec(['sh', '-c', acquireScript, 'sh', dir, path], { stdin: content });
        if (result.exitCode !== 0) throw new HostError('commandFailed', `Cannot create the deploy lock ${path}: ${result.stderr.trim() || `exit ${result.exitCode}`}`);
        const [verdict, ...rest] = result.stdout.split('\n');
        if (verdict === 'acquired') return { acquired: true };
        const text = rest.join('\n');
        // Released between our link and our read: try once more.
        if (text.trim() === '') continue;
        return { acquired: false, current: await this.stateOfText(text) };
      }
      throw new HostError('commandFailed', `The deploy lock ${path} keeps appearing and disappearing; try again.`);
    },
    refresh: async (record: LockRecord): Promise<boolean> => {
      const path = await this.lockPath();
      const content = JSON.stringify(await this.withSession(record));
      const result = await this.connection.exec(['sh', '-c', refreshScript, 'sh', await this.stateDir(), path, tokenNeedle(record.token)], { stdin: content });
      if (result.exitCode !== 0) throw new HostError('commandFailed', `Cannot refresh the deploy lock ${path}: ${result.stderr.trim()}`);
      return result.stdout.trim() === 'ok';
    },
    release: async (token: string): Promise<void> => {
      await this.connection.exec(['sh', '-c', removeIfOursScript, 'sh', await this.lockPath(), tokenNeedle(token)]);
    },
    read: async (): Promise<LockState | undefined> => {
      const path = await this.lockPath();
      const result = await this.connection.exec(['sh', '-c', '[ -f "$1" ] || exit 0; cat -- "$1"', 'sh', path]);
      if (result.stdout.trim() === '') return undefined;
      return this.stateOfText(result.stdout);
    },
    break: async (token: string): Promise<boolean> => {
      const result = await this.connection.exec(['sh', '-c', removeIfOursScript, 'sh', await this.lockPath(), tokenNeedle(token)]);
      return result.stdout.trim() === 'removed';
    },
  };

  readonly journal = {
    append: async (entry: JournalEntry): Promise<void> => {
      const dir = await this.stateDir();
      // Rotation keeps one older generation: the journal never grows past about twice the limit.
      const script = 'umask 077; mkdir -p -- "$1" || exit 1; if [ -f "$2" ] && [ "$(wc -c < "$2")" -ge "$4" ]; then mv -f -- "$2" "$3" || exit 1; fi; cat >> "$2"';
      const result = await this.connection.exec(['sh', '-c', script, 'sh', dir, `${dir}/journal.jsonl`, `${dir}/journal.1.jsonl`, String(this.journalMaxBytes)], { stdin: `${JSON.stringify(entry)}\n` });
      if (result.exitCode !== 0) throw new HostError('commandFailed', `Cannot write the journal ${dir}/journal.jsonl: ${result.stderr.trim()}`);
    },
    read: async (limit: number): Promise<JournalEntry[]> => {
      const dir = await this.stateDir();
      // Both generations, oldest first: an operation's started and finished lines may straddle a rotation.
      const script = 'for f in "$2" "$1"; do [ -f "$f" ] && cat -- "$f"; done | tail -n "$3"';
      const result = await this.connection.exec(['sh', '-c', script, 'sh', `${dir}/journal.jsonl`, `${dir}/journal.1.jsonl`, String(Math.max(1, Math.floor(limit)))]);
      if (result.exitCode !== 0) throw new HostError('commandFailed', `Cannot read the journal ${dir}/journal.jsonl: ${result.stderr.trim()}`);
      return parseJournal(result.stdout);
    },
  };
}
