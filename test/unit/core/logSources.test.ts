import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContainerInfo } from '../../../src/core/hostState';
import {
  containerVersion,
  formatContainerLine,
  logChannelName,
  logSourceKey,
  logSourcesForNode,
  logSourcesOf,
  nginxErrorLevel,
  switchedText,
} from '../../../src/core/logSources';
import { liveColorOf } from '../../../src/core/nginxSwitchFile';
import { LineSplitter, TailResume } from '../../../src/core/tailResume';
import { handDoc, handDocSpring } from './handdocProfile';

function container(name: string, extra: Partial<ContainerInfo> = {}): ContainerInfo {
  return { name, id: `${name}-id`, image: '127.0.0.1:5005/x', tag: 'latest', state: 'running', health: 'none', startedAt: '', ports: [], networkMode: 'host', labels: {}, ...extra };
}

describe('log sources', () => {
  it('names channels after the source, with the host only when several are configured', () => {
    assert.equal(logChannelName({ kind: 'container', host: 'handdoc', container: 'handdoc-fastapi' }, false), 'Switchyard: handdoc-fastapi');
    assert.equal(logChannelName({ kind: 'nginx', host: 'handdoc', file: 'error' }, false), 'Switchyard: nginx error');
    assert.equal(logChannelName({ kind: 'liveColor', host: 'handdoc', service: 'spring' }, false), 'Switchyard: spring (live color)');
    assert.equal(logChannelName({ kind: 'nginx', host: 'prod', file: 'access' }, true), 'Switchyard: nginx access @ prod');
  });

  it("lists a host's sources: live colors, every container (configured or running), both Nginx logs", () => {
    const sources = logSourcesOf(handDoc, [container('handdoc-fastapi'), container('redis')]);
    assert.deepEqual(sources.map(logSourceKey), [
      'handdoc/live/spring',
      'handdoc/container/handdoc-fastapi',
      'handdoc/container/handdoc-spring-blue',
      'handdoc/container/handdoc-spring-green',
      'handdoc/container/redis',
      'handdoc/nginx/access',
      'handdoc/nginx/error',
    ]);
  });

  it('maps tree nodes to what they stand for', () => {
    const keys = (contextValue: string, ref: Parameters<typeof logSourcesForNode>[0]) => logSourcesForNode(ref, contextValue, handDoc, []).map(logSourceKey);
    assert.deepEqual(keys('container.running.live.hasCompose', { host: 'handdoc', container: 'handdoc-spring-blue' }), ['handdoc/container/handdoc-spring-blue']);
    assert.deepEqual(keys('color.idle.stopped', { host: 'handdoc', service: 'spring', color: 'green', container: 'handdoc-spring-green' }), ['handdoc/container/handdoc-spring-green']);
    assert.deepEqual(keys('service.blueGreen', { host: 'handdoc', service: 'spring' }), ['handdoc/live/spring']);
    assert.deepEqual(keys('service.single', { host: 'handdoc', service: 'fastapi', container: 'handdoc-fastapi' }), ['handdoc/container/handdoc-fastapi']);
    assert.deepEqual(keys('group.nginx', { host: 'handdoc' }), ['handdoc/nginx/access', 'handdoc/nginx/error']);
    assert.equal(keys('host.connected', { host: 'handdoc' }).length, 6);
    assert.deepEqual(keys('metric', { host: 'handdoc' }), []);
  });

  it("names a container's version by its tag, or by the image's version label when the tag is latest", () => {
    assert.equal(containerVersion(container('a', { tag: 'v42' })), 'v42');
    assert.equal(containerVersion(container('a', { tag: 'latest', labels: { 'org.opencontainers.image.version': 'v2' } })), 'v2');
    assert.equal(containerVersion(container('a', { tag: 'latest' })), 'latest');
    assert.equal(switchedText('green', 'v2'), 'switched to green (v2)');
  });

  it('formats container lines: stderr marked, timestamps only when asked', () => {
    const line = { stream: 'stderr' as const, timestamp: '2026-11-25T13:01:02.123456789Z', text: 'GET /api 200' };
    assert.equal(formatContainerLine(line, { timestamps: false }), '[stderr] GET /api 200');
    assert.equal(formatContainerLine(line, { timestamps: true }), '2026-11-25T13:01:02.123Z [stderr] GET /api 200');
    assert.equal(formatContainerLine({ stream: 'stdout', text: 'x' }, { timestamps: true }), 'x');
  });

  it("reads Nginx's error levels", () => {
    assert.equal(nginxErrorLevel('2026/11/25 13:01:02 [error] 12#12: *1 connect() failed (111: Connection refused)'), 'error');
    assert.equal(nginxErrorLevel('2026/11/25 13:01:02 [crit] 12#12: x'), 'error');
    assert.equal(nginxErrorLevel('2026/11/25 13:01:02 [warn] 12#12: x'), 'warn');
    assert.equal(nginxErrorLevel('2026/11/25 13:01:02 [notice] 12#12: signal process started'), 'info');
    assert.equal(nginxErrorLevel('something else'), 'info');
  });

  it('reads the live color from a switch file', () => {
    assert.deepEqual(liveColorOf('upstream spring_backend {\n    server 127.0.0.1:8081;\n}\n', handDocSpring), { color: 'green' });
    assert.ok('error' in liveColorOf('upstream spring_backend { server 127.0.0.1:9999; }', handDocSpring));
  });
});

describe('TailResume', () => {
  it('shows only what follows the last lines already shown', () => {
    const resume = new TailResume(['c', 'd'], 5);
    assert.deepEqual(resume.feed(['a', 'b', 'c']), { lines: [] }, 'held while looking');
    assert.deepEqual(resume.feed(['d', 'e']), { lines: [] });
    assert.deepEqual(resume.feed(['f', 'g']), { lines: ['e', 'f', 'g'] }, 'decided once the whole repeat is in');
    assert.deepEqual(resume.feed(['h']), { lines: ['h'] });
  });

  it('decides on a quiet spell when the file has fewer lines than the lookback', () => {
    const resume = new TailResume(['b'], 1000);
    resume.feed(['a', 'b', 'c']);
    assert.deepEqual(resume.settle(), { lines: ['c'] });
  });

  it('shows everything, with a notice, when the place cannot be found (rotated file)', () => {
    const resume = new TailResume(['x', 'y'], 1000);
    resume.feed(['1', '2']);
    const result = resume.settle();
    assert.deepEqual(result.lines, ['1', '2']);
    assert.match(result.notice ?? '', /some lines may repeat or be missing/);
  });

  it('takes the last occurrence of repeated lines', () => {
    const resume = new TailResume(['GET /'], 1000);
    resume.feed(['GET /', 'GET /', 'POST /x']);
    assert.deepEqual(resume.settle(), { lines: ['POST /x'] });
  });
});

describe('LineSplitter', () => {
  it('splits bytes into lines across any chunking, UTF-8 included', () => {
    const text = Buffer.from('a → b\r\nzweite Zeile ü\n\nlast', 'utf8');
    for (let cut = 1; cut < text.length; cut++) {
      const splitter = new LineSplitter();
      const lines = [...splitter.feed(text.subarray(0, cut)), ...splitter.feed(text.subarray(cut)), ...splitter.end()];
      assert.deepEqual(lines, ['a → b', 'zweite Zeile ü', '', 'last'], `cut at ${cut}`);
    }
  });
});
