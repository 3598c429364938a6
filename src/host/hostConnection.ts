/**
 * One kept-open SSH connection per host, shared by everything Switchyard does there:
 * commands on one command-server shell, one SFTP channel, Docker over the forwarded socket,
 * HTTP probes over direct-tcpip. Authenticates and checks host keys like OpenSSH, and reconnects by itself.
 */
import { randomBytes } from 'node:crypto';
import * as dns from 'node:dns';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as posixPath from 'node:path/posix';
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import Dockerode from 'dockerode';
import { Client, utils as sshUtils, type AnyAuthMethod, type AuthenticationType, type AuthHandlerMiddleware, type ClientChannel, type ParsedKey, type SFTPWrapper, type Stats } from 'ssh2';
import { parseSshDestination, type HostProfile } from '../core/hostProfile';
import { describeError, type Logger } from '../core/logger';
import { CommandShell, type RawResult, type ShellChannel } from './commandShell';
import { Emitter, type Disposable } from './emitter';
import { HostError, toHostError, type HostErrorContext } from './hostErrors';
import { appendKnownHostsLine, checkHostKeyDetailed, fingerprintSha256, formatKnownHostsLine, keyTypeOfBlob, loadKnownHosts } from './knownHosts';
import { expandTilde, loadAndResolveSshTarget, type ResolvedSshTarget } from './sshConfig';
import { toCommandLine } from './shellQuote';

export interface HostKeyInfo {
  host: string;
  port: number;
  keyType: string;
  fingerprint: string;
}

/** Decides about host keys that known_hosts does not know (the UI asks the user). */
export interface HostKeyPolicy {
  /** True: trust the key and record it in known_hosts. False: refuse the connection. */
  confirmUnknown(info: HostKeyInfo): Promise<boolean>;
}

/** Passphrases for encrypted private keys (the UI asks, and may keep them in SecretStorage). */
export interface CredentialProvider {
  /** `attempt` starts at 1; undefined means the user declined. */
  getPassphrase(keyPath: string, attempt: number): Promise<string | undefined>;
  rememberPassphrase(keyPath: string, passphrase: string): Promise<void>;
  forgetPassphrase(keyPath: string): Promise<void>;
}

export interface HostConnectionDeps {
  logger: Logger;
  hostKeys: HostKeyPolicy;
  credentials: CredentialProvider;
  /** Default ~/.ssh/config. */
  sshConfigPath?: string;
  /** Replaces the known_hosts files of the ssh config (read and written); default ~/.ssh/known_hosts. */
  knownHostsPath?: string;
  /** Default 10 000 (or ServerAliveInterval); three unanswered keepalives mean the connection is lost. */
  keepaliveIntervalMs?: number;
  /** Time for TCP connect + SSH handshake + auth, not counting time spent waiting for the user. Default 20 000. */
  readyTimeoutMs?: number;
  /** Use an ssh-agent at this socket; default $SSH_AUTH_SOCK; null: never. */
  agentSocket?: string | null;
  /** Resolves a host name to an address; default `dns.lookup` (the system resolver, /etc/hosts included). */
  lookup?: (hostName: string) => Promise<string>;
}

export type ConnectionState =
  | { kind: 'idle' }
  | { kind: 'connecting' }
  | { kind: 'connected' }
  | { kind: 'reconnecting'; attempt: number; nextRetryMs: number; lastError: HostError }
  | { kind: 'failed'; error: HostError }
  | { kind: 'closed' };

export interface ExecOptions {
  /** Run through `sudo -n`; a password prompt becomes HostError `sudoNeedsPassword`. */
  sudo?: boolean;
  signal?: AbortSignal;
  /** Default 120 000; 0 = no limit. A timed-out command is stopped and the shell replaced. */
  timeoutMs?: number;
  stdin?: string | Buffer;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ExecBufferResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

export interface ExecStream {
  stdout: Readable;
  stderr: Readable;
  /** The remote exit status; null when it ended by a signal or by `close()`. */
  exit: Promise<number | null>;
  /** Ends the remote process (it is watched by a wrapper that kills it when the channel closes). */
  close(): void;
}

export interface RemoteStat {
  size: number;
  /** Permission bits and file type, as `st_mode`. */
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  isFile: boolean;
  isDirectory: boolean;
}

export interface WriteFileOptions {
  /** Keep the previous content as `<path>.switchyard-bak`. */
  backup?: boolean;
  /** Default: the existing file's mode, else 0644. */
  mode?: number;
}

export interface WriteFileResult {
  backupPath?: string;
  /**
   * `atomic`: temp file + rename by the user. `sudo`: the same through `sudo -n` (directory not writable).
   * `inPlace`: directory not writable and sudo not allowed, but the file itself is: rewritten in place
   * (not atomic; the backup then lives in ~/.switchyard/backups).
   */
  method: 'atomic' | 'sudo' | 'inPlace';
}

export interface HttpResult {
  status: number;
  body: string;
  durationMs: number;
}

export interface ConnectionStats {
  /** Successful SSH connections (first connect and reconnects). */
  connects: number;
  /** Authentication methods offered to the server. */
  authAttempts: number;
  /** Channels opened, by kind: the command shell, exec channels (streams), SFTP, direct-tcpip, Docker socket. */
  channels: { shell: number; exec: number; sftp: number; tcp: number; docker: number };
}

/** ssh2 takes `false` from an auth handler as "no more methods"; its typings do not say so. */
const noMoreMethods = false as unknown as AuthenticationType;
const defaultExecTimeoutMs = 120_000;
const maxBackoffMs = 30_000;
const maxPassphraseAttempts = 3;
const maxHttpBodyBytes = 4 * 1024 * 1024;
const streamCloseGraceMs = 5000;

/**
 * Runs the command given as arguments and stops it when our side closes the channel (its stdin
 * reaches EOF): without a pty, sshd does not signal the process when a channel closes. With
 * `setsid` the command gets its own process group, so the whole group (sudo and its child too) is stopped.
 */
const watchdogScript =
  // An asynchronous list gets /dev/null as stdin, so the watcher reads the channel's stdin through fd 3.
  'exec 3<&0; ' +
  'if command -v setsid >/dev/null 2>&1; then setsid "$@" </dev/null 3<&- & p=$!; g=-$p; else "$@" </dev/null 3<&- & p=$!; g=$p; fi; ' +
  '{ cat <&3 >/dev/null 2>&1; kill -TERM "$g" 2>/dev/null; } >/dev/null 2>&1 & w=$!; exec 3<&-; ' +
  'wait "$p"; s=$?; kill "$w" 2>/dev/null; exit "$s"';

const dockerProbeScript =
  's=$1; if [ -S "$s" ]; then if [ -r "$s" ] && [ -w "$s" ]; then echo ok; ' +
  'else echo denied "$(stat -c %G "$s" 2>/dev/null || echo docker)"; fi; ' +
  'elif command -v docker >/dev/null 2>&1 || command -v dockerd >/dev/null 2>&1; then echo missing; else echo notinstalled; fi';

/** ssh2 channel-open errors carry the SSH reason code (1 = administratively prohibited, 2 = connect failed). */
function channelOpenReason(error: unknown): number | undefined {
  const reason = (error as { reason?: unknown } | null)?.reason;
  return typeof reason === 'number' ? reason : undefined;
}

/** A stopwatch for the handshake that stands still while the user is being asked something. */
class PausableTimer {
  private remainingMs: number;
  private startedAt = 0;
  private timer?: NodeJS.Timeout;
  private pauses = 0;
  private stopped = false;

  constructor(
    timeoutMs: number,
    private readonly onFire: () => void,
  ) {
    this.remainingMs = timeoutMs;
    this.run();
  }

  private run(): void {
    if (this.stopped || this.remainingMs <= 0) return;
    this.startedAt = Date.now();
    this.timer = setTimeout(() => {
      this.stopped = true;
      this.onFire();
    }, this.remainingMs);
  }

  pause(): void {
    if (this.stopped || this.pauses++ > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.remainingMs -= Date.now() - this.startedAt;
  }

  resume(): void {
    if (this.stopped || --this.pauses > 0) return;
    this.run();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

/** Lets an ssh2 channel stand in for a net.Socket in Node's http client. */
function asSocket(stream: Duplex): Duplex {
  const socket = stream as Duplex & Record<string, unknown>;
  for (const name of ['setNoDelay', 'setKeepAlive', 'ref', 'unref', 'setTimeout']) {
    if (typeof socket[name] !== 'function') socket[name] = () => socket;
  }
  return stream;
}

/** An http.Agent whose connections are SSH channels opened on demand. */
class ChannelAgent extends http.Agent {
  constructor(
    private readonly openStream: () => Promise<Duplex>,
    options: http.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(_options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    this.openStream().then(
      (stream) => callback?.(null, asSocket(stream)),
      (error: unknown) => callback?.(error instanceof Error ? error : new Error(String(error)), undefined as unknown as Duplex),
    );
    return undefined;
  }
}

interface Attempt {
  kind: 'connect' | 'reconnect';
  controller: AbortController;
  waiters: number;
  promise: Promise<void>;
}

interface Handshake {
  /** The specific reason when we refused (host key, passphrase), instead of ssh2's generic message. */
  failure?: HostError;
  timer?: PausableTimer;
}

export class HostConnection implements Disposable {
  private readonly _onDidChangeState = new Emitter<ConnectionState>();
  readonly onDidChangeState = this._onDidChangeState.event;
  private _state: ConnectionState = { kind: 'idle' };
  private client?: Client;
  private jumpClients: Client[] = [];
  private target?: ResolvedSshTarget;
  private attempt?: Attempt;
  private reconnectTimer?: NodeJS.Timeout;
  private reconnectAttempt = 0;
  private isDisposed = false;
  private readonly shell: CommandShell;
  private sftpPromise?: Promise<SFTPWrapper>;
  private dockerClient?: Dockerode;
  private dockerAgent?: ChannelAgent;
  private useDialStdio = false;
  private readonly streams = new Set<ExecStream>();
  /** Keys decrypted once stay usable for reconnects without asking again (like an agent). */
  private readonly decryptedKeys = new Map<string, ParsedKey>();
  /** Host keys the user accepted in this session, even if writing known_hosts failed. */
  private readonly acceptedHostKeys = new Set<string>();
  private readonly _stats: ConnectionStats = { connects: 0, authAttempts: 0, channels: { shell: 0, exec: 0, sftp: 0, tcp: 0, docker: 0 } };
  private readonly logger: Logger;

  constructor(
    readonly profile: HostProfile,
    private readonly deps: HostConnectionDeps,
  ) {
    this.logger = deps.logger;
    this.shell = new CommandShell({
      logger: this.logger,
      open: () => this.openShellChannel(),
      lostError: () => (this.client ? new HostError('commandFailed', 'The command shell on the host ended unexpectedly.') : this.lostError()),
    });
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** Counters for tests and diagnostics. */
  get stats(): ConnectionStats {
    return { ...this._stats, channels: { ...this._stats.channels, shell: this.shell.channelsOpened } };
  }

  private get displayName(): string {
    const t = this.target;
    return t ? `${t.hostName}:${t.port}` : this.profile.ssh.host;
  }

  private setState(state: ConnectionState): void {
    this._state = state;
    this._onDidChangeState.fire(state);
  }

  private lostError(): HostError {
    return new HostError('connectionLost', `The connection to ${this.displayName} was lost.`);
  }

  // ---------------------------------------------------------------------------------------------
  // connecting

  /** Resolves once connected; callers share one attempt in flight. Aborting only stops waiting (and the attempt, if nobody else waits). */
  connect(signal?: AbortSignal): Promise<void> {
    if (this.isDisposed) return Promise.reject(new HostError('connectionLost', `The connection to ${this.displayName} was closed.`));
    if (this._state.kind === 'connected' && this.client) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(new HostError('cancelled', 'Cancelled.'));
    if (!this.attempt) {
      if (this.reconnectTimer) {
        // Someone needs the host now: try at once instead of waiting out the backoff.
        clearTimeout(this.reconnectTimer);
        this.reconnectTimer = undefined;
        this.attempt = this.startAttempt('reconnect');
      } else {
        this.attempt = this.startAttempt('connect');
      }
    }
    const attempt = this.attempt;
    attempt.waiters++;
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const onAbort = (): void => {
        if (done) return;
        done = true;
        attempt.waiters--;
        if (attempt.waiters === 0 && attempt.kind === 'connect') {
          // Nobody waits for this attempt any more: stop it, and the next connect() starts afresh.
          attempt.controller.abort();
          if (this.attempt === attempt) {
            this.attempt = undefined;
            this.setState({ kind: 'idle' });
          }
        }
        reject(new HostError('cancelled', 'Cancelled.'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      attempt.promise.then(
        () => {
          if (done) return;
          done = true;
          attempt.waiters--;
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        (error: unknown) => {
          if (done) return;
          done = true;
          attempt.waiters--;
          signal?.removeEventListener('abort', onAbort);
          reject(toHostError(error));
        },
      );
    });
  }

  private startAttempt(kind: Attempt['kind']): Attempt {
    const controller = new AbortController();
    if (kind === 'connect') this.setState({ kind: 'connecting' });
    const attempt: Attempt = { kind, controller, waiters: 0, promise: Promise.resolve() };
    attempt.promise = this.establish(controller.signal).then(
      () => {
        if (this.attempt === attempt) this.attempt = undefined;
        this.reconnectAttempt = 0;
        this._stats.connects++;
        this.logger.info(`Connected to ${this.displayName} as ${this.target?.user ?? '?'}.`);
        this.setState({ kind: 'connected' });
      },
      (error: unknown) => {
        if (this.attempt === attempt) this.attempt = undefined;
        const hostError = toHostError(error, this.errorContext());
        // Aborted by its last waiter (state is already idle) or by dispose (closed).
        if (this.isDisposed || controller.signal.aborted) throw hostError;
        this.logger.warn(`Connecting to ${this.displayName} failed: ${hostError.message}`);
        if (kind === 'reconnect' && hostError.isRetryable) this.scheduleReconnect(hostError);
        else this.setState({ kind: 'failed', error: hostError });
        throw hostError;
      },
    );
    attempt.promise.catch(() => undefined);
    return attempt;
  }

  private scheduleReconnect(lastError: HostError): void {
    const attempt = ++this.reconnectAttempt;
    const nextRetryMs = Math.min(1000 * 2 ** (attempt - 1), maxBackoffMs);
    this.setState({ kind: 'reconnecting', attempt, nextRetryMs, lastError });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.isDisposed || this.attempt) return;
      this.attempt = this.startAttempt('reconnect');
    }, nextRetryMs);
  }

  private errorContext(target = this.target): HostErrorContext {
    if (!target) return { host: this.profile.ssh.host, ...(this.profile.ssh.port ? { port: this.profile.ssh.port } : {}) };
    return { host: target.hostName, port: target.port, user: target.user };
  }

  private async establish(signal: AbortSignal): Promise<void> {
    const target = await loadAndResolveSshTarget(this.profile.ssh, this.deps.sshConfigPath);
    this.target = target;
    for (const warning of target.warnings) this.logger.debug(`ssh config: ${warning}`);
    const chain: ResolvedSshTarget[] = [];
    if (target.proxyJump) {
      for (const hop of target.proxyJump.split(',')) {
        const destination = parseSshDestination(hop);
        if (!destination) throw new HostError('unreachable', `ProxyJump "${hop}" is not [user@]host[:port].`);
        const resolved = await loadAndResolveSshTarget(destination, this.deps.sshConfigPath);
        delete resolved.proxyJump;
        chain.push(resolved);
      }
    }
    chain.push(target);

    const jumps: Client[] = [];
    try {
      let sock: Duplex | undefined;
      let client: Client | undefined;
      for (let i = 0; i < chain.length; i++) {
        client = await this.handshake(chain[i], sock, signal);
        if (i < chain.length - 1) {
          jumps.push(client);
          const next = chain[i + 1];
          sock = await forwardOut(client, next.hostName, next.port).catch((error: unknown) => {
            throw new HostError('unreachable', `The jump host ${chain[i].hostName} could not reach ${next.hostName}:${next.port}: ${describeError(error)}.`, { cause: error });
          });
        }
      }
      if (!client) throw new HostError('unreachable', 'Nothing to connect to.');
      if (this.isDisposed || signal.aborted) {
        client.end();
        throw new HostError('cancelled', 'Cancelled.');
      }
      this.adopt(client, jumps);
    } catch (error) {
      for (const jump of jumps) jump.end();
      throw error;
    }
  }

  /** Takes a fresh client as the connection and watches it for drops. */
  private adopt(client: Client, jumps: Client[]): void {
    this.client = client;
    this.jumpClients = jumps;
    let lastError: unknown;
    client.on('error', (error: Error) => {
      lastError = error;
      this.logger.debug(`ssh: ${describeError(error)}`);
    });
    client.on('close', () => this.onClientClosed(client, lastError));
    for (const jump of jumps) jump.on('close', () => client.end());
  }

  private onClientClosed(client: Client, cause: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    for (const jump of this.jumpClients) jump.end();
    this.jumpClients = [];
    const lost = cause ? toHostError(cause, this.errorContext()) : this.lostError();
    const error = lost.code === 'connectionLost' ? lost : new HostError('connectionLost', `The connection to ${this.displayName} was lost (${lost.message})`, { cause });
    this.dropChannels(error);
    if (this.isDisposed) return;
    this.logger.warn(`${error.message} Reconnecting.`);
    this.scheduleReconnect(error);
  }

  private dropChannels(error: HostError): void {
    this.shell.reset(error);
    this.sftpPromise = undefined;
    this.dockerAgent?.destroy();
    for (const stream of [...this.streams]) stream.close();
  }

  private async resolveAddress(hostName: string): Promise<string> {
    if (net.isIP(hostName)) return hostName;
    try {
      return this.deps.lookup ? await this.deps.lookup(hostName) : (await dns.promises.lookup(hostName)).address;
    } catch (error) {
      throw toHostError(Object.assign(error as object, { hostname: hostName }));
    }
  }

  private async handshake(target: ResolvedSshTarget, sock: Duplex | undefined, signal: AbortSignal): Promise<Client> {
    const address = sock ? target.hostName : await this.resolveAddress(target.hostName);
    if (signal.aborted) throw new HostError('cancelled', 'Cancelled.');
    const context = this.errorContext(target);
    const state: Handshake = {};
    return new Promise<Client>((resolve, reject) => {
      const client = new Client();
      let settled = false;
      let lastError: unknown;
      const fail = (error: HostError): void => {
        if (settled) return;
        settled = true;
        state.timer?.stop();
        signal.removeEventListener('abort', onAbort);
        client.end();
        // end() waits for the server; a refused or stuck handshake should not linger.
        setImmediate(() => client.destroy());
        reject(error);
      };
      const onAbort = (): void => fail(new HostError('cancelled', 'Cancelled.'));
      signal.addEventListener('abort', onAbort, { once: true });
      const readyTimeoutMs = this.deps.readyTimeoutMs ?? (target.connectTimeoutS !== undefined ? target.connectTimeoutS * 1000 : 20_000);
      state.timer = new PausableTimer(readyTimeoutMs, () =>
        fail(new HostError('timeout', `${target.hostName}:${target.port} did not complete the SSH connection within ${Math.round(readyTimeoutMs / 1000)} s.`, { hint: 'A firewall may be dropping the connection, or the host is overloaded.' })),
      );
      client.on('ready', () => {
        if (settled) return;
        settled = true;
        state.timer?.stop();
        signal.removeEventListener('abort', onAbort);
        resolve(client);
      });
      client.on('error', (error: Error & { level?: string }) => {
        lastError = error;
        // ssh2 reports a failing agent or key and then goes on to the next auth method.
        if (error.level === 'agent' || /^Error while signing/.test(error.message)) {
          this.logger.debug(`ssh auth: ${error.message}`);
          return;
        }
        fail(state.failure ?? toHostError(error, context));
      });
      client.on('close', () => fail(state.failure ?? toHostError(lastError ?? new Error('Connection lost before handshake'), context)));

      const keepaliveIntervalMs = this.deps.keepaliveIntervalMs ?? (target.serverAliveIntervalS ? target.serverAliveIntervalS * 1000 : 10_000);
      try {
        client.connect({
          host: address,
          port: target.port,
          username: target.user,
          ...(sock ? { sock } : {}),
          readyTimeout: 0,
          keepaliveInterval: keepaliveIntervalMs,
          keepaliveCountMax: target.serverAliveCountMax ?? 3,
          hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
            this.verifyHostKey(target, key, state).then(verify, (error: unknown) => {
              state.failure = toHostError(error, context);
              verify(false);
            });
          },
          authHandler: this.makeAuthHandler(target, state),
        });
      } catch (error) {
        fail(toHostError(error, context));
      }
    });
  }

  private async verifyHostKey(target: ResolvedSshTarget, key: Buffer, state: Handshake): Promise<boolean> {
    const host = target.hostName;
    const port = target.port;
    const keyType = keyTypeOfBlob(key) ?? 'unknown';
    const fingerprint = fingerprintSha256(key);
    const acceptedId = `${host}:${port}:${key.toString('base64')}`;
    if (this.acceptedHostKeys.has(acceptedId)) return true;
    const files = this.deps.knownHostsPath ? [this.deps.knownHostsPath] : [...target.knownHostsFiles, ...target.globalKnownHostsFiles];
    const check = checkHostKeyDetailed(await loadKnownHosts(files), host, port, keyType, key);
    const shown = (file: string): string => (file.startsWith(`${os.homedir()}/`) ? `~/${file.slice(os.homedir().length + 1)}` : file);
    switch (check.status) {
      case 'match':
        return true;
      case 'revoked': {
        const entry = check.conflicting[0];
        state.failure = new HostError('hostKeyChanged', `The host key of ${host}:${port} (${fingerprint}) is marked @revoked in ${shown(entry.file)} line ${entry.line}. Refusing to connect.`);
        return false;
      }
      case 'changed': {
        const entry = check.conflicting[0];
        const sameType = entry.keyType === keyType;
        const known = sameType ? '' : ` (known_hosts only has a ${entry.keyType} key for it)`;
        state.failure = new HostError(
          'hostKeyChanged',
          `Host key for ${host}:${port} has CHANGED (now ${keyType} ${fingerprint})${known}. Refusing to connect: someone may be intercepting, or the server was reinstalled. ` +
            `If you expect this, remove the old line ${entry.line} from ${shown(entry.file)}.`,
          { hint: `ssh-keygen -R ${port === 22 ? host : `'[${host}]:${port}'`}${entry.file.endsWith('known_hosts') ? ` -f ${shown(entry.file)}` : ''}` },
        );
        return false;
      }
      case 'unknown':
        break;
    }
    state.timer?.pause();
    let accepted: boolean;
    try {
      accepted = await this.deps.hostKeys.confirmUnknown({ host, port, keyType, fingerprint });
    } finally {
      state.timer?.resume();
    }
    if (!accepted) {
      state.failure = new HostError('hostKeyUnknownRejected', `The host key of ${host}:${port} (${keyType} ${fingerprint}) was not trusted, so Switchyard did not connect.`);
      return false;
    }
    this.acceptedHostKeys.add(acceptedId);
    const file = this.deps.knownHostsPath ?? target.knownHostsFiles[0] ?? `${os.homedir()}/.ssh/known_hosts`;
    try {
      await appendKnownHostsLine(file, formatKnownHostsLine(host, port, keyType, key));
      this.logger.info(`Added the ${keyType} key of ${host}:${port} (${fingerprint}) to ${shown(file)}.`);
    } catch (error) {
      this.logger.warn(`Could not record the host key in ${shown(file)}: ${describeError(error)}`);
    }
    return true;
  }

  /** Agent first, then each identity file, as `ssh` does; asks for passphrases of encrypted keys. */
  private makeAuthHandler(target: ResolvedSshTarget, state: Handshake): AuthHandlerMiddleware {
    const username = target.user;
    const agentSocket = this.deps.agentSocket === null ? undefined : (this.deps.agentSocket ?? process.env.SSH_AUTH_SOCK);
    const profileKey = this.profile.ssh.identityFile ? expandTilde(this.profile.ssh.identityFile, os.homedir()) : undefined;
    const steps: (() => Promise<AnyAuthMethod | undefined>)[] = [];
    if (agentSocket && !target.identitiesOnly && fs.existsSync(agentSocket)) steps.push(async () => ({ type: 'agent', username, agent: agentSocket }));
    let needsPassphrase: string | undefined;
    let unreadable: HostError | undefined;
    for (const file of target.identityFiles) {
      steps.push(async () => {
        try {
          const key = await this.loadKey(file, state);
          if (key === 'declined') {
            needsPassphrase = file;
            return undefined;
          }
          return { type: 'publickey', username, key };
        } catch (error) {
          const hostError = toHostError(error, { ...this.errorContext(target), keyPath: file });
          if (hostError.code === 'passphraseWrong') throw hostError;
          const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
          if (file === profileKey) throw hostError;
          if (!(missing && target.identityFilesAreDefaults)) this.logger.warn(`Skipping key ${file}: ${hostError.message}`);
          if (!missing) unreadable ??= hostError;
          return undefined;
        }
      });
    }
    let index = 0;
    let offered = 0;
    return (methodsLeft: AuthenticationType[] | null, _partial: boolean | null, next) => {
      if (methodsLeft && !methodsLeft.includes('publickey')) {
        state.failure ??= new HostError('authFailed', `${username}@${target.hostName}:${target.port} does not accept public keys (it offers: ${methodsLeft.join(', ')}).`);
        next(noMoreMethods);
        return;
      }
      void (async () => {
        while (index < steps.length) {
          const step = steps[index++];
          let method: AnyAuthMethod | undefined;
          try {
            method = await step();
          } catch (error) {
            state.failure = toHostError(error, this.errorContext(target));
            next(noMoreMethods);
            return;
          }
          if (method) {
            offered++;
            this._stats.authAttempts++;
            this.logger.debug(`ssh auth: offering ${method.type === 'agent' ? 'the ssh-agent keys' : 'a key'} to ${target.hostName}`);
            next(method);
            return;
          }
        }
        if (!state.failure) {
          if (needsPassphrase && offered === 0) state.failure = new HostError('passphraseNeeded', `The private key ${needsPassphrase} is encrypted and no passphrase was given.`);
          else if (offered === 0 && unreadable) state.failure = unreadable;
          else if (offered === 0) {
            state.failure = new HostError('authFailed', `No SSH key to offer to ${target.hostName}: none of ${target.identityFiles.join(', ')} exists and no ssh-agent is running.`, {
              hint: 'Set identityFile in the host profile or IdentityFile in ~/.ssh/config.',
            });
          } else {
            state.failure = new HostError('authFailed', `${username}@${target.hostName}:${target.port} did not accept any of our keys.`, {
              hint: `Check the user name and the key, and that its public key is in ~${username}/.ssh/authorized_keys on the host.`,
            });
          }
        }
        next(noMoreMethods);
      })();
    };
  }

  private async loadKey(file: string, state: Handshake): Promise<ParsedKey | 'declined'> {
    const cached = this.decryptedKeys.get(file);
    if (cached) return cached;
    const data = await fs.promises.readFile(file);
    const first = parseKey(data);
    if (!(first instanceof Error)) return first;
    if (!/no passphrase given/i.test(first.message)) throw first;
    let forgotten = false;
    for (let attempt = 1; attempt <= maxPassphraseAttempts; attempt++) {
      state.timer?.pause();
      let passphrase: string | undefined;
      try {
        passphrase = await this.deps.credentials.getPassphrase(file, attempt);
      } finally {
        state.timer?.resume();
      }
      if (passphrase === undefined) return 'declined';
      const key = parseKey(data, passphrase);
      if (!(key instanceof Error)) {
        this.decryptedKeys.set(file, key);
        await this.deps.credentials.rememberPassphrase(file, passphrase).catch((error: unknown) => this.logger.warn(`Could not remember the passphrase: ${describeError(error)}`));
        return key;
      }
      this.logger.info(`Wrong passphrase for ${file} (attempt ${attempt} of ${maxPassphraseAttempts}).`);
      if (!forgotten) {
        forgotten = true;
        await this.deps.credentials.forgetPassphrase(file).catch(() => undefined);
      }
    }
    throw new HostError('passphraseWrong', `Wrong passphrase for ${file} (${maxPassphraseAttempts} attempts).`);
  }

  private async connectedClient(signal?: AbortSignal): Promise<Client> {
    await this.connect(signal);
    if (!this.client) throw this.lostError();
    return this.client;
  }

  // ---------------------------------------------------------------------------------------------
  // commands

  private async openShellChannel(): Promise<ShellChannel> {
    const client = this.client;
    if (!client) throw this.lostError();
    return openExec(client, '/bin/sh');
  }

  /** Runs one command on the kept-open command shell; returns its exact output and exit status (never throws for a non-zero status). */
  async exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const raw = await this.execBuffer(argv, options);
    return { stdout: raw.stdout.toString('utf8'), stderr: raw.stderr.toString('utf8'), exitCode: raw.exitCode };
  }

  /** Like exec, with the outputs as bytes. */
  async execBuffer(argv: string[], options: ExecOptions = {}): Promise<ExecBufferResult> {
    const full = options.sudo ? ['sudo', '-n', ...argv] : argv;
    const commandLine = toCommandLine(full);
    await this.connect(options.signal);
    const stdin = options.stdin === undefined ? undefined : Buffer.isBuffer(options.stdin) ? options.stdin : Buffer.from(options.stdin, 'utf8');
    const result: RawResult = await this.shell.run(commandLine, {
      ...(stdin ? { stdin } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      timeoutMs: options.timeoutMs ?? defaultExecTimeoutMs,
    });
    if (options.sudo && result.exitCode !== 0) {
      const sudoError = this.sudoError(result.stderr.toString('utf8'), argv);
      if (sudoError) throw sudoError;
    }
    return result;
  }

  private sudoError(stderr: string, argv: string[]): HostError | undefined {
    const user = this.target?.user ?? 'the user';
    const what = argv.join(' ');
    const hint = `Allow it without a password, e.g. in /etc/sudoers.d/switchyard: ${user} ALL=(root) NOPASSWD: ${argv[0]}`;
    if (/^sudo: (a password is required|a terminal is required)/m.test(stderr)) {
      return new HostError('sudoNeedsPassword', `sudo on ${this.displayName} asks ${user} for a password to run \`${what}\`; Switchyard only uses sudo without a password (sudo -n).`, { hint });
    }
    if (/is not allowed to execute|is not in the sudoers file|may not run sudo/.test(stderr)) {
      return new HostError('sudoNeedsPassword', `${user} may not run \`${what}\` with sudo on ${this.displayName}.`, { hint });
    }
    if (/you must have a tty to run sudo/.test(stderr)) {
      return new HostError('sudoNeedsPassword', `sudo on ${this.displayName} requires a terminal (Defaults requiretty).`, { hint: `Add "Defaults:${user} !requiretty" to the sudoers configuration.` });
    }
    if (/sudo: (command not found|not found)|sudo: No such file/.test(stderr)) {
      return new HostError('commandFailed', `sudo is not installed on ${this.displayName}.`);
    }
    return undefined;
  }

  /** A long-running command on its own channel (e.g. `tail -F`); `close()` really ends it on the host. */
  async execStream(argv: string[], options: { sudo?: boolean; signal?: AbortSignal } = {}): Promise<ExecStream> {
    const full = options.sudo ? ['sudo', '-n', ...argv] : argv;
    const commandLine = toCommandLine(['sh', '-c', watchdogScript, 'sh', ...full]);
    const client = await this.connectedClient(options.signal);
    const channel = await openExec(client, commandLine);
    this._stats.channels.exec++;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    channel.pipe(stdout);
    channel.stderr.pipe(stderr);
    let exitCode: number | null = null;
    channel.on('exit', (code: number | null) => {
      exitCode = typeof code === 'number' ? code : null;
    });
    let closed = false;
    let finish: (code: number | null) => void = () => undefined;
    const exit = new Promise<number | null>((resolve) => {
      finish = (code) => {
        if (closed) return;
        closed = true;
        this.streams.delete(stream);
        options.signal?.removeEventListener('abort', onAbort);
        stdout.end();
        stderr.end();
        resolve(code);
      };
      channel.on('close', () => finish(exitCode));
    });
    const stream: ExecStream = {
      stdout,
      stderr,
      exit,
      close: () => {
        if (closed) return;
        try {
          // EOF on stdin is what the watchdog waits for; close() then tears the channel down.
          channel.end();
          channel.close();
        } catch {
          // already gone
        }
        // sshd only confirms the close once the process has let go of its output; never keep callers waiting on that.
        setTimeout(() => finish(null), streamCloseGraceMs).unref();
      },
    };
    const onAbort = (): void => stream.close();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.streams.add(stream);
    return stream;
  }

  // ---------------------------------------------------------------------------------------------
  // files

  private sftp(signal?: AbortSignal): Promise<SFTPWrapper> {
    if (!this.sftpPromise) {
      const promise = this.connectedClient(signal).then(
        (client) =>
          new Promise<SFTPWrapper>((resolve, reject) => {
            client.sftp((error, sftp) => {
              if (error) {
                reject(new HostError('commandFailed', `${this.displayName} refused the SFTP channel: ${describeError(error)}.`, { hint: 'Is "Subsystem sftp" enabled in sshd_config?', cause: error }));
                return;
              }
              this._stats.channels.sftp++;
              sftp.on('close', () => {
                if (this.sftpPromise === promise) this.sftpPromise = undefined;
              });
              resolve(sftp);
            });
          }),
      );
      this.sftpPromise = promise;
      promise.catch(() => {
        if (this.sftpPromise === promise) this.sftpPromise = undefined;
      });
    }
    return this.sftpPromise;
  }

  private sftpError(error: unknown, remotePath: string, action: string): HostError {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 2) return new HostError('fileNotFound', `${remotePath} does not exist on ${this.displayName}.`, { cause: error });
    if (code === 3) return new HostError('permissionDenied', `${this.target?.user ?? 'The user'} may not ${action} ${remotePath} on ${this.displayName} (permission denied).`, { cause: error });
    return toHostError(error, this.errorContext());
  }

  /** The file's metadata, or undefined when it does not exist. */
  async stat(remotePath: string): Promise<RemoteStat | undefined> {
    const sftp = await this.sftp();
    return new Promise<RemoteStat | undefined>((resolve, reject) => {
      sftp.stat(remotePath, (error, stats: Stats) => {
        if (error) {
          const hostError = this.sftpError(error, remotePath, 'look at');
          if (hostError.code === 'fileNotFound') resolve(undefined);
          else reject(hostError);
          return;
        }
        resolve({
          size: stats.size,
          mode: stats.mode,
          uid: stats.uid,
          gid: stats.gid,
          mtimeMs: stats.mtime * 1000,
          isFile: stats.isFile(),
          isDirectory: stats.isDirectory(),
        });
      });
    });
  }

  /** Size, used and available space of the filesystem holding the path (OpenSSH's statvfs extension, one SFTP request). */
  async statvfs(remotePath: string): Promise<{ sizeKb: number; usedKb: number; availKb: number }> {
    const sftp = await this.sftp();
    return new Promise((resolve, reject) => {
      sftp.ext_openssh_statvfs(remotePath, (error, info: { f_frsize: number; f_blocks: number; f_bfree: number; f_bavail: number }) => {
        if (error) {
          reject(this.sftpError(error, remotePath, 'look at'));
          return;
        }
        const kb = (blocks: number): number => Math.round((blocks * info.f_frsize) / 1024);
        // As df: used = total - free; available is what a non-root user may still write.
        resolve({ sizeKb: kb(info.f_blocks), usedKb: kb(info.f_blocks - info.f_bfree), availKb: kb(info.f_bavail) });
      });
    });
  }

  /** Reads a file over SFTP; with `sudo`, a file the user may not read is read with `sudo -n cat`. */
  async readFile(remotePath: string, options: { sudo?: boolean } = {}): Promise<Buffer> {
    const sftp = await this.sftp();
    try {
      return await new Promise<Buffer>((resolve, reject) => {
        sftp.readFile(remotePath, (error: Error | undefined, data: Buffer) => (error ? reject(this.sftpError(error, remotePath, 'read')) : resolve(data)));
      });
    } catch (error) {
      if (!(options.sudo && error instanceof HostError && error.code === 'permissionDenied')) throw error;
      const result = await this.execBuffer(['cat', remotePath], { sudo: true });
      if (result.exitCode !== 0) throw new HostError('commandFailed', `sudo cat ${remotePath} failed: ${result.stderr.toString('utf8').trim()}`);
      return result.stdout;
    }
  }

  /**
   * Replaces a file atomically: the new content goes to `<path>.switchyard-tmp-<random>` in the same
   * directory and is fsynced, the old file is kept as `<path>.switchyard-bak` (hard link), then renamed over.
   * If the directory is not writable (e.g. /etc/nginx), the same steps run through `sudo -n`.
   */
  async writeFileAtomic(remotePath: string, data: string | Buffer, options: WriteFileOptions = {}): Promise<WriteFileResult> {
    const content = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
    const sftp = await this.sftp();
    let existing: RemoteStat | undefined;
    try {
      existing = await this.stat(remotePath);
    } catch (error) {
      if (!(error instanceof HostError && error.code === 'permissionDenied')) throw error;
      existing = undefined;
    }
    if (existing?.isDirectory) throw new HostError('commandFailed', `${remotePath} is a directory.`);
    const mode = (options.mode ?? (existing ? existing.mode : 0o644)) & 0o7777;
    const suffix = randomBytes(6).toString('hex');
    const tmpPath = `${remotePath}.switchyard-tmp-${suffix}`;
    const backupPath = `${remotePath}.switchyard-bak`;

    let handle: Buffer;
    try {
      handle = await sftpCall<Buffer>((cb) => sftp.open(tmpPath, 'wx', { mode }, cb));
    } catch (error) {
      const hostError = this.sftpError(error, posixPath.dirname(remotePath), 'write into');
      // SFTP reports a read-only file system only as "Failure".
      if (hostError.code !== 'permissionDenied') throw (existing && (await this.readOnlyError(remotePath, hostError))) || hostError;
      this.logger.debug(`${posixPath.dirname(remotePath)} is not writable by the user; writing ${remotePath} through sudo -n`);
      try {
        return await this.writeFileWithSudo(remotePath, content, { mode, existing, backup: options.backup ?? false, suffix });
      } catch (sudoError) {
        if (!(sudoError instanceof HostError && sudoError.code === 'sudoNeedsPassword' && existing)) throw sudoError;
        if ((await this.exec(['test', '-w', remotePath])).exitCode !== 0) throw (await this.readOnlyError(remotePath, sudoError)) ?? sudoError;
        this.logger.info(`sudo may not replace ${remotePath}, but ${this.target?.user ?? 'the user'} may write it: rewriting it in place.`);
        return this.writeFileInPlace(remotePath, content, { backup: options.backup ?? false, ...(options.mode !== undefined ? { mode: options.mode } : {}) });
      }
    }
    try {
      try {
        await writeAll(sftp, handle, content);
        await sftpCall<void>((cb) => sftp.fchmod(handle, mode, (err) => cb(err)));
        await sftpCall<void>((cb) => sftp.ext_openssh_fsync(handle, (err) => cb(err))).catch((error: unknown) => this.logger.debug(`fsync not available: ${describeError(error)}`));
      } finally {
        await sftpCall<void>((cb) => sftp.close(handle, (err) => cb(err))).catch(() => undefined);
      }
      let keptBackup: string | undefined;
      if (options.backup && existing) {
        await sftpCall<void>((cb) => sftp.unlink(backupPath, (err) => cb(err))).catch(() => undefined);
        try {
          await sftpCall<void>((cb) => sftp.ext_openssh_hardlink(remotePath, backupPath, (err) => cb(err)));
        } catch {
          const copy = await this.exec(['cp', '-p', remotePath, backupPath]);
          if (copy.exitCode !== 0) throw new HostError('commandFailed', `Could not keep a backup of ${remotePath}: ${copy.stderr.trim()}`);
        }
        keptBackup = backupPath;
      }
      try {
        await sftpCall<void>((cb) => sftp.ext_openssh_rename(tmpPath, remotePath, (err) => cb(err)));
      } catch (error) {
        if (/not supported/i.test(describeError(error))) {
          const move = await this.exec(['mv', '-f', tmpPath, remotePath]);
          if (move.exitCode !== 0) throw new HostError('commandFailed', `Could not move the new ${remotePath} into place: ${move.stderr.trim()}`);
        } else {
          throw this.sftpError(error, remotePath, 'replace');
        }
      }
      return { ...(keptBackup ? { backupPath: keptBackup } : {}), method: 'atomic' };
    } catch (error) {
      await sftpCall<void>((cb) => sftp.unlink(tmpPath, (err) => cb(err))).catch(() => undefined);
      throw error instanceof HostError ? error : this.sftpError(error, remotePath, 'write');
    }
  }

  /** When `remotePath` (which exists) is on a read-only file system, the error that says so. Opening it for append writes nothing. */
  private async readOnlyError(remotePath: string, cause: unknown): Promise<HostError | undefined> {
    const probe = await this.exec(['sh', '-c', 'exec 3>>"$1"', 'sh', remotePath]);
    if (probe.exitCode === 0 || !/read-only file system/i.test(probe.stderr)) return undefined;
    return new HostError('permissionDenied', `${remotePath} is on a read-only file system on ${this.displayName}: it cannot be changed, with or without sudo.`, { cause });
  }

  private async writeFileWithSudo(remotePath: string, content: Buffer, o: { mode: number; existing: RemoteStat | undefined; backup: boolean; suffix: string }): Promise<WriteFileResult> {
    const sftp = await this.sftp();
    // Stage the bytes where the user can write, then let root install them next to the target.
    const staged = `/tmp/switchyard-upload-${o.suffix}`;
    await sftpCall<void>((cb) => sftp.writeFile(staged, content, { mode: 0o600 }, (err) => cb(err))).catch((error: unknown) => {
      throw this.sftpError(error, staged, 'write');
    });
    const tmpPath = `${remotePath}.switchyard-tmp-${o.suffix}`;
    const run = async (argv: string[], what: string): Promise<void> => {
      const result = await this.exec(argv, { sudo: true });
      if (result.exitCode !== 0) throw new HostError('commandFailed', `Could not ${what} ${remotePath} with sudo: ${result.stderr.trim()}`);
    };
    try {
      let backupPath: string | undefined;
      if (o.backup && o.existing) {
        await run(['cp', '-p', remotePath, `${remotePath}.switchyard-bak`], 'back up');
        backupPath = `${remotePath}.switchyard-bak`;
      }
      const owner = o.existing ? ['-o', String(o.existing.uid), '-g', String(o.existing.gid)] : [];
      await run(['install', '-m', o.mode.toString(8).padStart(4, '0'), ...owner, staged, tmpPath], 'stage');
      try {
        await run(['mv', '-f', tmpPath, remotePath], 'replace');
      } catch (error) {
        await this.exec(['rm', '-f', tmpPath], { sudo: true }).catch(() => undefined);
        throw error;
      }
      return { ...(backupPath ? { backupPath } : {}), method: 'sudo' };
    } finally {
      await sftpCall<void>((cb) => sftp.unlink(staged, (err) => cb(err))).catch(() => undefined);
    }
  }

  /** The last resort: truncate and rewrite a file the user owns in a directory it may not write. */
  private async writeFileInPlace(remotePath: string, content: Buffer, o: { backup: boolean; mode?: number }): Promise<WriteFileResult> {
    const sftp = await this.sftp();
    let backupPath: string | undefined;
    if (o.backup) {
      const old = await this.readFile(remotePath);
      const home = await sftpCall<string>((cb) => sftp.realpath('.', cb));
      const dir = `${home}/.switchyard/backups`;
      const made = await this.exec(['mkdir', '-p', dir]);
      if (made.exitCode !== 0) throw new HostError('commandFailed', `Could not create ${dir} for the backup: ${made.stderr.trim()}`);
      backupPath = `${dir}/${remotePath.replace(/^\/+/, '').replace(/\//g, '%')}.switchyard-bak`;
      await sftpCall<void>((cb) => sftp.writeFile(backupPath as string, old, { mode: 0o600 }, (err) => cb(err))).catch((error: unknown) => {
        throw this.sftpError(error, backupPath as string, 'write');
      });
    }
    let handle: Buffer;
    try {
      handle = await sftpCall<Buffer>((cb) => sftp.open(remotePath, 'w', cb));
    } catch (error) {
      throw this.sftpError(error, remotePath, 'write');
    }
    try {
      await writeAll(sftp, handle, content);
      if (o.mode !== undefined) {
        const mode = o.mode;
        await sftpCall<void>((cb) => sftp.fchmod(handle, mode, (err) => cb(err)));
      }
      await sftpCall<void>((cb) => sftp.ext_openssh_fsync(handle, (err) => cb(err))).catch(() => undefined);
    } catch (error) {
      throw this.sftpError(error, remotePath, 'write');
    } finally {
      await sftpCall<void>((cb) => sftp.close(handle, (err) => cb(err))).catch(() => undefined);
    }
    return { ...(backupPath ? { backupPath } : {}), method: 'inPlace' };
  }

  // ---------------------------------------------------------------------------------------------
  // docker and http

  /** Dockerode talking to the host's Docker socket through this connection (no extra SSH connection). */
  docker(): Dockerode {
    if (!this.dockerClient) {
      this.dockerAgent = new ChannelAgent(() => this.openDockerStream(), { keepAlive: true, maxSockets: 8 });
      const options = { protocol: 'http', host: 'localhost', port: 80, agent: this.dockerAgent } as Dockerode.DockerOptions;
      this.dockerClient = new Dockerode(options);
    }
    return this.dockerClient;
  }

  private async openDockerStream(): Promise<Duplex> {
    const client = await this.connectedClient();
    const socketPath = this.profile.dockerSocket;
    if (this.useDialStdio) {
      const channel = await openExec(client, toCommandLine(['docker', '-H', `unix://${socketPath}`, 'system', 'dial-stdio']));
      this._stats.channels.exec++;
      return channel;
    }
    try {
      const stream = await new Promise<ClientChannel>((resolve, reject) => client.openssh_forwardOutStreamLocal(socketPath, (error, channel) => (error ? reject(error) : resolve(channel))));
      this._stats.channels.docker++;
      return stream;
    } catch (error) {
      if (channelOpenReason(error) === 1) {
        // sshd forbids socket forwarding (AllowStreamLocalForwarding no): go through the docker CLI, as `docker -H ssh://` does.
        this.logger.info(`${this.displayName} does not forward unix sockets; using "docker system dial-stdio" instead.`);
        this.useDialStdio = true;
        return this.openDockerStream();
      }
      throw await this.diagnoseDocker(error);
    }
  }

  private async diagnoseDocker(cause: unknown): Promise<HostError> {
    const socketPath = this.profile.dockerSocket;
    const user = this.target?.user ?? 'the user';
    let verdict = '';
    try {
      verdict = (await this.exec(['sh', '-c', dockerProbeScript, 'sh', socketPath], { timeoutMs: 15_000 })).stdout.trim();
    } catch (error) {
      return toHostError(error, this.errorContext());
    }
    if (verdict.startsWith('denied')) {
      const group = verdict.split(' ')[1] || 'docker';
      return new HostError('dockerPermissionDenied', `${user} is not in the ${group} group, so it may not use ${socketPath}: run \`sudo usermod -aG ${group} ${user}\` and reconnect.`, {
        hint: `sudo usermod -aG ${group} ${user}`,
        cause,
      });
    }
    if (verdict === 'missing') {
      return new HostError('dockerSocketMissing', `Docker is installed on ${this.displayName} but ${socketPath} does not exist: the Docker daemon is not running, or the profile's dockerSocket is wrong.`, {
        hint: 'sudo systemctl start docker',
        cause,
      });
    }
    if (verdict === 'notinstalled') return new HostError('dockerNotInstalled', `Docker is not installed on ${this.displayName} (no docker command, no socket at ${socketPath}).`, { cause });
    return new HostError('commandFailed', `${this.displayName} did not forward the Docker socket ${socketPath}: ${describeError(cause)}.`, { hint: 'Check AllowStreamLocalForwarding in the host\'s sshd_config.', cause });
  }

  /** GET http://127.0.0.1:<port><path> as seen from the host (a direct-tcpip channel), for health probes of loopback-bound apps. */
  async httpGet(port: number, path: string, options: { timeoutMs?: number; signal?: AbortSignal; host?: '127.0.0.1' } = {}): Promise<HttpResult> {
    const host = options.host ?? '127.0.0.1';
    if (!path.startsWith('/') || /[\s\0]/.test(path)) throw new HostError('commandFailed', `"${path}" is not a URL path.`);
    const timeoutMs = options.timeoutMs ?? 10_000;
    const started = performance.now();
    const client = await this.connectedClient(options.signal);
    return new Promise<HttpResult>((resolve, reject) => {
      let settled = false;
      let request: http.ClientRequest | undefined;
      let stream: Duplex | undefined;
      const finish = (error: HostError | undefined, result?: HttpResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (error) {
          request?.destroy();
          stream?.destroy();
          reject(error);
        } else if (result) {
          resolve(result);
        }
      };
      const timer = setTimeout(() => finish(new HostError('timeout', `http://${host}:${port}${path} on ${this.displayName} did not answer within ${timeoutMs} ms.`)), timeoutMs);
      const onAbort = (): void => finish(new HostError('cancelled', 'Cancelled.'));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      forwardOut(client, host, port).then(
        (channel) => {
          this._stats.channels.tcp++;
          stream = channel;
          if (settled) {
            channel.destroy();
            return;
          }
          request = http.request(
            { host, port, path, method: 'GET', headers: { Host: `${host}:${port}`, Connection: 'close', 'User-Agent': 'switchyard' }, createConnection: () => asSocket(channel) as unknown as net.Socket },
            (response) => {
              const chunks: Buffer[] = [];
              let size = 0;
              response.on('data', (chunk: Buffer) => {
                size += chunk.length;
                if (size <= maxHttpBodyBytes) chunks.push(chunk);
              });
              response.on('end', () => finish(undefined, { status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), durationMs: performance.now() - started }));
              response.on('error', (error) => finish(new HostError('connectionLost', `Reading http://${host}:${port}${path} failed: ${describeError(error)}.`)));
            },
          );
          request.on('error', (error) => finish(new HostError('connectionLost', `http://${host}:${port}${path} on ${this.displayName} failed: ${describeError(error)}.`, { cause: error })));
          request.end();
        },
        (error: unknown) => {
          const reason = channelOpenReason(error);
          if (reason === 2) finish(new HostError('unreachable', `Nothing accepts connections on ${host}:${port} on ${this.displayName}.`, { cause: error }));
          else if (reason === 1) finish(new HostError('commandFailed', `sshd on ${this.displayName} does not allow TCP forwarding (AllowTcpForwarding).`, { cause: error }));
          else finish(toHostError(error, this.errorContext()));
        },
      );
    });
  }

  // ---------------------------------------------------------------------------------------------

  /** Closes streams, channels and the connection, and stops reconnecting. */
  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.attempt?.controller.abort();
    const closed = new HostError('connectionLost', `The connection to ${this.displayName} was closed.`);
    this.shell.dispose();
    this.dropChannels(closed);
    void this.sftpPromise?.then((sftp) => sftp.end()).catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    client?.end();
    for (const jump of this.jumpClients) jump.end();
    this.jumpClients = [];
    this.setState({ kind: 'closed' });
    this._onDidChangeState.dispose();
  }
}

function parseKey(data: Buffer, passphrase?: string): ParsedKey | Error {
  const parsed = sshUtils.parseKey(data, passphrase) as ParsedKey | ParsedKey[] | Error;
  if (parsed instanceof Error) return parsed;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || !key.isPrivateKey()) return new Error('does not contain a (valid) private key');
  return key;
}

function openExec(client: Client, command: string): Promise<ClientChannel> {
  return new Promise<ClientChannel>((resolve, reject) => {
    try {
      client.exec(command, { pty: false }, (error, channel) => (error ? reject(error) : resolve(channel)));
    } catch (error) {
      reject(error);
    }
  });
}

function forwardOut(client: Client, host: string, port: number): Promise<ClientChannel> {
  return new Promise<ClientChannel>((resolve, reject) => {
    try {
      client.forwardOut('127.0.0.1', 0, host, port, (error, channel) => (error ? reject(error) : resolve(channel)));
    } catch (error) {
      reject(error);
    }
  });
}

/** Writes the whole buffer to an open SFTP handle, 32 KiB per request. */
async function writeAll(sftp: SFTPWrapper, handle: Buffer, content: Buffer): Promise<void> {
  for (let offset = 0; offset < content.length; ) {
    const length = Math.min(32 * 1024, content.length - offset);
    const at = offset;
    await sftpCall<void>((cb) => sftp.write(handle, content, at, length, at, (err) => cb(err)));
    offset += length;
  }
}

function sftpCall<T>(start: (callback: (error: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((error, value) => (error ? reject(error) : resolve(value as T)));
  });
}
