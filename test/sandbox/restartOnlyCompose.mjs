// A single service no throwaway copy can stand in for: the FastAPI demo image with host networking and its
// port fixed inside the start command (no setting carries it, so a copy could not move elsewhere). The
// wizard must ask before restarting it. Shared by the integration and e2e tests of that path; run as a
// script (`node test/sandbox/restartOnlyCompose.mjs REGISTRY CONTAINER PORT MODEL_LOAD_S`) it prints the file.

/** The compose file's text. */
export function restartOnlyCompose({ registry, container, port, modelLoadS }) {
  return [
    'version: "3.8"',
    '',
    '# The port is fixed inside the start command: no setting carries it, so a copy could not move elsewhere.',
    'services:',
    '  restart-only:',
    `    image: ${registry}/handdoc-fastapi:latest`,
    `    container_name: ${container}`,
    '    network_mode: host',
    '    environment:',
    `      - MODEL_LOAD_S=${modelLoadS}`,
    `    command: ["/bin/sh", "-c", "PORT=${port} exec /bin/sh /app/start.sh"]`,
    '    restart: unless-stopped',
    '    healthcheck:',
    `      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:${port}/health"]`,
    '      interval: 30s',
    '      timeout: 15s',
    '      retries: 3',
    '      start_period: 60s',
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [registry, container, port, modelLoadS] = process.argv.slice(2);
  if (!registry || !container || !port || !modelLoadS) {
    console.error('usage: node test/sandbox/restartOnlyCompose.mjs REGISTRY CONTAINER PORT MODEL_LOAD_S');
    process.exit(2);
  }
  process.stdout.write(restartOnlyCompose({ registry, container, port, modelLoadS }));
}
