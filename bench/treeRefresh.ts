/**
 * Issue 4's bench: a full tree refresh (containers + health + Nginx state + host metrics) on the
 * warm connection, against the anchor `docker -H ssh://ec2-user@host ps` (what the Docker CLI and
 * VS Code's Container Tools do for a remote host), on loopback and through a proxy that adds
 * 25 ms each way. Prints medians and ratios; asserts nothing (timings are not tests).
 *   npm run bench -- tree     (the sandbox must be up)
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { HostProfile } from '../src/core/hostProfile';
import { readHostSnapshot, SnapshotCache } from '../src/host/hostSnapshot';
import { connectTo, readSandbox, sandboxProfile, type SandboxInfo } from '../test/integration/sandboxHost';
import { startDelayProxy } from './delayProxy';

const runs = Number(process.env.BENCH_RUNS ?? 15);
const oneWayDelayMs = 25;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function timeIt(work: () => Promise<unknown> | unknown, count = runs): Promise<number> {
  await work(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    await work();
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return median(samples);
}

/** `docker -H ssh://…` with a private ssh config (the sandbox key, no known_hosts prompts), via an `ssh` wrapper on PATH. */
function dockerCliAnchor(info: SandboxInfo, port: number): () => Promise<unknown> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-bench-'));
  const config = path.join(dir, 'ssh_config');
  fs.writeFileSync(config, `Host *\n  IdentityFile ${info.identityFile}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n`);
  fs.writeFileSync(path.join(dir, 'ssh'), `#!/bin/sh\nexec /usr/bin/ssh -F ${config} "$@"\n`, { mode: 0o755 });
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${dir}:${process.env.PATH}`, DOCKER_HOST: `ssh://${info.user}@${info.sshHost}:${port}` };
  delete env.DOCKER_CONTEXT;
  // Async: the delay proxy runs in this process and must keep forwarding meanwhile.
  return () => promisify(execFile)('docker', ['ps'], { env });
}

async function measure(label: string, profile: HostProfile, info: SandboxInfo, port: number): Promise<{ anchorMs: number; refreshMs: number; coldMs: number }> {
  const connection = connectTo({ ...profile, ssh: { ...profile.ssh, port } });
  try {
    await connection.connect();
    const dockerRootDir = (await connection.docker().info()).DockerRootDir as string;
    const cache = new SnapshotCache();
    const refreshMs = await timeIt(() => readHostSnapshot(connection, dockerRootDir, cache));
    const coldMs = await timeIt(() => readHostSnapshot(connection, dockerRootDir, new SnapshotCache()));
    const anchorMs = await timeIt(dockerCliAnchor(info, port), Math.min(runs, 7));
    console.log(`\n${label}`);
    console.log(`  docker -H ssh:// ps (anchor)          ${anchorMs.toFixed(1).padStart(7)} ms`);
    console.log(`  Switchyard tree refresh (warm)        ${refreshMs.toFixed(1).padStart(7)} ms   ${(anchorMs / refreshMs).toFixed(1)}× faster than the anchor`);
    console.log(`  Switchyard forced refresh (nginx -t)  ${coldMs.toFixed(1).padStart(7)} ms   ${(anchorMs / coldMs).toFixed(1)}× faster than the anchor`);
    const channels = connection.stats.channels;
    console.log(`  channels opened in all those refreshes: shell ${channels.shell}, exec ${channels.exec}, sftp ${channels.sftp}, docker ${channels.docker}`);
    return { anchorMs, refreshMs, coldMs };
  } finally {
    connection.dispose();
  }
}

async function main(): Promise<void> {
  const info = readSandbox();
  const profile = sandboxProfile();
  console.log(`tree refresh bench: ${runs} runs each, medians; sandbox ${info.user}@${info.sshHost}:${info.sshPort}`);
  const loopback = await measure('loopback', profile, info, info.sshPort);
  const proxy = await startDelayProxy(info.sshPort, oneWayDelayMs);
  try {
    const rttMs = 2 * oneWayDelayMs;
    const slow = await measure(`through a delay proxy (+${oneWayDelayMs} ms each way, RTT ${rttMs} ms)`, profile, info, proxy.port);
    console.log('\nsummary');
    console.log(`  loopback: refresh is ${(loopback.anchorMs / loopback.refreshMs).toFixed(1)}× faster than docker -H ssh:// ps (target ≥ 20×)`);
    console.log(`  delayed:  refresh ${slow.refreshMs.toFixed(0)} ms = ${(slow.refreshMs / rttMs).toFixed(2)} RTT (target ≤ 2 RTT + 20 ms = ${2 * rttMs + 20} ms); anchor ${(slow.anchorMs / slow.refreshMs).toFixed(1)}× slower`);
  } finally {
    await proxy.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
