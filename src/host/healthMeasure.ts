/**
 * Measures how an app starts on its real host, for the healthcheck advisor: the time from the start
 * of its container to the first answer of its health path, the duration of each probe once it answers,
 * and its memory at rest, over several runs. Everything goes through the kept-open connection: Docker
 * over the forwarded socket, probes over direct-tcpip (`httpGet`), a few commands on the shell.
 *
 * The live container is never touched when it can be avoided: a throwaway copy of it (same image by
 * id, same command and environment, volumes read-only, no healthcheck, no restart policy) runs on a
 * free loopback port, and is removed after each run whatever happens. When a copy cannot be moved to
 * another port (host networking and no setting carries the port), the plan says why and proposes to
 * restart the idle color instead, or, for a single container, asks before restarting the live one.
 */
import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';
import type { HostProfile } from '../core/hostProfile';
import { parseMeminfo, parseSsListening } from '../core/hostState';
import { describeError, type Logger } from '../core/logger';
import type { ExecOptions, ExecResult, HttpResult } from './hostConnection';
import { HostError, isHostError } from './hostErrors';

/** What measuring needs of a connection (HostConnection, or a fake in unit tests). */
export interface MeasureConnection {
  readonly profile: HostProfile;
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
  docker(): Dockerode;
  httpGet(port: number, path: string, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<HttpResult>;
}

export interface MeasureRequest {
  /** The container whose app is measured (the live one, or the only one). */
  source: string;
  /** The port the app listens on, on the host's loopback (host networking) or published there. */
  port: number;
  healthPath: string;
  /** A Blue-Green service's idle color: restarting it costs no traffic. */
  idle?: { container: string; port: number };
}

export type MeasurePlan =
  | {
      kind: 'copy';
      source: string;
      port: number;
      healthPath: string;
      /** How the copy is moved to `port`, e.g. `PORT=20113`. */
      portSetting: string;
      /** One sentence for the user. */
      explanation: string;
    }
  | {
      kind: 'restart';
      container: string;
      port: number;
      healthPath: string;
      /** Restarting it interrupts users: measuring needs their yes. */
      isLive: boolean;
      explanation: string;
      /** The question to ask (set when `isLive`). */
      consentQuestion?: string;
    }
  | { kind: 'impossible'; reason: string };

export type RunStatus = 'waiting' | 'starting' | 'probing' | 'done' | 'timedOut' | 'failed' | 'cancelled';

export interface RunProgress {
  run: number;
  status: RunStatus;
  startupMs?: number;
  probeMs: number[];
  memoryKb?: number;
  /** What happened, e.g. "no answer within 2 min (last: HTTP 404)". */
  message?: string;
}

export interface MeasureOptions {
  runs: number;
  /** Each run gives up waiting for a first answer after this long. */
  deadlineMs: number;
  /** Probes timed once the app answers. Default 5. */
  steadyProbes?: number;
  /** Pause between probes while waiting for the first answer. Default 250 ms. */
  pollMs?: number;
  /** Pause before reading the memory at rest. Default 1000 ms. */
  settleMs?: number;
  signal?: AbortSignal;
  onProgress?: (runs: RunProgress[]) => void;
  logger: Logger;
}

export const measureLabel = 'io.switchyard.measure';
const probeTimeoutMs = 10_000;
const freePortRange = { from: 20_000, to: 29_999 };
/** Headroom on top of the live container's memory before a copy may start (t3.micro: 1 GiB). */
const copyHeadroomKb = 64 * 1024;

function dockerStatusCode(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new HostError('cancelled', 'Cancelled.'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new HostError('cancelled', 'Cancelled.'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * How the copy can listen on another port: an environment variable whose name says PORT and whose
 * value is the port (`PORT=8000`, `SERVER_PORT=8081`), or a command argument that is the port
 * (`--port 8000`, `--port=8000`, `0.0.0.0:8000`, `--bind=0.0.0.0:8000`).
 */
export function findPortSetting(env: readonly string[], cmd: readonly string[], port: number): { kind: 'env'; name: string } | { kind: 'arg'; index: number } | undefined {
  const value = String(port);
  for (const entry of env) {
    const eq = entry.indexOf('=');
    if (eq > 0 && /port/i.test(entry.slice(0, eq)) && entry.slice(eq + 1) === value) return { kind: 'env', name: entry.slice(0, eq) };
  }
  const index = cmd.findIndex((arg) => arg === value || new RegExp(`^(--?[\\w-]*port[\\w-]*=|(--?[\\w-]+=)?[\\w.]*:)${value}$`, 'i').test(arg));
  return index >= 0 ? { kind: 'arg', index } : undefined;
}

function withPort(arg: string, port: number): string {
  return arg.replace(/\d+$/, String(port));
}

/** Loopback TCP ports in use on the host (`ss -ltnH`). */
async function listeningPorts(conn: MeasureConnection): Promise<Set<number>> {
  const result = await conn.exec(['ss', '-ltnH'], { timeoutMs: 15_000 });
  if (result.exitCode !== 0) throw new HostError('commandFailed', `ss -ltnH failed on ${conn.profile.name}: ${result.stderr.trim() || `exit ${result.exitCode}`}`);
  const parsed = parseSsListening(result.stdout);
  if (!parsed.ok) throw new HostError('commandFailed', `Cannot read the listening ports: ${parsed.error}`);
  return new Set(parsed.value.map((socket) => socket.port));
}

async function pickFreePort(conn: MeasureConnection): Promise<number> {
  const used = await listeningPorts(conn);
  const span = freePortRange.to - freePortRange.from + 1;
  const offset = randomBytes(2).readUInt16BE(0) % span;
  for (let i = 0; i < span; i++) {
    const port = freePortRange.from + ((offset + i) % span);
    if (!used.has(port)) return port;
  }
  throw new HostError('commandFailed', `No free port between ${freePortRange.from} and ${freePortRange.to} on ${conn.profile.name}.`);
}

/** Resident memory as `docker stats` shows it: usage minus the page cache that can be dropped. */
export function memoryKbOf(stats: Dockerode.ContainerStats): number | undefined {
  const memory = stats.memory_stats as { usage?: unknown; stats?: Record<string, number | undefined> } | undefined;
  if (typeof memory?.usage !== 'number') return undefined;
  const detail: Record<string, number | undefined> = memory.stats ?? {};
  const cache = detail.inactive_file ?? detail.total_inactive_file ?? detail.cache ?? 0;
  return Math.max(0, Math.round((memory.usage - (cache < memory.usage ? cache : 0)) / 1024));
}

async function memoryAtRest(conn: MeasureConnection, container: string): Promise<number | undefined> {
  try {
    return memoryKbOf(await conn.docker().getContainer(container).stats({ stream: false, 'one-shot': true }));
  } catch {
    return undefined;
  }
}

async function availableMemoryKb(conn: MeasureConnection): Promise<number | undefined> {
  const result = await conn.exec(['cat', '/proc/meminfo'], { timeoutMs: 15_000 });
  if (result.exitCode !== 0) return undefined;
  const parsed = parseMeminfo(result.stdout);
  return parsed.ok ? parsed.value.memAvailableKb : undefined;
}

async function inspectOrUndefined(conn: MeasureConnection, container: string): Promise<Dockerode.ContainerInspectInfo | undefined> {
  try {
    return await conn.docker().getContainer(container).inspect();
  } catch (error) {
    if (dockerStatusCode(error) === 404) return undefined;
    throw error;
  }
}

/** Decides how to measure: a copy when it can run beside the live container, else a restart (with a reason). */
export async function planMeasurement(conn: MeasureConnection, request: MeasureRequest): Promise<MeasurePlan> {
  const { source, port, healthPath } = request;
  const info = await inspectOrUndefined(conn, source);
  const restartIdle = (why: string): MeasurePlan | undefined =>
    request.idle
      ? {
          kind: 'restart',
          container: request.idle.container,
          port: request.idle.port,
          healthPath,
          isLive: false,
          explanation: `${why} Instead, the idle color ${request.idle.container} is restarted for each run: it serves no traffic.`,
        }
      : undefined;
  if (!info) {
    return restartIdle(`${source} does not exist, so there is nothing to copy.`) ?? { kind: 'impossible', reason: `There is no container ${source} on ${conn.profile.name}: start the service first, then measure.` };
  }
  const env = info.Config.Env ?? [];
  const cmd = info.Config.Cmd ?? [];
  const isHostNetwork = info.HostConfig.NetworkMode === 'host';
  let portSetting: string | undefined;
  let whyNoCopy: string | undefined;
  if (isHostNetwork) {
    const setting = findPortSetting(env, cmd, port);
    if (setting?.kind === 'env') portSetting = `${setting.name}=<free port>`;
    else if (setting?.kind === 'arg') portSetting = `argument "${withPort(cmd[setting.index], 0).replace(/0$/, '<free port>')}"`;
    else {
      whyNoCopy = `${source} uses host networking and neither an environment variable (like PORT=${port}) nor a command argument carries its port ${port}, so a copy would try to listen on the same port as the live container.`;
    }
  } else {
    portSetting = `published on 127.0.0.1:<free port>`;
  }
  if (!whyNoCopy) {
    const usedKb = info.State.Running ? await memoryAtRest(conn, source) : undefined;
    const availableKb = await availableMemoryKb(conn);
    if (usedKb !== undefined && availableKb !== undefined && availableKb < usedKb + copyHeadroomKb) {
      whyNoCopy = `${conn.profile.name} has ${Math.round(availableKb / 1024)} MiB available and ${source} uses ${Math.round(usedKb / 1024)} MiB: a copy beside it could push the host out of memory.`;
    }
  }
  if (!whyNoCopy && portSetting) {
    const freePort = await pickFreePort(conn);
    return {
      kind: 'copy',
      source,
      port: freePort,
      healthPath,
      portSetting: portSetting.replace('<free port>', String(freePort)),
      explanation: `A throwaway copy of ${source} (same image, command and environment; volumes read-only; no healthcheck) starts on 127.0.0.1:${freePort} for each run and is removed after it; the live container is not touched.`,
    };
  }
  const idle = restartIdle(whyNoCopy ?? '');
  if (idle) return idle;
  return {
    kind: 'restart',
    container: source,
    port,
    healthPath,
    isLive: true,
    explanation: `${whyNoCopy} The only way left is to restart ${source} itself for each run.`,
    consentQuestion: `Restart ${source} for each run? It serves traffic: users get errors until it answers again (each run, for as long as its startup takes).`,
  };
}

/** The copy's create options: the source's image (by id), command, environment and limits, on another port. */
export function copyOptions(info: Dockerode.ContainerInspectInfo, plan: Extract<MeasurePlan, { kind: 'copy' }>, sourcePort: number, name: string): Dockerode.ContainerCreateOptions {
  const env = [...(info.Config.Env ?? [])];
  const cmd = info.Config.Cmd ? [...info.Config.Cmd] : undefined;
  const isHostNetwork = info.HostConfig.NetworkMode === 'host';
  const hostConfig: Dockerode.HostConfig = {
    NetworkMode: info.HostConfig.NetworkMode ?? 'default',
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    // Read-only: the copy may read models and config, never write the live container's data.
    Binds: (info.HostConfig.Binds ?? []).map((bind) => {
      const parts = bind.split(':');
      if (parts.length >= 3) parts[2] = parts[2].split(',').filter((o) => o !== 'rw' && o !== 'ro').concat('ro').join(',');
      else parts.push('ro');
      return parts.join(':');
    }),
    ...(info.HostConfig.Memory ? { Memory: info.HostConfig.Memory } : {}),
    ...(info.HostConfig.NanoCpus ? { NanoCpus: info.HostConfig.NanoCpus } : {}),
    ...(info.HostConfig.ExtraHosts ? { ExtraHosts: info.HostConfig.ExtraHosts } : {}),
  };
  const options: Dockerode.ContainerCreateOptions = {
    name,
    Image: info.Image,
    Env: env,
    ...(cmd ? { Cmd: cmd } : {}),
    ...(info.Config.Entrypoint ? { Entrypoint: info.Config.Entrypoint } : {}),
    ...(info.Config.WorkingDir ? { WorkingDir: info.Config.WorkingDir } : {}),
    ...(info.Config.User ? { User: info.Config.User } : {}),
    Labels: { [measureLabel]: plan.source },
    // Docker's own probes would target the live port and muddle the measurement.
    Healthcheck: { Test: ['NONE'] },
    HostConfig: hostConfig,
  };
  if (isHostNetwork) {
    const setting = findPortSetting(env, cmd ?? [], sourcePort);
    if (setting?.kind === 'env') {
      const at = env.findIndex((entry) => entry.startsWith(`${setting.name}=`));
      env[at] = `${setting.name}=${plan.port}`;
    } else if (setting?.kind === 'arg' && cmd) {
      cmd[setting.index] = withPort(cmd[setting.index], plan.port);
    }
  } else {
    // Published: find which container port the service port maps to, and publish it on loopback only.
    const bindings = info.HostConfig.PortBindings as Record<string, Array<{ HostPort?: string }>> | undefined;
    const target = Object.entries(bindings ?? {}).find(([, list]) => (list ?? []).some((b) => b.HostPort === String(sourcePort)))?.[0] ?? `${sourcePort}/tcp`;
    options.ExposedPorts = { [target]: {} };
    hostConfig.PortBindings = { [target]: [{ HostIp: '127.0.0.1', HostPort: String(plan.port) }] };
  }
  return options;
}

/** Removes throwaway copies a previous measurement left behind (an editor that crashed mid-run). */
export async function removeLeftoverCopies(conn: MeasureConnection, source: string, logger: Logger): Promise<number> {
  const leftovers = await conn.docker().listContainers({ all: true, filters: { label: [`${measureLabel}=${source}`] } });
  for (const item of leftovers) {
    await conn
      .docker()
      .getContainer(item.Id)
      .remove({ force: true })
      .catch((error: unknown) => logger.warn(`Could not remove the leftover measurement container ${item.Names?.[0] ?? item.Id}: ${describeError(error)}`));
  }
  return leftovers.length;
}

function isOk(status: number): boolean {
  return status >= 200 && status < 400;
}

async function lastLogLines(conn: MeasureConnection, container: string): Promise<string> {
  try {
    const raw = (await conn.docker().getContainer(container).logs({ stdout: true, stderr: true, follow: false, tail: 5 })) as unknown as Buffer;
    const buffer = Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw));
    // Strip Docker's 8-byte frame headers (no TTY) and keep the text.
    let text = '';
    for (let at = 0; at + 8 <= buffer.length; ) {
      const size = buffer.readUInt32BE(at + 4);
      if (buffer[at] > 2 || buffer[at + 1] !== 0) {
        text = buffer.toString('utf8');
        break;
      }
      text += buffer.subarray(at + 8, at + 8 + size).toString('utf8');
      at += 8 + size;
    }
    return text.trim().split('\n').slice(-3).join(' | ').slice(0, 400);
  } catch {
    return '';
  }
}

interface RunContext {
  conn: MeasureConnection;
  container: string;
  port: number;
  healthPath: string;
  options: MeasureOptions;
  progress: RunProgress;
  update: () => void;
}

/** Waits for the first answer, then times the steady probes and reads the memory. */
async function probeRun(ctx: RunContext, startedAt: number): Promise<void> {
  const { conn, container, port, healthPath, options, progress, update } = ctx;
  const pollMs = options.pollMs ?? 250;
  const deadline = startedAt + options.deadlineMs;
  let last = 'nothing listened yet';
  progress.status = 'probing';
  update();
  for (;;) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) {
      progress.status = 'timedOut';
      progress.message = `no answer from ${healthPath} within ${Math.round(options.deadlineMs / 1000)} s (last: ${last})`;
      const logs = await lastLogLines(conn, container);
      if (logs) progress.message += `; its log ends: ${logs}`;
      return;
    }
    try {
      // A health endpoint may hold the request until the app is ready: let it, up to the deadline.
      const result = await conn.httpGet(port, healthPath, { timeoutMs: Math.max(1, remaining), ...(options.signal ? { signal: options.signal } : {}) });
      if (isOk(result.status)) {
        progress.startupMs = performance.now() - startedAt;
        break;
      }
      last = `HTTP ${result.status}`;
    } catch (error) {
      if (isHostError(error, 'cancelled')) throw error;
      last = isHostError(error, 'unreachable') ? 'connection refused' : isHostError(error, 'timeout') ? 'no answer' : describeError(error);
    }
    const state = await conn.docker().getContainer(container).inspect().catch(() => undefined);
    if (state && !state.State.Running) {
      progress.status = 'failed';
      const logs = await lastLogLines(conn, container);
      progress.message = `the container stopped (exit code ${state.State.ExitCode}) before ${healthPath} answered${logs ? `; its log ends: ${logs}` : ''}`;
      return;
    }
    await sleep(pollMs, options.signal);
  }
  update();
  for (let i = 0; i < (options.steadyProbes ?? 5); i++) {
    await sleep(200, options.signal);
    const started = performance.now();
    try {
      const result = await conn.httpGet(port, healthPath, { timeoutMs: probeTimeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
      progress.probeMs.push(result.durationMs);
      if (!isOk(result.status)) progress.message = `a probe after the first answer got HTTP ${result.status}`;
    } catch (error) {
      if (isHostError(error, 'cancelled')) throw error;
      progress.probeMs.push(performance.now() - started);
      progress.message = `a probe after the first answer failed: ${describeError(error)}`;
    }
    update();
  }
  await sleep(options.settleMs ?? 1000, options.signal);
  const memoryKb = await memoryAtRest(conn, container);
  if (memoryKb !== undefined) progress.memoryKb = memoryKb;
  progress.status = 'done';
}

async function runCopy(ctx: Omit<RunContext, 'container'>, plan: Extract<MeasurePlan, { kind: 'copy' }>, sourceInfo: Dockerode.ContainerInspectInfo, sourcePort: number): Promise<void> {
  const { conn, options, progress, update } = ctx;
  const docker = conn.docker();
  const name = `switchyard-measure-${plan.source}-${randomBytes(3).toString('hex')}`.slice(0, 120);
  let container: Dockerode.Container | undefined;
  try {
    const used = await listeningPorts(conn);
    if (used.has(plan.port)) throw new HostError('commandFailed', `Port ${plan.port} was taken on ${conn.profile.name} since it was chosen; measure again.`);
    container = await docker.createContainer(copyOptions(sourceInfo, plan, sourcePort, name));
    progress.status = 'starting';
    update();
    const startedAt = performance.now();
    await container.start();
    await probeRun({ ...ctx, container: name }, startedAt);
  } finally {
    if (container) {
      // Always: a copy left running would hold memory and a port on a small host.
      await container.remove({ force: true }).catch(async (error: unknown) => {
        options.logger.warn(`Removing the measurement container ${name} failed (${describeError(error)}); retrying.`);
        await sleep(500);
        await container?.remove({ force: true }).catch((again: unknown) => {
          progress.message = `${progress.message ? `${progress.message}; ` : ''}could not remove ${name}: ${describeError(again)}`;
          options.logger.error(`Could not remove the measurement container ${name}`, again);
        });
      });
    }
  }
}

async function runRestart(ctx: Omit<RunContext, 'container'>, plan: Extract<MeasurePlan, { kind: 'restart' }>): Promise<void> {
  const { conn, progress, update } = ctx;
  const container = conn.docker().getContainer(plan.container);
  progress.status = 'starting';
  update();
  await container.stop({ t: 10 }).catch((error: unknown) => {
    if (dockerStatusCode(error) !== 304) throw error;
  });
  const startedAt = performance.now();
  await container.start();
  await probeRun({ ...ctx, container: plan.container }, startedAt);
}

/**
 * Runs the plan `runs` times, one after the other; reports each run as it progresses. A run that
 * never answers is reported (timedOut/failed) and the next one still runs. Cancelling stops at once
 * and still removes the copy (or, for a restart, leaves the container starting as Docker would).
 */
export async function measureStartup(conn: MeasureConnection, plan: Exclude<MeasurePlan, { kind: 'impossible' }>, sourcePort: number, options: MeasureOptions): Promise<RunProgress[]> {
  const runs: RunProgress[] = Array.from({ length: options.runs }, (_, i) => ({ run: i + 1, status: 'waiting', probeMs: [] }));
  const update = (): void => options.onProgress?.(runs.map((r) => ({ ...r, probeMs: [...r.probeMs] })));
  update();
  let sourceInfo: Dockerode.ContainerInspectInfo | undefined;
  let wasStopped = false;
  if (plan.kind === 'copy') {
    sourceInfo = await conn.docker().getContainer(plan.source).inspect();
    const removed = await removeLeftoverCopies(conn, plan.source, options.logger);
    if (removed > 0) options.logger.info(`Removed ${removed} measurement container(s) left from an earlier run.`);
  } else {
    const info = await inspectOrUndefined(conn, plan.container);
    wasStopped = info ? !info.State.Running : false;
  }
  try {
    for (const progress of runs) {
      const ctx = { conn, port: plan.port, healthPath: plan.healthPath, options, progress, update };
      try {
        if (plan.kind === 'copy') await runCopy(ctx, plan, sourceInfo as Dockerode.ContainerInspectInfo, sourcePort);
        else await runRestart(ctx, plan);
      } catch (error) {
        if (isHostError(error, 'cancelled') || options.signal?.aborted) {
          for (const r of runs) if (r.status !== 'done' && r.status !== 'timedOut' && r.status !== 'failed') r.status = 'cancelled';
          update();
          throw new HostError('cancelled', 'Measurement cancelled.');
        }
        progress.status = 'failed';
        progress.message = describeError(error);
        options.logger.warn(`Measurement run ${progress.run} of ${plan.kind === 'copy' ? plan.source : plan.container} failed: ${describeError(error)}`);
      }
      update();
    }
  } finally {
    if (plan.kind === 'restart' && wasStopped) {
      // It was stopped before (an idle color kept cold): leave it so.
      await conn.docker().getContainer(plan.container).stop({ t: 10 }).catch(() => undefined);
    }
  }
  return runs;
}

/**
 * Durations of Docker's own successful probes of a container, once it had answered for a while:
 * probes during the startup wait for the app and are not what a timeout must cover.
 */
export function steadyDockerProbeMs(log: ReadonlyArray<{ start: string; end: string; exitCode: number }>, startedAt: string, steadyAfterMs: number): number[] {
  const from = Date.parse(startedAt) + steadyAfterMs;
  return log
    .filter((entry) => entry.exitCode === 0 && Date.parse(entry.start) >= from)
    .map((entry) => Date.parse(entry.end) - Date.parse(entry.start))
    .filter((ms) => Number.isFinite(ms) && ms >= 0);
}
