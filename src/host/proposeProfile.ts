/** "Add Host" without an editor: probe a connected host and propose its profile (used by the UI, the CLI and tests). */
import { detectLayout, type LayoutNote } from '../core/layoutDetection';
import { parseHostProfiles, type HostProfile, type ProfileError } from '../core/hostProfile';
import { probeLayout, type ProbeRunner } from './layoutProbe';

export interface ProfileProposal {
  /** The JSON to store in `switchyard.hosts`. */
  json: Record<string, unknown>;
  /** The same, validated; undefined when it does not validate (see `errors`). */
  profile?: HostProfile;
  errors: ProfileError[];
  notes: LayoutNote[];
}

export async function proposeProfile(
  runner: ProbeRunner,
  input: { name: string; sshDestination: string; identityFile?: string; appsDir?: string; signal?: AbortSignal },
): Promise<ProfileProposal> {
  const probe = await probeLayout(runner, { ...(input.appsDir ? { appsDir: input.appsDir } : {}), ...(input.signal ? { signal: input.signal } : {}) });
  const proposal = detectLayout({ appsDir: probe.appsDir, composeFiles: probe.composeFiles, nginxFiles: probe.nginxFiles, user: probe.user, sshDestination: input.sshDestination });
  const nginx: Record<string, unknown> = { ...(proposal.profile.nginx ?? {}) };
  if (probe.nginxBinary && probe.nginxBinary !== 'nginx') nginx.binary = probe.nginxBinary;
  if (probe.nginxMainConfig) nginx.mainConfig = probe.nginxMainConfig;
  if (probe.accessLog) nginx.accessLog = probe.accessLog;
  if (probe.errorLog) nginx.errorLog = probe.errorLog;
  const json: Record<string, unknown> = {
    ...proposal.profile,
    name: input.name,
    ...(input.identityFile ? { identityFile: input.identityFile } : {}),
    ...(probe.dockerSocket ? { dockerSocket: probe.dockerSocket } : {}),
    ...(Object.keys(nginx).length ? { nginx } : {}),
  };
  const parsed = parseHostProfiles([json], 'proposal');
  return {
    json,
    ...(parsed.profiles[0] ? { profile: parsed.profiles[0] } : {}),
    errors: parsed.errors,
    notes: [...probe.notes.map((message): LayoutNote => ({ kind: 'missing', message })), ...proposal.notes],
  };
}
