// Bad input for test/sandbox/sandbox.sh: a port already taken, a package apt cannot install, no
// root. Each must stop with a one-line message that says what to do, before changing anything.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'sandbox', 'sandbox.sh');
const scratchDir = '/var/lib/switchyard-sandbox-badinput-test';

function up(env, options = {}) {
  return spawnSync('bash', [script, 'up'], { encoding: 'utf8', env: { ...process.env, SWITCHYARD_SANDBOX_DIR: scratchDir, ...env }, timeout: 240_000, ...options });
}

test('a port already taken by another process is named, with the process, and nothing is created', async () => {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = server.address().port;
  try {
    const result = up({ SWITCHYARD_SSH_PORT: String(port) });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, new RegExp(`port ${port} \\(for sshd\\) is already taken by another process: .*node`));
    assert.match(result.stderr, /SWITCHYARD_SSH_PORT/, 'says how to move the port');
    assert.equal(fs.existsSync(scratchDir), false, 'nothing was created');
  } finally {
    server.close();
  }
});

test('a Debian package apt cannot install stops with its name and the command to try', () => {
  const result = up({ SWITCHYARD_SANDBOX_EXTRA_PACKAGES: 'switchyard-no-such-package' });
  assert.notEqual(result.status, 0);
  assert.match(result.stdout, /installing missing Debian packages: switchyard-no-such-package/);
  assert.match(result.stderr, /could not install Debian package 'switchyard-no-such-package' \(apt-get install -y switchyard-no-such-package\)/);
  assert.equal(fs.existsSync(scratchDir), false, 'nothing was created');
});

test('without root it says so instead of failing halfway', () => {
  const result = spawnSync('runuser', ['-u', 'nobody', '--', 'bash', script, 'up'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /needs root: run 'sudo bash .*sandbox\.sh up'/);
});
