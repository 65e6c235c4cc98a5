"""Reads an Iceberg table with pyiceberg (an independent reader) and prints its rows as canonical JSON.

Input: one JSON argument {"metadata": uri, "snapshot_id"?: int, "properties"?: {...}, "filter"?: str}.
Output: {"rows": [...], "snapshots": [...], "schema": [...], "files": n}. Values are canonical so that the TypeScript
side can compare exactly: 64-bit ints, timestamps (as epoch microseconds) and decimals as strings, dates ISO, bytes hex.
"""
import datetime
import decimal
import json
import sys
import uuid

import pyarrow as pa
from pyiceberg.table import StaticTable

EPOCH = datetime.datetime(1970, 1, 1)
EPOCH_TZ = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def canonical(value, arrow_type):
    if value is None:
        return None
    if pa.types.is_int64(arrow_type):
        return str(value)
    if pa.types.is_timestamp(arrow_type):
        base = EPOCH_TZ if value.tzinfo is not None else EPOCH
        return str((value - base) // datetime.timedelta(microseconds=1))
    if pa.types.is_time(arrow_type):
        return value.isoformat()
    if pa.types.is_decimal(arrow_type):
        return str(value)
    if pa.types.is_date(arrow_type):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        if pa.types.is_fixed_size_binary(arrow_type) and arrow_type.byte_width == 16 and False:
            return str(uuid.UUID(bytes=bytes(value)))
        return bytes(value).hex()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def main():
    args = json.loads(sys.argv[1])
    table = StaticTable.from_metadata(args["metadata"], properties=args.get("properties", {}))
    scan_args = {}
    if args.get("snapshot_id") is not None:
        scan_args["snapshot_id"] = int(args["snapshot_id"])
    if args.get("filter"):
        scan_args["row_filter"] = args["filter"]
    scan = table.scan(**scan_args)
    files = len(list(scan.plan_files()))
    result = scan.to_arrow()
    columns = result.column_names
    types = [result.schema.field(c).type for c in columns]
    rows = []
    for record in result.to_pylist():
        rows.append({c: canonical(record[c], t) for c, t in zip(columns, types)})
    snapshots = [
        {"snapshot_id": str(s.snapshot_id), "parent": None if s.parent_snapshot_id is None else str(s.parent_snapshot_id),
         "operation": s.summary.operation.value if s.summary else None}
        for s in table.metadata.snapshots
    ]
    print(json.dumps({"rows": rows, "snapshots": snapshots, "columns": columns, "files": files}))


main()
