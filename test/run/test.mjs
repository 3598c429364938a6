// `npm test`: lint, type-check, unit tests, then integration and e2e tests against the real sandbox host
// and real VS Code. One `node --test` run so there is one summary; ends with `N passed, N failed`.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ensureCodeServer } from '../e2e/codeServer.mjs';
import { ensureDependencies, log, packageVsix, root, run, sandboxUp } from './setup.mjs';

const startedMs = Date.now();
const args = process.argv.slice(2);
const onlyUnit = args.includes('--unit');

function testFiles(dir) {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true })
    .map(String)
    .filter((file) => /\.test\.(js|mjs)$/.test(file) && !file.endsWith('.map'))
    .sort()
    .map((file) => relative(root, join(abs, file)));
}

ensureDependencies();
run('npx', ['eslint', '--no-error-on-unmatched-pattern', 'src', 'webview', 'test', 'bench'], { what: 'lint' });
run('npx', ['tsc', '-p', '.'], { what: 'type-check and compile tests' });

const files = [...testFiles('out/test/unit')];
if (!onlyUnit) {
  packageVsix();
  sandboxUp();
  await ensureCodeServer({ log });
  files.push(...testFiles('out/test/integration'), ...testFiles('test/integration'), ...testFiles('out/test/e2e'), ...testFiles('test/e2e'));
}

log(`running ${files.length} test files`);
const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
child.stdout.on('data', (chunk) => {
  output += chunk;
  process.stdout.write(chunk);
});
const exitCode = await new Promise((resolve) => child.on('close', resolve));
const count = (label) => Number(new RegExp(`ℹ ${label} (\\d+)`).exec(output)?.[1] ?? 0);
const passed = count('pass');
const failed = count('fail') + count('cancelled');
if (passed + failed === 0) {
  console.error('switchyard: no test ran');
  process.exit(1);
}
log(`npm test took ${Math.round((Date.now() - startedMs) / 1000)}s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(exitCode === 0 && failed === 0 ? 0 : 1);
