import type { StateStore } from '../state/state-store.js';

/**
 * What the factory handed to {@link stateStoreContract} returns for each case: a fresh store, plus optional controls.
 *
 * @example
 * ```ts
 * const fixture: StateStoreContractFixture = { store: new MemoryStateStore({ clock }), clock };
 * ```
 */
export interface StateStoreContractFixture {
  /** The store under test. It must start empty: no entries and no snapshots in any scope. */
  store: StateStore;
  /**
   * Advances the processing time the store measures TTLs with. When given, the TTL case checks expiry precisely in
   * virtual time; when absent it writes with a short real TTL and waits (see `realTtlMs`).
   */
  clock?: {
    /** Moves the store's processing time forward by `ms` milliseconds. */
    advance(ms: number): void;
  };
  /** Runs after the case, passed or failed: close the store, drop its keys. */
  cleanup?: () => Promise<void>;
}

/**
 * One contract case: `run` resolves when the store honours the contract and rejects with what it violated.
 *
 * @example
 * ```ts
 * for (const c of stateStoreContract(factory)) await c.run(); // any runner, or none
 * ```
 */
export interface StateStoreContractCase {
  /** What the case checks, e.g. `scopes are isolated from each other`; use it as the test name. */
  readonly name: string;
  /** Creates a store with the factory, exercises it, cleans up; rejects with what the store got wrong. */
  readonly run: () => Promise<void>;
}

/**
 * Options of {@link stateStoreContract}.
 *
 * @example
 * ```ts
 * stateStoreContract(factory, { realTtlMs: 500 }); // a slow store: give TTL checks more room
 * ```
 */
export interface StateStoreContractOptions {
  /**
   * TTL, in real milliseconds, used by the TTL case when the fixture has no `clock`. The case then waits three times
   * this long. Default `150`.
   */
  realTtlMs?: number;
}

/**
 * The behaviour every {@link StateStore} must show, as a list of framework-agnostic cases. Run them with any test
 * runner; each case asks `factory` for a fresh, empty store and throws when the store breaks the contract.
 *
 * Covered: get/put/delete round trips; JSON value fidelity; scope isolation; prefix scans in ascending key order;
 * TTL expiry (also hidden from scans); atomic `apply`; snapshot / restore / discard; `scopes()`; stored values being
 * copies.
 *
 * @param factory creates the store for one case (and, optionally, a virtual clock and a cleanup)
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { stateStoreContract } from '@tributary/core/testing';
 *
 * describe('RedisStateStore contract', () => {
 *   for (const c of stateStoreContract(async () => {
 *     const store = new RedisStateStore({ url: 'redis://127.0.0.1:16379', keyPrefix: `test-${crypto.randomUUID()}:` });
 *     return { store, cleanup: () => store.close() };
 *   })) {
 *     it(c.name, c.run);
 *   }
 * });
 * ```
 */
export function stateStoreContract(
  factory: () => Promise<StateStoreContractFixture>,
  options: StateStoreContractOptions = {},
): StateStoreContractCase[] {
  const realTtlMs = options.realTtlMs ?? 150;
  if (!(typeof realTtlMs === 'number' && realTtlMs > 0 && Number.isFinite(realTtlMs))) {
    throw new TypeError(`stateStoreContract: realTtlMs must be a positive number of milliseconds, got ${String(realTtlMs)}`);
  }
  return cases.map(({ name, body }) => ({
    name,
    run: async () => {
      const fixture = await factory();
      try {
        await body({ ...fixture, realTtlMs, name });
      } finally {
        await fixture.cleanup?.();
      }
    },
  }));
}

interface CaseInput extends StateStoreContractFixture {
  readonly realTtlMs: number;
  readonly name: string;
}

const cases: { name: string; body: (input: CaseInput) => Promise<void> }[] = [
  {
    name: 'get returns what put stored; put overwrites; delete removes',
    async body({ store, name }) {
      const check = checker(store, name);
      const scope = 'step-1/orders:0';
      const key = 'order:1/ä b';
      check.equal(await store.get(scope, key), undefined, 'get of a key never written');
      await store.put(scope, key, { amount: 1 });
      check.equal(await store.get(scope, key), { amount: 1 }, 'get after put');
      await store.put(scope, key, { amount: 2 });
      check.equal(await store.get(scope, key), { amount: 2 }, 'get after a second put of the same key');
      await store.put(scope, 'other', 'kept');
      await store.delete(scope, key);
      check.equal(await store.get(scope, key), undefined, 'get after delete');
      check.equal(await store.get(scope, 'other'), 'kept', 'a key next to the deleted one');
      await store.delete(scope, key);
      await store.delete(scope, 'never-written');
      check.equal(await store.get(scope, 'other'), 'kept', 'after deleting absent keys (which must not fail)');
    },
  },
  {
    name: 'values round-trip as JSON: objects, arrays, numbers, strings, booleans, null',
    async body({ store, name }) {
      const check = checker(store, name);
      const scope = 'step-1/orders:0';
      const values: Record<string, unknown> = {
        nested: { a: { b: { c: [1, { d: 'e' }] } }, empty: {}, emptyList: [] },
        mixedArray: [1, 'two', true, false, null, [3, [4]], { five: 5 }],
        nullFields: { none: null, no: false, zero: 0, blank: '' },
        zero: 0,
        negative: -1,
        integer: 42,
        fraction: 3.25,
        tiny: -1e-7,
        huge: 1.5e300,
        maxSafe: Number.MAX_SAFE_INTEGER,
        minSafe: Number.MIN_SAFE_INTEGER,
        emptyString: '',
        numericString: '12',
        escapes: 'quotes " and \\ backslash\nnew line\ttab',
        unicode: 'unicode ✓ 日本 🚀',
        true: true,
        false: false,
        null: null,
      };
      for (const [key, value] of Object.entries(values)) await store.put(scope, key, value);
      for (const [key, value] of Object.entries(values)) check.equal(await store.get(scope, key), value, `get of ${key}`);
      const scanned = await collect(store.scan(scope));
      check.equal(
        scanned,
        Object.keys(values)
          .sort(compareStrings)
          .map((key) => [key, values[key]]),
        'scan of every value',
      );
    },
  },
  {
    name: 'scopes are isolated from each other',
    async body({ store, name }) {
      const check = checker(store, name);
      // Scope names that are prefixes of each other catch stores that build keys by concatenation.
      const [a, b, c] = ['step-1/orders:1', 'step-1/orders:10', 'step-1/orders:1/0'];
      await store.put(a, 'k', 'in-a');
      await store.put(b, 'k', 'in-b');
      await store.put(c, 'k', 'in-c');
      await store.put(b, 'only-b', 1);
      check.equal(await store.get(a, 'k'), 'in-a', `get from ${a}`);
      check.equal(await store.get(b, 'k'), 'in-b', `get from ${b}`);
      check.equal(await store.get(a, 'only-b'), undefined, `a key of ${b} read from ${a}`);
      check.equal(await collect(store.scan(a)), [['k', 'in-a']], `scan of ${a}`);
      await store.delete(a, 'k');
      check.equal(await store.get(b, 'k'), 'in-b', `${b} after deleting the same key in ${a}`);
      check.equal(await store.get(c, 'k'), 'in-c', `${c} after deleting the same key in ${a}`);
      await store.apply(b, [{ op: 'put', key: 'k', value: 'b2' }, { op: 'delete', key: 'only-b' }]);
      check.equal(await store.get(c, 'k'), 'in-c', `${c} after apply to ${b}`);
      await store.snapshot(c, 1);
      await store.put(c, 'k', 'c2');
      await store.restore(c, 1);
      check.equal(await store.get(b, 'k'), 'b2', `${b} after restore of ${c}`);
      check.equal(await store.get(c, 'k'), 'in-c', `${c} after its restore`);
      check.equal(await store.restore(b, 1), false, `restore of ${b} to a checkpoint only ${c} has`);
    },
  },
  {
    name: 'scan returns the entries whose key starts with the prefix, in ascending key order',
    async body({ store, name }) {
      const check = checker(store, name);
      const scope = 'step-1/orders:0';
      // Glob and regex characters catch stores that pass the prefix to a pattern matcher unescaped.
      const keys = ['b:2', 'a:10', 'a:1', 'b:1', 'a:2', 'a', 'a*b', 'a?', 'a[1]', 'c', 'A:1', 'a:1:x', 'ab', '%a', 'a.b'];
      for (const key of keys) await store.put(scope, key, `v-${key}`);
      const sorted = [...keys].sort(compareStrings);
      check.equal(await collect(store.scan(scope)), sorted.map((key) => [key, `v-${key}`]), 'scan without prefix');
      check.equal(await collect(store.scan(scope, '')), sorted.map((key) => [key, `v-${key}`]), "scan with prefix ''");
      for (const prefix of ['a:', 'a:1', 'b', 'a*', 'a?', 'a[', 'A', 'zzz', 'a.', '%']) {
        const expected = sorted.filter((key) => key.startsWith(prefix)).map((key) => [key, `v-${key}`]);
        check.equal(await collect(store.scan(scope, prefix)), expected, `scan with prefix ${JSON.stringify(prefix)}`);
      }
      check.equal(await collect(store.scan('step-1/never-written')), [], 'scan of a scope never written');
    },
  },
  {
    name: 'entries put with ttlMs expire: get returns undefined and scan skips them',
    async body({ store, clock, realTtlMs, name }) {
      const check = checker(store, name);
      const scope = 'step-1/orders:0';
      const ttlMs = clock ? 10_000 : realTtlMs;
      await store.put(scope, 'expiring', 1, { ttlMs });
      await store.put(scope, 'forever', 2);
      await store.apply(scope, [{ op: 'put', key: 'expiring-applied', value: 3, ttlMs }]);
      await store.put(scope, 'ttl-removed', 4, { ttlMs });
      await store.put(scope, 'ttl-removed', 5); // a put without ttlMs makes the entry permanent again
      check.equal(await store.get(scope, 'expiring'), 1, 'an entry with a TTL right after the put');
      check.equal(await store.get(scope, 'expiring-applied'), 3, 'an entry applied with a TTL right after the apply');
      if (clock) {
        await store.put(scope, 'renewed', 6, { ttlMs });
        clock.advance(ttlMs / 2);
        await store.put(scope, 'renewed', 7, { ttlMs }); // expires ttlMs after this write, not the first
        clock.advance(ttlMs / 2 - 1);
        check.equal(await store.get(scope, 'expiring'), 1, 'an entry 1 ms before its TTL ends');
        clock.advance(2);
        check.equal(await store.get(scope, 'renewed'), 7, 'an entry whose TTL restarted with a second put');
      } else {
        await sleep(realTtlMs * 3);
      }
      check.equal(await store.get(scope, 'expiring'), undefined, 'an entry after its TTL');
      check.equal(await store.get(scope, 'expiring-applied'), undefined, 'an applied entry after its TTL');
      check.equal(await store.get(scope, 'forever'), 2, 'an entry without a TTL');
      check.equal(await store.get(scope, 'ttl-removed'), 5, 'an entry re-put without a TTL');
      const expected: [string, unknown][] = [
        ['forever', 2],
        ['ttl-removed', 5],
      ];
      if (clock) expected.splice(1, 0, ['renewed', 7]);
      check.equal(await collect(store.scan(scope)), expected, 'scan after the TTL');
    },
  },
  {
    name: 'apply writes puts and deletes in order, and is all or nothing',
    async body({ store, name }) {
      const check = checker(store, name);
      const scope = 'step-1/orders:0';
      await store.put(scope, 'keep', 'k');
      await store.put(scope, 'gone', 'g');
      await store.put(scope, 're-put', 'old');
      await store.apply(scope, [
        { op: 'put', key: 'a', value: 1 },
        { op: 'put', key: 'b', value: { x: [1] } },
        { op: 'delete', key: 'gone' },
        { op: 'put', key: 'put-then-deleted', value: 1 },
        { op: 'delete', key: 'put-then-deleted' },
        { op: 'delete', key: 're-put' },
        { op: 'put', key: 're-put', value: 'new' },
        { op: 'put', key: 'a', value: 2 },
        { op: 'delete', key: 'never-written' },
      ]);
      const after = [
        ['a', 2],
        ['b', { x: [1] }],
        ['keep', 'k'],
        ['re-put', 'new'],
      ];
      check.equal(await collect(store.scan(scope)), after, 'scan after a successful apply');
      await store.apply(scope, []);
      check.equal(await collect(store.scan(scope)), after, 'scan after an empty apply');

      // A bigint cannot be stored as JSON by any store: the whole batch must be refused, including the changes before it.
      const failed = await rejects(() =>
        store.apply(scope, [
          { op: 'put', key: 'a', value: 999 },
          { op: 'delete', key: 'keep' },
          { op: 'put', key: 'fresh', value: 'x' },
          { op: 'put', key: 'bad', value: { amount: BigInt(1) } },
          { op: 'delete', key: 'b' },
        ]),
      );
      check.that(failed, 'apply with a bigint value must reject');
      check.equal(await collect(store.scan(scope)), after, 'scan after a rejected apply (nothing may have changed)');
    },
  },
  {
    name: 'restore brings back the state exactly as it was at the snapshot',
    async body({ store, name }) {
      const check = checker(store, name);
      const scope = 'step-1/orders:0';
      const other = 'step-2/orders:0';
      await store.put(other, 'x', 'untouched');
      await store.put(scope, 'a', 1);
      await store.put(scope, 'b', { n: 1 });
      await store.put(scope, 'c', [1]);
      await store.snapshot(scope, 1);
      const atOne = [
        ['a', 1],
        ['b', { n: 1 }],
        ['c', [1]],
      ];
      await store.put(scope, 'a', 2);
      await store.delete(scope, 'b');
      await store.put(scope, 'c', [1, 2]);
      await store.put(scope, 'd', 4);
      check.equal(
        await collect(store.scan(scope)),
        [
          ['a', 2],
          ['c', [1, 2]],
          ['d', 4],
        ],
        'live state after writes that follow the snapshot',
      );
      await store.snapshot(scope, 2);
      check.equal(await store.restore(scope, 1), true, 'restore of an existing checkpoint');
      check.equal(await collect(store.scan(scope)), atOne, 'scan after restore to checkpoint 1');
      check.equal(await store.get(scope, 'd'), undefined, 'a key written after the snapshot, after restore');
      await store.put(scope, 'a', 3);
      await store.delete(scope, 'c');
      check.equal(await store.restore(scope, 1), true, 'a second restore of the same checkpoint');
      check.equal(await collect(store.scan(scope)), atOne, 'scan after restoring checkpoint 1 again (later writes must not leak into it)');
      check.equal(await store.restore(scope, 2), true, 'restore of the later checkpoint');
      check.equal(
        await collect(store.scan(scope)),
        [
          ['a', 2],
          ['c', [1, 2]],
          ['d', 4],
        ],
        'scan after restore to checkpoint 2',
      );
      check.equal(await store.get(other, 'x'), 'untouched', 'another scope after restores');
    },
  },
  {
    name: 'restore of an unknown checkpoint returns false and empties the scope',
    async body({ store, name }) {
      const check = checker(store, name);
      const scope = 'step-1/orders:0';
      const other = 'step-1/orders:1';
      await store.put(scope, 'a', 1);
      await store.snapshot(scope, 1);
      await store.put(scope, 'b', 2);
      await store.put(other, 'x', 'untouched');
      check.equal(await store.restore(scope, 99), false, 'restore of a checkpoint never taken');
      check.equal(await collect(store.scan(scope)), [], 'scan after a failed restore');
      check.equal(await store.get(scope, 'a'), undefined, 'get after a failed restore');
      check.equal(await store.get(other, 'x'), 'untouched', 'another scope after a failed restore');
      check.equal(await store.restore(scope, 1), true, 'the existing snapshot survives a failed restore');
      check.equal(await collect(store.scan(scope)), [['a', 1]], 'scan after restoring the existing snapshot');
      check.equal(await store.restore('step-1/never-written', 1), false, 'restore of a scope that never saw a checkpoint');
      check.equal(await collect(store.scan('step-1/never-written')), [], 'scan of that scope');
    },
  },
  {
    name: 'discardSnapshotsBefore keeps the named snapshot and later ones',
    async body({ store, name }) {
      const check = checker(store, name);
      const scope = 'step-1/orders:0';
      const other = 'step-1/orders:1';
      await store.put(other, 'v', 'other-1');
      await store.snapshot(other, 1);
      for (const id of [1, 2, 3, 4]) {
        await store.put(scope, 'v', id);
        await store.snapshot(scope, id);
      }
      await store.discardSnapshotsBefore(scope, 3);
      for (const id of [4, 3]) {
        check.equal(await store.restore(scope, id), true, `restore of kept checkpoint ${id}`);
        check.equal(await store.get(scope, 'v'), id, `value after restoring checkpoint ${id}`);
      }
      for (const id of [2, 1]) check.equal(await store.restore(scope, id), false, `restore of discarded checkpoint ${id}`);
      check.equal(await store.restore(other, 1), true, 'restore of checkpoint 1 in a scope whose snapshots were not discarded');
      check.equal(await store.get(other, 'v'), 'other-1', 'value in that scope');
    },
  },
  {
    name: 'scopes() lists the scopes holding live entries or snapshots, in ascending order',
    async body({ store, name }) {
      const check = checker(store, name);
      check.equal(await store.scopes(), [], 'scopes of a fresh store');
      await store.put('b', 'k', 1);
      await store.put('a/b', 'k', 1);
      await store.put('a', 'k', 1);
      await store.put('c', 'k', 1);
      check.equal(await store.scopes(), ['a', 'a/b', 'b', 'c'], 'scopes after puts');
      await store.snapshot('c', 1);
      await store.delete('c', 'k');
      await store.delete('b', 'k');
      check.equal(await store.scopes(), ['a', 'a/b', 'c'], 'scopes after emptying b (no snapshot) and c (has a snapshot)');
      await store.apply('d', [{ op: 'put', key: 'k', value: 1 }]);
      check.equal(await store.scopes(), ['a', 'a/b', 'c', 'd'], 'scopes after an apply to a new scope');
    },
  },
  {
    name: 'stored values are copies: mutating what was put or what was read changes nothing',
    async body({ store, name }) {
      const check = checker(store, name);
      const scope = 'step-1/orders:0';
      const original = { list: [1], nested: { n: 1 } };
      const value = { list: [1], nested: { n: 1 } };
      await store.put(scope, 'put', value);
      value.list.push(2);
      value.nested.n = 2;
      check.equal(await store.get(scope, 'put'), original, 'get after mutating the object given to put');

      const applied = { list: [1], nested: { n: 1 } };
      await store.apply(scope, [{ op: 'put', key: 'applied', value: applied }]);
      applied.list.push(2);
      check.equal(await store.get(scope, 'applied'), original, 'get after mutating the object given to apply');

      const read = (await store.get(scope, 'put')) as typeof original;
      read.list.push(3);
      read.nested.n = 3;
      check.equal(await store.get(scope, 'put'), original, 'get after mutating an object returned by get');

      for await (const [, scanned] of store.scan(scope)) (scanned as typeof original).list.push(4);
      check.equal(await store.get(scope, 'applied'), original, 'get after mutating objects returned by scan');

      await store.snapshot(scope, 1);
      const afterRestore = (await store.get(scope, 'put')) as typeof original;
      afterRestore.list.push(5);
      await store.restore(scope, 1);
      check.equal(await store.get(scope, 'put'), original, 'restore after mutating an object read after the snapshot');
    },
  },
];

class StateStoreContractViolation extends Error {
  override readonly name = 'StateStoreContractViolation';
}

function checker(store: StateStore, caseName: string) {
  const fail = (message: string): never => {
    throw new StateStoreContractViolation(`State store "${store.name}" breaks the contract "${caseName}": ${message}`);
  };
  return {
    that(condition: boolean, message: string): void {
      if (!condition) fail(message);
    },
    equal(actual: unknown, expected: unknown, what: string): void {
      if (!deepEqual(actual, expected)) fail(`${what}: expected ${show(expected)}, got ${show(actual)}`);
    },
  };
}

/** Equality of JSON-like values: same types, same array order, same object keys (in any order). */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, index) => deepEqual(item, other[index]));
  }
  const aKeys = Object.keys(a);
  const bKeys = Object.keys(b);
  if (aKeys.length !== bKeys.length) return false;
  return aKeys.every((key) => Object.hasOwn(b, key) && deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? `${item}n` : item === undefined ? '<undefined>' : item));
  } catch {
    return '<a value JSON cannot show>';
  }
}

async function collect(iterable: AsyncIterable<readonly [string, unknown]>): Promise<[string, unknown][]> {
  const entries: [string, unknown][] = [];
  for await (const [key, value] of iterable) entries.push([key, value]);
  return entries;
}

/** Whether `operation` rejects (or throws synchronously, which a careless async implementation might do). */
async function rejects(operation: () => Promise<unknown>): Promise<boolean> {
  try {
    await operation();
    return false;
  } catch {
    return true;
  }
}

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

// The contract suite is test tooling: real time is only used when the store under test measures TTL in real time.
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
