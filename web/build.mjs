// Bundles src/app.js (+ xterm CSS) into static/gen/app.js and static/gen/app.css.
// Usage: node build.mjs              one-off production build (exit 1 on error)
//        node build.mjs --sourcemap  same, plus linked .map files
//        node build.mjs --watch      rebuild on change (development, with maps)
import { rm, mkdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import * as esbuild from 'esbuild';

const root = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.join(root, 'static', 'gen');
const watch = process.argv.includes('--watch');
// Source maps are off by default so the Go binary embeds only app.js/app.css.
const sourcemap = watch || process.argv.includes('--sourcemap');

/** @type {import('esbuild').BuildOptions} */
const options = {
  absWorkingDir: root,
  entryPoints: { app: 'src/app.js' },
  outdir,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: sourcemap ? 'linked' : false,
  legalComments: 'eof',
  charset: 'utf8',
  logLevel: 'warning',
  loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.svg': 'dataurl', '.png': 'dataurl' },
};

async function main() {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });

  if (watch) {
    const ctx = await esbuild.context({ ...options, logLevel: 'info' });
    await ctx.watch();
    console.log(`watching src/ -> ${path.relative(root, outdir)}/ (Ctrl-C to stop)`);
    return;
  }

  const result = await esbuild.build(options);
  if (result.errors.length) throw new Error('build failed');
  for (const name of ['app.js', 'app.css']) {
    const file = path.join(outdir, name);
    const { size } = await stat(file); // throws if an expected output is missing
    console.log(`${path.relative(root, file)}  ${(size / 1024).toFixed(1)} KiB`);
  }
}

main().catch((err) => {
  // esbuild has already printed detailed diagnostics for build errors.
  if (!(err && Array.isArray(err.errors))) console.error(err);
  console.error('build.mjs: build failed');
  process.exit(1);
});
