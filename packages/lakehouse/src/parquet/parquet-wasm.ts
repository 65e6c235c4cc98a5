import type * as ParquetWasmModule from 'parquet-wasm';
import { LakehouseError } from '../errors.js';

/** The parquet-wasm module (its Node entry: CommonJS that reads its `.wasm` beside itself with `__dirname`). */
export type ParquetWasm = typeof ParquetWasmModule;

let loading: Promise<ParquetWasm> | undefined;

/**
 * Loads parquet-wasm on first use. Importing the package compiles a 5 MB WebAssembly module synchronously, so the
 * lakehouse barrel must not pay for it unless Parquet is actually read or written. The package's `node` export is
 * CommonJS and finds its `.wasm` relative to its own file inside node_modules, so it loads the same from our ESM and
 * CJS builds (a dynamic `import()` of a CommonJS module works from both).
 */
export function loadParquetWasm(): Promise<ParquetWasm> {
  loading ??= import('parquet-wasm').then(
    // The CommonJS exports object is the default export under both ESM import and a bundled require.
    (module) => (module.default as ParquetWasm | undefined) ?? module,
    (error: unknown) => {
      loading = undefined;
      throw new LakehouseError(
        'PARQUET_ENCODER_MISSING',
        'Could not load parquet-wasm, the Parquet encoder of @tributary/lakehouse. Reinstall it: npm install parquet-wasm',
        { cause: error },
      );
    },
  );
  return loading;
}
