import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { quoteArg, toCommandLine } from '../../../src/host/shellQuote';

/** Runs the command line in a real /bin/sh that prints each argument NUL-terminated, and returns what it received. */
function throughShell(args: string[]): string[] {
  const line = toCommandLine(['printf', '%s\\0', ...args]);
  const out = execFileSync('/bin/sh', ['-c', line], { encoding: 'utf8', cwd: '/' });
  return out.split('\0').slice(0, -1);
}

const tricky = [
  '',
  ' ',
  'plain',
  'two words',
  "it's",
  `'`,
  `''`,
  '"double"',
  'back\\slash',
  '$HOME',
  '${HOME}',
  '$(touch /tmp/switchyard-pwned)',
  '`touch /tmp/switchyard-pwned`',
  'a;b',
  'a && b || c',
  'a|b',
  '>out <in 2>&1',
  'line1\nline2',
  '\n',
  'tab\there',
  '*',
  '?',
  '[a-z]',
  '~',
  '~/x',
  '#comment',
  'A=b',
  '-n',
  '!',
  'unicode: é ü 日本',
  '%s %d',
];

void test('every tricky argument reaches the program unchanged', () => {
  assert.deepEqual(throughShell(tricky), tricky);
});

void test('command substitution is not executed', () => {
  const out = throughShell(['$(echo pwned)', '`echo pwned`']);
  assert.deepEqual(out, ['$(echo pwned)', '`echo pwned`']);
});

void test('an assignment-looking first word is run as a command, not an assignment', () => {
  assert.equal(quoteArg('A=b'), `'A=b'`);
  assert.throws(() => execFileSync('/bin/sh', ['-c', toCommandLine(['A=b'])], { stdio: 'pipe' }), /not found|No such file/);
});

void test('quoting forms', () => {
  assert.equal(quoteArg(''), `''`);
  assert.equal(quoteArg('simple-word_1.2/x:y,z@h%+'), 'simple-word_1.2/x:y,z@h%+');
  assert.equal(quoteArg("it's"), `'it'\\''s'`);
  assert.equal(quoteArg('a b'), `'a b'`);
  assert.equal(quoteArg('line1\nline2'), `'line1\nline2'`);
  assert.equal(toCommandLine(['docker', 'logs', 'my container']), `docker logs 'my container'`);
});

void test('NUL and empty argv are rejected', () => {
  assert.throws(() => quoteArg('a\0b'), /NUL/);
  assert.throws(() => toCommandLine(['echo', 'x\0']), /NUL/);
  assert.throws(() => toCommandLine([]), /program name/);
});
