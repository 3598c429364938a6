// Prints the JSON array of Switchyard host profiles that describes the running sandbox host.
// Used by `npm start` (workspace settings) and by the tests; reads test/sandbox's sandbox.json.
import { readFileSync } from 'node:fs';

export const sandboxDir = process.env.SWITCHYARD_SANDBOX_DIR || '/var/lib/switchyard-sandbox';

export function readSandboxInfo() {
  const file = `${sandboxDir}/sandbox.json`;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`The sandbox host is not up (${file}: ${error.code ?? error.message}). Run: bash test/sandbox/sandbox.sh up`);
  }
}

/** The handDoc layout of shared/CONTEXT.md, on the sandbox's paths. */
export function sandboxProfiles(info = readSandboxInfo(), name = 'handdoc-sandbox') {
  return [
    {
      name,
      ssh: `${info.user}@${info.sshHost}:${info.sshPort}`,
      identityFile: info.identityFile,
      dockerSocket: info.dockerSocket,
      appsDir: info.appsDir,
      nginx: {
        binary: info.nginx.binary,
        mainConfig: info.nginx.mainConfig,
        confDir: info.nginx.confDir,
        accessLog: info.nginx.accessLog,
        errorLog: info.nginx.errorLog,
        useSudo: true,
      },
      services: [
        {
          kind: 'blueGreen',
          name: 'spring',
          switchFile: 'active-upstream.conf',
          healthPath: '/actuator/health',
          // Nginx as seen from the host: after a switch Switchyard asks it until the new color answers (the demo app names its color).
          verifyUrl: `${info.nginx.httpUrl}/api/whoami`,
          colors: {
            blue: { container: 'handdoc-spring-blue', composeFile: 'docker-compose.spring-blue.yml', port: 8080 },
            green: { container: 'handdoc-spring-green', composeFile: 'docker-compose.spring-green.yml', port: 8081 },
          },
        },
        { kind: 'single', name: 'fastapi', container: 'handdoc-fastapi', composeFile: 'docker-compose.fastapi.yml', port: 8000, healthPath: '/health' },
      ],
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    process.stdout.write(`${JSON.stringify(sandboxProfiles(), null, 2)}\n`);
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
