import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  appendKnownHostsLine,
  checkHostKey,
  checkHostKeyDetailed,
  fingerprintSha256,
  formatKnownHostsLine,
  keyTypeOfBlob,
  parseKnownHosts,
} from '../../../src/host/knownHosts';

function sshString(data: Buffer | string): Buffer {
  const body = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, body]);
}

/** A real ed25519 public key blob in SSH wire format. */
function ed25519Blob(): Buffer {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return Buffer.concat([sshString('ssh-ed25519'), sshString(raw)]);
}

/** A syntactically valid ecdsa blob (only the type and bytes matter for known_hosts). */
function fakeBlob(type: string): Buffer {
  return Buffer.concat([sshString(type), sshString(randomBytes(32))]);
}

const serverKey = ed25519Blob();
const otherKey = ed25519Blob();
const ecdsaKey = fakeBlob('ecdsa-sha2-nistp256');

function hashedName(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

void test('parse: plain, [host]:port, comma lists, comments, markers, junk', () => {
  const text = [
    '# a comment',
    '',
    `example.com,192.0.2.1 ssh-ed25519 ${serverKey.toString('base64')} comment here`,
    `[127.0.0.1]:2222 ssh-ed25519 ${otherKey.toString('base64')}`,
    `@revoked * ssh-ed25519 ${otherKey.toString('base64')}`,
    `@cert-authority *.example.com ssh-ed25519 ${serverKey.toString('base64')}`,
    `@weird host ssh-ed25519 ${serverKey.toString('base64')}`,
    'broken line',
    `host ssh-rsa ${serverKey.toString('base64')}`,
  ].join('\n');
  const entries = parseKnownHosts(text, '/kh');
  assert.equal(entries.length, 4);
  assert.deepEqual(entries[0].patterns, ['example.com', '192.0.2.1']);
  assert.equal(entries[0].line, 3);
  assert.equal(entries[0].file, '/kh');
  assert.equal(entries[1].patterns[0], '[127.0.0.1]:2222');
  assert.equal(entries[2].marker, 'revoked');
  assert.equal(entries[3].marker, 'cert-authority');
  assert.equal(keyTypeOfBlob(serverKey), 'ssh-ed25519');
});

void test('check: match, unknown, port matters, changed', () => {
  const entries = parseKnownHosts([`[127.0.0.1]:2222 ssh-ed25519 ${serverKey.toString('base64')}`, `example.com ssh-ed25519 ${serverKey.toString('base64')}`].join('\n'));
  assert.equal(checkHostKey(entries, '127.0.0.1', 2222, 'ssh-ed25519', serverKey), 'match');
  assert.equal(checkHostKey(entries, '127.0.0.1', 22, 'ssh-ed25519', serverKey), 'unknown', '[host]:port only names that port');
  assert.equal(checkHostKey(entries, 'EXAMPLE.com', 22, 'ssh-ed25519', serverKey), 'match', 'host names compare case-insensitively');
  const changed = checkHostKeyDetailed(entries, '127.0.0.1', 2222, 'ssh-ed25519', otherKey);
  assert.equal(changed.status, 'changed');
  assert.equal(changed.conflicting[0].line, 1);
});

void test('check: only another key type known counts as changed (as OpenSSH warns)', () => {
  const entries = parseKnownHosts(`[127.0.0.1]:2222 ecdsa-sha2-nistp256 ${ecdsaKey.toString('base64')}`);
  const result = checkHostKeyDetailed(entries, '127.0.0.1', 2222, 'ssh-ed25519', serverKey);
  assert.equal(result.status, 'changed');
  assert.equal(result.conflicting[0].keyType, 'ecdsa-sha2-nistp256');
});

void test('check: a second key of another type next to the matching one is fine', () => {
  const entries = parseKnownHosts([`h ecdsa-sha2-nistp256 ${ecdsaKey.toString('base64')}`, `h ssh-ed25519 ${serverKey.toString('base64')}`].join('\n'));
  assert.equal(checkHostKey(entries, 'h', 22, 'ssh-ed25519', serverKey), 'match');
});

void test('check: hashed entries (HMAC-SHA1 of the name with the salt)', () => {
  const entries = parseKnownHosts(`${hashedName('[127.0.0.1]:2222')} ssh-ed25519 ${serverKey.toString('base64')}`);
  assert.ok(entries[0].hashed);
  assert.equal(checkHostKey(entries, '127.0.0.1', 2222, 'ssh-ed25519', serverKey), 'match');
  assert.equal(checkHostKey(entries, '127.0.0.1', 2223, 'ssh-ed25519', serverKey), 'unknown');
  assert.equal(checkHostKey(entries, '127.0.0.1', 2222, 'ssh-ed25519', otherKey), 'changed');
});

void test('check: wildcards and negation', () => {
  const entries = parseKnownHosts(`*.example.com,!evil.example.com ssh-ed25519 ${serverKey.toString('base64')}`);
  assert.equal(checkHostKey(entries, 'api.example.com', 22, 'ssh-ed25519', serverKey), 'match');
  assert.equal(checkHostKey(entries, 'evil.example.com', 22, 'ssh-ed25519', serverKey), 'unknown');
});

void test('check: @revoked wins, @cert-authority neither matches nor conflicts', () => {
  const revoked = parseKnownHosts([`h ssh-ed25519 ${serverKey.toString('base64')}`, `@revoked * ssh-ed25519 ${serverKey.toString('base64')}`].join('\n'));
  assert.equal(checkHostKey(revoked, 'h', 22, 'ssh-ed25519', serverKey), 'revoked');
  const ca = parseKnownHosts(`@cert-authority h ssh-ed25519 ${otherKey.toString('base64')}`);
  assert.equal(checkHostKey(ca, 'h', 22, 'ssh-ed25519', serverKey), 'unknown');
});

void test('formatKnownHostsLine round-trips, plain and hashed', () => {
  for (const hashed of [false, true]) {
    const line = formatKnownHostsLine('127.0.0.1', 2222, 'ssh-ed25519', serverKey, hashed);
    if (!hashed) assert.ok(line.startsWith('[127.0.0.1]:2222 ssh-ed25519 '));
    else assert.match(line, /^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /);
    const entries = parseKnownHosts(line);
    assert.equal(checkHostKey(entries, '127.0.0.1', 2222, 'ssh-ed25519', serverKey), 'match');
  }
  assert.ok(formatKnownHostsLine('example.com', 22, 'ssh-ed25519', serverKey).startsWith('example.com ssh-ed25519 '));
});

void test('fingerprint equals ssh-keygen -lf', (t) => {
  let hasKeygen = true;
  try {
    execFileSync('ssh-keygen', ['-?'], { stdio: 'ignore' });
  } catch (error) {
    hasKeygen = (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
  if (!hasKeygen) {
    t.skip('ssh-keygen is not installed');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-kh-'));
  const file = path.join(dir, 'key.pub');
  fs.writeFileSync(file, `ssh-ed25519 ${serverKey.toString('base64')} test\n`);
  const out = execFileSync('ssh-keygen', ['-lf', file], { encoding: 'utf8' });
  assert.equal(out.split(' ')[1], fingerprintSha256(serverKey));
  assert.match(fingerprintSha256(serverKey), /^SHA256:[A-Za-z0-9+/]{43}$/);
  fs.rmSync(dir, { recursive: true, force: true });
});

void test('append: creates the directory 0700, keeps existing lines, no temp files left', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-kh-'));
  const file = path.join(dir, 'new-home', '.ssh', 'known_hosts');
  await appendKnownHostsLine(file, 'first ssh-ed25519 AAAA');
  assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
  fs.appendFileSync(file, 'no-newline-at-end ssh-ed25519 BBBB');
  fs.chmodSync(file, 0o600);
  await appendKnownHostsLine(file, formatKnownHostsLine('127.0.0.1', 2222, 'ssh-ed25519', serverKey));
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  assert.deepEqual(lines.slice(0, 2), ['first ssh-ed25519 AAAA', 'no-newline-at-end ssh-ed25519 BBBB']);
  assert.equal(lines[3], '');
  assert.equal(checkHostKey(parseKnownHosts(fs.readFileSync(file, 'utf8')), '127.0.0.1', 2222, 'ssh-ed25519', serverKey), 'match');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600, 'the mode of an existing file is kept');
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ['known_hosts']);
  fs.rmSync(dir, { recursive: true, force: true });
});
