/**
 * How a deploy changes only the image tag of one color and nothing else: the user's compose file
 * stays untouched, and Switchyard adds a second `-f` file that sets just `image:` of that service.
 * Also: which compose project and service a color is, and input checks (tags, verify URL).
 */
import { parse as parseYaml } from 'yaml';
import { parseImageReference, readCompose } from './composeFile';
import type { ColorProfile } from './hostProfile';
import type { ComposeTarget, ContainerStatus } from './deployTypes';

/** Docker's tag grammar: what `docker tag` accepts, so nothing else can reach a command line. */
const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function checkImageTag(tag: string): string | undefined {
  if (tagPattern.test(tag)) return undefined;
  const shown = JSON.stringify(tag);
  if (tag === '') return 'The image tag is empty.';
  if (/[\s;&|`$<>()'"\\*?!{}[\]#~]/.test(tag)) return `${shown} is not an image tag: it contains spaces or shell characters. A tag has letters, digits, "_", "." and "-" only.`;
  return `${shown} is not an image tag: use letters, digits, "_", "." and "-", at most 128 characters, not starting with "." or "-".`;
}

export type ResolvedComposeTarget = { ok: true; target: ComposeTarget; imageName: string; composeVersion?: string } | { ok: false; error: string };

/** Compose's default project name: the directory of the (first) compose file, lowercased, without other characters. */
export function defaultProjectName(composeFile: string): string {
  const dir = composeFile.replace(/\/[^/]*$/, '');
  const base = dir.slice(dir.lastIndexOf('/') + 1);
  return base.toLowerCase().replace(/[^a-z0-9_-]/g, '');
}

/**
 * Finds the compose service of one color and its project, from the compose file's text and (when they
 * exist) the containers' compose labels, which name the project the user really started them with.
 */
export function resolveComposeTarget(
  color: ColorProfile,
  composeText: string,
  own: ContainerStatus | undefined,
  twin: { profile: ColorProfile; status: ContainerStatus | undefined },
): ResolvedComposeTarget {
  const read = readCompose(composeText, color.composeFile);
  if (!read.ok) return { ok: false, error: read.error };
  const services = read.compose.services;
  const byName = services.filter((s) => s.containerName === color.container);
  const byLabel = own?.labels['com.docker.compose.service'];
  const service = byName[0] ?? services.find((s) => s.name === byLabel) ?? (services.length === 1 ? services[0] : undefined);
  if (!service) {
    return {
      ok: false,
      error: `${color.composeFile} has no service with "container_name: ${color.container}" (services: ${services.map((s) => s.name).join(', ') || 'none'}), so Switchyard cannot tell which one to start.`,
    };
  }
  let imageName: string | undefined;
  if (service.image && !service.image.hasVariables) imageName = service.image.name;
  else if (own?.image) imageName = parseImageReference(own.image).name;
  else if (twin.status?.image) imageName = parseImageReference(twin.status.image).name;
  if (!imageName) {
    return {
      ok: false,
      error: service.image
        ? `The image of "${service.name}" in ${color.composeFile} is built from variables (${service.image.raw}) and no container shows what it resolves to.`
        : `Service "${service.name}" in ${color.composeFile} has no "image:" (it is built from source); Switchyard deploys images from a registry.`,
    };
  }
  const project =
    own?.labels['com.docker.compose.project'] ??
    read.compose.projectName ??
    // The twin was started as its own project named after its container (handDoc's `-p handdoc-spring-blue`): do the same.
    (twin.status?.labels['com.docker.compose.project'] === twin.profile.container ? color.container : undefined) ??
    twin.status?.labels['com.docker.compose.project'] ??
    defaultProjectName(color.composeFile);
  const version = composeVersion(composeText);
  return { ok: true, target: { project, composeFile: color.composeFile, service: service.name }, imageName, ...(version ? { composeVersion: version } : {}) };
}

function composeVersion(text: string): string | undefined {
  try {
    const js = parseYaml(text) as unknown;
    if (js && typeof js === 'object' && !Array.isArray(js)) {
      const version = (js as Record<string, unknown>).version;
      if (typeof version === 'string' || typeof version === 'number') return String(version);
    }
  } catch {
    // readCompose already reported invalid YAML
  }
  return undefined;
}

/**
 * The override file: only the service's image. It repeats the user's `version:` because Compose v1
 * refuses to merge files of different versions (a file without one is read as the legacy v1 format).
 */
export function renderImageOverride(target: ComposeTarget, image: string, version: string | undefined, generatedBy: string): string {
  return [
    `# Written by Switchyard (${generatedBy}): the image of "${target.service}" for project ${target.project}.`,
    `# Used as a second -f file next to ${target.composeFile}, which Switchyard never edits.`,
    ...(version !== undefined ? [`version: ${JSON.stringify(version)}`] : []),
    'services:',
    `  ${JSON.stringify(target.service)}:`,
    `    image: ${JSON.stringify(image)}`,
    '',
  ].join('\n');
}

/** The color an answer names, when its body is JSON with a `color` field (the demo app, or any app that says so). */
export function colorNamedIn(body: string): string | undefined {
  try {
    const js = JSON.parse(body) as unknown;
    if (js && typeof js === 'object' && !Array.isArray(js)) {
      const color = (js as Record<string, unknown>).color;
      if (typeof color === 'string') return color;
    }
  } catch {
    // not JSON: the answer does not say which color it came from
  }
  return undefined;
}
