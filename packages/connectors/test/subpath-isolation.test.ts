import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../src/', import.meta.url));
const CLIENTS = ['kafkajs', 'ioredis', '@aws-sdk/client-s3'];

/** Module specifiers a file imports (static, re-exports and dynamic `import()`), comments stripped. */
function specifiers(file: string): string[] {
  const code = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const found: string[] = [];
  for (const match of code.matchAll(/(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g)) {
    found.push((match[1] ?? match[2] ?? match[3])!);
  }
  return found;
}

/** Every external specifier reachable from `entry` through relative imports. */
function reachable(entry: string): Set<string> {
  const externals = new Set<string>();
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of specifiers(file)) {
      if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else externals.add(specifier);
    }
  }
  return externals;
}

const clientsIn = (externals: Set<string>): string[] => CLIENTS.filter((client) => [...externals].some((s) => s === client || s.startsWith(`${client}/`)));

describe('@tributary/connectors subpath isolation', () => {
  it('the package root loads no client library', () => {
    expect(clientsIn(reachable(resolve(src, 'index.ts')))).toEqual([]);
  });

  it.each([
    ['kafka', ['kafkajs']],
    ['debezium', []],
    ['redis', ['ioredis']],
    ['s3', ['@aws-sdk/client-s3']],
  ])('./%s reaches only its own client library', (subpath, own) => {
    expect(clientsIn(reachable(resolve(src, `${subpath}.ts`)))).toEqual(own);
  });
});
