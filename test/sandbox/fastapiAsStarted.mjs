// handdoc-fastapi as the sandbox starts it: recreated from the user's compose file alone (a deploy by
// Switchyard leaves its image override in the container's compose labels, which other tests do not
// expect), as ec2-user with project handdoc-fastapi, then answering through Nginx and healthy.
// Shared by the tests that deploy fastapi (integration: singleDeploy, e2e: singleService); run as a
// script (`node test/sandbox/fastapiAsStarted.mjs`) it does the same and exits 1 on failure.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readSandboxInfo } from './sandboxProfile.mjs';
import { waitUntil } from './waitUntil.mjs';

const CONTAINER = 'handdoc-fastapi';
const COMPOSE_FILE = 'docker-compose.fastapi.yml';

function inspect(info, format) {
  try {
    return execFileSync('docker', ['-H', `unix://${info.dockerSocket}`, 'inspect', '-f', format, CONTAINER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}


async function answersThroughNginx(info) {
  try {
    const response = await fetch(`${info.nginx.httpUrl}/fastapi/health`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(3000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Recreates handdoc-fastapi from the user's compose file alone and waits until Nginx reaches it and Docker calls it healthy. */
export async function restoreFastapiAsStarted(info = readSandboxInfo()) {
  fs.rmSync(`/home/${info.user}/.switchyard/compose/${CONTAINER}.image.yml`, { force: true });
  execFileSync('runuser', ['-u', info.user, '--', 'env', `HOME=/home/${info.user}`, `DOCKER_HOST=unix://${info.dockerSocket}`, 'docker-compose', '-p', CONTAINER, '-f', COMPOSE_FILE, 'up', '-d', '--force-recreate'], {
    cwd: info.appsDir,
    stdio: 'pipe',
  });
  const configFiles = inspect(info, '{{index .Config.Labels "com.docker.compose.project.config_files"}}').split(',');
  if (configFiles.length !== 1 || path.basename(configFiles[0]) !== COMPOSE_FILE) throw new Error(`${CONTAINER} was not created from ${COMPOSE_FILE} alone: ${configFiles.join(', ')}`);
  await waitUntil(`${CONTAINER} answers /fastapi/health through Nginx`, () => answersThroughNginx(info), 60_000, 250);
  await waitUntil(`Docker calls ${CONTAINER} healthy`, () => inspect(info, '{{.State.Health.Status}}') === 'healthy', 120_000, 250);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  restoreFastapiAsStarted().catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}
