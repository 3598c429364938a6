/**
 * The deploy engine's vocabulary: the ports it drives (implemented over SSH by src/host/deployPorts.ts,
 * and by fakes in tests), its settings, the events it emits while it runs, the result it returns, and
 * the lock and journal records it leaves on the host. Plain data and interfaces only.
 */
import type { Color } from './hostProfile';
import type { ContainerHealth, ContainerState, HealthLogEntry } from './hostState';

// ---------------------------------------------------------------------------------------------
// Ports

/** What the engine needs to know about one container (`docker inspect`, reduced). */
export interface ContainerStatus {
  name: string;
  id: string;
  /** The image reference it was created from, e.g. `127.0.0.1:5005/handdoc-spring:v2`. */
  image: string;
  state: ContainerState;
  health: ContainerHealth;
  /** ISO time of the last start: a restart changes it. */
  startedAt: string;
  restartCount: number;
  exitCode?: number;
  healthLog: HealthLogEntry[];
  /** The container's own healthcheck timings (from its config), when it has one. */
  healthcheck?: { intervalMs: number; timeoutMs: number; startPeriodMs: number; retries: number };
  labels: Record<string, string>;
}

export type ImageCheck =
  /** The tag exists in the registry (and may also be on the host already). */
  | { kind: 'available'; isLocal: boolean }
  /** The host already has it; the registry could not be asked (down, or needs credentials). */
  | { kind: 'localOnly'; registryProblem: string }
  /** The registry answered that there is no such tag / repository. */
  | { kind: 'missing'; message: string }
  /** The registry would not say (it needs credentials the engine does not have); the pull will tell. */
  | { kind: 'unverified'; reason: string }
  /** Neither the host nor the registry can provide it right now. */
  | { kind: 'unreachable'; message: string };

/** The output of a command that may fail without being an error of the connection (`nginx -t`). */
export interface CommandOutcome {
  ok: boolean;
  output: string;
}

export interface HostResources {
  memAvailableKb: number;
  memTotalKb: number;
  /** Free space where Docker keeps images, when it could be measured. */
  dockerDiskAvailableKb?: number;
  /** Memory the given container uses now (docker stats), when asked for and measurable. */
  containerMemoryKb?: number;
}

/** One compose service, as `docker compose -p <project> -f <file> ... <service>` sees it. */
export interface ComposeTarget {
  project: string;
  composeFile: string;
  service: string;
}

/** What the host layer records about the lock holder's SSH session, to tell a live holder from a gone one. */
export interface LockRecord {
  token: string;
  /** Who: `alice@laptop (VS Code)`, `github-actions run 1234`. */
  holder: string;
  /** The host name this lock is about (the profile's name). */
  host: string;
  /** `retire`: stopping a color whose keep-warm time is up (src/core/warmRetire.ts). */
  operation: OperationKind | 'retire';
  service: string;
  /** ISO time the operation started. */
  startedAt: string;
  /** The step the holder was in at its last heartbeat. */
  step?: StepName;
  /** ISO time of the holder's last heartbeat. */
  heartbeatAt: string;
  /** Filled in by the host layer: the holder's sshd session process on the host. */
  session?: { pid: number; startTicks: string };
}

export interface LockState {
  record: LockRecord;
  /** The holder is gone (its SSH session no longer exists on the host); breaking the lock is safe after a look. */
  isStale: boolean;
  staleReason?: string;
}

export type LockAcquire = { acquired: true } | { acquired: false; current: LockState };

export interface DeployPorts {
  /** The profile name of the host, for messages and records. */
  readonly hostName: string;
  files: {
    /** The file's text; undefined when it does not exist. */
    read(path: string): Promise<string | undefined>;
    /** Replaces the file so that a reader never sees half of it; with `backup`, the old content is kept next to it or in ~/.switchyard. */
    write(path: string, text: string, options: { backup: boolean }): Promise<{ backupPath?: string }>;
  };
  nginx: {
    test(): Promise<CommandOutcome>;
    reload(): Promise<CommandOutcome>;
  };
  docker: {
    inspect(container: string): Promise<ContainerStatus | undefined>;
    /** The last lines of the container's output (stdout and stderr). */
    logs(container: string, tail: number): Promise<string>;
    checkImage(image: string, signal?: AbortSignal): Promise<ImageCheck>;
    /** Pulls the image; each progress line goes to `onProgress`. */
    pull(image: string, onProgress: (line: string) => void, signal?: AbortSignal): Promise<void>;
    /** Stops it (SIGTERM, then SIGKILL after `timeoutS`); no error when it is already stopped. */
    stop(container: string, timeoutS: number): Promise<void>;
    /** Stops and removes it; no error when it does not exist. */
    remove(container: string): Promise<void>;
  };
  compose: {
    /**
     * (Re)creates the target's container from the user's compose file plus Switchyard's override,
     * which only sets the image: `compose -p P -f <file> -f <override> up -d --no-deps --force-recreate S`.
     */
    up(target: ComposeTarget, overrideText: string, signal?: AbortSignal): Promise<void>;
  };
  http: {
    /** GET http://127.0.0.1:<port><path> as seen from the host. Throws when nothing answers. */
    get(port: number, path: string, timeoutMs: number, signal?: AbortSignal): Promise<{ status: number; body: string }>;
  };
  host: {
    resources(options: { container?: string }): Promise<HostResources>;
  };
  lock: {
    /** Atomically creates the lock; when someone holds it, says who and whether they are gone. */
    acquire(record: LockRecord): Promise<LockAcquire>;
    /** Heartbeat: rewrites our lock (step, time, session). False when the lock is no longer ours (broken by someone). */
    refresh(record: LockRecord): Promise<boolean>;
    release(token: string): Promise<void>;
    read(): Promise<LockState | undefined>;
    /** Removes the lock only if it still has this token. */
    break(token: string): Promise<boolean>;
  };
  journal: {
    append(entry: JournalEntry): Promise<void>;
    /** The last `limit` entries, oldest first. */
    read(limit: number): Promise<JournalEntry[]>;
  };
  clock: {
    now(): number;
    /** Resolves after `ms`; rejects when `signal` aborts. */
    sleep(ms: number, signal?: AbortSignal): Promise<void>;
  };
}

// ---------------------------------------------------------------------------------------------
// Settings

export type OldColorPolicy = 'stop' | 'keep' | 'auto';

export interface DeploySettings {
  /** How long the old color keeps running after the switch, so requests and WebSockets in flight finish. */
  drainMs: number;
  /** After the drain: stop the old color, keep it running for an instant rollback, or keep it when memory allows. */
  oldColor: OldColorPolicy;
  /** `auto` keeps the old color only when at least this much memory is still available. */
  keepWarmMinAvailableKb: number;
  /** Recorded in the journal: how long a kept color is meant to stay warm. */
  keepWarmMinutes: number;
  /** Give up waiting for the new color after this long (never before its start_period plus `startPeriodGraceMs`). */
  readyTimeoutMs: number;
  /** Switch and rollback to a color that already runs: how long it may take to answer its health path. */
  switchReadyTimeoutMs: number;
  startPeriodGraceMs: number;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  /** Consecutive answers of the health path (2xx/3xx) that make the new color ready. */
  probeSuccesses: number;
  /** How long, after the reload, Nginx may take to serve the new color through `verifyUrl`. */
  verifyTimeoutMs: number;
  /** Consecutive answers through Nginx from the new color that make the switch verified. */
  verifySuccesses: number;
  stopTimeoutS: number;
  minFreeDiskKb: number;
  /** Memory a second color is assumed to need when the live one's use cannot be measured. */
  secondColorFallbackKb: number;
  logTailLines: number;
  /** Refuse to start when the host has less memory available than the live color uses. */
  checkMemory: boolean;
}

export const defaultDeploySettings: DeploySettings = {
  drainMs: 5000,
  oldColor: 'auto',
  keepWarmMinAvailableKb: 256 * 1024,
  keepWarmMinutes: 30,
  readyTimeoutMs: 120_000,
  switchReadyTimeoutMs: 10_000,
  startPeriodGraceMs: 10_000,
  probeIntervalMs: 150,
  probeTimeoutMs: 3000,
  probeSuccesses: 2,
  verifyTimeoutMs: 10_000,
  verifySuccesses: 3,
  stopTimeoutS: 10,
  minFreeDiskKb: 512 * 1024,
  secondColorFallbackKb: 300 * 1024,
  logTailLines: 30,
  checkMemory: true,
};

// ---------------------------------------------------------------------------------------------
// Requests, events, results

export type OperationKind = 'deploy' | 'switch' | 'rollback';

/** Blue-Green: preflight, pull, startIdle, waitReady, switch, verify, drain, retire, journal. Single container: preflight, pull, recreate, waitReady, journal. */
export type StepName = 'preflight' | 'pull' | 'startIdle' | 'waitReady' | 'switch' | 'verify' | 'drain' | 'retire' | 'journal' | 'recreate';

export interface OperationRequest {
  service: string;
  /** Who runs it, for the lock and the journal. */
  who: string;
  settings?: Partial<DeploySettings>;
  /** Break a lock whose holder is gone (the caller asked the user first). */
  breakStaleLock?: boolean;
}

export interface DeployRequest extends OperationRequest {
  tag: string;
}

export type StepOutcome = 'ok' | 'failed' | 'skipped' | 'cancelled';

export interface StepRecord {
  name: StepName;
  outcome: StepOutcome;
  durationMs: number;
  /** One line on what the step did or why it failed. */
  detail?: string;
}

export type DeployEvent =
  | { kind: 'stepStarted'; step: StepName; atMs: number }
  | { kind: 'stepFinished'; step: StepName; outcome: StepOutcome; durationMs: number; detail?: string }
  | { kind: 'progress'; step: StepName; message: string }
  /** The moment traffic moved: from here on, cancelling no longer restores the old color (rollback does). */
  | { kind: 'switched'; from: Color; to: Color; atMs: number }
  /** Single container: the old container is being stopped; the service is down from here until `backUp`. */
  | { kind: 'downtimeStarted'; container: string; atMs: number }
  /** Single container: the new container answered its health path for the first time. */
  | { kind: 'backUp'; container: string; atMs: number; downtimeMs: number };

export type DeployErrorCode =
  /** Unknown service, bad tag: nothing was touched. */
  | 'badInput'
  /** Someone else holds the deploy lock. */
  | 'locked'
  /** A precondition does not hold (switch file not understood, nginx -t fails, memory, image missing): nothing was touched. */
  | 'preflight'
  | 'pullFailed'
  | 'startFailed'
  /** The new color did not become ready, or died before the switch. */
  | 'notReady'
  /** Nginx refused the new config or the reload failed; the old config is back. */
  | 'switchFailed'
  /** Nginx did not serve the new color after the reload; traffic went back to the old color. */
  | 'verifyFailed'
  | 'connectionLost'
  | 'cancelled'
  /** Another client broke our lock while we ran. */
  | 'lockLost'
  | 'internal';

/**
 * Where users' traffic is after the operation. `isCertain`: Switchyard knows (it read the switch file
 * and either never changed it or saw Nginx serve the color); otherwise `why` says what is unknown.
 */
export interface TrafficState {
  color: Color | undefined;
  isCertain: boolean;
  why?: string;
}

export interface OperationResult {
  id: string;
  kind: OperationKind;
  service: string;
  host: string;
  ok: boolean;
  /** `succeeded`; `failed` and `cancelled` leave the host consistent; `uncertain` needs a human (see `error.message`). */
  outcome: JournalOutcome;
  from?: ColorImage;
  to?: ColorImage;
  traffic: TrafficState;
  steps: StepRecord[];
  totalMs: number;
  /** Milliseconds from "the new color answers its health path" to "Nginx reloaded to it". */
  readyToSwitchedMs?: number;
  /** Single container: which container was replaced, and its image before and after. */
  inPlace?: InPlaceImages;
  /**
   * Single container: measured downtime, from the moment Switchyard began stopping the old container
   * to the new one's first successful probe of its health path. Absent when the old one was never stopped.
   */
  downtimeMs?: number;
  error?: { code: DeployErrorCode; step?: StepName; message: string; logs?: string };
  /** Things the user should know that are not errors (old color kept warm, registry skipped, ...). */
  notes: string[];
  /** What the old color is now: still running (rollback is instant), or stopped. */
  oldColorState?: 'running' | 'stopped';
}

// ---------------------------------------------------------------------------------------------
// Journal

export interface ColorImage {
  color: Color;
  container: string;
  /** The image it runs (undefined when the container did not exist). */
  image?: string;
}

/** A single-container operation: the container it replaced in place, what it ran and what it runs now. */
export interface InPlaceImages {
  container: string;
  /** The image before (undefined when the container did not exist). */
  from?: string;
  to: string;
  /** Whether the old container was stopped (from there on the service was down until the new one answered). */
  isRecreated: boolean;
}

export type JournalOutcome = 'succeeded' | 'failed' | 'cancelled' | 'uncertain';

export interface JournalEntry {
  id: string;
  /** One `started` line when an operation begins, one `finished` line when it ends; a lone `started` means it was interrupted. */
  phase: 'started' | 'finished';
  at: string;
  kind: OperationKind;
  service: string;
  host: string;
  who: string;
  tag?: string;
  from?: ColorImage;
  to?: ColorImage;
  outcome?: JournalOutcome;
  trafficOn?: Color;
  error?: string;
  failedStep?: StepName;
  steps?: StepRecord[];
  totalMs?: number;
  /** Until when the old color is meant to stay warm (ISO), when it was kept. */
  warmUntil?: string;
  inPlace?: InPlaceImages;
  downtimeMs?: number;
}

/** One operation as `history` shows it, with both journal lines merged. */
export interface HistoryItem {
  id: string;
  kind: OperationKind;
  service: string;
  host: string;
  who: string;
  startedAt: string;
  finishedAt?: string;
  tag?: string;
  from?: ColorImage;
  to?: ColorImage;
  /** `interrupted`: started, never finished (the client died or lost the host mid-way). */
  outcome: JournalOutcome | 'interrupted';
  trafficOn?: Color;
  error?: string;
  failedStep?: StepName;
  steps: StepRecord[];
  totalMs?: number;
  warmUntil?: string;
  inPlace?: InPlaceImages;
  downtimeMs?: number;
}
