/** The handDoc host of shared/CONTEXT.md as a profile: one fixture for every unit test that needs it. */
import assert from 'node:assert/strict';
import { parseHostProfiles, type BlueGreenService, type HostProfile } from '../../../src/core/hostProfile';

/** As a user writes it in `switchyard.hosts` (relative paths, defaults left out). */
export const handDocProfileJson = {
  name: 'handdoc',
  ssh: 'ec2-user@3.35.120.7',
  identityFile: '~/.ssh/handdoc-key.pem',
  services: [
    {
      kind: 'blueGreen',
      name: 'spring',
      switchFile: 'active-upstream.conf',
      healthPath: '/actuator/health',
      colors: {
        blue: { container: 'handdoc-spring-blue', composeFile: 'docker-compose.spring-blue.yml', port: 8080 },
        green: { container: 'handdoc-spring-green', composeFile: 'docker-compose.spring-green.yml', port: 8081 },
      },
    },
    { kind: 'single', name: 'fastapi', container: 'handdoc-fastapi', composeFile: 'docker-compose.fastapi.yml', port: 8000, healthPath: '/health' },
  ],
};

function parse(): HostProfile {
  const { profiles, errors } = parseHostProfiles([handDocProfileJson]);
  assert.deepEqual(errors, []);
  return profiles[0];
}

/** Parsed: absolute paths under /home/ec2-user/apps and /etc/nginx/conf.d. */
export const handDoc: HostProfile = parse();
export const handDocSpring = handDoc.services[0] as BlueGreenService;
