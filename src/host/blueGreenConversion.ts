/**
 * "Convert to Blue-Green" on the host: reads what the plan needs (compose file, Nginx files, memory),
 * and, only when the caller (the user) confirmed, writes the twin compose file, the upstream include
 * and the proxy_pass change, each atomically with a backup, `nginx -t` before any reload and every
 * Nginx file put back when it fails; then starts the twin on the image the original runs.
 *
 * Where the SSH user may not write Nginx's conf dir (root-owned, sudo only for nginx itself, as on
 * the sandbox), nothing there is half-done: the Nginx part becomes a script the user runs as root.
 */
import { blueGreenProfileEntry, proxyPassEdit, renderTwinCompose, renderUpstreamInclude, twinMemoryVerdict, twinNames, type MemoryVerdict, type ProxyPassEdit, type TwinNames } from '../core/blueGreenConversion';
import { renderImageOverride, resolveComposeTarget } from '../core/deployCompose';
import type { HostProfile, SingleService } from '../core/hostProfile';
import { unifiedDiff } from '../core/lineDiff';
import type { DeployPorts } from '../core/deployTypes';
import { describeError } from '../core/logger';
import { firstErrorLine } from '../core/operationCore';
import type { DeployConnection } from './deployPorts';
import { HostError, isHostError } from './hostErrors';
import { nginxArgs } from './hostSnapshot';
import { quoteArg } from './shellQuote';

/** What the conversion needs of the deploy ports (HostDeployPorts, or the unit tests' fake host). */
export type ConversionPorts = Pick<DeployPorts, 'docker' | 'host' | 'http' | 'compose' | 'clock'>;

export interface ConversionOptions {
  /** The twin's port (default: the service's port + 1). */
  twinPort?: number;
  /** Memory that must stay available after the twin starts (default 128 MiB). */
  reserveKb?: number;
  /** Assumed use of the container when docker stats cannot tell (default 300 MiB). */
  fallbackKb?: number;
}

export interface NewFile {
  path: string;
  text: string;
  /** For the preview: the twin compose file against the original; the include against nothing. */
  diff: string;
}

export interface ConversionPlan {
  host: string;
  service: SingleService;
  twin: TwinNames;
  /** The image the original runs now: the twin starts on the same one. */
  image?: string;
  memory: MemoryVerdict;
  twinCompose: NewFile & { composeService: string; changes: string[]; warnings: string[] };
  upstream: NewFile;
  /** The server block files whose proxy_pass to the service's port would change. */
  proxyPass: ProxyPassEdit[];
  profileEntry: Record<string, unknown>;
  /** The SSH user: the root script gives it the include, so Switchyard can rewrite it at each switch. */
  sshUser: string;
  /** Why it cannot be applied (memory, the twin or its files already exist, ...); empty when it can. */
  refusals: string[];
}

export type ConversionPlanResult = { ok: true; plan: ConversionPlan } | { ok: false; error: string };

const defaultReserveKb = 128 * 1024;
const defaultFallbackKb = 300 * 1024;

async function readText(connection: DeployConnection, path: string): Promise<string | undefined> {
  try {
    return (await connection.readFile(path)).toString('utf8');
  } catch (error) {
    if (isHostError(error, 'fileNotFound')) return undefined;
    throw error;
  }
}

/** The `*.conf` files of Nginx's conf dir (no backups or temporaries). */
async function nginxConfFiles(connection: DeployConnection, confDir: string): Promise<string[]> {
  const listed = await connection.exec(['sh', '-c', 'for f in "$1"/*.conf; do [ -f "$f" ] && printf "%s\\n" "$f"; done; exit 0', 'sh', confDir.replace(/\/+$/, '')]);
  return listed.stdout.split('\n').filter((line) => line.trim() !== '');
}

function newFileDiff(path: string, text: string): string {
  return unifiedDiff('', text, { oldName: '/dev/null', newName: path });
}

/** Everything the conversion would do, read from the host; changes nothing. */
export async function planConversion(connection: DeployConnection, ports: ConversionPorts, serviceName: string, options: ConversionOptions = {}): Promise<ConversionPlanResult> {
  const profile: HostProfile = connection.profile;
  const service = profile.services.find((s) => s.name === serviceName);
  if (!service) return { ok: false, error: `There is no service "${serviceName}" on ${profile.name}.` };
  if (service.kind !== 'single') return { ok: false, error: `"${serviceName}" is already a Blue-Green service.` };
  const twin = twinNames(service, profile.nginx.confDir, options.twinPort);
  if (twin.port < 1 || twin.port > 65535) return { ok: false, error: `${twin.port} is not a port.` };
  const refusals: string[] = [];

  const composeText = await readText(connection, service.composeFile);
  if (composeText === undefined) return { ok: false, error: `${service.composeFile} does not exist on ${profile.name}.` };
  const sourceName = service.composeFile.slice(service.composeFile.lastIndexOf('/') + 1);
  const rendered = renderTwinCompose(composeText, service.composeFile, service, twin, sourceName);
  if (!rendered.ok) return { ok: false, error: rendered.error };

  const [status, twinStatus, resources, twinFile, upstreamFile, confFiles] = await Promise.all([
    ports.docker.inspect(service.container),
    ports.docker.inspect(twin.container),
    ports.host.resources({ container: service.container }),
    readText(connection, twin.composeFile),
    readText(connection, twin.upstreamFile),
    nginxConfFiles(connection, profile.nginx.confDir),
  ]);
  const memory = twinMemoryVerdict(resources, service.container, { reserveKb: options.reserveKb ?? defaultReserveKb, fallbackKb: options.fallbackKb ?? defaultFallbackKb });
  if (!memory.fits) refusals.push(memory.message);
  if (!status) refusals.push(`${service.container} does not exist: start it first, the twin starts on the image it runs.`);
  if (twinStatus) refusals.push(`A container named ${twin.container} already exists (${twinStatus.state}, ${twinStatus.image}); remove it or choose another name.`);
  if (twinFile !== undefined) refusals.push(`${twin.composeFile} already exists; Switchyard does not overwrite it.`);
  if (upstreamFile !== undefined) refusals.push(`${twin.upstreamFile} already exists; Switchyard does not overwrite it.`);
  const whoami = await connection.exec(['id', '-un']);
  const sshUser = whoami.stdout.trim() || profile.ssh.user || 'ec2-user';
  const answering = await ports.http.get(twin.port, service.healthPath, 2000).then(
    () => true,
    () => false,
  );
  if (answering) refusals.push(`Something already answers on 127.0.0.1:${twin.port}; the twin needs that port.`);
  refusals.push(...rendered.warnings);

  const proxyPass: ProxyPassEdit[] = [];
  for (const path of confFiles) {
    if (path === twin.upstreamFile) continue;
    const text = await readText(connection, path).catch(() => undefined);
    const edit = text === undefined ? undefined : proxyPassEdit(path, text, service.port, twin.upstreamName);
    if (edit) proxyPass.push(edit);
  }

  const upstreamText = renderUpstreamInclude(service, twin);
  return {
    ok: true,
    plan: {
      host: profile.name,
      service,
      twin,
      ...(status ? { image: status.image } : {}),
      memory,
      twinCompose: { path: twin.composeFile, text: rendered.text, diff: unifiedDiff(composeText, rendered.text, { oldName: service.composeFile, newName: twin.composeFile }), composeService: rendered.composeService, changes: rendered.changes, warnings: rendered.warnings },
      upstream: { path: twin.upstreamFile, text: upstreamText, diff: newFileDiff(twin.upstreamFile, upstreamText) },
      proxyPass,
      profileEntry: blueGreenProfileEntry(service, twin, profile.appsDir, profile.nginx.confDir),
      sshUser,
      refusals,
    },
  };
}

/** The plan as the preview shows it (CLI output, the editor's preview document). */
export function describeConversionPlan(plan: ConversionPlan): string[] {
  // Short lines: the preview is read in an editor beside the tree, which does not wrap them.
  const out = [`Convert ${plan.service.name} (${plan.service.container}, port ${plan.service.port}) on ${plan.host} to Blue-Green`, '', ...`memory: ${plan.memory.message}`.split(/(?<=;) /).map((part, i) => (i ? `        ${part}` : part)), ''];
  out.push(`1. new file ${plan.twinCompose.path}`, `   the twin, green, port ${plan.twin.port}; ${plan.image ? `starts on ${plan.image}` : 'image from the file'}:`);
  for (const change of plan.twinCompose.changes) out.push(`     ${change}`);
  out.push(plan.twinCompose.diff.replace(/\n$/, ''), '');
  out.push(`2. new file ${plan.upstream.path}`, '   the switch file Switchyard rewrites at each switch:', plan.upstream.text.replace(/\n$/, ''), '');
  if (plan.proxyPass.length === 0) out.push(`3. no server block proxies to 127.0.0.1:${plan.service.port}: point your location at http://${plan.twin.upstreamName} yourself.`);
  else {
    out.push('3. the change your server block needs', '   applied only when you ask for it (backup, nginx -t, put back on failure):');
    for (const edit of plan.proxyPass) out.push(edit.diff.replace(/\n$/, ''));
  }
  out.push('', '4. the new profile entry', '   replaces the single service in switchyard.hosts / .switchyard.json:', JSON.stringify(plan.profileEntry, null, 2));
  if (plan.refusals.length) out.push('', 'REFUSED:', ...plan.refusals.map((r) => `  - ${r}`));
  return out;
}

export interface ApplyOptions {
  /** Also rewrite the server block(s): proxy_pass to the upstream (what makes a switch possible). */
  editServerBlocks: boolean;
  /** Start the twin on the original's image and wait until it answers its health path. */
  startTwin: boolean;
  readyTimeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

export interface ApplyReport {
  ok: boolean;
  /** What was done, in order, one line each. */
  done: string[];
  /** Backups of files that were replaced. */
  backups: string[];
  /** The Nginx part the SSH user may not write: a script to run as root on the host, and why. */
  manual?: { reason: string; script: string };
  nginxReloaded: boolean;
  /** Milliseconds until the twin answered its health path. */
  twinReadyMs?: number;
  error?: string;
}

/** The Nginx part as a script for root: create the include, back up and edit each server block, test, reload. */
export function manualNginxScript(plan: ConversionPlan, profile: HostProfile, editServerBlocks: boolean): string {
  const nginx = nginxArgs(profile, '-t').map(quoteArg).join(' ');
  const reload = nginxArgs(profile, '-s', 'reload').map(quoteArg).join(' ');
  const lines = [
    '#!/bin/sh',
    `# Switchyard: the Nginx part of converting ${plan.service.name} to Blue-Green on ${plan.host}. Run as root (sudo sh this-file).`,
    'set -e',
    `cat > ${quoteArg(plan.upstream.path)} <<'SWITCHYARD_EOF'`,
    plan.upstream.text.replace(/\n$/, ''),
    'SWITCHYARD_EOF',
    `# ${plan.sshUser} rewrites this file at every switch (Switchyard does not need root for that).`,
    `chown ${quoteArg(plan.sshUser)} ${quoteArg(plan.upstream.path)}`,
  ];
  if (editServerBlocks) {
    for (const edit of plan.proxyPass) {
      lines.push(`cp -p ${quoteArg(edit.path)} ${quoteArg(`${edit.path}.switchyard-bak`)}`);
      lines.push(`sed -i ${quoteArg(`s#^\\([[:space:]]*proxy_pass[[:space:]]\\{1,\\}https\\{0,1\\}://\\)\\(127\\.0\\.0\\.1\\|localhost\\):${plan.service.port}\\([^0-9]\\)#\\1${plan.twin.upstreamName}\\3#`)} ${quoteArg(edit.path)}`);
    }
  }
  const restore = editServerBlocks ? plan.proxyPass.map((e) => `cp -p ${quoteArg(`${e.path}.switchyard-bak`)} ${quoteArg(e.path)}; `).join('') : '';
  lines.push(`if ${nginx}; then ${reload}; else echo 'nginx -t failed: putting the files back' >&2; ${restore}rm -f ${quoteArg(plan.upstream.path)}; exit 1; fi`);
  return `${lines.join('\n')}\n`;
}

function isWriteRefused(error: unknown): boolean {
  return isHostError(error, 'permissionDenied') || isHostError(error, 'sudoNeedsPassword') || (isHostError(error, 'commandFailed') && /sudo|permission|not permitted|read-only/i.test(describeError(error)));
}

/**
 * Applies a plan the user confirmed. Refuses when the plan has refusals or the host changed since it
 * was read. On an Nginx failure every Nginx file is put back; the twin compose file stays (it is inert).
 */
export async function applyConversion(connection: DeployConnection, ports: ConversionPorts, plan: ConversionPlan, options: ApplyOptions): Promise<ApplyReport> {
  const report: ApplyReport = { ok: false, done: [], backups: [], nginxReloaded: false };
  const progress = (message: string): void => options.onProgress?.(message);
  const profile = connection.profile;
  if (plan.refusals.length) return { ...report, error: plan.refusals.join(' ') };

  // The host must still be as the preview showed it.
  if ((await readText(connection, plan.twin.composeFile)) !== undefined) return { ...report, error: `${plan.twin.composeFile} appeared since the preview; nothing was changed.` };
  if ((await readText(connection, plan.upstream.path)) !== undefined) return { ...report, error: `${plan.upstream.path} appeared since the preview; nothing was changed.` };
  if (options.editServerBlocks) {
    for (const edit of plan.proxyPass) {
      if ((await readText(connection, edit.path)) !== edit.oldText) return { ...report, error: `${edit.path} changed since the preview; nothing was changed. Preview again.` };
    }
  }

  progress(`writing ${plan.twinCompose.path}`);
  await connection.writeFileAtomic(plan.twinCompose.path, plan.twinCompose.text, { mode: 0o644 });
  report.done.push(`wrote ${plan.twinCompose.path} (${plan.twinCompose.changes.length} changes from the original)`);

  // Nginx: the include, then the server blocks, `nginx -t` after each, everything back on a failure.
  const written: Array<{ path: string; previous?: string }> = [];
  const putBack = async (): Promise<string[]> => {
    const problems: string[] = [];
    for (const file of [...written].reverse()) {
      try {
        if (file.previous === undefined) {
          const removed = await connection.exec(['rm', '-f', '--', file.path]);
          if (removed.exitCode !== 0) await connection.exec(['rm', '-f', '--', file.path], { sudo: true });
        } else {
          await connection.writeFileAtomic(file.path, file.previous, { backup: false });
        }
      } catch (error) {
        problems.push(`${file.path}: ${describeError(error)}`);
      }
    }
    return problems;
  };
  const testNginx = async (): Promise<string | undefined> => {
    const test = await connection.exec(nginxArgs(profile, '-t'), { sudo: profile.nginx.useSudo, timeoutMs: 30_000 });
    if (test.exitCode === 0) return undefined;
    return firstErrorLine(`${test.stderr}${test.stdout}`);
  };

  let isManual = false;
  try {
    progress(`writing ${plan.upstream.path}`);
    await connection.writeFileAtomic(plan.upstream.path, plan.upstream.text, { mode: 0o644 });
    written.push({ path: plan.upstream.path });
    report.done.push(`wrote ${plan.upstream.path}`);
  } catch (error) {
    if (!isWriteRefused(error)) throw error;
    isManual = true;
    report.manual = {
      reason: `${connection.profile.nginx.confDir} is not writable by the SSH user and sudo may not write there (${describeError(error)}).`,
      script: manualNginxScript(plan, profile, options.editServerBlocks),
    };
    report.done.push(`could not write ${plan.upstream.path}: the Nginx part is a script for root (see manual)`);
  }

  if (!isManual) {
    const failed = await testNginx();
    if (failed) {
      const problems = await putBack();
      return { ...report, error: `nginx -t rejects the configuration with ${plan.upstream.path}: ${failed}. ${problems.length ? `Could not put back: ${problems.join('; ')}` : 'It was removed again.'}` };
    }
    report.done.push('nginx -t ok with the upstream include');
    if (options.editServerBlocks) {
      for (const edit of plan.proxyPass) {
        try {
          progress(`editing ${edit.path}`);
          const result = await connection.writeFileAtomic(edit.path, edit.newText, { backup: true });
          written.push({ path: edit.path, previous: edit.oldText });
          if (result.backupPath) report.backups.push(result.backupPath);
          report.done.push(`${edit.path}: proxy_pass → http://${plan.twin.upstreamName} (lines ${edit.lines.join(', ')})`);
        } catch (error) {
          const problems = await putBack();
          const why = isWriteRefused(error) ? `the SSH user may not write it (${describeError(error)})` : describeError(error);
          return {
            ...report,
            manual: { reason: `${edit.path}: ${why}.`, script: manualNginxScript(plan, profile, true) },
            error: `Could not edit ${edit.path}: ${why}. The Nginx files are back as they were${problems.length ? ` except: ${problems.join('; ')}` : ''}; run the script as root instead.`,
          };
        }
      }
      const failedEdit = await testNginx();
      if (failedEdit) {
        const problems = await putBack();
        return { ...report, error: `nginx -t rejects the edited server block: ${failedEdit}. The Nginx files are back as they were${problems.length ? ` except: ${problems.join('; ')}` : ''}.` };
      }
    }
    const reload = await connection.exec(nginxArgs(profile, '-s', 'reload'), { sudo: profile.nginx.useSudo, timeoutMs: 30_000 });
    if (reload.exitCode !== 0) {
      const problems = await putBack();
      return { ...report, error: `nginx -s reload failed: ${firstErrorLine(`${reload.stderr}${reload.stdout}`)}. The Nginx files are back as they were${problems.length ? ` except: ${problems.join('; ')}` : ''}.` };
    }
    report.nginxReloaded = true;
    report.done.push('nginx reloaded');
  }

  if (options.startTwin) {
    const ready = await startTwin(ports, plan, options);
    if (!ready.ok) return { ...report, error: ready.error };
    report.twinReadyMs = ready.readyMs;
    report.done.push(`started ${plan.twin.container} on ${plan.image ?? 'its image'}; it answered ${plan.service.healthPath} after ${(ready.readyMs / 1000).toFixed(1)} s`);
  }
  report.ok = true;
  return report;
}

/** `compose up` of the twin file with the original's image in the override; waits for its health path. */
async function startTwin(ports: ConversionPorts, plan: ConversionPlan, options: ApplyOptions): Promise<{ ok: true; readyMs: number } | { ok: false; error: string }> {
  const twinProfile = { container: plan.twin.container, composeFile: plan.twin.composeFile, port: plan.twin.port };
  const blue = await ports.docker.inspect(plan.service.container);
  const resolved = resolveComposeTarget(twinProfile, plan.twinCompose.text, undefined, {
    profile: { container: plan.service.container, composeFile: plan.service.composeFile, port: plan.service.port },
    status: blue,
  });
  if (!resolved.ok) return { ok: false, error: resolved.error };
  const image = plan.image ?? `${resolved.imageName}:latest`;
  // Its own compose project, named after the container, as handDoc's colors are.
  const target = { ...resolved.target, project: plan.twin.container };
  options.onProgress?.(`starting ${plan.twin.container} (${image})`);
  const startedMs = Date.now();
  try {
    await ports.compose.up(target, renderImageOverride(target, image, resolved.composeVersion, 'convert to Blue-Green'), options.signal);
  } catch (error) {
    return { ok: false, error: `Could not start ${plan.twin.container}: ${describeError(error)}` };
  }
  const deadline = startedMs + (options.readyTimeoutMs ?? 120_000);
  for (;;) {
    if (options.signal?.aborted) throw new HostError('cancelled', 'Cancelled.');
    const answer = await ports.http.get(plan.twin.port, plan.service.healthPath, 3000, options.signal).catch(() => undefined);
    if (answer && answer.status >= 200 && answer.status < 400) return { ok: true, readyMs: Date.now() - startedMs };
    if (Date.now() > deadline) {
      const logs = await ports.docker.logs(plan.twin.container, 20).catch(() => '');
      return { ok: false, error: `${plan.twin.container} did not answer 127.0.0.1:${plan.twin.port}${plan.service.healthPath} within ${Math.round((options.readyTimeoutMs ?? 120_000) / 1000)} s. Its log:\n${logs.trim()}` };
    }
    await ports.clock.sleep(250, options.signal);
  }
}
