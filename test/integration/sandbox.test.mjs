// Integration checks against the RUNNING sandbox host (it does not start it):
//   sudo bash test/sandbox/sandbox.sh up && node --test test/integration/sandbox.test.mjs
// Reads $SWITCHYARD_SANDBOX_DIR/sandbox.json (default /var/lib/switchyard-sandbox/sandbox.json).
// Runs as a user that can read the sandbox client key (root on CI). Leaves the sandbox as found:
// the deploy test switches blue -> green -> blue (or the reverse) and restarts the idle color.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';

const SANDBOX_DIR = process.env.SWITCHYARD_SANDBOX_DIR || '/var/lib/switchyard-sandbox';
const JSON_PATH = path.join(SANDBOX_DIR, 'sandbox.json');
const CONTAINERS = ['handdoc-spring-blue', 'handdoc-spring-green', 'handdoc-fastapi'];
const PORT_OF = { blue: 8080, green: 8081 };

/** @type {any} */
let sb;

before(() => {
  if (!existsSync(JSON_PATH)) {
    throw new Error(`${JSON_PATH} not found: the sandbox is not up. Start it with: sudo bash test/sandbox/sandbox.sh up`);
  }
  sb = JSON.parse(readFileSync(JSON_PATH, 'utf8'));
});

/** Run a command as ec2-user over the sandbox sshd; resolves {code, stdout, stderr}. */
function ssh(command, { timeout = 60_000 } = {}) {
  const args = [
    '-F', '/dev/null', '-i', sb.identityFile, '-p', String(sb.sshPort),
    '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10',
    `${sb.user}@${sb.sshHost}`, command,
  ];
  return new Promise((resolve) => {
    execFile('ssh', args, { timeout, maxBuffer: 10 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

async function sshOk(command, opts) {
  const r = await ssh(command, opts);
  assert.equal(r.code, 0, `ssh '${command}' failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function getJson(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200, `${url} -> HTTP ${res.status}`);
  return res.json();
}

function httpsGetInsecure(url) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      const cert = res.socket.getPeerCertificate();
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body, cert }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
  });
}

async function activeColor() {
  const conf = await sshOk(`cat ${sb.nginx.confDir}/active-upstream.conf`);
  // first server that is not marked down/backup
  const m = conf.split('\n').map((l) => l.match(/^\s*server\s+127\.0\.0\.1:(\d+)([^;]*);/))
    .find((x) => x && !/\b(down|backup)\b/.test(x[2]));
  assert.ok(m, `no live 'server 127.0.0.1:PORT;' in active-upstream.conf:\n${conf}`);
  const color = Object.keys(PORT_OF).find((c) => PORT_OF[c] === Number(m[1]));
  assert.ok(color, `active-upstream.conf points to unexpected port ${m[1]}`);
  return color;
}

async function health(names) {
  const out = await sshOk(`docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' ${names.join(' ')}`);
  return Object.fromEntries(out.trim().split('\n').map((l) => {
    const [name, state, h] = l.trim().split(/\s+/);
    return [name.replace(/^\//, ''), { state, health: h }];
  }));
}

async function waitHealthy(name, timeoutMs = 90_000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    last = (await health([name]))[name];
    if (last.state === 'running' && last.health === 'healthy') return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.fail(`${name} not healthy after ${timeoutMs / 1000}s: ${JSON.stringify(last)}`);
}

test('sandbox.json describes the sandbox', () => {
  assert.equal(sb.sshHost, '127.0.0.1');
  assert.equal(typeof sb.sshPort, 'number');
  assert.equal(sb.user, 'ec2-user');
  assert.equal(sb.appsDir, '/home/ec2-user/apps');
  for (const f of [sb.identityFile, sb.hostKeyFile, sb.dockerSocket, sb.nginx.mainConfig]) {
    assert.ok(existsSync(f), `${f} (from sandbox.json) does not exist`);
  }
  assert.match(sb.nginx.httpUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(sb.nginx.httpsUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
});

test('ssh as ec2-user works, user is in group docker and sees the three containers', async () => {
  const out = await sshOk(`id -un; id -nG; docker ps --format '{{.Names}}|{{.Image}}|{{.Status}}'`);
  const [user, groups, ...rows] = out.trim().split('\n');
  assert.equal(user, 'ec2-user');
  assert.ok(groups.split(/\s+/).includes('docker'), `groups of ec2-user: ${groups}`);
  const names = rows.map((r) => r.split('|')[0]);
  for (const c of CONTAINERS) assert.ok(names.includes(c), `docker ps over ssh lacks ${c}:\n${out}`);
  for (const r of rows) assert.match(r.split('|')[1], new RegExp(`^${sb.registry.replace(/\./g, '\\.')}/handdoc-`));
});

test('the three containers are running and healthy', async () => {
  const h = await health(CONTAINERS);
  for (const c of CONTAINERS) {
    assert.deepEqual(h[c], { state: 'running', health: 'healthy' }, `${c}: ${JSON.stringify(h[c])}`);
  }
});

test('nginx http sends /api/ to the color of active-upstream.conf', async () => {
  const color = await activeColor();
  const who = await getJson(`${sb.nginx.httpUrl}/api/whoami`);
  assert.equal(who.app, 'spring');
  assert.equal(who.color, color);
  assert.match(who.version, /^v\d+$/);
  const fa = await getJson(`${sb.nginx.httpUrl}/fastapi/`);
  assert.equal(fa.app, 'fastapi');
  const nh = await fetch(`${sb.nginx.httpUrl}/nginx-health`);
  assert.equal(nh.status, 200);
});

test('nginx https (self-signed handdoc.store) answers too', async () => {
  const color = await activeColor();
  const r = await httpsGetInsecure(`${sb.nginx.httpsUrl}/api/whoami`);
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.body).color, color);
  assert.equal(r.cert?.subject?.CN, 'handdoc.store');
});

test('ec2-user may run sudo -n nginx -t, but not other commands', async () => {
  const r = await ssh(`sudo -n nginx -c ${sb.nginx.mainConfig} -t`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /test is successful/);
  const denied = await ssh('sudo -n id -u');
  assert.notEqual(denied.code, 0, 'sudo -n id should be refused for ec2-user');
});

test('nginx logs need sudo to read, as on the real host', async () => {
  await fetch(`${sb.nginx.httpUrl}/api/whoami?from=sandbox-test`);
  const plain = await ssh(`cat ${sb.nginx.accessLog}`);
  assert.notEqual(plain.code, 0, 'ec2-user could read the access log without sudo');
  assert.match(plain.stderr, /Permission denied/);
  // nginx writes the access log line after the response: allow it a moment
  let out = '';
  for (let i = 0; i < 10 && !out.includes('from=sandbox-test'); i++) {
    out = await sshOk(`sudo -n tail -n 50 ${sb.nginx.accessLog}`);
    if (!out.includes('from=sandbox-test')) await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(out, /GET \/api\/whoami\?from=sandbox-test HTTP\/1\.1" 200/);
  await sshOk(`sudo -n cat ${sb.nginx.errorLog} >/dev/null`);
});

test('the files of CONTEXT.md exist on the host', async () => {
  const apps = (await sshOk(`ls -A ${sb.appsDir}`)).trim().split('\n');
  for (const f of ['.env', 'deploy.sh', 'docker-compose.spring-blue.yml', 'docker-compose.spring-green.yml', 'docker-compose.fastapi.yml']) {
    assert.ok(apps.includes(f), `${sb.appsDir}/${f} missing (have: ${apps.join(', ')})`);
  }
  // only *.conf files count (nginx includes conf.d/*.conf; a tool's atomic write may leave a temp file briefly)
  const conf = (await sshOk(`ls -A ${sb.nginx.confDir}`)).trim().split('\n').filter((f) => f.endsWith('.conf'));
  assert.deepEqual(conf.sort(), ['active-upstream.conf', 'handdoc.conf']);
  const fastapi = await sshOk(`cat ${sb.appsDir}/docker-compose.fastapi.yml`);
  assert.match(fastapi, /container_name:\s*handdoc-fastapi/);
  assert.match(fastapi, /timeout:\s*15s/);
  const handdoc = await sshOk(`cat ${sb.nginx.confDir}/handdoc.conf`);
  assert.match(handdoc, /proxy_pass http:\/\/spring_backend;/);
  assert.match(handdoc, /server_name handdoc\.store/);
  await sshOk(`test -x ${sb.appsDir}/deploy.sh`);
});

test('the registry has handdoc-spring v1, v2, v3', async () => {
  const tags = await getJson(`http://${sb.registry}/v2/handdoc-spring/tags/list`);
  assert.equal(tags.name, 'handdoc-spring');
  for (const t of ['v1', 'v2', 'v3', 'latest']) assert.ok(tags.tags.includes(t), `registry tags: ${tags.tags}`);
  const fa = await getJson(`http://${sb.registry}/v2/handdoc-fastapi/tags/list`);
  assert.ok(fa.tags.includes('v1'), `handdoc-fastapi tags: ${fa.tags}`);
});

test('deploy.sh over ssh switches the live color and back', { timeout: 300_000 }, async (t) => {
  const start = await activeColor();
  const other = start === 'blue' ? 'green' : 'blue';
  t.after(async () => {
    // leave the sandbox as found: both colors running, `start` live
    for (const c of ['blue', 'green']) {
      await ssh(`cd ${sb.appsDir} && docker-compose -p handdoc-spring-${c} -f docker-compose.spring-${c}.yml up -d`);
    }
    await waitHealthy(`handdoc-spring-${start}`);
    await waitHealthy(`handdoc-spring-${other}`);
  });

  const first = await sshOk(`cd ${sb.appsDir} && ./deploy.sh 2>&1`, { timeout: 240_000 });
  assert.match(first, new RegExp(`live color: ${start} -> deploying ${other}`));
  assert.equal(await activeColor(), other);
  assert.equal((await getJson(`${sb.nginx.httpUrl}/api/whoami`)).color, other);
  let h = await health([`handdoc-spring-${start}`]);
  assert.equal(h[`handdoc-spring-${start}`].state, 'exited', `deploy.sh should stop the old color ${start}`);

  const second = await sshOk(`cd ${sb.appsDir} && ./deploy.sh 2>&1`, { timeout: 240_000 });
  assert.match(second, new RegExp(`live color: ${other} -> deploying ${start}`));
  assert.equal(await activeColor(), start);
  assert.equal((await getJson(`${sb.nginx.httpUrl}/api/whoami`)).color, start);
  h = await health([`handdoc-spring-${other}`]);
  assert.equal(h[`handdoc-spring-${other}`].state, 'exited');
});
