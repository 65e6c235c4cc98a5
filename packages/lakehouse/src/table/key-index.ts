import type { LoadedTable } from '../catalog/catalog.js';
import { arrowToRows } from '../arrow/rows-to-arrow.js';
import { FileContent, POSITION_DELETE_SCHEMA } from '../metadata/manifest.js';
import type { DataFile } from '../metadata/manifest.js';
import { readParquet } from '../parquet/read-parquet.js';
import type { IcebergSchema } from '../schema/types.js';
import type { LiveEntry } from './snapshot-producer.js';
import { keyOf } from './table-scan.js';

/** Where the live row of a key is. */
export interface KeyLocation {
  readonly file: string;
  readonly pos: number;
}

/**
 * Primary key -> (data file, position) of the live row, for the table's identifier columns: what an upsert or delete
 * needs to write position deletes (which every Iceberg reader applies) instead of equality deletes (which pyiceberg
 * cannot read). Built by reading only the key columns of each data file once, then kept in step with every commit:
 * new files are indexed from what was written, files of other writers from their key columns, deletes by position.
 *
 * Memory: one string per live row's key; at 10 million rows of a `long` key, roughly 1 GB.
 */
export class KeyIndex {
  private readonly files = new Map<string, (string | undefined)[]>();
  private readonly byKey = new Map<string, KeyLocation>();
  private readonly appliedDeletes = new Set<string>();

  constructor(private readonly keySchema: IcebergSchema) {}

  /** Number of live keys. */
  get size(): number {
    return this.byKey.size;
  }

  /** Location of the live row of `key`. */
  lookup(key: string): KeyLocation | undefined {
    return this.byKey.get(key);
  }

  /**
   * Brings the index to the snapshot whose live entries are given: indexes new files, drops gone ones, applies delete
   * files not applied yet, then decides where each key lives from the surviving rows, newest data first (a key whose
   * row was rewritten lives in the file with the highest data sequence number), so the order of `entries` does not
   * matter.
   */
  async sync(loaded: LoadedTable, entries: readonly LiveEntry[]): Promise<void> {
    const live = new Map<string, number>();
    const deleteFiles: DataFile[] = [];
    for (const { entry } of entries) {
      if (entry.dataFile.content === FileContent.Data) live.set(entry.dataFile.filePath, entry.sequenceNumber ?? 0);
      else if (entry.dataFile.content === FileContent.PositionDeletes) deleteFiles.push(entry.dataFile);
    }
    let changed = false;
    for (const file of this.files.keys()) {
      if (!live.has(file)) {
        this.files.delete(file);
        changed = true;
      }
    }
    for (const file of live.keys()) {
      if (this.files.has(file)) continue;
      const rows = arrowToRows(await readParquet(await loaded.io.read(file), this.keySchema), this.keySchema);
      this.files.set(
        file,
        rows.map((row) => keyOf(this.keySchema, row)),
      );
      changed = true;
    }
    for (const file of deleteFiles) {
      if (this.appliedDeletes.has(file.filePath)) continue;
      const rows = arrowToRows(await readParquet(await loaded.io.read(file.filePath), POSITION_DELETE_SCHEMA), POSITION_DELETE_SCHEMA);
      for (const row of rows) {
        const keys = this.files.get(String(row.file_path));
        if (keys !== undefined) keys[Number(row.pos)] = undefined;
      }
      this.appliedDeletes.add(file.filePath);
      changed = true;
    }
    if (!changed) return;
    this.byKey.clear();
    const ordered = [...this.files.keys()].sort((a, b) => (live.get(a) ?? 0) - (live.get(b) ?? 0));
    for (const file of ordered) {
      this.files.get(file)!.forEach((key, pos) => {
        if (key !== undefined) this.byKey.set(key, { file, pos });
      });
    }
  }

  /** Records a data file written by this writer, with the key of each of its rows by position. */
  addFile(file: string, keys: (string | undefined)[]): void {
    this.files.set(file, keys);
    keys.forEach((key, pos) => {
      if (key !== undefined) this.byKey.set(key, { file, pos });
    });
  }

  /** Records a position delete (from this writer's own delete files, or another writer's). */
  deletePosition(file: string, pos: number): void {
    const keys = this.files.get(file);
    const key = keys?.[pos];
    if (keys === undefined || key === undefined) return;
    keys[pos] = undefined;
    const location = this.byKey.get(key);
    if (location?.file === file && location.pos === pos) this.byKey.delete(key);
  }

  /** Marks a delete file as already applied (this writer's own, applied through {@link deletePosition}). */
  markApplied(deleteFile: string): void {
    this.appliedDeletes.add(deleteFile);
  }
}
