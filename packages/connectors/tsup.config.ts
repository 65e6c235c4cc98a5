import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base.js';

export default defineConfig(packageBuild({
    index: 'src/index.ts',
    kafka: 'src/kafka.ts',
    debezium: 'src/debezium.ts',
    redis: 'src/redis.ts',
    s3: 'src/s3.ts',
  }));
