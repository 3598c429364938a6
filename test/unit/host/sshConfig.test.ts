import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileIncludeReader, matchHostPatterns, resolveSshTarget, tokenizeConfigLine } from '../../../src/host/sshConfig';

const home = '/home/dev';
const opts = { homeDir: home, localUser: 'dev' };

const config = `
# handDoc production
Host handdoc prod-*
  HostName 203.0.113.%h
  User ec2-user
  IdentityFile ~/.ssh/handdoc-key.pem
  IdentitiesOnly yes

Host handdoc-direct
  HostName %h.example.com
  Port 2200

Host *.internal !bastion.internal
  ProxyJump ec2-user@bastion.internal:22

Host = quoted
  IdentityFile "/keys/with space.pem"
  UserKnownHostsFile ~/.ssh/kh1 /etc/kh2

Host *
  User fallback
  Port 2222
  IdentityFile ~/.ssh/id_common
  ServerAliveInterval 15
  ConnectTimeout 7
`;

void test('tokenizer: key value, key=value, quotes, comments', () => {
  assert.deepEqual(tokenizeConfigLine('  HostName   example.com  '), { keyword: 'hostname', args: ['example.com'] });
  assert.deepEqual(tokenizeConfigLine('Port=22'), { keyword: 'port', args: ['22'] });
  assert.deepEqual(tokenizeConfigLine('IdentityFile "/a b/c"'), { keyword: 'identityfile', args: ['/a b/c'] });
  assert.deepEqual(tokenizeConfigLine('Host a b # trailing'), { keyword: 'host', args: ['a', 'b'] });
  assert.equal(tokenizeConfigLine('# only a comment'), undefined);
  assert.equal(tokenizeConfigLine('   '), undefined);
});

void test('patterns: * ? and negation', () => {
  assert.equal(matchHostPatterns('prod-1', ['handdoc', 'prod-*']), true);
  assert.equal(matchHostPatterns('prod1', ['prod-?']), false);
  assert.equal(matchHostPatterns('db.internal', ['*.internal', '!bastion.internal']), true);
  assert.equal(matchHostPatterns('bastion.internal', ['*.internal', '!bastion.internal']), false);
  assert.equal(matchHostPatterns('HANDDOC', ['handdoc']), true);
  assert.equal(matchHostPatterns('x', ['!y']), false, 'a negation alone matches nothing');
});

void test('first value wins per key; profile values override the config; IdentityFile accumulates', () => {
  const r = resolveSshTarget({ host: 'handdoc' }, config, opts);
  assert.equal(r.hostName, '203.0.113.handdoc');
  assert.equal(r.user, 'ec2-user');
  assert.equal(r.port, 2222, 'Port from Host * since the first block has none');
  assert.deepEqual(r.identityFiles, ['/home/dev/.ssh/handdoc-key.pem', '/home/dev/.ssh/id_common']);
  assert.equal(r.identityFilesAreDefaults, false);
  assert.equal(r.identitiesOnly, true);
  assert.equal(r.serverAliveIntervalS, 15);
  assert.equal(r.connectTimeoutS, 7);
  assert.deepEqual(r.knownHostsFiles, ['/home/dev/.ssh/known_hosts', '/home/dev/.ssh/known_hosts2']);

  const withProfile = resolveSshTarget({ host: 'handdoc', port: 22, user: 'admin', identityFile: '~/mine.pem' }, config, opts);
  assert.equal(withProfile.port, 22);
  assert.equal(withProfile.user, 'admin');
  assert.deepEqual(withProfile.identityFiles, ['/home/dev/mine.pem', '/home/dev/.ssh/handdoc-key.pem', '/home/dev/.ssh/id_common']);
});

void test('%h in HostName, Port from the first block, ProxyJump with negation', () => {
  const direct = resolveSshTarget({ host: 'handdoc-direct' }, config, opts);
  assert.equal(direct.hostName, 'handdoc-direct.example.com');
  assert.equal(direct.port, 2200);
  assert.equal(direct.user, 'fallback');
  assert.equal(resolveSshTarget({ host: 'db.internal' }, config, opts).proxyJump, 'ec2-user@bastion.internal:22');
  assert.equal(resolveSshTarget({ host: 'bastion.internal' }, config, opts).proxyJump, undefined);
});

void test('quoted paths and several UserKnownHostsFile values', () => {
  const r = resolveSshTarget({ host: 'quoted' }, config, opts);
  assert.deepEqual(r.identityFiles, ['/keys/with space.pem', '/home/dev/.ssh/id_common']);
  assert.deepEqual(r.knownHostsFiles, ['/home/dev/.ssh/kh1', '/etc/kh2']);
});

void test('no config: defaults (port 22, local user, default keys)', () => {
  const r = resolveSshTarget({ host: '127.0.0.1' }, '', opts);
  assert.equal(r.hostName, '127.0.0.1');
  assert.equal(r.port, 22);
  assert.equal(r.user, 'dev');
  assert.deepEqual(r.identityFiles, ['/home/dev/.ssh/id_ed25519', '/home/dev/.ssh/id_ecdsa', '/home/dev/.ssh/id_rsa']);
  assert.equal(r.identityFilesAreDefaults, true);
  assert.equal(r.proxyJump, undefined);
});

void test('Match blocks are skipped (except Match all), with a warning', () => {
  const text = 'Match exec "true"\n  User wrong\nMatch all\n  Port 2022\n';
  const r = resolveSshTarget({ host: 'h' }, text, opts);
  assert.equal(r.user, 'dev');
  assert.equal(r.port, 2022);
  assert.equal(r.warnings.length, 1);
});

void test('Include: relative to ~/.ssh, globbed, lines belong to the enclosing Host block', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-sshconfig-'));
  fs.mkdirSync(path.join(dir, '.ssh', 'config.d'), { recursive: true });
  fs.writeFileSync(path.join(dir, '.ssh', 'config.d', 'b.conf'), 'Host inc\n  HostName included.example\n  User inc-user\n');
  fs.writeFileSync(path.join(dir, '.ssh', 'config.d', 'a.conf'), 'Host inc\n  Port 2201\n');
  const text = 'Include config.d/*.conf\nHost inc\n  Port 9999\n';
  const r = resolveSshTarget({ host: 'inc' }, text, { homeDir: dir, localUser: 'dev', readInclude: fileIncludeReader(dir) });
  assert.equal(r.hostName, 'included.example');
  assert.equal(r.user, 'inc-user');
  assert.equal(r.port, 2201, 'a.conf sorts first, and included lines come before the later Port');
  const without = resolveSshTarget({ host: 'inc' }, text, { homeDir: dir, localUser: 'dev' });
  assert.equal(without.port, 9999);
  assert.match(without.warnings.join('\n'), /Include ignored/);
  fs.rmSync(dir, { recursive: true, force: true });
});

void test('IdentityFile none means no keys at all', () => {
  const r = resolveSshTarget({ host: 'x' }, 'Host x\n  IdentityFile none\n', opts);
  assert.deepEqual(r.identityFiles, []);
  assert.equal(r.identityFilesAreDefaults, false);
});

void test('Include inside a Host block applies only to that host, and the block state is restored after it', () => {
  const files: Record<string, string> = { extra: 'User from-include\nHost *\n  Port 2300\n' };
  const readInclude = (pattern: string): { path: string; text: string }[] => (files[pattern] ? [{ path: pattern, text: files[pattern] }] : []);
  const text = 'Host special\n  Include extra\n  IdentityFile ~/.ssh/special\n';
  const special = resolveSshTarget({ host: 'special' }, text, { ...opts, readInclude });
  assert.equal(special.user, 'from-include');
  assert.equal(special.port, 2300);
  assert.deepEqual(special.identityFiles, ['/home/dev/.ssh/special'], 'after the Include, the Host special block is active again');
  const other = resolveSshTarget({ host: 'other' }, text, { ...opts, readInclude });
  assert.equal(other.user, 'dev');
  assert.equal(other.port, 22, 'Host * inside an Include of an inactive block never matches');
});
