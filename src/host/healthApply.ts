/**
 * The wizard's effects on the host, each on the kept-open connection: read the compose files, the
 * image's HEALTHCHECK and the containers' health logs; write edited compose files (refusing when a
 * file changed on the host since it was read; atomic, with a backup; all or none); recreate a single
 * service with Compose (v2 `docker compose` or v1 `docker-compose`); wait until Docker reports the
 * new container healthy with the new timings.
 */
import * as posixPath from 'node:path/posix';
import type Dockerode from 'dockerode';
import type { Timings } from '../core/healthAdvisor';
import type { HostProfile } from '../core/hostProfile';
import { describeError, type Logger } from '../core/logger';
import type { ExecOptions, ExecResult, WriteFileOptions, WriteFileResult } from './hostConnection';
import { HostError, isHostError } from './hostErrors';

export interface ApplyConnection {
  readonly profile: HostProfile;
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
  readFile(remotePath: string): Promise<Buffer>;
  writeFileAtomic(remotePath: string, data: string | Buffer, options?: WriteFileOptions): Promise<WriteFileResult>;
  docker(): Dockerode;
}

function dockerStatusCode(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

// ---------------------------------------------------------------------------------------------
// Reading

export type FileRead = { path: string; text: string } | { path: string; error: string };

export async function readTextFile(conn: ApplyConnection, path: string): Promise<FileRead> {
  try {
    return { path, text: (await conn.readFile(path)).toString('utf8') };
  } catch (error) {
    return { path, error: describeError(error) };
  }
}

export async function inspectContainer(conn: ApplyConnection, name: string): Promise<Dockerode.ContainerInspectInfo | undefined> {
  try {
    return await conn.docker().getContainer(name).inspect();
  } catch (error) {
    if (dockerStatusCode(error) === 404) return undefined;
    throw error;
  }
}

/** The image's own HEALTHCHECK (from its Dockerfile), used when the compose file has none. */
export async function imageHealthcheck(conn: ApplyConnection, image: string): Promise<{ healthcheck?: Dockerode.HealthConfig; error?: string }> {
  try {
    const info = await conn.docker().getImage(image).inspect();
    const healthcheck = info.Config?.Healthcheck as Dockerode.HealthConfig | undefined;
    return healthcheck && healthcheck.Test && healthcheck.Test.length > 0 ? { healthcheck } : {};
  } catch (error) {
    return { error: dockerStatusCode(error) === 404 ? `the image ${image} is not on the host` : describeError(error) };
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface ComposeWrite {
  path: string;
  /** The text the edit was computed from (as read when the wizard showed it). */
  readText: string;
  newText: string;
}

export type WriteOutcome =
  | { ok: true; backups: Array<{ path: string; backupPath: string }> }
  /** Nothing was written: this file is no longer what was read. */
  | { ok: false; changed: { path: string; nowText: string } };

/**
 * Writes all files or none: each is compared with what was read first (someone may have edited it on
 * the host meanwhile), then written atomically with a backup; if a later write fails, the earlier
 * files are put back.
 */
export async function writeComposeFiles(conn: ApplyConnection, writes: readonly ComposeWrite[], logger: Logger): Promise<WriteOutcome> {
  for (const write of writes) {
    const now = (await conn.readFile(write.path)).toString('utf8');
    if (now !== write.readText) return { ok: false, changed: { path: write.path, nowText: now } };
  }
  const done: Array<{ write: ComposeWrite; backupPath: string }> = [];
  try {
    for (const write of writes) {
      // Checked again right before its own write: the window for a concurrent edit is one round trip.
      const now = (await conn.readFile(write.path)).toString('utf8');
      if (now !== write.readText) {
        await restore(conn, done, logger);
        return { ok: false, changed: { path: write.path, nowText: now } };
      }
      const result = await conn.writeFileAtomic(write.path, write.newText, { backup: true });
      if (!result.backupPath) throw new HostError('commandFailed', `No backup of ${write.path} was kept; stopping before anything else changes.`);
      done.push({ write, backupPath: result.backupPath });
    }
  } catch (error) {
    await restore(conn, done, logger);
    throw error;
  }
  return { ok: true, backups: done.map(({ write, backupPath }) => ({ path: write.path, backupPath })) };
}

async function restore(conn: ApplyConnection, done: ReadonlyArray<{ write: ComposeWrite }>, logger: Logger): Promise<void> {
  for (const { write } of done) {
    await conn.writeFileAtomic(write.path, write.readText, { backup: false }).catch((error: unknown) => logger.error(`Could not put ${write.path} back as it was`, error));
  }
}

// ---------------------------------------------------------------------------------------------
// Compose

export type ComposeFlavor = { version: 'v2'; argv: ['docker', 'compose'] } | { version: 'v1'; argv: ['docker-compose'] };

/** `env DOCKER_HOST=unix://<socket>`: Compose talks to the profile's engine, whatever the login shell sets. */
function dockerEnv(profile: HostProfile): string[] {
  return ['env', `DOCKER_HOST=unix://${profile.dockerSocket}`];
}

export async function detectCompose(conn: ApplyConnection): Promise<ComposeFlavor> {
  const v2 = await conn.exec([...dockerEnv(conn.profile), 'docker', 'compose', 'version', '--short'], { timeoutMs: 30_000 });
  if (v2.exitCode === 0) return { version: 'v2', argv: ['docker', 'compose'] };
  const v1 = await conn.exec([...dockerEnv(conn.profile), 'docker-compose', 'version', '--short'], { timeoutMs: 30_000 });
  if (v1.exitCode === 0) return { version: 'v1', argv: ['docker-compose'] };
  throw new HostError('commandFailed', `Neither "docker compose" (Compose v2) nor "docker-compose" (v1) works on ${conn.profile.name}: ${(v1.stderr || v2.stderr).trim().split('\n')[0] || 'not installed'}.`);
}

export interface ComposeServiceTarget {
  /** Absolute paths, in order (`-f` each). */
  files: string[];
  project: string;
  service: string;
}

/**
 * The project, files and service a container was started with, from its compose labels; the
 * profile's compose file must be one of those files (else the labels are from another setup).
 */
export function composeTargetOf(labels: Record<string, string> | undefined, composeFile: string, serviceKey: string | undefined, fallbackProject: string): ComposeServiceTarget {
  const project = labels?.['com.docker.compose.project'];
  const workingDir = labels?.['com.docker.compose.project.working_dir'] ?? posixPath.dirname(composeFile);
  const files = (labels?.['com.docker.compose.project.config_files'] ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean)
    .map((f) => (f.startsWith('/') ? f : posixPath.join(workingDir, f)));
  const service = labels?.['com.docker.compose.service'] ?? serviceKey;
  return {
    files: files.includes(composeFile) ? files : [composeFile],
    project: project ?? fallbackProject,
    service: service ?? serviceKey ?? '',
  };
}

/** `compose -p P -f F… up -d --no-deps S`: recreates the service when its configuration changed. */
export async function composeUp(conn: ApplyConnection, flavor: ComposeFlavor, target: ComposeServiceTarget, signal?: AbortSignal): Promise<string> {
  if (!target.service) throw new HostError('commandFailed', 'Which compose service to recreate is unknown.');
  const argv = [...dockerEnv(conn.profile), ...flavor.argv, '-p', target.project, ...target.files.flatMap((f) => ['-f', f]), 'up', '-d', '--no-deps', target.service];
  const result = await conn.exec(argv, { timeoutMs: 10 * 60_000, ...(signal ? { signal } : {}) });
  const output = `${result.stdout}${result.stderr}`.trim();
  if (result.exitCode !== 0) throw new HostError('commandFailed', `${flavor.argv.join(' ')} up failed (exit ${result.exitCode}): ${output.split('\n').slice(-3).join(' ')}`);
  return output;
}

// ---------------------------------------------------------------------------------------------
// Waiting for Docker's verdict

const nsPerMs = 1e6;

/** The timings Docker really runs for the container (what compose wrote into its config). */
export function runningTimings(info: Dockerode.ContainerInspectInfo): Partial<Timings> {
  const hc = info.Config.Healthcheck as Dockerode.HealthConfig | undefined;
  if (!hc) return {};
  const out: Partial<Timings> = {};
  if (hc.Interval) out.intervalMs = hc.Interval / nsPerMs;
  if (hc.Timeout) out.timeoutMs = hc.Timeout / nsPerMs;
  if (hc.StartPeriod) out.startPeriodMs = hc.StartPeriod / nsPerMs;
  if (hc.Retries) out.retries = hc.Retries;
  return out;
}

export type HealthyWait =
  | { ok: true; healthyAfterMs: number; containerId: string }
  | { ok: false; reason: string };

export interface WaitOptions {
  deadlineMs: number;
  signal?: AbortSignal;
  /** Each change of the container's health, e.g. "starting (failing streak 0)". */
  onUpdate?: (line: string) => void;
  pollMs?: number;
}

/**
 * Waits until Docker reports the container healthy, checking first that it runs `expected` (else
 * the recreate did not take the new file). Fails on unhealthy, on exit, and at the deadline.
 */
export async function waitForHealthy(conn: ApplyConnection, container: string, expected: Timings, options: WaitOptions): Promise<HealthyWait> {
  const deadline = Date.now() + options.deadlineMs;
  let lastLine = '';
  for (;;) {
    if (options.signal?.aborted) throw new HostError('cancelled', 'Cancelled.');
    const info = await inspectContainer(conn, container);
    if (info) {
      const running = runningTimings(info);
      const mismatch = (['intervalMs', 'timeoutMs', 'startPeriodMs', 'retries'] as const).filter((key) => (running[key] ?? 0) !== expected[key]);
      if (mismatch.length > 0) {
        return { ok: false, reason: `${container} runs other timings than written (${mismatch.map((k) => `${k} ${running[k] ?? 'default'} ≠ ${expected[k]}`).join(', ')}): it was not recreated from the new file.` };
      }
      const health = info.State.Health;
      const line = !info.State.Running ? `not running (exit code ${info.State.ExitCode})` : `${health?.Status ?? 'no healthcheck'}${health && health.FailingStreak > 0 ? ` (failing streak ${health.FailingStreak})` : ''}`;
      if (line !== lastLine) {
        options.onUpdate?.(line);
        lastLine = line;
      }
      if (!info.State.Running) return { ok: false, reason: `${container} stopped (exit code ${info.State.ExitCode}).` };
      if (health?.Status === 'healthy') {
        const firstOk = (health.Log ?? []).find((entry) => entry.ExitCode === 0 && Date.parse(entry.Start) >= Date.parse(info.State.StartedAt));
        const healthyAtMs = firstOk ? Date.parse(firstOk.End) : Date.now();
        return { ok: true, healthyAfterMs: Math.max(0, healthyAtMs - Date.parse(info.State.StartedAt)), containerId: info.Id };
      }
      if (health?.Status === 'unhealthy') {
        const last = (health.Log ?? []).slice(-1)[0];
        return { ok: false, reason: `Docker reports ${container} unhealthy (failing streak ${health.FailingStreak}${last ? `; last probe exit ${last.ExitCode}: ${last.Output.trim().slice(0, 200)}` : ''}).` };
      }
    }
    if (Date.now() > deadline) return { ok: false, reason: `${container} was not healthy within ${Math.round(options.deadlineMs / 1000)} s (last: ${lastLine || 'not found'}).` };
    await new Promise<void>((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
  }
}

/** True for an error that means "the user cancelled". */
export function isCancelled(error: unknown): boolean {
  return isHostError(error, 'cancelled');
}
