/**
 * The typed change events the Debezium decoder produces.
 *
 * Value representations (the same with or without an embedded schema, where the schema is needed to know the type):
 *
 * | Debezium / Kafka Connect type | JavaScript |
 * |---|---|
 * | `int8`, `int16`, `int32`, `float`, `double` | `number` (`"NaN"`, `"Infinity"`, `"-Infinity"` become those numbers) |
 * | `int64` | `number`; `bigint` when beyond ±2^53 and the decoder got the raw JSON text (otherwise `DEBEZIUM_UNSAFE_INTEGER`) |
 * | `boolean`, `string` | as is |
 * | `bytes` (also `io.debezium.data.Bits`) | `Uint8Array` |
 * | `org.apache.kafka.connect.data.Decimal`, `io.debezium.data.VariableScaleDecimal` | exact decimal `string` keeping the scale: `"1234.50"`, never a float |
 * | `io.debezium.time.Date`, Connect `Date` | `"YYYY-MM-DD"` |
 * | `io.debezium.time.Time`, `MicroTime`, `NanoTime`, Connect `Time` | `"HH:MM:SS.fff"`, `".ffffff"`, `".fffffffff"` (3/6/9 digits, as precise as the type) |
 * | `io.debezium.time.Timestamp`, `MicroTimestamp`, `NanoTimestamp`, Connect `Timestamp` | ISO-8601 UTC `string` with 3/6/9 fraction digits, e.g. `"2024-03-01T12:34:56.123456Z"` |
 * | `io.debezium.time.ZonedTimestamp`, `ZonedTime` | the ISO-8601 `string` Debezium sent (it carries its offset) |
 * | `io.debezium.data.Json` | the parsed JSON value |
 * | `io.debezium.data.Uuid`, `Enum`, `EnumSet`, `Xml` | `string` |
 * | `io.debezium.time.MicroDuration`, `Year`, other logical types | their base type, as above |
 * | `array`, `struct`, `map` | arrays, plain objects (`Map` for a map with non-string keys), converted recursively |
 *
 * Why strings for time: they are exact at every precision Debezium emits (micro- and nanoseconds do not fit a `Date`),
 * survive JSON (state stores, dead letters, Redis) unchanged, sort correctly within a column, and `Date.parse` reads the
 * UTC forms directly. Timestamps without a zone in the database (`timestamp`, MySQL `DATETIME`) are written with `Z`
 * because Debezium encodes them as offsets from the epoch read as UTC; {@link ColumnInfo.logicalType} still tells the
 * two apart. Without an embedded schema nothing tells a decimal from a string, so values stay as JSON gave them.
 *
 * @module
 */

/** A row image, the decoded key of a change, or any other decoded struct: column name -> value. *
 * @example
 * ```ts
 * const row: DebeziumRow = { id: 1, amount: '12.50', placed_at: '2024-03-01T10:34:56.123456Z' };
 * ```
 */
export type DebeziumRow = Readonly<Record<string, unknown>>;

/** What kind of Debezium message an event came from. *
 * @example
 * ```ts
 * decodeDebezium({ kinds: ['change', 'truncate'] satisfies ChangeEventKind[] });
 * ```
 */
export type ChangeEventKind = 'change' | 'truncate' | 'tombstone' | 'heartbeat' | 'transaction' | 'schema-change' | 'message';

/**
 * Where a snapshot event sits in its snapshot: Debezium's `source.snapshot` marker. `in_progress` is Debezium's `"true"`;
 * `incremental` marks events of an incremental (signalled) snapshot.
 *
 * @example
 * ```ts
 * if (event.source.snapshotMarker === 'last') console.log('initial snapshot complete');
 * ```
 */
export type SnapshotMarker = 'first' | 'first_in_data_collection' | 'in_progress' | 'last_in_data_collection' | 'last' | 'incremental';

/**
 * The `source` block of a Debezium event, normalised: the common fields plus the log position of the connector
 * flavour that produced it. Fields of other flavours are absent. `raw` holds every field as sent.
 *
 * @example
 * ```ts
 * if (event.source.connector === 'postgresql') console.log(`${event.source.table} at LSN ${event.source.lsn}`);
 * if (event.source.file !== undefined) console.log(`MySQL binlog ${event.source.file}:${event.source.pos}`);
 * ```
 */
export interface ChangeSource {
  /** Connector flavour: `postgresql`, `mysql`, `mariadb`, `sqlserver`, `db2`, `oracle`, `mongodb`, ... */
  readonly connector: string;
  /** The connector's logical name (`topic.prefix`). */
  readonly name: string;
  /** Debezium version that wrote the event. */
  readonly version: string | undefined;
  /** Database (MongoDB: the database of the collection). */
  readonly db: string | undefined;
  /** Schema (PostgreSQL, SQL Server, Db2, Oracle); absent for MySQL / MariaDB. */
  readonly schema: string | undefined;
  /** Table (MongoDB: collection). */
  readonly table: string | undefined;
  /** When the change was made in the database (commit time for most connectors), ms since the epoch. */
  readonly tsMs: number;
  /** The same in microseconds, when the connector sends it (Debezium >= 2.6). */
  readonly tsUs: number | undefined;
  /** Whether a snapshot (initial or incremental) produced the event rather than the log. */
  readonly snapshot: boolean;
  /** Position within the snapshot; `undefined` for streamed events. */
  readonly snapshotMarker: SnapshotMarker | undefined;
  /** PostgreSQL: LSN of the change (exact below 2^53, i.e. the first 8 PiB of WAL). */
  readonly lsn?: number;
  /** PostgreSQL: transaction id; Oracle: transaction id string. */
  readonly txId?: number | string;
  /** PostgreSQL: `[lastCommitLsn, lsn]` from `source.sequence`, as decimal strings (or `null`). */
  readonly sequence?: readonly [string | null, string | null];
  /** MySQL / MariaDB: binlog file name. */
  readonly file?: string;
  /** MySQL / MariaDB: position of the event in the binlog file. */
  readonly pos?: number;
  /** MySQL / MariaDB: row number within the binlog event. */
  readonly row?: number;
  /** MySQL / MariaDB: GTID of the transaction, when GTIDs are on. */
  readonly gtid?: string;
  /** MySQL / MariaDB: server id of the database that wrote the binlog. */
  readonly serverId?: number;
  /** MySQL / MariaDB: id of the thread that made the change. */
  readonly thread?: number;
  /** MySQL / MariaDB: the SQL statement, when `include.query` is on. */
  readonly query?: string;
  /** SQL Server / Db2: LSN of the change. */
  readonly changeLsn?: string;
  /** SQL Server / Db2: LSN of the commit. */
  readonly commitLsn?: string;
  /** SQL Server: order of the event within its change LSN. */
  readonly eventSerialNo?: number;
  /** Oracle: SCN of the change. */
  readonly scn?: string;
  /** Oracle: SCN of the commit. */
  readonly commitScn?: string;
  /** Every field of the `source` block as sent (logical values not converted; `bigint` for exact int64s from raw text). */
  readonly raw: DebeziumRow;
}

/** The envelope's `transaction` block (`provide.transaction.metadata=true`). *
 * @example
 * ```ts
 * const byTransaction = Map.groupBy(events, (event) => event.source.txId ?? event.transaction?.id);
 * ```
 */
export interface TransactionInfo {
  /**
   * Transaction id as Debezium writes it. PostgreSQL: `"<txId>:<lsn>"` where the LSN is the event's own, so it differs
   * from event to event of one transaction — group PostgreSQL events by `source.txId`. MySQL: the GTID (or binlog
   * position without GTIDs).
   */
  readonly id: string;
  /** Position of the event among all events of the transaction, from 1. */
  readonly totalOrder: number;
  /** Position of the event among the transaction's events for the same table, from 1. */
  readonly dataCollectionOrder: number;
}

/** One column of a row image, from the embedded schema. *
 * @example
 * ```ts
 * const decimals = event.columns?.filter((column) => column.logicalType === 'org.apache.kafka.connect.data.Decimal');
 * ```
 */
export interface ColumnInfo {
  /** Column name. */
  readonly name: string;
  /** Kafka Connect type: `int8` ... `int64`, `float`, `double`, `boolean`, `string`, `bytes`, `array`, `map`, `struct`. */
  readonly type: string;
  /** Logical type name, e.g. `io.debezium.time.MicroTimestamp`, `org.apache.kafka.connect.data.Decimal`. */
  readonly logicalType: string | undefined;
  /** Whether the column may be null. */
  readonly optional: boolean;
  /** Schema parameters, e.g. `{ scale: '2', 'connect.decimal.precision': '12' }`. */
  readonly parameters: Readonly<Record<string, string>> | undefined;
}

interface RowChangeBase<Before> {
  readonly kind: 'change';
  /** Decoded record key (the primary key columns), or `null` when the record has none. */
  readonly key: DebeziumRow | null;
  readonly source: ChangeSource;
  /** When Debezium processed the event, ms since the epoch (envelope `ts_ms`). */
  readonly tsMs: number | undefined;
  /** Transaction metadata, when the connector provides it. */
  readonly transaction: TransactionInfo | undefined;
  /**
   * Columns of `after` whose value the database did not provide — PostgreSQL's unchanged TOASTed columns under
   * `REPLICA IDENTITY DEFAULT`, Oracle's unchanged LOBs. They are ABSENT from `after` (not `undefined`-valued, not
   * the placeholder string), so `{ ...previousRow, ...after }` keeps the stored value. Empty for most events.
   */
  readonly unavailable: readonly string[];
  /** The same for `before`. */
  readonly unavailableBefore: readonly string[];
  /** Columns of the row images, from the embedded schema; `undefined` without one. */
  readonly columns: readonly ColumnInfo[] | undefined;
  /** Present only on updates; see {@link UpdateEvent}. */
  readonly before: Before | null;
}

/** A row inserted (`c`) or read by a snapshot (`r`). *
 * @example
 * ```ts
 * if (event.op === 'c' || event.op === 'r') insert(event.after);
 * ```
 */
export interface CreateEvent<Row, Before = DebeziumRow> extends RowChangeBase<Before> {
  readonly op: 'c' | 'r';
  readonly before: null;
  readonly after: Row;
}

/**
 * A row updated. `before` is the old row only when the database logs it (PostgreSQL `REPLICA IDENTITY FULL`, MySQL
 * `binlog_row_image=FULL`); otherwise `null`.
 *
 * @example
 * ```ts
 * if (event.op === 'u') update(event.after, { keep: event.unavailable });
 * ```
 */
export interface UpdateEvent<Row, Before = DebeziumRow> extends RowChangeBase<Before> {
  readonly op: 'u';
  readonly before: Before | null;
  readonly after: Row;
}

// `Row` is unused (a delete has no after image) but kept so every row change type reads `<Row, Before>`.
/* eslint-disable @typescript-eslint/no-unused-vars */
/**
 * A row deleted. `before` holds the old row; under PostgreSQL's `REPLICA IDENTITY DEFAULT` only its key columns are
 * real (Debezium fills the other NOT NULL columns with `0` / `""`), so it is not checked against the row schema unless
 * a `beforeRow` schema is given.
 *
 * @example
 * ```ts
 * if (event.op === 'd') remove(event.key ?? event.before);
 * ```
 */
export interface DeleteEvent<Row, Before = DebeziumRow> extends RowChangeBase<Before> {
  readonly op: 'd';
  readonly before: Before | null;
  readonly after: null;
}
/* eslint-enable @typescript-eslint/no-unused-vars */

/** An insert, snapshot read, update or delete of one row. Narrow on `op`. *
 * @example
 * ```ts
 * function apply(event: RowChangeEvent<Order>): void {
 *   if (event.op === 'd') orders.delete(JSON.stringify(event.key));
 *   else orders.set(JSON.stringify(event.key), { ...orders.get(JSON.stringify(event.key)), ...event.after });
 * }
 * ```
 */
export type RowChangeEvent<Row = DebeziumRow, Before = DebeziumRow> = CreateEvent<Row, Before> | UpdateEvent<Row, Before> | DeleteEvent<Row, Before>;

/** A table truncated (`op: 't'`, PostgreSQL with `skipped.operations` not containing `t`). *
 * @example
 * ```ts
 * if (event.kind === 'truncate') clearTable(event.source.schema, event.source.table);
 * ```
 */
export interface TruncateEvent {
  readonly kind: 'truncate';
  readonly op: 't';
  readonly key: null;
  readonly source: ChangeSource;
  readonly tsMs: number | undefined;
  readonly transaction: TransactionInfo | undefined;
}

/**
 * The `null` value Debezium writes after a delete (`tombstones.on.delete`) so Kafka log compaction can drop the key.
 * It repeats a delete that came just before; `changesToIntents` ignores it.
 *
 * @example
 * ```ts
 * if (event.kind === 'tombstone') compactedKeys.add(JSON.stringify(event.key));
 * ```
 */
export interface TombstoneEvent {
  readonly kind: 'tombstone';
  /** The deleted row's key, or `null` when the record key was absent or not JSON. */
  readonly key: DebeziumRow | null;
}

/** A heartbeat (`__debezium-heartbeat.<prefix>` topic, `heartbeat.interval.ms`): the connector is alive. *
 * @example
 * ```ts
 * if (event.kind === 'heartbeat') lastSeen.set('connector', event.tsMs);
 * ```
 */
export interface HeartbeatEvent {
  readonly kind: 'heartbeat';
  /** Usually `{ serverName }`. */
  readonly key: DebeziumRow | null;
  /** When the heartbeat was sent, ms since the epoch. */
  readonly tsMs: number;
}

/** A transaction boundary from the `<prefix>.transaction` topic (`provide.transaction.metadata=true`). *
 * @example
 * ```ts
 * if (event.kind === 'transaction' && event.status === 'END') console.log(`${event.id}: ${event.eventCount} changes`);
 * ```
 */
export interface TransactionEvent {
  readonly kind: 'transaction';
  readonly key: DebeziumRow | null;
  readonly status: 'BEGIN' | 'END';
  /** Transaction id, as in {@link TransactionInfo.id}. */
  readonly id: string;
  /** END only: how many change events the transaction produced. */
  readonly eventCount: number | undefined;
  /** END only: events per table (`data_collection` is `schema.table` or `db.table`). */
  readonly dataCollections: readonly { readonly dataCollection: string; readonly eventCount: number }[];
  readonly tsMs: number | undefined;
}

/** A DDL statement from the schema change topic (`<prefix>`) of MySQL, MariaDB, SQL Server, Oracle and Db2. *
 * @example
 * ```ts
 * if (event.kind === 'schema-change') console.log(`DDL on ${event.databaseName}: ${event.ddl}`);
 * ```
 */
export interface SchemaChangeEvent {
  readonly kind: 'schema-change';
  readonly key: DebeziumRow | null;
  readonly source: ChangeSource | undefined;
  readonly tsMs: number | undefined;
  readonly databaseName: string | undefined;
  readonly schemaName: string | undefined;
  /** The DDL text. */
  readonly ddl: string | undefined;
  /** Debezium's `tableChanges` structures, as sent. */
  readonly tableChanges: readonly unknown[];
}

/** A PostgreSQL logical decoding message (`pg_logical_emit_message`), `op: 'm'` on the `<prefix>.message` topic. *
 * @example
 * ```ts
 * if (event.kind === 'message' && event.prefix === 'audit') audit(new TextDecoder().decode(event.content));
 * ```
 */
export interface LogicalMessageEvent {
  readonly kind: 'message';
  readonly op: 'm';
  readonly key: DebeziumRow | null;
  readonly source: ChangeSource;
  readonly tsMs: number | undefined;
  readonly transaction: TransactionInfo | undefined;
  /** The message prefix given to `pg_logical_emit_message`. */
  readonly prefix: string;
  /** The message content. */
  readonly content: Uint8Array;
}

/**
 * Everything the Debezium decoder produces, discriminated by `kind`. `Row` types `after` (and `before` of inserts);
 * `Before` types the old row image of updates and deletes.
 *
 * @example
 * ```ts
 * function describe(event: ChangeEvent<Order>): string {
 *   switch (event.kind) {
 *     case 'change':
 *       return event.op === 'd' ? `deleted ${JSON.stringify(event.key)}` : `${event.op} ${event.after.id}`;
 *     case 'truncate':
 *       return `truncated ${event.source.table}`;
 *     default:
 *       return event.kind;
 *   }
 * }
 * ```
 */
export type ChangeEvent<Row = DebeziumRow, Before = DebeziumRow> =
  | RowChangeEvent<Row, Before>
  | TruncateEvent
  | TombstoneEvent
  | HeartbeatEvent
  | TransactionEvent
  | SchemaChangeEvent
  | LogicalMessageEvent;
