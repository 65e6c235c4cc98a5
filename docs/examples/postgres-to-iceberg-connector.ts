/**
 * docs/guides/postgres-to-iceberg.md — registering the Debezium connector.
 *
 * The connector configuration the CDC integration test runs against Debezium 3.6.3 on Kafka Connect 4.3
 * (packages/lakehouse/test/integration/cdc-vertical-slice.test.ts), for the `public.orders` table. It is plain JSON for
 * Kafka Connect's REST API; `curl -X POST -H 'content-type: application/json' --data @orders-connector.json
 * http://connect:8083/connectors` does the same as `registerOrdersConnector`.
 */

export const ordersConnector = {
  name: 'shop-orders',
  config: {
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'tasks.max': '1',
    'plugin.name': 'pgoutput', // PostgreSQL's built-in logical decoding plugin
    'database.hostname': 'postgres.internal',
    'database.port': '5432',
    'database.user': 'debezium',
    'database.password': '${file:/opt/connect/secrets.properties:postgres.password}', // a Connect config provider, not the password
    'database.dbname': 'shop',
    'topic.prefix': 'shop', // topic: <prefix>.<schema>.<table> = shop.public.orders
    'slot.name': 'shop_orders',
    'publication.name': 'shop_orders_pub',
    'publication.autocreate.mode': 'filtered', // a publication for the included tables only
    'table.include.list': 'public.orders',
    'snapshot.mode': 'initial', // existing rows first (op "r"), then the stream; the test uses no_data
    'decimal.handling.mode': 'precise', // numeric as exact decimals (the default); the decoder makes "1234.50" of them
    'tombstones.on.delete': 'true', // a null after each delete, for log compaction; the pipeline ignores it
    // JSON with the schema embedded: it is what tells the decoder that a value is a decimal or a timestamp.
    'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'key.converter.schemas.enable': 'true',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter.schemas.enable': 'true',
  },
} as const;

export const ordersTopic = 'shop.public.orders';

/** Registers the connector; a 409 means one with that name exists (update it with PUT /connectors/<name>/config). */
export async function registerOrdersConnector(connectUrl: string): Promise<void> {
  const response = await fetch(`${connectUrl}/connectors`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ordersConnector),
    signal: AbortSignal.timeout(10_000),
  });
  if (response.status !== 201) throw new Error(`Kafka Connect answered ${response.status}: ${await response.text()}`);
}

/** RUNNING for the connector and its task; a FAILED task carries a Java stack trace in `trace`. */
export async function connectorState(connectUrl: string): Promise<{ connector: string; task: string | undefined }> {
  const response = await fetch(`${connectUrl}/connectors/${ordersConnector.name}/status`, { signal: AbortSignal.timeout(10_000) });
  const status = (await response.json()) as { connector: { state: string }; tasks: { state: string }[] };
  return { connector: status.connector.state, task: status.tasks[0]?.state };
}
