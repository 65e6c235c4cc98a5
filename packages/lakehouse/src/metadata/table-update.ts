import { LakehouseError } from '../errors.js';
import type { IcebergSchema } from '../schema/types.js';
import type { PartitionSpec } from '../spec/partition-spec.js';
import type { SortOrder } from '../spec/sort-order.js';
import type { Snapshot, SnapshotRef, TableMetadata } from './table-metadata.js';

/**
 * One change to table metadata, in the shape of the Iceberg REST catalog's `TableUpdate` (so the same list is applied
 * locally by storage catalogs and sent as is to a REST catalog).
 *
 * @example
 * ```ts
 * const updates: TableUpdate[] = [
 *   { action: 'add-snapshot', snapshot },
 *   { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': snapshot['snapshot-id'] },
 * ];
 * ```
 */
export type TableUpdate =
  | { readonly action: 'add-schema'; readonly schema: IcebergSchema; readonly 'last-column-id'?: number }
  | { readonly action: 'set-current-schema'; readonly 'schema-id': number }
  | { readonly action: 'add-spec'; readonly spec: PartitionSpec }
  | { readonly action: 'set-default-spec'; readonly 'spec-id': number }
  | { readonly action: 'add-sort-order'; readonly 'sort-order': SortOrder }
  | { readonly action: 'set-default-sort-order'; readonly 'sort-order-id': number }
  | { readonly action: 'add-snapshot'; readonly snapshot: Snapshot }
  | ({ readonly action: 'set-snapshot-ref'; readonly 'ref-name': string } & SnapshotRef)
  | { readonly action: 'remove-snapshots'; readonly 'snapshot-ids': readonly bigint[] }
  | { readonly action: 'remove-snapshot-ref'; readonly 'ref-name': string }
  | { readonly action: 'set-properties'; readonly updates: Readonly<Record<string, string>> }
  | { readonly action: 'remove-properties'; readonly removals: readonly string[] };

/**
 * A condition the table must meet for a commit to apply (REST `TableRequirement`). A failed requirement means another
 * writer committed first: reload, rebase, retry.
 *
 * @example
 * ```ts
 * const requirements: TableRequirement[] = [
 *   { type: 'assert-table-uuid', uuid: metadata['table-uuid'] },
 *   { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': 42n },
 * ];
 * ```
 */
export type TableRequirement =
  | { readonly type: 'assert-create' }
  | { readonly type: 'assert-table-uuid'; readonly uuid: string }
  | { readonly type: 'assert-ref-snapshot-id'; readonly ref: string; readonly 'snapshot-id': bigint | null }
  | { readonly type: 'assert-last-assigned-field-id'; readonly 'last-assigned-field-id': number }
  | { readonly type: 'assert-current-schema-id'; readonly 'current-schema-id': number }
  | { readonly type: 'assert-last-assigned-partition-id'; readonly 'last-assigned-partition-id': number }
  | { readonly type: 'assert-default-spec-id'; readonly 'default-spec-id': number }
  | { readonly type: 'assert-default-sort-order-id'; readonly 'default-sort-order-id': number };

/**
 * Why requirements failed, or `undefined` when `metadata` meets them all.
 *
 * @example
 * ```ts
 * const conflict = unmetRequirement(latest, requirements);
 * if (conflict) throw new CommitConflictError(conflict);
 * ```
 */
export function unmetRequirement(metadata: TableMetadata | undefined, requirements: readonly TableRequirement[]): string | undefined {
  for (const requirement of requirements) {
    if (requirement.type === 'assert-create') {
      if (metadata !== undefined) return 'the table already exists';
      continue;
    }
    if (metadata === undefined) return 'the table does not exist';
    switch (requirement.type) {
      case 'assert-table-uuid':
        if (metadata['table-uuid'] !== requirement.uuid) return `table uuid is ${metadata['table-uuid']}, expected ${requirement.uuid}`;
        break;
      case 'assert-ref-snapshot-id': {
        const actual = metadata.refs[requirement.ref]?.['snapshot-id'] ?? null;
        if (actual !== requirement['snapshot-id']) {
          return `branch ${requirement.ref} is at snapshot ${String(actual)}, expected ${String(requirement['snapshot-id'])}`;
        }
        break;
      }
      case 'assert-last-assigned-field-id':
        if (metadata['last-column-id'] !== requirement['last-assigned-field-id']) return 'the schema changed (last column id)';
        break;
      case 'assert-current-schema-id':
        if (metadata['current-schema-id'] !== requirement['current-schema-id']) return 'the current schema changed';
        break;
      case 'assert-last-assigned-partition-id':
        if (metadata['last-partition-id'] !== requirement['last-assigned-partition-id']) return 'the partition specs changed';
        break;
      case 'assert-default-spec-id':
        if (metadata['default-spec-id'] !== requirement['default-spec-id']) return 'the default partition spec changed';
        break;
      case 'assert-default-sort-order-id':
        if (metadata['default-sort-order-id'] !== requirement['default-sort-order-id']) return 'the default sort order changed';
        break;
    }
  }
  return undefined;
}

function lastOf<T>(items: readonly T[], what: string): T {
  const item = items.at(-1);
  if (item === undefined) throw new LakehouseError('INVALID_UPDATE', `No ${what} was added before selecting "the last added" one.`);
  return item;
}

/**
 * Applies updates to metadata, returning the new metadata (the input is not changed). `metadataLocation` is the file
 * the base metadata was read from; it goes into the metadata log.
 *
 * @example
 * ```ts
 * const next = applyUpdates(base, updates, baseLocation, Date.now());
 * ```
 */
export function applyUpdates(
  base: TableMetadata,
  updates: readonly TableUpdate[],
  metadataLocation: string | undefined,
  nowMs: number,
): TableMetadata {
  let m: TableMetadata = base;
  let lastAddedSchema: number | undefined;
  let lastAddedSpec: number | undefined;
  let lastAddedOrder: number | undefined;
  for (const update of updates) {
    switch (update.action) {
      case 'add-schema': {
        const exists = m.schemas.some((s) => s['schema-id'] === update.schema['schema-id']);
        if (!exists) m = { ...m, schemas: [...m.schemas, update.schema] };
        lastAddedSchema = update.schema['schema-id'];
        m = { ...m, 'last-column-id': Math.max(m['last-column-id'], update['last-column-id'] ?? maxFieldId(update.schema)) };
        break;
      }
      case 'set-current-schema': {
        const id = update['schema-id'] === -1 ? (lastAddedSchema ?? lastOf(m.schemas, 'schema')['schema-id']) : update['schema-id'];
        m = { ...m, 'current-schema-id': id };
        break;
      }
      case 'add-spec': {
        if (!m['partition-specs'].some((s) => s['spec-id'] === update.spec['spec-id'])) {
          m = { ...m, 'partition-specs': [...m['partition-specs'], update.spec] };
        }
        lastAddedSpec = update.spec['spec-id'];
        const maxPartitionId = Math.max(m['last-partition-id'], ...update.spec.fields.map((f) => f['field-id']));
        m = { ...m, 'last-partition-id': maxPartitionId };
        break;
      }
      case 'set-default-spec': {
        const id = update['spec-id'] === -1 ? (lastAddedSpec ?? lastOf(m['partition-specs'], 'spec')['spec-id']) : update['spec-id'];
        m = { ...m, 'default-spec-id': id };
        break;
      }
      case 'add-sort-order': {
        if (!m['sort-orders'].some((s) => s['order-id'] === update['sort-order']['order-id'])) {
          m = { ...m, 'sort-orders': [...m['sort-orders'], update['sort-order']] };
        }
        lastAddedOrder = update['sort-order']['order-id'];
        break;
      }
      case 'set-default-sort-order': {
        const id =
          update['sort-order-id'] === -1
            ? (lastAddedOrder ?? lastOf(m['sort-orders'], 'sort order')['order-id'])
            : update['sort-order-id'];
        m = { ...m, 'default-sort-order-id': id };
        break;
      }
      case 'add-snapshot': {
        const snapshot = update.snapshot;
        if (m.snapshots.some((s) => s['snapshot-id'] === snapshot['snapshot-id'])) {
          throw new LakehouseError('INVALID_UPDATE', `Snapshot ${snapshot['snapshot-id']} already exists in the table.`);
        }
        m = {
          ...m,
          snapshots: [...m.snapshots, snapshot],
          'last-sequence-number': Math.max(m['last-sequence-number'], snapshot['sequence-number']),
        };
        break;
      }
      case 'set-snapshot-ref': {
        const { action: _action, 'ref-name': name, ...ref } = update;
        if (!m.snapshots.some((s) => s['snapshot-id'] === ref['snapshot-id'])) {
          throw new LakehouseError('INVALID_UPDATE', `Ref ${name} cannot point at unknown snapshot ${ref['snapshot-id']}.`);
        }
        m = { ...m, refs: { ...m.refs, [name]: ref } };
        if (name === 'main') {
          const snapshot = m.snapshots.find((s) => s['snapshot-id'] === ref['snapshot-id']);
          m = {
            ...m,
            'current-snapshot-id': ref['snapshot-id'],
            'snapshot-log': [...m['snapshot-log'], { 'timestamp-ms': snapshot?.['timestamp-ms'] ?? nowMs, 'snapshot-id': ref['snapshot-id'] }],
          };
        }
        break;
      }
      case 'remove-snapshots': {
        const removed = new Set(update['snapshot-ids']);
        const refs = Object.fromEntries(Object.entries(m.refs).filter(([, ref]) => !removed.has(ref['snapshot-id'])));
        m = {
          ...m,
          snapshots: m.snapshots.filter((s) => !removed.has(s['snapshot-id'])),
          'snapshot-log': m['snapshot-log'].filter((entry) => !removed.has(entry['snapshot-id'])),
          refs,
        };
        break;
      }
      case 'remove-snapshot-ref': {
        const { [update['ref-name']]: _removed, ...refs } = m.refs;
        m = { ...m, refs, ...(update['ref-name'] === 'main' ? { 'current-snapshot-id': null } : {}) };
        break;
      }
      case 'set-properties':
        m = { ...m, properties: { ...m.properties, ...update.updates } };
        break;
      case 'remove-properties': {
        const properties = { ...m.properties };
        for (const key of update.removals) delete properties[key];
        m = { ...m, properties };
        break;
      }
    }
  }
  const previousMax = Number(m.properties['write.metadata.previous-versions-max'] ?? '100');
  const metadataLog =
    metadataLocation === undefined
      ? m['metadata-log']
      : [...m['metadata-log'], { 'timestamp-ms': base['last-updated-ms'], 'metadata-file': metadataLocation }].slice(-previousMax);
  return { ...m, 'last-updated-ms': Math.max(nowMs, base['last-updated-ms'] + 1), 'metadata-log': metadataLog };
}

function maxFieldId(schema: IcebergSchema): number {
  let max = 0;
  const visit = (type: unknown): void => {
    if (typeof type !== 'object' || type === null) return;
    const t = type as Record<string, unknown>;
    if (t.type === 'struct') {
      for (const field of t.fields as { id: number; type: unknown }[]) {
        max = Math.max(max, field.id);
        visit(field.type);
      }
    } else if (t.type === 'list') {
      max = Math.max(max, t['element-id'] as number);
      visit(t.element);
    } else if (t.type === 'map') {
      max = Math.max(max, t['key-id'] as number, t['value-id'] as number);
      visit(t.key);
      visit(t.value);
    }
  };
  visit(schema);
  return max;
}
