import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const directory = fileURLToPath(new URL('.', import.meta.url));
const sources = readdirSync(directory).filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'));

describe('@tributary/connectors/kafka loading', () => {
  it('never imports kafkajs eagerly (type-only imports plus one lazy import()), nor another connector’s client', () => {
    expect(sources.length).toBeGreaterThan(5);
    for (const name of sources) {
      const text = readFileSync(`${directory}/${name}`, 'utf8');
      for (const line of text.split('\n').filter((l) => /^\s*import\s/.test(l) && /from\s+'kafkajs'/.test(l))) {
        expect(line, `${name}: ${line}`).toMatch(/^\s*import type /);
      }
      expect(text, name).not.toMatch(/from\s+'(ioredis|@aws-sdk\/[^']+)'/);
    }
    const lazy = sources.filter((name) => readFileSync(`${directory}/${name}`, 'utf8').includes("import('kafkajs')"));
    expect(lazy).toEqual(['kafka-connection.ts']);
  });
});
