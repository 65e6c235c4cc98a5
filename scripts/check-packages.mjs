// Publishing checks for every workspace package: publint (strict) and "Are the types wrong?" on the packed tarball.
// Run after `npm run build`. Exits non-zero on the first package that fails either check.
import { execFileSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const packagesDir = join(root, 'packages');
const packages = readdirSync(packagesDir).filter((name) => existsSync(join(packagesDir, name, 'package.json')));
const bin = (name) => join(root, 'node_modules', '.bin', name);

let failed = 0;
for (const name of packages) {
  const cwd = join(packagesDir, name);
  for (const [label, command, args] of [
    ['publint', bin('publint'), ['--strict']],
    ['attw', bin('attw'), ['--pack', '.', '--profile', 'node16']],
  ]) {
    try {
      const out = execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      console.log(`✓ ${label} @tributary/${name}`);
      if (process.env.VERBOSE) console.log(out);
    } catch (error) {
      failed += 1;
      console.error(`✗ ${label} @tributary/${name}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    }
  }
}
if (failed > 0) {
  console.error(`${failed} publishing check(s) failed`);
  process.exit(1);
}
