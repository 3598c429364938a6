/**
 * `switchyard`: the same host layer without an editor, for CI pipelines, scripts and tests.
 * Profiles come from `.switchyard.json` (`{ "hosts": [...] }`, the `switchyard.hosts` setting's shape).
 * Exit codes: 0 ok, 1 the host reported a problem, 2 bad usage or configuration, 3 cannot connect.
 */
import { readFileSync } from 'node:fs';
import { parseProfileFile, type HostProfile } from '../core/hostProfile';
import { serviceViews } from '../core/hostState';
import type { Logger } from '../core/logger';
import { HostConnection } from '../host/hostConnection';
import { isHostError } from '../host/hostErrors';
import { readHostSnapshot } from '../host/hostSnapshot';

const usage = `Usage: switchyard <command> [options]

Commands:
  validate            check the host profiles and print them
  status              connect and print containers, live colors, nginx state and warnings

Options:
  --config FILE       profiles file (default: .switchyard.json)
  --host NAME         which host (default: the only one)
  --json              machine-readable output
  --accept-new-host-key   trust and record an unknown host key (like ssh -o StrictHostKeyChecking=accept-new);
                      a changed key is always refused
  --verbose           log to stderr
Environment: SWITCHYARD_KEY_PASSPHRASE for an encrypted key.`;

interface Options {
  command?: string;
  config: string;
  host?: string;
  json: boolean;
  acceptNewHostKey: boolean;
  verbose: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { config: '.switchyard.json', json: false, acceptNewHostKey: false, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--config') options.config = argv[++i] ?? '';
    else if (arg === '--host') options.host = argv[++i];
    else if (arg === '--json') options.json = true;
    else if (arg === '--accept-new-host-key') options.acceptNewHostKey = true;
    else if (arg === '--verbose') options.verbose = true;
    else if (arg === '--help' || arg === '-h') options.command = 'help';
    else if (!options.command) options.command = arg;
    else throw new UsageError(`unexpected argument "${arg}"`);
  }
  return options;
}

class UsageError extends Error {}

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

async function status(options: Options): Promise<number> {
  const profile = loadProfile(options);
  const logger = stderrLogger(options.verbose);
  const connection = new HostConnection(profile, {
    logger,
    hostKeys: { confirmUnknown: async (info) => {
      if (!options.acceptNewHostKey) process.stderr.write(`Unknown host key for ${info.host}:${info.port} (${info.keyType} ${info.fingerprint}). Re-run with --accept-new-host-key to trust it.\n`);
      return options.acceptNewHostKey;
    } },
    credentials: {
      getPassphrase: async (_key, attempt) => (attempt === 1 ? process.env.SWITCHYARD_KEY_PASSPHRASE : undefined),
      rememberPassphrase: async () => undefined,
      forgetPassphrase: async () => undefined,
    },
  });
  try {
    try {
      await connection.connect();
    } catch (error) {
      process.stderr.write(`switchyard: ${isHostError(error) ? error.message : String(error)}\n`);
      return 3;
    }
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
  } finally {
    connection.dispose();
  }
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
