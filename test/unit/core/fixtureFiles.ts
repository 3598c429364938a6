import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The fixtures stay in the source tree; compiled tests find them from out/ or from the repository root. */
const fixtureRoot = [resolve(__dirname, '../../../../test/unit/core/fixtures'), resolve(process.cwd(), 'test/unit/core/fixtures')].find((dir) => existsSync(dir));

export function fixturePath(...parts: string[]): string {
  if (!fixtureRoot) throw new Error('test/unit/core/fixtures not found: run the tests from the repository root');
  return join(fixtureRoot, ...parts);
}

export function readFixture(...parts: string[]): string {
  return readFileSync(fixturePath(...parts), 'utf8');
}
