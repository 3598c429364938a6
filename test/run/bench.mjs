// `npm run bench -- NAME`: runs out/bench/<NAME>*.js (compiled by tsc); without a name, lists them.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './setup.mjs';

const dir = join(root, 'out', 'bench');
const benches = readdirSync(dir).filter((f) => f.endsWith('.js') && !['delayProxy.js'].includes(f));
const wanted = process.argv[2];
const chosen = wanted ? benches.filter((f) => f.toLowerCase().startsWith(wanted.toLowerCase())) : [];
if (chosen.length === 0) {
  console.log(`usage: npm run bench -- <name>; available: ${benches.map((f) => f.replace(/\.js$/, '')).join(', ')}`);
  process.exit(wanted ? 2 : 0);
}
for (const file of chosen) {
  const result = spawnSync(process.execPath, [join(dir, file)], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
