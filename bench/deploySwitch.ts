/**
 * Issue 6's bench: how long from "the new color answers" to "Nginx serves the new color", for
 * Switchyard and for the seed's approach (handDoc's deploy.sh: wait for Docker's own `healthy`), plus
 * total deploy time and failed requests under a wrk load through Nginx. One deploy each, in one run:
 *   1. Switchyard (engine + real ports), old color drained 5 s then stopped, like deploy.sh;
 *   2. deploy.sh with handDoc's healthcheck timings (interval 30s, timeout 15s, start_period 60s);
 *   3. deploy.sh with the sandbox compose files' own timings (interval 10s, timeout 5s, start_period 20s).
 * "Ready" and "switched" are observed from outside, the same way for all three: this process polls the
 * new color's port directly (first answer from the new version, once its container was (re)started) and Nginx's /api/whoami (first answer
 * naming the new color) every 5 ms. Asserts nothing (timings are not tests); leaves both colors on :latest.
 *   npm run bench -- deploy     (the sandbox must be up)
 */
import { execFileSync } from 'node:child_process';
import * as http from 'node:http';
import { deploy } from '../src/core/deployEngine';
import type { OperationResult } from '../src/core/deployTypes';
import type { BlueGreenService, Color, HostProfile } from '../src/core/hostProfile';
import { HostDeployPorts } from '../src/host/deployPorts';
import type { HostConnection } from '../src/host/hostConnection';
import { describeLoad, startLoad, type LoadStats } from '../test/integration/loadGenerator';
import { connectTo, readSandbox, sandboxProfile, type SandboxInfo } from '../test/integration/sandboxHost';

const pollMs = 5;
const who = 'bench/deploySwitch';

interface Measured {
  label: string;
  readyToSwitchedMs: number;
  totalMs: number;
  load: LoadStats;
  engineReadyToSwitchedMs?: number;
}

function get(url: string): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    });
    request.on('error', () => resolve(undefined));
    request.on('timeout', () => request.destroy());
  });
}

/** Resolves with the time (performance.now) of the first answer from `url` that `matches`, polling every pollMs. */
function firstAnswer(url: string, matches: (body: string) => boolean, stop: { isStopped: boolean }): Promise<number | undefined> {
  return (async () => {
    while (!stop.isStopped) {
      const answer = await get(url);
      const at = performance.now();
      if (answer && answer.status === 200 && matches(answer.body)) return at;
      await new Promise((r) => setTimeout(r, pollMs));
    }
    return undefined;
  })();
}

/** The container's id and last start, as this machine's root sees them on the sandbox engine ('' when it does not exist). */
function containerStart(info: SandboxInfo, container: string): string {
  try {
    return execFileSync('docker', ['-H', `unix://${info.dockerSocket}`, 'inspect', '-f', '{{.Id}} {{.State.StartedAt}}', container], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

function parse(body: string): { color?: string; version?: string } {
  try {
    return JSON.parse(body) as { color?: string; version?: string };
  } catch {
    return {};
  }
}

async function liveColor(connection: HostConnection, service: BlueGreenService): Promise<Color> {
  const text = (await connection.readFile(service.switchFile)).toString('utf8').replace(/#.*$/gm, '');
  return new RegExp(`server\\s+127\\.0\\.0\\.1:${service.colors.green.port}`).test(text) ? 'green' : 'blue';
}

/** Runs `work` under load with both observers; the new color is `idle` running image tag `version`. */
async function measure(label: string, info: SandboxInfo, service: BlueGreenService, idle: Color, version: string, work: () => Promise<OperationResult | undefined>): Promise<Measured> {
  const stop = { isStopped: false };
  // The idle color may already run `version` (left by an earlier deploy): compose would keep it as it is and
  // nothing would start. Each measurement starts the new color from scratch, so that one goes first.
  const container = service.colors[idle].container;
  const before = await get(`http://127.0.0.1:${service.colors[idle].port}/api/whoami`);
  if (before && parse(before.body).version === version) {
    execFileSync('docker', ['-H', `unix://${info.dockerSocket}`, 'rm', '-f', container], { stdio: 'ignore' });
    console.log(`  (${container} already ran ${version}: removed so the measurement starts it afresh)`);
  }
  const load = await startLoad(`${info.nginx.httpUrl}/api/whoami`);
  const started = performance.now();
  // Only a container started by this run counts (replaced, or a stopped one started again by compose).
  const oldStart = containerStart(info, container);
  const ready = (async () => {
    while (!stop.isStopped && containerStart(info, container) === oldStart) await new Promise((r) => setTimeout(r, pollMs));
    return firstAnswer(`http://127.0.0.1:${service.colors[idle].port}/api/whoami`, (body) => parse(body).version === version, stop);
  })();
  const switched = firstAnswer(`${info.nginx.httpUrl}/api/whoami`, (body) => parse(body).color === idle && parse(body).version === version, stop);
  let result: OperationResult | undefined;
  let stats: LoadStats;
  let wallMs = 0;
  try {
    result = await work();
  } finally {
    wallMs = performance.now() - started;
    await new Promise((r) => setTimeout(r, 1000));
    stats = await load.stop();
    stop.isStopped = true;
  }
  const [readyAt, switchedAt] = await Promise.all([ready, switched]);
  if (result && !result.ok) throw new Error(`${label}: ${result.error?.message ?? 'failed'}`);
  if (readyAt === undefined || switchedAt === undefined) throw new Error(`${label}: the new color was never ${readyAt === undefined ? 'seen answering' : 'served by Nginx'}`);
  return {
    label,
    readyToSwitchedMs: switchedAt - readyAt,
    totalMs: result?.totalMs ?? wallMs,
    load: stats,
    ...(result?.readyToSwitchedMs !== undefined ? { engineReadyToSwitchedMs: result.readyToSwitchedMs } : {}),
  };
}

/**
 * The host's own deploy.sh, changed only so its compose calls add an override file (image tag and,
 * for the handDoc run, healthcheck timings) and so it runs from the apps directory wherever it lives.
 */
async function seedDeploy(connection: HostConnection, info: SandboxInfo, idle: Color, tag: string, timings: { interval: string; timeout: string; startPeriod: string } | undefined): Promise<void> {
  const original = (await connection.readFile(`${info.appsDir}/deploy.sh`)).toString('utf8');
  const dir = `/home/${info.user}/.switchyard/bench`;
  const composeCall = 'docker-compose -p "handdoc-spring-$color" -f "docker-compose.spring-$color.yml" "$@"';
  if (!original.includes(composeCall) || !original.includes('cd "$(dirname "$0")"')) throw new Error('deploy.sh is not the one this bench knows; update bench/deploySwitch.ts');
  const script = original
    .replace('cd "$(dirname "$0")"', `cd ${JSON.stringify(info.appsDir)}`)
    .replace(composeCall, `docker-compose -p "handdoc-spring-$color" -f "docker-compose.spring-$color.yml" -f "${dir}/spring-$color.yml" "$@"`);
  const override = [
    'version: "3.8"',
    'services:',
    `  spring-${idle}:`,
    `    image: "${info.registry}/handdoc-spring:${tag}"`,
    ...(timings ? ['    healthcheck:', `      interval: ${timings.interval}`, `      timeout: ${timings.timeout}`, `      start_period: ${timings.startPeriod}`, '      retries: 3'] : []),
    '',
  ].join('\n');
  // deploy.sh also stops the live color with the same compose call: give it an override that changes nothing.
  const live: Color = idle === 'blue' ? 'green' : 'blue';
  const liveImage = (await connection.docker().getContainer(`handdoc-spring-${live}`).inspect()).Config.Image;
  const liveOverride = ['version: "3.8"', 'services:', `  spring-${live}:`, `    image: "${liveImage}"`, ''].join('\n');
  await connection.exec(['mkdir', '-p', dir]);
  await connection.writeFileAtomic(`${dir}/deploy-seed.sh`, script, { mode: 0o755 });
  await connection.writeFileAtomic(`${dir}/spring-${idle}.yml`, override, { mode: 0o644 });
  await connection.writeFileAtomic(`${dir}/spring-${live}.yml`, liveOverride, { mode: 0o644 });
  const result = await connection.exec(['bash', `${dir}/deploy-seed.sh`], { timeoutMs: 300_000 });
  if (result.exitCode !== 0) throw new Error(`deploy.sh failed (exit ${result.exitCode}): ${result.stdout}${result.stderr}`);
}

function row(m: Measured): string {
  const engine = m.engineReadyToSwitchedMs !== undefined ? `  (engine's own count: ${(m.engineReadyToSwitchedMs / 1000).toFixed(3)} s)` : '';
  return `  ${m.label.padEnd(52)} ready→switched ${(m.readyToSwitchedMs / 1000).toFixed(3).padStart(7)} s   total ${(m.totalMs / 1000).toFixed(1).padStart(5)} s   failed ${String(m.load.failed).padStart(3)} of ${m.load.requests}${engine}`;
}

async function main(): Promise<void> {
  const info = readSandbox();
  const base = sandboxProfile();
  const profile: HostProfile = { ...base, services: base.services.map((s) => (s.kind === 'blueGreen' ? { ...s, verifyUrl: `${info.nginx.httpUrl}/api/whoami` } : s)) };
  const service = profile.services.find((s): s is BlueGreenService => s.kind === 'blueGreen') as BlueGreenService;
  const connection = connectTo(profile);
  const results: Measured[] = [];
  try {
    await connection.connect();
    const ports = new HostDeployPorts(connection);
    console.log(`deploy switch bench: sandbox ${info.user}@${info.sshHost}:${info.sshPort}; load: wrk 2 threads, 8 connections, Connection: close, through ${info.nginx.httpUrl}/api/whoami`);

    let idle: Color = (await liveColor(connection, service)) === 'blue' ? 'green' : 'blue';
    results.push(
      await measure('Switchyard (probe + switch, drain 5 s, stop old)', info, service, idle, 'v2', () =>
        deploy(ports, profile, { service: 'spring', tag: 'v2', who, settings: { oldColor: 'stop', drainMs: 5000 } }),
      ),
    );
    console.log(row(results[0]));

    idle = (await liveColor(connection, service)) === 'blue' ? 'green' : 'blue';
    const seedIdle = idle;
    results.push(
      await measure('deploy.sh, handDoc timings (interval 30s, start 60s)', info, service, idle, 'v3', async () => {
        await seedDeploy(connection, info, seedIdle, 'v3', { interval: '30s', timeout: '15s', startPeriod: '60s' });
        return undefined;
      }),
    );
    console.log(row(results[1]));

    idle = (await liveColor(connection, service)) === 'blue' ? 'green' : 'blue';
    const ownIdle = idle;
    results.push(
      await measure('deploy.sh, compose file timings (interval 10s, start 20s)', info, service, idle, 'v2', async () => {
        await seedDeploy(connection, info, ownIdle, 'v2', undefined);
        return undefined;
      }),
    );
    console.log(row(results[2]));

    const [switchyard, handdoc, own] = results;
    console.log('\nsummary');
    console.log(`  Switchyard: ready → switched ${(switchyard.readyToSwitchedMs / 1000).toFixed(3)} s (target < 0.5 s), ${switchyard.load.failed} failed requests (target 0)`);
    console.log(`  deploy.sh waits ${(handdoc.readyToSwitchedMs / switchyard.readyToSwitchedMs).toFixed(0)}× longer with handDoc's timings, ${(own.readyToSwitchedMs / switchyard.readyToSwitchedMs).toFixed(0)}× with the compose files' own`);
    for (const m of results) console.log(`  load during ${m.label}: ${describeLoad(m.load)}`);
  } finally {
    // Leave both colors running :latest, as the tests expect (two Switchyard deploys that keep the old color).
    try {
      const ports = new HostDeployPorts(connection);
      for (let i = 0; i < 2; i++) {
        const restored = await deploy(ports, profile, { service: 'spring', tag: 'latest', who, settings: { oldColor: 'keep' } });
        if (!restored.ok) console.error(`restoring :latest failed: ${restored.error?.message}`);
      }
      await connection.exec(['rm', '-rf', `/home/${info.user}/.switchyard/bench`]);
    } finally {
      connection.dispose();
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
