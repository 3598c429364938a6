// `npm start`: Switchyard in real VS Code (code-server) in your browser, against the sandbox host.
//
//   0. npm ci when node_modules is missing or stale (test/run/setup.mjs)
//   1. npm run package                     build + dist/switchyard.vsix
//   2. bash test/sandbox/sandbox.sh up     the loopback "EC2" host (sshd, docker, nginx, apps)
//   3. a workspace whose .vscode/settings.json has "switchyard.hosts" for that host
//      (from `node test/sandbox/sandboxProfile.mjs`)
//   4. code-server (installed once into the cache) with the VSIX, on 127.0.0.1:$SWITCHYARD_PORT (8765)
//   5. prints the URL and stays in the foreground. Ctrl-C stops code-server (its whole process
//      group) and then the sandbox (`sandbox.sh down`) unless --keep-sandbox was given.
//
// Options: --keep-sandbox   leave the sandbox host running on exit
//          --no-package     use the existing dist/switchyard.vsix (skip step 1)
//          --port N         instead of $SWITCHYARD_PORT / 8765
// Re-running is fine: each step is idempotent (a fresh VS Code profile each time).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { cacheDir, ensureCodeServer, startCodeServer } from '../e2e/codeServer.mjs';
import { ensureDependencies } from './setup.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const VSIX = path.resolve(process.env.SWITCHYARD_VSIX || path.join(ROOT, 'dist', 'switchyard.vsix'));
// (SWITCHYARD_SANDBOX_SH: another script with up/down, for testing this one without the real sandbox)
const SANDBOX_SH = path.resolve(process.env.SWITCHYARD_SANDBOX_SH || path.join(ROOT, 'test', 'sandbox', 'sandbox.sh'));

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const opt = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const keepSandbox = flag('--keep-sandbox');
const skipPackage = flag('--no-package');
const port = Number(opt('--port') || process.env.SWITCHYARD_PORT || 8765);
for (const a of argv) {
  if (a.startsWith('--') && !['--keep-sandbox', '--no-package', '--port'].includes(a)) {
    console.error(`unknown option ${a} (use --keep-sandbox, --no-package, --port N)`);
    process.exit(2);
  }
}
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`bad port ${opt('--port') || process.env.SWITCHYARD_PORT}`);
  process.exit(2);
}

const say = (msg) => console.log(`[start] ${msg}`);
// A closed terminal / pipe (EPIPE) must not stop the clean-up on Ctrl-C half way.
for (const s of [process.stdout, process.stderr]) s.on('error', () => {});

/** Run a command with inherited stdio; resolve on exit 0. detached: survives a 2nd Ctrl-C. */
function run(cmd, args, { detached = false } = {}) {
  return new Promise((resolve, reject) => {
    say(`$ ${cmd} ${args.join(' ')}`);
    const child = spawn(cmd, args, { cwd: ROOT, stdio: 'inherit', detached });
    child.on('error', (e) => reject(new Error(`${cmd} ${args.join(' ')}: ${e.message}`)));
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`\`${cmd} ${args.join(' ')}\` failed (${signal ? `signal ${signal}` : `exit ${code}`})`)),
    );
  });
}

function capture(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`\`${cmd} ${args.join(' ')}\` failed (exit ${code}): ${err.trim()}`))));
  });
}

let sandboxStarted = false;
let codeServer;
let stopping;

async function shutdown(reason, exitCode) {
  if (stopping) return stopping;
  stopping = (async () => {
    say(`${reason}: stopping…`);
    if (codeServer) {
      await codeServer.stop();
      say('code-server stopped');
    }
    if (sandboxStarted && !keepSandbox) {
      try {
        await run('bash', [SANDBOX_SH, 'down'], { detached: true });
      } catch (e) {
        console.error(`[start] ${e.message}`);
        exitCode ||= 1;
      }
    } else if (sandboxStarted) {
      say('the sandbox host stays up (--keep-sandbox); stop it with: npm run sandbox -- down');
    }
    process.exit(exitCode);
  })();
  return stopping;
}

let interrupts = 0;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (++interrupts > 1) {
      say('still stopping (code-server, then the sandbox)… a moment');
      return;
    }
    shutdown(sig === 'SIGINT' ? 'Ctrl-C' : sig, 0);
  });
}

/** .vscode/settings.json of the demo workspace, with "switchyard.hosts" for the sandbox. */
async function writeWorkspace() {
  const folder = path.join(cacheDir(), 'demo-workspace');
  const settingsFile = path.join(folder, '.vscode', 'settings.json');
  fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
  const profiles = JSON.parse(await capture(process.execPath, [path.join(ROOT, 'test', 'sandbox', 'sandboxProfile.mjs')]));
  let settings = {};
  try {
    settings = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
  } catch {
    /* new or not plain JSON: rewritten */
  }
  settings['switchyard.hosts'] = profiles;
  fs.writeFileSync(settingsFile, JSON.stringify(settings, null, 2) + '\n');
  const readme = path.join(folder, 'README.md');
  if (!fs.existsSync(readme)) {
    fs.writeFileSync(
      readme,
      '# Switchyard demo workspace\n\nWritten by `npm start`. `.vscode/settings.json` points `switchyard.hosts` at the local sandbox host.\n',
    );
  }
  return { folder, settingsFile, profiles };
}

function portFree(p) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port: p, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

async function main() {
  const t0 = Date.now();
  // Before touching anything (a 2nd `npm start` must not take the 1st one's sandbox down on exit):
  if (!(await portFree(port))) {
    throw new Error(
      `port ${port} on 127.0.0.1 is already in use — is \`npm start\` already running? ` +
        `Stop it, or use another port: SWITCHYARD_PORT=8766 npm start (or npm start -- --port 8766).`,
    );
  }
  ensureDependencies(); // `npm ci` on a fresh clone (test/run/setup.mjs, shared with `npm test`)
  if (skipPackage) {
    if (!fs.existsSync(VSIX)) throw new Error(`${VSIX} does not exist: run without --no-package`);
    say(`1/5 using the existing ${path.relative(ROOT, VSIX)} (--no-package)`);
  } else {
    say('1/5 build and package the extension');
    await run('npm', ['run', 'package']);
    if (!fs.existsSync(VSIX)) throw new Error(`npm run package did not write ${VSIX}`);
  }

  say('2/5 sandbox host up');
  sandboxStarted = true; // from here on, "down" on exit (unless --keep-sandbox)
  await run('bash', [SANDBOX_SH, 'up']);

  say('3/5 demo workspace');
  const ws = await writeWorkspace();
  say(`    ${ws.settingsFile}: switchyard.hosts = ${ws.profiles.map((p) => `${p.name} (${p.ssh})`).join(', ')}`);

  say('4/5 code-server');
  await ensureCodeServer({ log: (m) => say(`    ${m}`) });
  if (stopping) return;
  // VS Code gets its own HOME, so the sandbox's host key lands in a demo known_hosts, never in
  // yours; the sandbox makes a new key whenever it is rebuilt, so the old entry is dropped first
  // and the first connection is always a real unknown-host question.
  const demoHome = path.join(cacheDir(), 'demo-home');
  fs.mkdirSync(path.join(demoHome, '.ssh'), { recursive: true, mode: 0o700 });
  spawnSync('ssh-keygen', ['-R', `[127.0.0.1]:${process.env.SWITCHYARD_SSH_PORT || 2222}`, '-f', path.join(demoHome, '.ssh', 'known_hosts')], { stdio: 'ignore' });
  codeServer = await startCodeServer({
    port,
    folder: ws.folder,
    vsixPath: VSIX,
    env: { HOME: demoHome },
    baseDir: path.join(cacheDir(), 'start-code-server'),
    killOnSignals: false, // our own handlers stop it gracefully, then the sandbox
    log: (m) => say(`    ${m}`),
  });
  if (stopping) {
    await codeServer.stop();
    return;
  }

  const line = '='.repeat(Math.max(60, codeServer.url.length + 4));
  console.log(
    `\n${line}\n  Switchyard is running in VS Code at ${codeServer.url}\n` +
      `  (open it in your browser; click the Switchyard icon in the activity bar and trust the sandbox host key)\n` +
      `  Ctrl-C stops code-server${keepSandbox ? ' (the sandbox host stays up)' : ' and the sandbox host'}.\n${line}\n`,
  );
  say(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; code-server log: ${codeServer.logFile}`);

  // Stay in the foreground until Ctrl-C (the signal handlers exit), or until code-server dies.
  const { code, signal } = await codeServer.exited;
  if (!stopping) {
    console.error(`[start] code-server exited unexpectedly (${signal || `exit ${code}`}); see ${codeServer.logFile}`);
    await shutdown('code-server exited', 1);
  }
}

main().catch(async (e) => {
  console.error(`\n[start] ${e.message}`);
  await shutdown('error', 1);
});
