/**
 * Removes compiled files in dist/ whose TypeScript source no longer exists. `tsc` never deletes
 * outputs, so a module moved to a folder (src/config.ts -> src/config/index.ts) would leave the old
 * dist/src/config.js in place, and Node would load that stale file for `require('./config')`.
 * Run after every build; files of live sources are left alone (a running server keeps working).
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = process.cwd();
const dist = join(root, 'dist');

function prune(dir) {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      prune(path);
      if (readdirSync(path).length === 0) rmSync(path, { recursive: true });
      continue;
    }
    const m = /^(.*)\.(js|js\.map|d\.ts)$/.exec(relative(dist, path));
    if (m && !existsSync(join(root, `${m[1]}.ts`))) rmSync(path);
  }
}

prune(dist);
