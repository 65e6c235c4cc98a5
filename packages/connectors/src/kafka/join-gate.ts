import type { Socket } from 'node:net';
import type { ISocketFactory } from 'kafkajs';

/** Kafka API keys of the requests that give a member's partitions up under the eager rebalance protocol. */
const JOIN_GROUP = 11;
const LEAVE_GROUP = 13;

/** Which group request is about to leave the process. */
export type GroupExit = 'join' | 'leave';

/**
 * Reads a Kafka request frame: `int32 size, int16 apiKey, int16 apiVersion, int32 correlationId, string clientId`.
 * Returns the api key when the frame is a JoinGroup or LeaveGroup request of this client, else `undefined`. The size
 * and the client id are checked too, so that bytes which merely look alike (a SASL token) never match.
 */
export function groupExitOf(chunk: unknown, clientId: Buffer): GroupExit | undefined {
  if (!Buffer.isBuffer(chunk) || chunk.length < 14) return undefined;
  if (chunk.readInt32BE(0) !== chunk.length - 4) return undefined;
  const apiKey = chunk.readInt16BE(4);
  if (apiKey !== JOIN_GROUP && apiKey !== LEAVE_GROUP) return undefined;
  const apiVersion = chunk.readInt16BE(6);
  if (apiVersion < 0 || apiVersion > 20) return undefined;
  const clientIdLength = chunk.readInt16BE(12);
  if (clientIdLength !== clientId.length || chunk.length < 14 + clientIdLength) return undefined;
  if (!chunk.subarray(14, 14 + clientIdLength).equals(clientId)) return undefined;
  return apiKey === JOIN_GROUP ? 'join' : 'leave';
}

/**
 * The pre-release hook kafkajs lacks. Under the classic (eager) group protocol a member gives up every partition it
 * holds the moment its JoinGroup (rebalance) or LeaveGroup request reaches the coordinator: the coordinator only
 * hands partitions to others once every member rejoined. kafkajs has no `onPartitionsRevoked`: it sends JoinGroup as
 * soon as it notices a rebalance, from whichever code path noticed it (a heartbeat, a fetch, a commit, a crash
 * restart). The gate sits in the socket factory — a public kafkajs option — and holds those two requests of this
 * client until `beforeExit` settles (at most `maxHoldMs`), so the source can checkpoint and commit the partitions while
 * the group still waits for it. Every other request (heartbeats, offset commits) passes untouched, so the commit made
 * during the hold is accepted by the coordinator (the generation is still current while the group prepares the
 * rebalance). Requests are matched by correlation id, so writing a held request after later ones is safe.
 *
 * @internal
 */
export class JoinGate {
  readonly #clientId: Buffer;
  readonly #beforeExit: (exit: GroupExit) => Promise<void>;
  readonly #maxHoldMs: number;
  readonly #onOverrun: (exit: GroupExit, heldMs: number) => void;
  readonly #onHeld: (exit: GroupExit, heldMs: number) => void;

  constructor(options: {
    clientId: string;
    beforeExit: (exit: GroupExit) => Promise<void>;
    maxHoldMs: number;
    onHeld: (exit: GroupExit, heldMs: number) => void;
    onOverrun: (exit: GroupExit, heldMs: number) => void;
  }) {
    this.#clientId = Buffer.from(options.clientId, 'utf8');
    this.#beforeExit = options.beforeExit;
    this.#maxHoldMs = options.maxHoldMs;
    this.#onHeld = options.onHeld;
    this.#onOverrun = options.onOverrun;
  }

  /** Wraps a socket factory so that every socket it makes passes group exits through the gate. */
  wrap(base: ISocketFactory): ISocketFactory {
    return (args) => {
      const socket = base(args);
      this.#install(socket);
      return socket;
    };
  }

  #install(socket: Socket): void {
    const write = socket.write.bind(socket) as (chunk: unknown, ...rest: unknown[]) => boolean;
    const gated = (chunk: unknown, ...rest: unknown[]): boolean => {
      const exit = groupExitOf(chunk, this.#clientId);
      if (exit === undefined) return write(chunk, ...rest);
      const started = Date.now();
      let released = false;
      const release = (overran: boolean): void => {
        if (released) return;
        released = true;
        clearTimeout(timer);
        const heldMs = Date.now() - started;
        if (overran) this.#onOverrun(exit, heldMs);
        else this.#onHeld(exit, heldMs);
        if (!socket.destroyed) write(chunk, ...rest);
      };
      const timer = setTimeout(() => release(true), this.#maxHoldMs);
      timer.unref?.();
      this.#beforeExit(exit).then(
        () => release(false),
        () => release(false),
      );
      return true;
    };
    socket.write = gated;
  }
}
