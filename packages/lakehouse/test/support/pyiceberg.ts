/**
 * pyiceberg as the independent reader of the tables Tributary writes. Rows come back canonical (see
 * pyiceberg_read.py): 64-bit ints, timestamps (epoch microseconds) and decimals as strings, dates ISO, bytes hex.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { IcebergSchema, Row } from '../../src/schema/types.js';
import { services } from '../../../../test/support/services.js';

const run = promisify(execFile);
const script = fileURLToPath(new URL('./pyiceberg_read.py', import.meta.url));

/** What pyiceberg saw. */
export interface PyicebergRead {
  readonly rows: Record<string, unknown>[];
  readonly snapshots: { snapshot_id: string; parent: string | null; operation: string | null }[];
  readonly columns: string[];
  readonly files: number;
}

/** S3 properties for pyiceberg's FileIO pointed at the test S3 server. */
export const pyS3Properties = {
  's3.endpoint': services.s3Endpoint,
  's3.access-key-id': services.s3Credentials.accessKeyId,
  's3.secret-access-key': services.s3Credentials.secretAccessKey,
  's3.region': services.s3Region,
  's3.force-virtual-addressing': 'false',
};

/** Reads the table at `metadata` (a metadata file URI) with pyiceberg. */
export async function pyicebergRead(
  metadata: string,
  options: { snapshotId?: bigint; properties?: Record<string, string>; filter?: string } = {},
): Promise<PyicebergRead> {
  const args = JSON.stringify({
    metadata,
    snapshot_id: options.snapshotId === undefined ? null : Number(options.snapshotId),
    properties: options.properties ?? {},
    filter: options.filter ?? null,
  });
  try {
    const { stdout } = await run(services.pythonBin, [script, args], { maxBuffer: 512 * 1024 * 1024 });
    return JSON.parse(stdout) as PyicebergRead;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`pyiceberg failed to read ${metadata}:\n${stderr.split('\n').slice(-15).join('\n')}`, { cause: error });
  }
}

function canonicalValue(type: unknown, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'long':
      return typeof value === 'bigint' || typeof value === 'number' ? String(value) : JSON.stringify(value);
    case 'timestamp':
    case 'timestamptz':
      if (value instanceof Date) return String(BigInt(value.getTime()) * 1000n);
      if (typeof value === 'string') return String(BigInt(Date.parse(value)) * 1000n);
      return typeof value === 'bigint' || typeof value === 'number' ? String(value) : JSON.stringify(value);
    case 'binary':
      return Buffer.from(value as Uint8Array).toString('hex');
    default:
      if (typeof type === 'string' && type.startsWith('fixed')) return Buffer.from(value as Uint8Array).toString('hex');
      if (typeof value === 'bigint') return String(value);
      return value;
  }
}

/** Our rows in pyiceberg's canonical form (for the types this suite uses), sorted by `sortKey`. */
export function canonicalRows(schema: IcebergSchema, rows: readonly Row[], sortKey: string): Record<string, unknown>[] {
  const out = rows.map((row) => {
    const record: Record<string, unknown> = {};
    for (const field of schema.fields) record[field.name] = canonicalValue(field.type, row[field.name]);
    return record;
  });
  return sortRows(out, sortKey);
}

/** Rows sorted by one column (compared as strings with numeric awareness). */
export function sortRows(rows: Record<string, unknown>[], sortKey: string): Record<string, unknown>[] {
  return [...rows].sort((a, b) => String(a[sortKey]).localeCompare(String(b[sortKey]), 'en', { numeric: true }));
}
