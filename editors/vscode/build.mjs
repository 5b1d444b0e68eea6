// Bundles the extension with esbuild (vscode is provided by the editor).
// --tests also bundles test/*.test.ts into out/test/ for `node --test`.
import { build } from 'esbuild';
import { readdirSync } from 'node:fs';

const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode'], sourcemap: true };
await build({ ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' });
if (process.argv.includes('--tests')) {
  const tests = readdirSync('test').filter((f) => f.endsWith('.test.ts')).map((f) => `test/${f}`);
  await build({ ...common, entryPoints: tests, outdir: 'out/test' });
}
