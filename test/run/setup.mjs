// Shared steps of `npm start` and `npm test`: dependencies, build, package, sandbox.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function log(message) {
  console.log(`\x1b[36mswitchyard:\x1b[0m ${message}`);
}

/** Runs a command in the repo, inheriting stdio; exits the process with a clear message on failure. */
export function run(command, args, { env, what } = {}) {
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.error || result.status !== 0) {
    console.error(`\nswitchyard: ${what ?? `${command} ${args.join(' ')}`} failed (${result.error?.message ?? `exit ${result.status}`}) after ${seconds}s.`);
    process.exit(result.status || 1);
  }
  log(`${what ?? command} done in ${seconds}s`);
}

/** `npm ci` when node_modules is missing or older than the lock file. */
export function ensureDependencies() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  log('installing npm dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund'], { what: 'npm ci' });
}

export function packageVsix() {
  run('npm', ['run', '--silent', 'package'], { what: 'build and package the VSIX' });
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const vsix = join(root, 'dist', 'switchyard.vsix');
  log(`VSIX ${version}: ${vsix} (${Math.round(statSync(vsix).size / 1024)} KB)`);
  return vsix;
}

export function sandboxUp() {
  run('bash', ['test/sandbox/sandbox.sh', 'up'], { what: 'sandbox host up' });
}
