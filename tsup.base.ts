import type { Options } from 'tsup';

/**
 * Shared build settings: every package ships ESM (.js) and CJS (.cjs) with matching declarations
 * (.d.ts / .d.cts) so both module systems resolve types correctly (checked by attw --pack).
 */
export function packageBuild(entry: Record<string, string>): Options {
  return {
    entry,
    format: ['esm', 'cjs'],
    dts: { compilerOptions: { paths: {} } },
    sourcemap: true,
    clean: true,
    target: 'node22',
    platform: 'node',
    splitting: true,
    treeshake: true,
    tsconfig: 'tsconfig.json',
  };
}
