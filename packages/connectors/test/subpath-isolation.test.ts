import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importGraph } from '../../../test/support/import-graph.js';

const src = fileURLToPath(new URL('../src/', import.meta.url));
const CLIENTS = ['kafkajs', 'ioredis', '@aws-sdk/client-s3'];

const reachable = (entry: string): Set<string> => new Set(importGraph(entry).externals.keys());

const clientsIn = (externals: Set<string>): string[] => CLIENTS.filter((client) => [...externals].some((s) => s === client || s.startsWith(`${client}/`)));

describe('@tributary/connectors subpath isolation', () => {
  it('the package root loads no client library', () => {
    expect(clientsIn(reachable(resolve(src, 'index.ts')))).toEqual([]);
  });

  it.each([
    ['kafka', ['kafkajs']],
    ['debezium', []],
    ['redis', ['ioredis']],
    ['s3', ['@aws-sdk/client-s3']],
  ])('./%s reaches only its own client library', (subpath, own) => {
    expect(clientsIn(reachable(resolve(src, `${subpath}.ts`)))).toEqual(own);
  });
});
