import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostError, isHostError, toHostError } from '../../../src/host/hostErrors';

function nodeError(code: string, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { code, ...extra });
}

function sshError(message: string, level: string): Error {
  return Object.assign(new Error(message), { level });
}

const ctx = { host: '127.0.0.1', port: 2222, user: 'ec2-user' };

void test('network errors', () => {
  assert.equal(toHostError(nodeError('ENOTFOUND', 'getaddrinfo ENOTFOUND no-such-host.invalid', { hostname: 'no-such-host.invalid' })).code, 'dnsFailure');
  assert.match(toHostError(nodeError('ENOTFOUND', 'x', { hostname: 'no-such-host.invalid' })).message, /no-such-host\.invalid/);
  assert.equal(toHostError(nodeError('EAI_AGAIN', 'getaddrinfo EAI_AGAIN h')).code, 'dnsFailure');
  const refused = toHostError(nodeError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'), { host: '127.0.0.1', port: 1 });
  assert.equal(refused.code, 'unreachable');
  assert.match(refused.message, /127\.0\.0\.1:1/);
  assert.equal(toHostError(nodeError('EHOSTUNREACH', 'x')).code, 'unreachable');
  assert.equal(toHostError(nodeError('ETIMEDOUT', 'x')).code, 'timeout');
  assert.equal(toHostError(nodeError('ECONNRESET', 'read ECONNRESET')).code, 'connectionLost');
  assert.equal(toHostError(sshError('Timed out while waiting for handshake', 'client-timeout')).code, 'timeout');
  assert.equal(toHostError(sshError('Keepalive timeout', 'client-timeout')).code, 'connectionLost');
  assert.equal(toHostError(new Error('No response from server')).code, 'connectionLost');
});

void test('authentication and keys', () => {
  const auth = toHostError(sshError('All configured authentication methods failed', 'client-authentication'), ctx);
  assert.equal(auth.code, 'authFailed');
  assert.match(auth.message, /ec2-user@127\.0\.0\.1:2222/);
  assert.ok(auth.hint);
  assert.equal(toHostError(new Error('Cannot parse privateKey: Encrypted private OpenSSH key detected, but no passphrase given')).code, 'passphraseNeeded');
  assert.equal(toHostError(new Error('Cannot parse privateKey: OpenSSH key integrity check failed -- bad passphrase?')).code, 'passphraseWrong');
  assert.equal(toHostError(new Error('error:1C800064:Provider routines::bad decrypt')).code, 'passphraseWrong');
  const malformed = toHostError(new Error('Cannot parse privateKey: Unsupported key format'), { keyPath: '/k/id' });
  assert.equal(malformed.code, 'keyUnreadable');
  assert.match(malformed.message, /\/k\/id/);
  assert.equal(toHostError(nodeError('ENOENT', "ENOENT: no such file or directory, open '/k/id'"), { keyPath: '/k/id' }).code, 'keyUnreadable');
  assert.equal(toHostError(nodeError('EACCES', 'EACCES'), { keyPath: '/k/id' }).code, 'keyUnreadable');
  assert.equal(toHostError(sshError('Host denied (verification failed)', 'handshake')).code, 'hostKeyChanged');
});

void test('other errors: sudo, abort, unknown; messages are one line without stacks', () => {
  assert.equal(toHostError(new Error('sudo: a password is required')).code, 'sudoNeedsPassword');
  const abort = new Error('The operation was aborted');
  abort.name = 'AbortError';
  assert.equal(toHostError(abort).code, 'cancelled');
  const other = toHostError(new Error('something odd\n    at foo (file.js:1:1)'));
  assert.equal(other.code, 'commandFailed');
  assert.equal(other.message, 'something odd');
  assert.equal(toHostError('plain string').message, 'plain string');
  const cause = new Error('x');
  assert.equal(toHostError(cause).cause, cause, 'the original error is kept as the cause, for the log');
});

void test('HostError passes through and knows what is worth retrying', () => {
  const original = new HostError('hostKeyChanged', 'changed');
  assert.equal(toHostError(original), original);
  assert.equal(original.isRetryable, false);
  assert.equal(new HostError('connectionLost', 'lost').isRetryable, true);
  assert.equal(new HostError('authFailed', 'no').isRetryable, false);
  assert.ok(isHostError(original, 'hostKeyChanged'));
  assert.ok(!isHostError(new Error('x')));
  assert.equal(original.name, 'HostError');
});
