/**
 * Convert to Blue-Green on a simulated host: files in memory, nginx -t/reload canned, the deploy ports
 * of the fake handDoc host. What is written, in which order, what is put back, and the root script.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import type Dockerode from 'dockerode';
import type { HostProfile } from '../../../src/core/hostProfile';
import { applyConversion, planConversion, type ConversionPlan } from '../../../src/host/blueGreenConversion';
import type { DeployConnection } from '../../../src/host/deployPorts';
import type { ExecOptions, ExecResult, ExecStream, HttpResult, WriteFileOptions, WriteFileResult } from '../../../src/host/hostConnection';
import { HostError } from '../../../src/host/hostErrors';
import { FakeHost, fastapiCompose, profile as fakeProfile } from '../core/fakeDeployHost';

const confDir = '/etc/nginx/conf.d';
const handdocConf = `${confDir}/handdoc.conf`;
const include = `${confDir}/fastapi-upstream.conf`;
const twinFile = '/home/ec2-user/apps/docker-compose.fastapi-green.yml';

function sandboxConf(): string {
  for (const dir of [resolve(__dirname, '../../../../test/sandbox/files'), resolve(process.cwd(), 'test/sandbox/files')]) {
    try {
      return readFileSync(resolve(dir, 'handdoc.conf'), 'utf8');
    } catch {
      // next candidate
    }
  }
  throw new Error('test/sandbox/files/handdoc.conf not found');
}

class FakeConnection implements DeployConnection {
  readonly profile: HostProfile = fakeProfile;
  readonly files = new Map<string, string>([
    [fakeProfile.services[1].kind === 'single' ? fakeProfile.services[1].composeFile : '', fastapiCompose],
    [handdocConf, sandboxConf()],
    [`${confDir}/active-upstream.conf`, 'upstream spring_backend {\n    server 127.0.0.1:8080;\n}\n'],
  ]);
  readonly log: string[] = [];
  /** conf.d is root's and sudo may not write there (the sandbox layout). */
  isConfDirLocked = false;
  /** nginx -t fails once the server block points at the upstream. */
  isEditRejected = false;

  async exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const ok = (stdout = ''): ExecResult => ({ exitCode: 0, stdout, stderr: '' }) as ExecResult;
    if (argv[0] === 'id') return ok('ec2-user\n');
    if (argv[0] === 'nginx') {
      this.log.push(`nginx ${argv.slice(1).join(' ')}${options.sudo ? ' (sudo)' : ''}`);
      if (argv.includes('-t') && this.isEditRejected && (this.files.get(handdocConf) ?? '').includes('fastapi_backend')) {
        return { exitCode: 1, stdout: '', stderr: 'nginx: [emerg] host not found in upstream "fastapi_backend" in /etc/nginx/conf.d/handdoc.conf:31\n' } as ExecResult;
      }
      return ok();
    }
    if (argv[0] === 'sh' && argv[1] === '-c' && argv[2].startsWith('for f in')) {
      return ok([...this.files.keys()].filter((p) => p.startsWith(`${confDir}/`) && p.endsWith('.conf')).join('\n'));
    }
    if (argv[0] === 'rm') {
      this.log.push(`rm ${argv[argv.length - 1]}`);
      this.files.delete(argv[argv.length - 1]);
      return ok();
    }
    throw new Error(`unexpected command ${argv.join(' ')}`);
  }

  async readFile(remotePath: string): Promise<Buffer> {
    const text = this.files.get(remotePath);
    if (text === undefined) throw new HostError('fileNotFound', `${remotePath} does not exist`);
    return Buffer.from(text);
  }

  async writeFileAtomic(remotePath: string, data: string | Buffer, options: WriteFileOptions = {}): Promise<WriteFileResult> {
    if (this.isConfDirLocked && remotePath.startsWith(`${confDir}/`)) throw new HostError('sudoNeedsPassword', `sudo asks ec2-user for a password to write ${remotePath}`);
    this.log.push(`write ${remotePath}`);
    let backupPath: string | undefined;
    if (options.backup && this.files.has(remotePath)) {
      backupPath = `${remotePath}.switchyard-bak`;
      this.files.set(backupPath, this.files.get(remotePath) as string);
    }
    this.files.set(remotePath, data.toString());
    return { ...(backupPath ? { backupPath } : {}), method: 'atomic' } as WriteFileResult;
  }

  execStream(): Promise<ExecStream> {
    throw new Error('not used');
  }

  docker(): Dockerode {
    throw new Error('not used: docker goes through the fake ports');
  }

  httpGet(): Promise<HttpResult> {
    throw new Error('not used: http goes through the fake ports');
  }
}

async function planned(connection: FakeConnection, ports: FakeHost, reserveKb?: number): Promise<ConversionPlan> {
  const result = await planConversion(connection, ports, 'fastapi', reserveKb !== undefined ? { reserveKb } : {});
  assert.ok(result.ok, !result.ok ? result.error : '');
  return result.plan;
}

void describe('convert to Blue-Green on the host', () => {
  void it('plans without writing: memory from docker stats, the twin, the include, both proxy_pass lines, the profile entry', async () => {
    const connection = new FakeConnection();
    const plan = await planned(connection, new FakeHost());
    assert.deepEqual(plan.refusals, []);
    assert.equal(plan.memory.neededKb, 350 * 1024);
    assert.equal(plan.twinCompose.path, twinFile);
    assert.equal(plan.upstream.path, include);
    assert.deepEqual(plan.proxyPass.map((e) => [e.path, e.lines.length]), [[handdocConf, 2]]);
    assert.equal(plan.image, '127.0.0.1:5005/handdoc-fastapi:v1');
    assert.equal(plan.sshUser, 'ec2-user');
    assert.deepEqual(connection.log, [], 'nothing written, nginx not run');
  });

  void it('applies when confirmed: twin file, include, nginx -t, server block with backup, nginx -t, reload — in that order', async () => {
    const connection = new FakeConnection();
    const plan = await planned(connection, new FakeHost());
    const before = connection.files.get(handdocConf);
    const report = await applyConversion(connection, new FakeHost(), plan, { editServerBlocks: true, startTwin: false });
    assert.equal(report.ok, true, report.error);
    assert.deepEqual(connection.log, [`write ${twinFile}`, `write ${include}`, 'nginx -t (sudo)', `write ${handdocConf}`, 'nginx -t (sudo)', 'nginx -s reload (sudo)']);
    assert.equal(connection.files.get(handdocConf), plan.proxyPass[0].newText);
    assert.equal(connection.files.get(`${handdocConf}.switchyard-bak`), before);
    assert.deepEqual(report.backups, [`${handdocConf}.switchyard-bak`]);
    assert.equal(report.nginxReloaded, true);
  });

  void it('without the server block change only the include is added (inert until proxy_pass uses it)', async () => {
    const connection = new FakeConnection();
    const plan = await planned(connection, new FakeHost());
    const report = await applyConversion(connection, new FakeHost(), plan, { editServerBlocks: false, startTwin: false });
    assert.equal(report.ok, true);
    assert.deepEqual(connection.log, [`write ${twinFile}`, `write ${include}`, 'nginx -t (sudo)', 'nginx -s reload (sudo)']);
    assert.equal(connection.files.get(handdocConf), sandboxConf());
  });

  void it('nginx -t rejects the edited server block: every Nginx file is put back and Nginx is not reloaded', async () => {
    const connection = new FakeConnection();
    connection.isEditRejected = true;
    const plan = await planned(connection, new FakeHost());
    const report = await applyConversion(connection, new FakeHost(), plan, { editServerBlocks: true, startTwin: false });
    assert.equal(report.ok, false);
    assert.match(report.error ?? '', /nginx -t rejects the edited server block: nginx: \[emerg\] host not found in upstream "fastapi_backend".*back as they were/);
    assert.equal(connection.files.get(handdocConf), sandboxConf());
    assert.equal(connection.files.has(include), false, 'the include is removed again');
    assert.ok(!connection.log.some((l) => l.includes('reload')));
  });

  void it('conf.d is root\'s and sudo may not write there: the Nginx part becomes a root script; nothing half-done in conf.d', async () => {
    const connection = new FakeConnection();
    connection.isConfDirLocked = true;
    const plan = await planned(connection, new FakeHost());
    const report = await applyConversion(connection, new FakeHost(), plan, { editServerBlocks: true, startTwin: false });
    assert.equal(report.ok, true);
    assert.deepEqual(connection.log, [`write ${twinFile}`]);
    assert.equal(connection.files.has(include), false);
    const script = report.manual?.script ?? '';
    assert.match(report.manual?.reason ?? '', /not writable by the SSH user/);
    assert.match(script, /^cat > \/etc\/nginx\/conf\.d\/fastapi-upstream\.conf <<'SWITCHYARD_EOF'$/m);
    assert.match(script, /^chown ec2-user \/etc\/nginx\/conf\.d\/fastapi-upstream\.conf$/m);
    assert.match(script, /^cp -p \/etc\/nginx\/conf\.d\/handdoc\.conf \/etc\/nginx\/conf\.d\/handdoc\.conf\.switchyard-bak$/m);
    assert.match(script, /^if nginx -t; then nginx -s reload; else .*rm -f \/etc\/nginx\/conf\.d\/fastapi-upstream\.conf; exit 1; fi$/m);
    assert.equal(spawnSync('sh', ['-n', '-c', script]).status, 0, 'the script is valid sh');
  });

  void it('refused plans write nothing: memory that does not fit, or a file changed since the preview', async () => {
    const tight = new FakeHost();
    tight.memAvailableKb = 400 * 1024;
    const connection = new FakeConnection();
    const plan = await planned(connection, tight);
    assert.match(plan.refusals[0] ?? '', /^A second copy does not fit: handdoc-fastapi uses 350 MiB now \(docker stats\), but only 400 MiB of 1024 MiB is available, which would leave 50 MiB \(at least 128 MiB must stay free for the host\)/);
    const refused = await applyConversion(connection, tight, plan, { editServerBlocks: true, startTwin: false });
    assert.equal(refused.ok, false);
    assert.deepEqual(connection.log, []);

    const fits = await planned(connection, new FakeHost());
    connection.files.set(handdocConf, `${sandboxConf()}# edited meanwhile\n`);
    const stale = await applyConversion(connection, new FakeHost(), fits, { editServerBlocks: true, startTwin: false });
    assert.match(stale.error ?? '', /handdoc\.conf changed since the preview; nothing was changed/);
    assert.deepEqual(connection.log, []);
  });
});
