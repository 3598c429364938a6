// Bundles the extension host code (node, cjs), the headless CLI and the wizard webview (browser).
const esbuild = require('esbuild');
const fs = require('node:fs');

const isProduction = process.argv.includes('--production');
const isWatch = process.argv.includes('--watch');

/** Prints build errors in the problem-matcher format VS Code understands. */
const problemMatcherPlugin = {
  name: 'problem-matcher',
  setup(build) {
    build.onStart(() => console.log('[watch] build started'));
    build.onEnd((result) => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
      console.log('[watch] build finished');
    });
  },
};

/**
 * dockerode loads BuildKit session support (gRPC + protobufjs, ~400 KB) at startup; Switchyard
 * never builds images, so those modules become stubs that throw if ever called.
 */
const noBuildKitPlugin = {
  name: 'no-buildkit',
  setup(build) {
    build.onResolve({ filter: /^\.\/(session|buildkit)$/ }, (args) =>
      args.importer.includes(`${require('node:path').sep}dockerode${require('node:path').sep}`) ? { path: args.path, namespace: 'no-buildkit' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'no-buildkit' }, () => ({
      contents: 'module.exports = function () { throw new Error("BuildKit sessions are not bundled in Switchyard"); };',
      loader: 'js',
    }));
  },
};

const common = {
  bundle: true,
  minify: isProduction,
  sourcemap: !isProduction,
  sourcesContent: false,
  logLevel: 'warning',
  plugins: isWatch ? [noBuildKitPlugin, problemMatcherPlugin] : [noBuildKitPlugin],
};

const targets = [
  {
    ...common,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // cpu-features is ssh2's optional native addon; the pure-JS path is used without it.
    external: ['vscode', 'cpu-features', './crypto/build/Release/sshcrypto.node'],
  },
  {
    ...common,
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    external: ['vscode', 'cpu-features', './crypto/build/Release/sshcrypto.node'],
  },
  // The wizard's browser bundle, once webview/ has an entry point.
  fs.existsSync('webview/main.ts') && {
    ...common,
    entryPoints: ['webview/main.ts'],
    outfile: 'dist/webview.js',
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
  },
].filter(Boolean);

async function main() {
  const contexts = await Promise.all(targets.map((options) => esbuild.context(options)));
  if (isWatch) {
    await Promise.all(contexts.map((ctx) => ctx.watch()));
    return;
  }
  await Promise.all(contexts.map((ctx) => ctx.rebuild()));
  await Promise.all(contexts.map((ctx) => ctx.dispose()));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
