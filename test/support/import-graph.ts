import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Module specifiers a source file imports or re-exports (static and dynamic `import()`), comments stripped. */
export function specifiers(file: string): string[] {
  const code = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const found: string[] = [];
  for (const match of code.matchAll(/(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g)) {
    found.push((match[1] ?? match[2] ?? match[3])!);
  }
  return found;
}

/**
 * Walks the relative import graph of TypeScript sources from `entry`: every external specifier reached (mapped to the
 * first file importing it) and every file visited.
 */
export function importGraph(entry: string): { externals: Map<string, string>; files: Set<string> } {
  const externals = new Map<string, string>();
  const files = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const specifier of specifiers(file)) {
      if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else if (!externals.has(specifier)) externals.set(specifier, file);
    }
  }
  return { externals, files };
}
