/**
 * `switchyard`: the same host layer and deploy engine without an editor, for CI pipelines, scripts and tests.
 * Profiles come from `.switchyard.json` (`{ "hosts": [...] }`, the `switchyard.hosts` setting's shape).
 * Exit codes are listed in `usage` below; CI relies on them.
 */
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { deploy, formatStep, rollback, summarizeHistory, switchColor } from '../core/deployEngine';
import type { DeployEvent, DeploySettings, HistoryItem, LockState, OldColorPolicy, OperationResult } from '../core/deployTypes';
import { parseProfileFile, type HostProfile } from '../core/hostProfile';
import { serviceViews } from '../core/hostState';
import type { Logger } from '../core/logger';
import { retireExpiredWarmColors } from '../core/warmRetire';
import { applyConversion, describeConversionPlan, planConversion } from '../host/blueGreenConversion';
import { HostDeployPorts } from '../host/deployPorts';
import { HostConnection } from '../host/hostConnection';
import { isHostError } from '../host/hostErrors';
import { readHostSnapshot } from '../host/hostSnapshot';

const usage = `Usage: switchyard <command> [options]

Commands:
  validate            check the host profiles and print them
  status              connect and print containers, live colors, nginx state and warnings
  deploy --tag TAG    deploy image tag TAG: a Blue-Green service to its idle color, then switch Nginx to it;
                      a single-container service in place (pull first, then recreate; prints the measured downtime)
  switch              switch Nginx to the service's other color (it must run and answer its health path)
  rollback            undo the service's last deploy/switch/rollback (switch back, or redeploy the previous image)
  history             the host's journal of deploys, switches and rollbacks
  lock                show the host's deploy lock; --break removes a stale one (--force: any)
  convert             preview converting a single-container service to Blue-Green (twin compose file,
                      Nginx upstream include, the proxy_pass change as a diff, memory check, new profile
                      entry); with --yes, apply it
  retire-warm         stop old colors whose keep-warm time (--old-color keep/auto) is up; for cron

Options:
  --config FILE       profiles file (default: .switchyard.json)
  --host NAME         which host (default: the only one)
  --service NAME      which Blue-Green service (default: the only one)
  --json              machine-readable output on stdout (progress goes to stderr)
  --accept-new-host-key   trust and record an unknown host key (like ssh -o StrictHostKeyChecking=accept-new);
                      a changed key is always refused
  --verbose           log to stderr
Deploy options:
  --drain SECONDS     keep the old color up this long after the switch before stopping it (default 5)
  --old-color stop|keep|auto   after the switch: stop the old color, keep it for an instant rollback,
                      or keep it when memory allows (default auto)
  --ready-timeout SECONDS      give up on the new color after this long (default 120; never before its start_period)
  --break-stale-lock  break a lock whose holder is gone (its SSH session ended) instead of refusing
  --who TEXT          who runs it, for the lock and journal (default user@machine, or the GitHub Actions run)
  --limit N           history: how many operations (default 20)
Ctrl-C cancels: before the switch the new color is removed and traffic stays; after it, rollback is the way back.
  A single-container deploy: Ctrl-C before the recreate changes nothing; after it, rollback redeploys the old image.
Convert options:
  --dry-run           only print the plan (the default without --yes)
  --yes               apply it: write the twin compose file and the upstream include, nginx -t, reload, start the twin
  --edit-server-block also change proxy_pass in the server block(s) to the upstream (backup, nginx -t, restored on failure)
  --no-start          do not start the twin container
  --reserve-mb N      memory that must stay available after the twin starts (default 128)

Exit codes:
  0  done (deploy/switch/rollback succeeded; lock: free or broken; status: no errors)
  1  failed, and the host is consistent: traffic is where it was (or on a verified color); status: errors found
  2  bad usage, configuration or input (unknown service, invalid tag): nothing was touched
  3  cannot connect, or the connection was lost: traffic is where it was
  4  the deploy lock is held by another operation (lock: held)
  5  cancelled
  6  the host needs a human: a switch could not be undone for sure (read the message, run status)
Environment: SWITCHYARD_KEY_PASSPHRASE for an encrypted key.`;

interface Options {
  command?: string;
  config: string;
  host?: string;
  service?: string;
  tag?: string;
  json: boolean;
  acceptNewHostKey: boolean;
  verbose: boolean;
  settings: Partial<DeploySettings>;
  breakStaleLock: boolean;
  isBreak: boolean;
  isForce: boolean;
  who?: string;
  limit: number;
  isDryRun: boolean;
  isYes: boolean;
  editServerBlock: boolean;
  noStart: boolean;
  reserveKb?: number;
}

class UsageError extends Error {}

function numberArg(name: string, text: string | undefined, min: number): number {
  const value = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(value) || value < min) throw new UsageError(`${name} needs a number ≥ ${min}, got ${JSON.stringify(text ?? '')}`);
  return value;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { config: '.switchyard.json', json: false, acceptNewHostKey: false, verbose: false, settings: {}, breakStaleLock: false, isBreak: false, isForce: false, limit: 20, isDryRun: false, isYes: false, editServerBlock: false, noStart: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    if (arg === '--config') options.config = value();
    else if (arg === '--host') options.host = value();
    else if (arg === '--service') options.service = value();
    else if (arg === '--tag') options.tag = value();
    else if (arg === '--json') options.json = true;
    else if (arg === '--accept-new-host-key') options.acceptNewHostKey = true;
    else if (arg === '--verbose') options.verbose = true;
    else if (arg === '--drain') options.settings.drainMs = numberArg(arg, value(), 0) * 1000;
    else if (arg === '--ready-timeout') options.settings.readyTimeoutMs = numberArg(arg, value(), 1) * 1000;
    else if (arg === '--old-color') {
      const policy = value();
      if (!['stop', 'keep', 'auto'].includes(policy)) throw new UsageError(`--old-color must be stop, keep or auto, got "${policy}"`);
      options.settings.oldColor = policy as OldColorPolicy;
    } else if (arg === '--break-stale-lock') options.breakStaleLock = true;
    else if (arg === '--break') options.isBreak = true;
    else if (arg === '--force') options.isForce = true;
    else if (arg === '--who') options.who = value();
    else if (arg === '--limit') options.limit = numberArg(arg, value(), 1);
    else if (arg === '--dry-run') options.isDryRun = true;
    else if (arg === '--yes') options.isYes = true;
    else if (arg === '--edit-server-block') options.editServerBlock = true;
    else if (arg === '--no-start') options.noStart = true;
    else if (arg === '--reserve-mb') options.reserveKb = numberArg(arg, value(), 0) * 1024;
    else if (arg === '--help' || arg === '-h') options.command = 'help';
    else if (arg.startsWith('-')) throw new UsageError(`unknown option "${arg}"`);
    else if (!options.command) options.command = arg;
    else throw new UsageError(`unexpected argument "${arg}"`);
  }
  return options;
}

function stderrLogger(verbose: boolean): Logger {
  const write = (level: string) => (message: string) => {
    if (verbose) process.stderr.write(`[${level}] ${message}\n`);
  };
  return { trace: () => undefined, debug: write('debug'), info: write('info'), warn: write('warn'), error: (m, c) => process.stderr.write(`[error] ${m}${c ? `: ${String(c)}` : ''}\n`) };
}

function loadProfile(options: Options): HostProfile {
  let text: string;
  try {
    text = readFileSync(options.config, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${options.config}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const { profiles, errors } = parseProfileFile(text, options.config);
  if (errors.length) throw new UsageError(errors.map((e) => `${options.config}: ${e.path}: ${e.message}`).join('\n'));
  const profile = options.host ? profiles.find((p) => p.name === options.host) : profiles.length === 1 ? profiles[0] : undefined;
  if (!profile) throw new UsageError(options.host ? `no host "${options.host}" in ${options.config}` : `${options.config} has ${profiles.length} hosts: choose one with --host`);
  return profile;
}

function serviceName(options: Options, profile: HostProfile): string {
  if (options.service) return options.service;
  const blueGreen = profile.services.filter((s) => s.kind === 'blueGreen');
  if (blueGreen.length === 1) return blueGreen[0].name;
  throw new UsageError(`${profile.name} has ${blueGreen.length} Blue-Green services: choose one with --service`);
}

function defaultWho(): string {
  const env = process.env;
  if (env.GITHUB_ACTIONS === 'true') return `github-actions ${env.GITHUB_REPOSITORY ?? ''}#${env.GITHUB_RUN_ID ?? '?'} (${env.GITHUB_ACTOR ?? 'unknown actor'})`;
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry (some containers)
  }
  return `${user}@${os.hostname()} (switchyard cli)`;
}

function openConnection(profile: HostProfile, options: Options): HostConnection {
  return new HostConnection(profile, {
    logger: stderrLogger(options.verbose),
    hostKeys: {
      confirmUnknown: async (info) => {
        if (!options.acceptNewHostKey) process.stderr.write(`Unknown host key for ${info.host}:${info.port} (${info.keyType} ${info.fingerprint}). Re-run with --accept-new-host-key to trust it.\n`);
        return options.acceptNewHostKey;
      },
    },
    credentials: {
      getPassphrase: async (_key, attempt) => (attempt === 1 ? process.env.SWITCHYARD_KEY_PASSPHRASE : undefined),
      rememberPassphrase: async () => undefined,
      forgetPassphrase: async () => undefined,
    },
  });
}

/** Connects, runs `work`, always disposes; a connection failure is exit code 3. */
async function withConnection(options: Options, work: (connection: HostConnection, profile: HostProfile) => Promise<number>): Promise<number> {
  const profile = loadProfile(options);
  const connection = openConnection(profile, options);
  try {
    try {
      await connection.connect();
    } catch (error) {
      process.stderr.write(`switchyard: ${isHostError(error) ? error.message : String(error)}\n`);
      return 3;
    }
    return await work(connection, profile);
  } finally {
    connection.dispose();
  }
}

async function status(options: Options): Promise<number> {
  return withConnection(options, async (connection, profile) => {
    const snapshot = await readHostSnapshot(connection);
    const views = serviceViews(profile, snapshot.containers, snapshot.nginx);
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ host: profile.name, services: views.map((v) => (v.kind === 'blueGreen' ? { name: v.service.name, kind: v.kind, live: v.liveColor ?? null, error: v.liveError ?? null } : { name: v.service.name, kind: v.kind, health: v.container?.health ?? null })), containers: snapshot.containers, nginx: snapshot.nginx, metrics: snapshot.metrics ?? null, warnings: snapshot.warnings, problems: Object.fromEntries(Object.entries(snapshot.problems).map(([k, e]) => [k, { code: e.code, message: e.message }])) }, null, 2)}\n`);
    } else {
      const out: string[] = [`${profile.name}`];
      for (const view of views) {
        if (view.kind === 'blueGreen') out.push(`  ${view.service.name}: live ${view.liveColor ?? `unknown (${view.liveError})`}`);
        else out.push(`  ${view.service.name}: ${view.container ? `${view.container.state}/${view.container.health}` : 'missing'}`);
      }
      for (const c of snapshot.containers) out.push(`  ${c.name.padEnd(28)} ${`${c.image}:${c.tag}`.padEnd(44)} ${c.state}/${c.health}`);
      out.push(`  nginx -t: ${snapshot.nginx.configTest.ok ? 'ok' : 'FAILS'}`);
      for (const w of snapshot.warnings) out.push(`  ${w.severity}: ${w.subject}: ${w.message}`);
      for (const [part, error] of Object.entries(snapshot.problems)) out.push(`  cannot read ${part}: ${error.message}`);
      process.stdout.write(`${out.join('\n')}\n`);
    }
    return Object.keys(snapshot.problems).length || snapshot.warnings.some((w) => w.severity === 'error') ? 1 : 0;
  });
}

function exitCodeOf(result: OperationResult): number {
  if (result.ok) return 0;
  if (result.outcome === 'uncertain') return 6;
  if (result.outcome === 'cancelled') return 5;
  switch (result.error?.code) {
    case 'badInput':
      return 2;
    case 'locked':
      return 4;
    case 'connectionLost':
      return 3;
    default:
      return 1;
  }
}

function describeOutcome(result: OperationResult): string[] {
  const lines: string[] = [];
  const traffic = result.traffic.color ? `${result.traffic.color}${result.traffic.isCertain ? '' : ` (not confirmed: ${result.traffic.why ?? 'unknown'})`}` : `unknown (${result.traffic.why ?? 'not read'})`;
  if (result.inPlace) {
    const downtime = result.downtimeMs !== undefined ? `downtime ${(result.downtimeMs / 1000).toFixed(2)} s (measured: stop of the old container → first answer of the new one)` : 'no downtime figure: the new container never answered';
    if (result.ok) lines.push(`${result.kind} done: ${result.service} on ${result.host}: ${result.inPlace.container} runs ${result.inPlace.to} (was ${result.inPlace.from ?? 'nothing'}) in ${(result.totalMs / 1000).toFixed(1)} s; ${downtime}`);
    else {
      lines.push(`${result.kind} ${result.outcome}${result.error?.step ? ` at ${result.error.step}` : ''} (${result.error?.code ?? 'error'}): ${result.error?.message ?? ''}`);
      if (result.error?.logs) lines.push(result.error.logs);
      if (result.inPlace.isRecreated) lines.push(downtime);
    }
    for (const note of result.notes) lines.push(`note: ${note}`);
    return lines;
  }
  if (result.ok) {
    const old = result.from && result.oldColorState ? `; ${result.from.color} ${result.oldColorState === 'running' ? 'kept running' : 'stopped'}` : '';
    const fast = result.readyToSwitchedMs !== undefined ? `; ready → switched ${(result.readyToSwitchedMs / 1000).toFixed(2)} s` : '';
    lines.push(`${result.kind} done: ${result.service} on ${result.host} serves ${result.to?.color ?? traffic} (${result.to?.image ?? '?'})${old} in ${(result.totalMs / 1000).toFixed(1)} s${fast}`);
  } else {
    lines.push(`${result.kind} ${result.outcome}${result.error?.step ? ` at ${result.error.step}` : ''} (${result.error?.code ?? 'error'}): ${result.error?.message ?? ''}`);
    if (result.error?.logs) lines.push(result.error.logs);
    lines.push(`traffic: ${traffic}`);
  }
  for (const note of result.notes) lines.push(`note: ${note}`);
  return lines;
}

async function operate(options: Options): Promise<number> {
  const command = options.command as 'deploy' | 'switch' | 'rollback';
  if (command === 'deploy' && !options.tag) throw new UsageError('deploy needs --tag TAG');
  const profile = loadProfile(options);
  const service = serviceName(options, profile);
  return withConnection(options, async (connection) => {
    const ports = new HostDeployPorts(connection);
    const controller = new AbortController();
    let interrupts = 0;
    const onSignal = (): void => {
      interrupts++;
      if (interrupts > 1) process.exit(5);
      process.stderr.write('\nswitchyard: cancelling (before the switch this removes the new color; press Ctrl-C again to quit at once)\n');
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const stepOut = options.json ? process.stderr : process.stdout;
    const request = { service, who: options.who ?? defaultWho(), settings: options.settings, ...(options.breakStaleLock ? { breakStaleLock: true } : {}) };
    const runOptions = {
      signal: controller.signal,
      onEvent: (event: DeployEvent) => {
        if (event.kind === 'stepFinished') stepOut.write(`  ${formatStep({ name: event.step, outcome: event.outcome, durationMs: event.durationMs, ...(event.detail ? { detail: event.detail } : {}) })}\n`);
        else if (event.kind === 'progress') process.stderr.write(`    … ${event.message}\n`);
        else if (event.kind === 'switched') stepOut.write(`  ⇄ Nginx now sends ${service} traffic to ${event.to}\n`);
        else if (event.kind === 'downtimeStarted') stepOut.write(`  ↓ stopping ${event.container}: ${service} is down until the new container answers\n`);
        else if (event.kind === 'backUp') stepOut.write(`  ↑ ${event.container} answers again: downtime ${(event.downtimeMs / 1000).toFixed(2)} s\n`);
      },
    };
    stepOut.write(`${command} ${service}${options.tag ? ` ${options.tag}` : ''} on ${profile.name}\n`);
    try {
      const result =
        command === 'deploy'
          ? await deploy(ports, profile, { ...request, tag: options.tag as string }, runOptions)
          : command === 'switch'
            ? await switchColor(ports, profile, request, runOptions)
            : await rollback(ports, profile, request, runOptions);
      if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else process.stdout.write(`${describeOutcome(result).join('\n')}\n`);
      return exitCodeOf(result);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}

function formatHistoryItem(item: HistoryItem): string {
  const flip = item.from && item.to ? `${item.from.color}→${item.to.color}` : item.inPlace ? `in place${item.downtimeMs !== undefined ? ` ↓${(item.downtimeMs / 1000).toFixed(1)}s` : ''}` : '';
  const duration = item.totalMs !== undefined ? `${(item.totalMs / 1000).toFixed(1)} s` : '';
  const failed = item.failedStep ? ` at ${item.failedStep}` : '';
  const error = item.error ? `\n      ${item.error.split('\n')[0]}` : '';
  return `${item.startedAt}  ${item.kind.padEnd(8)} ${item.service.padEnd(10)} ${(item.tag ?? '').padEnd(10)} ${flip.padEnd(11)} ${`${item.outcome}${failed}`.padEnd(22)} ${duration.padStart(7)}  ${item.who}${error}`;
}

async function history(options: Options): Promise<number> {
  return withConnection(options, async (connection) => {
    const ports = new HostDeployPorts(connection);
    // Two lines per operation; read enough to cover `limit` operations.
    let items = summarizeHistory(await ports.journal.read(options.limit * 2 + 2));
    if (options.service) items = items.filter((item) => item.service === options.service);
    items = items.slice(-options.limit);
    if (options.json) process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
    else process.stdout.write(items.length ? `${items.map(formatHistoryItem).join('\n')}\n` : 'no deploys, switches or rollbacks in the journal yet\n');
    return 0;
  });
}

function describeLock(state: LockState | undefined): string {
  if (!state) return 'free';
  const r = state.record;
  return `held by ${r.holder}: ${r.operation} of ${r.service}, started ${r.startedAt}${r.step ? `, step ${r.step}` : ''}, heartbeat ${r.heartbeatAt}${state.isStale ? `; STALE: ${state.staleReason ?? 'holder gone'}` : ''}`;
}

/** Previews (and with --yes applies) converting a single-container service to Blue-Green. */
async function convert(options: Options): Promise<number> {
  if (!options.service) throw new UsageError('convert needs --service NAME (a single-container service)');
  return withConnection(options, async (connection) => {
    const ports = new HostDeployPorts(connection);
    const planned = await planConversion(connection, ports, options.service as string, options.reserveKb !== undefined ? { reserveKb: options.reserveKb } : {});
    if (!planned.ok) {
      process.stderr.write(`switchyard: ${planned.error}\n`);
      return 2;
    }
    const { plan } = planned;
    const isApplying = options.isYes && !options.isDryRun;
    const progressOut = options.json ? process.stderr : process.stdout;
    if (!options.json) process.stdout.write(`${describeConversionPlan(plan).join('\n')}\n`);
    if (plan.refusals.length || !isApplying) {
      if (options.json) process.stdout.write(`${JSON.stringify({ plan, applied: null }, null, 2)}\n`);
      else if (!plan.refusals.length) process.stdout.write('\nNothing was changed (preview). Re-run with --yes to apply.\n');
      return plan.refusals.length ? 1 : 0;
    }
    const report = await applyConversion(connection, ports, plan, {
      editServerBlocks: options.editServerBlock,
      startTwin: !options.noStart,
      onProgress: (message) => progressOut.write(`    … ${message}\n`),
    });
    if (options.json) process.stdout.write(`${JSON.stringify({ plan, applied: report }, null, 2)}\n`);
    else {
      const lines = ['', report.ok ? 'Applied:' : 'Not completed:', ...report.done.map((d) => `  ✓ ${d}`)];
      if (report.backups.length) lines.push(`  backups: ${report.backups.join(', ')}`);
      if (report.error) lines.push(`  ✗ ${report.error}`);
      if (report.manual) lines.push('', `Run this on the host as root (${report.manual.reason}):`, report.manual.script);
      if (report.ok) lines.push('', 'Then replace the service in your profile with the entry above.');
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return report.ok ? 0 : 1;
  });
}

async function lock(options: Options): Promise<number> {
  return withConnection(options, async (connection) => {
    const ports = new HostDeployPorts(connection);
    const state = await ports.lock.read();
    if (!options.isBreak) {
      process.stdout.write(options.json ? `${JSON.stringify({ lock: state ?? null }, null, 2)}\n` : `${describeLock(state)}\n`);
      return state ? 4 : 0;
    }
    if (!state) {
      process.stdout.write(options.json ? `${JSON.stringify({ lock: null, broken: false }, null, 2)}\n` : 'free: nothing to break\n');
      return 0;
    }
    if (!state.isStale && !options.isForce) {
      process.stderr.write(`switchyard: not breaking the lock: ${describeLock(state)}. Its holder is still connected; add --force only if you are sure it is not running.\n`);
      return 4;
    }
    const broken = await ports.lock.break(state.record.token);
    process.stdout.write(options.json ? `${JSON.stringify({ lock: state, broken }, null, 2)}\n` : broken ? `broke the lock (${describeLock(state)})\n` : 'the lock changed while breaking it; look again\n');
    return broken ? 0 : 4;
  });
}

async function retireWarm(options: Options): Promise<number> {
  return withConnection(options, async (connection, profile) => {
    const result = await retireExpiredWarmColors(new HostDeployPorts(connection), profile, { who: options.who ?? defaultWho() });
    if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      const lines = [
        ...result.stopped.map((w) => `stopped ${w.container} (${w.service} ${w.color}, kept warm until ${w.warmUntil})`),
        ...result.left.map((w) => `left ${w.container} running (${w.service} ${w.color}, warm until ${w.warmUntil}): ${w.reason}`),
        ...result.waiting.map((w) => `${w.container} stays warm until ${w.warmUntil}`),
      ];
      process.stdout.write(`${lines.length ? lines.join('\n') : 'no color is kept warm'}\n`);
    }
    return result.left.some((w) => /deploy lock/.test(w.reason)) ? 4 : 0;
  });
}

async function main(argv: string[]): Promise<number> {
  const options = parseArgs(argv);
  switch (options.command) {
    case 'validate': {
      const profile = loadProfile(options);
      process.stdout.write(options.json ? `${JSON.stringify(profile, null, 2)}\n` : `${options.config}: host "${profile.name}" is valid (${profile.services.length} services)\n`);
      return 0;
    }
    case 'status':
      return status(options);
    case 'deploy':
    case 'switch':
    case 'rollback':
      return operate(options);
    case 'history':
      return history(options);
    case 'lock':
      return lock(options);
    case 'convert':
      return convert(options);
    case 'retire-warm':
      return retireWarm(options);
    case 'help':
      process.stdout.write(`${usage}\n`);
      return 0;
    default:
      throw new UsageError(options.command ? `unknown command "${options.command}"` : 'no command given');
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`switchyard: ${error.message}\n\n${usage}\n`);
      process.exit(2);
    }
    process.stderr.write(`switchyard: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
