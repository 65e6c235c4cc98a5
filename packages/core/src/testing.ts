/**
 * `@tributary/core/testing`: drive topologies and operators without a broker or real timers, and check state stores
 * against the contract. Anything exported here is public API.
 *
 * @packageDocumentation
 */
export { TestDriver } from './testing/test-driver.js';
export type { DrivenTopology, TestDriverOptions, SendOptions } from './testing/test-driver.js';
export { VirtualClock } from './testing/virtual-clock.js';
export { stateStoreContract } from './testing/state-store-contract.js';
export type { StateStoreContractFixture, StateStoreContractCase, StateStoreContractOptions } from './testing/state-store-contract.js';
export { runOperator, dataOf, testRecord } from './internal/run-operator.js';
