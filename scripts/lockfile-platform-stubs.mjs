// Adds lockfile entries for optional, platform-specific packages that the package registry this project is built
// against does not serve (it offers Linux builds only), so that `npm ci` accepts the lockfile everywhere.
//
// npm writes an entry for every optional dependency it could resolve; for the others (e.g. @rollup/rollup-darwin-arm64)
// it writes none, and `npm ci` then refuses the lockfile as "out of sync". A stub entry with the package's os / cpu /
// libc lets `npm ci` see the tree as complete and skip the package on platforms it does not match, as it would skip a
// fully recorded one. Run after every `npm install` that changes the lockfile: `node scripts/lockfile-platform-stubs.mjs`.
// `--check` exits 1 when stubs are missing (used by `npm test`).
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
const OS = ['android', 'darwin', 'freebsd', 'linux', 'openbsd', 'openharmony', 'sunos', 'aix', 'netbsd', 'win32', 'cygwin'];
const CPU = { arm: 'arm', arm64: 'arm64', x64: 'x64', ia32: 'ia32', loong64: 'loong64', ppc64: 'ppc64', riscv64: 'riscv64', s390x: 's390x', mips64el: 'mips64el', wasm32: 'wasm32' };

/** os / cpu / libc from a platform package name such as `@rollup/rollup-linux-x64-musl` or `@esbuild/darwin-arm64`. */
function platformOf(name) {
  const parts = name.split('/').at(-1).split('-');
  for (let index = 0; index < parts.length; index++) {
    if (!OS.includes(parts[index])) continue;
    const cpu = CPU[parts[index + 1]];
    if (cpu === undefined) continue;
    const abi = parts.slice(index + 2).join('-');
    const entry = { os: [parts[index]], cpu: [cpu] };
    if (parts[index] === 'linux' && /musl/.test(abi)) entry.libc = ['musl'];
    else if (parts[index] === 'linux' && /gnu/.test(abi)) entry.libc = ['glibc'];
    return entry;
  }
  return undefined;
}

let added = 0;
for (const [location, meta] of Object.entries(packages)) {
  for (const [name, range] of Object.entries(meta.optionalDependencies ?? {})) {
    const base = location === '' ? '' : `${location}/`;
    const candidates = [`${base}node_modules/${name}`, `node_modules/${name}`];
    if (candidates.some((candidate) => candidate in packages)) continue;
    const platform = platformOf(name);
    if (platform === undefined) continue; // not a platform build: leave it to npm
    const version = /^\d+\.\d+\.\d+/.test(range) ? range : range.replace(/^[\^~]/, '');
    packages[`node_modules/${name}`] = { version, ...platform, optional: true };
    added++;
  }
}
if (process.argv.includes('--check')) {
  if (added > 0) {
    console.error(`package-lock.json lacks ${added} platform stub entries: run node scripts/lockfile-platform-stubs.mjs`);
    process.exit(1);
  }
  console.log('package-lock.json: platform entries complete');
} else {
  lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
  writeFileSync(path, JSON.stringify(lock, null, 2) + '\n');
  console.log(`package-lock.json: added ${added} platform stub entries`);
}
