import { describe, expect, it } from 'vitest';
import type { Clock } from '../runtime/clock.js';
import { MemoryStateStore } from '../state/memory-state-store.js';
import type { StateChange, StatePutOptions } from '../state/state-store.js';
import { stateStoreContract } from './state-store-contract.js';
import type { StateStoreContractCase } from './state-store-contract.js';

type Flaw =
  | 'delete-is-a-no-op'
  | 'null-reads-as-undefined'
  | 'integers-read-as-strings'
  | 'scopes-share-keys'
  | 'scan-unordered'
  | 'prefix-as-glob'
  | 'ttl-ignored'
  | 'apply-not-atomic'
  | 'restore-ignores-snapshot'
  | 'failed-restore-keeps-live-state'
  | 'discard-drops-named-snapshot'
  | 'scopes-unsorted'
  | 'stores-references';

/** A memory store with one deliberate defect, to prove the contract notices it. */
class BrokenStore extends MemoryStateStore {
  readonly #references = new Map<string, unknown>();
  readonly #snapshotted = new Set<string>();

  constructor(
    readonly flaw: Flaw,
    clock: Clock,
  ) {
    super({ name: `broken:${flaw}`, clock });
  }

  #scope(scope: string): string {
    return this.flaw === 'scopes-share-keys' ? 'shared' : scope;
  }

  override async get(scope: string, key: string): Promise<unknown> {
    if (this.flaw === 'stores-references' && this.#references.has(`${scope}\u0000${key}`)) return this.#references.get(`${scope}\u0000${key}`);
    const value = await super.get(this.#scope(scope), key);
    if (this.flaw === 'null-reads-as-undefined' && value === null) return undefined;
    if (this.flaw === 'integers-read-as-strings' && Number.isInteger(value)) return String(value);
    return value;
  }

  override put(scope: string, key: string, value: unknown, options?: StatePutOptions): Promise<void> {
    if (this.flaw === 'stores-references') this.#references.set(`${scope}\u0000${key}`, value);
    return super.put(this.#scope(scope), key, value, this.flaw === 'ttl-ignored' ? undefined : options);
  }

  override delete(scope: string, key: string): Promise<void> {
    if (this.flaw === 'delete-is-a-no-op') return Promise.resolve();
    return super.delete(this.#scope(scope), key);
  }

  override async *scan(scope: string, prefix?: string): AsyncIterable<readonly [key: string, value: unknown]> {
    const entries: (readonly [string, unknown])[] = [];
    // A glob-matching store treats '*' and '?' in the prefix as wildcards.
    const globbed = this.flaw === 'prefix-as-glob' && prefix !== undefined && /[*?]/.test(prefix);
    for await (const entry of super.scan(this.#scope(scope), globbed ? '' : prefix)) {
      if (!globbed || globMatch(prefix, entry[0])) entries.push(entry);
    }
    if (this.flaw === 'scan-unordered') entries.reverse();
    yield* entries;
  }

  override async apply(scope: string, changes: readonly StateChange[]): Promise<void> {
    if (this.flaw !== 'apply-not-atomic') return super.apply(this.#scope(scope), changes);
    for (const change of changes) {
      if (change.op === 'put') await super.put(scope, change.key, change.value, change.ttlMs === undefined ? undefined : { ttlMs: change.ttlMs });
      else await super.delete(scope, change.key);
    }
  }

  override snapshot(scope: string, checkpointId: number): Promise<void> {
    this.#snapshotted.add(`${scope}\u0000${checkpointId}`);
    return super.snapshot(this.#scope(scope), checkpointId);
  }

  override restore(scope: string, checkpointId: number): Promise<boolean> {
    if (this.flaw === 'restore-ignores-snapshot') return Promise.resolve(true);
    if (this.flaw === 'failed-restore-keeps-live-state' && !this.#snapshotted.has(`${scope}\u0000${checkpointId}`)) return Promise.resolve(false);
    return super.restore(this.#scope(scope), checkpointId);
  }

  override discardSnapshotsBefore(scope: string, checkpointId: number): Promise<void> {
    return super.discardSnapshotsBefore(this.#scope(scope), this.flaw === 'discard-drops-named-snapshot' ? checkpointId + 1 : checkpointId);
  }

  override async scopes(): Promise<readonly string[]> {
    const scopes = await super.scopes();
    return this.flaw === 'scopes-unsorted' ? [...scopes].reverse() : scopes;
  }
}

function globMatch(pattern: string, key: string): boolean {
  const regex = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${regex}`).test(key);
}

function virtualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  return { now: () => now, setTimer: () => () => undefined, advance: (ms) => void (now += ms) };
}

function suiteFor(flaw: Flaw | undefined): StateStoreContractCase[] {
  return stateStoreContract(() => {
    const clock = virtualClock();
    return Promise.resolve({ store: flaw === undefined ? new MemoryStateStore({ clock }) : new BrokenStore(flaw, clock), clock });
  });
}

const caseNamed = (suite: StateStoreContractCase[], fragment: string): StateStoreContractCase => {
  const found = suite.find((c) => c.name.includes(fragment));
  if (!found) throw new Error(`no contract case mentions "${fragment}"`);
  return found;
};

/** Which case must catch which flaw. */
const expectations: [Flaw, string][] = [
  ['delete-is-a-no-op', 'delete removes'],
  ['null-reads-as-undefined', 'round-trip as JSON'],
  ['integers-read-as-strings', 'round-trip as JSON'],
  ['scopes-share-keys', 'isolated'],
  ['scan-unordered', 'ascending key order'],
  ['prefix-as-glob', 'ascending key order'],
  ['ttl-ignored', 'expire'],
  ['apply-not-atomic', 'all or nothing'],
  ['restore-ignores-snapshot', 'exactly as it was'],
  ['failed-restore-keeps-live-state', 'unknown checkpoint'],
  ['discard-drops-named-snapshot', 'discardSnapshotsBefore'],
  ['scopes-unsorted', 'scopes() lists'],
  ['stores-references', 'copies'],
];

describe('stateStoreContract', () => {
  it('has a case for every promised behaviour, each with a distinct name', () => {
    const names = suiteFor(undefined).map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toHaveLength(11);
  });

  it('passes the honest memory store', async () => {
    for (const c of suiteFor(undefined)) await c.run();
  });

  for (const [flaw, fragment] of expectations) {
    it(`fails a store whose flaw is "${flaw}" in the case "${fragment}"`, async () => {
      const failing = caseNamed(suiteFor(flaw), fragment);
      await expect(failing.run()).rejects.toThrow(/breaks the contract/);
      await expect(failing.run()).rejects.toMatchObject({ name: 'StateStoreContractViolation' });
    });
  }

  it('runs cleanup after a case whether it passed or failed', async () => {
    let cleanups = 0;
    const suite = stateStoreContract(() => {
      const clock = virtualClock();
      return Promise.resolve({
        store: new BrokenStore('scan-unordered', clock),
        clock,
        cleanup: () => {
          cleanups++;
          return Promise.resolve();
        },
      });
    });
    await caseNamed(suite, 'delete removes').run();
    await expect(caseNamed(suite, 'ascending key order').run()).rejects.toThrow();
    expect(cleanups).toBe(2);
  });

  it('rejects a nonsensical realTtlMs', () => {
    expect(() => stateStoreContract(() => Promise.reject(new Error('unused')), { realTtlMs: 0 })).toThrow(/realTtlMs/);
  });
});
