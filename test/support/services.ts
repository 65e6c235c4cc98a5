/**
 * Where the test services listen. Defaults match scripts/services/lib.sh; override with the same env vars.
 */
const env = (name: string, fallback: string): string => process.env[name] ?? fallback;

export const services = {
  kafkaBrokers: [`127.0.0.1:${env('TRIBUTARY_KAFKA_PORT', '19092')}`],
  redisUrl: `redis://127.0.0.1:${env('TRIBUTARY_REDIS_PORT', '16379')}`,
  s3Endpoint: `http://127.0.0.1:${env('TRIBUTARY_S3_PORT', '19000')}`,
  s3Region: 'us-east-1',
  s3Credentials: { accessKeyId: 'tributary', secretAccessKey: 'tributary-secret' },
  postgres: {
    host: '127.0.0.1',
    port: Number(env('TRIBUTARY_POSTGRES_PORT', '15432')),
    user: 'tributary',
    password: 'tributary',
    database: 'tributary',
  },
  mariadb: {
    host: '127.0.0.1',
    port: Number(env('TRIBUTARY_MARIADB_PORT', '13306')),
    user: 'tributary',
    password: 'tributary',
    database: 'tributary',
  },
  kafkaConnectUrl: `http://127.0.0.1:${env('TRIBUTARY_CONNECT_PORT', '18083')}`,
  /** Apicurio Registry's Confluent-compatible API (what a Confluent client calls the registry URL). */
  schemaRegistryUrl: `http://127.0.0.1:${env('TRIBUTARY_SCHEMA_REGISTRY_PORT', '18081')}/apis/ccompat/v7`,
  icebergRestUrl: `http://127.0.0.1:${env('TRIBUTARY_ICEBERG_REST_PORT', '18181')}`,
  pythonBin: env('TRIBUTARY_PYTHON', `${process.cwd()}/.services/python/venv/bin/python`),
} as const;
