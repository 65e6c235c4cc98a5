/**
 * Smoke test of the pyiceberg/pyarrow virtualenv built by `scripts/services.sh up python`: the interpreter runs,
 * both packages import, and their versions are exactly the ones pinned in scripts/services/python/requirements.txt.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { services } from '../support/services.js';

const run = promisify(execFile);
const requirementsPath = new URL('../../scripts/services/python/requirements.txt', import.meta.url);

async function pinned(): Promise<Map<string, string>> {
  const pins = new Map<string, string>();
  for (const line of (await readFile(requirementsPath, 'utf8')).split('\n')) {
    const m = /^\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s;#]+)/.exec(line);
    if (m) pins.set(m[1]!.toLowerCase().replace(/[-_.]+/g, '-'), m[2]!);
  }
  return pins;
}

const probe = `
import json, sys
import pyiceberg, pyarrow
import pyarrow.parquet, pyarrow.fs
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.table import StaticTable
print(json.dumps({
    "python": sys.version.split()[0],
    "pyiceberg": pyiceberg.__version__,
    "pyarrow": pyarrow.__version__,
    "s3": hasattr(pyarrow.fs, "S3FileSystem"),
}))
`;

describe('python venv with pyiceberg + pyarrow', () => {
  it('imports both packages at the versions pinned in requirements.txt', async () => {
    const pins = await pinned();
    expect(pins.get('pyiceberg')).toMatch(/^\d+\.\d+\.\d+/);
    expect(pins.get('pyarrow')).toMatch(/^\d+\.\d+\.\d+/);

    const { stdout } = await run(services.pythonBin, ['-c', probe], { timeout: 30_000 });
    const versions = JSON.parse(stdout.trim()) as { python: string; pyiceberg: string; pyarrow: string; s3: boolean };
    expect(versions.pyiceberg).toBe(pins.get('pyiceberg'));
    expect(versions.pyarrow).toBe(pins.get('pyarrow'));
    expect(versions.python).toMatch(/^3\.\d+\.\d+/);
    // The lakehouse tests read tables back from the S3 service through pyarrow's S3 filesystem.
    expect(versions.s3).toBe(true);
  });
});
