/**
 * Reads an {@link ObjectBody} in pieces of a requested size, without copying when a piece lies within one chunk.
 *
 * @internal
 */
import { raceSignal } from './call-scope.js';
import type { ObjectBody } from './object-store.js';

const encoder = new TextEncoder();

/** The caller's body failed (its stream threw, or it yielded something that is not bytes or a string). */
export class BodyReadFailure extends Error {
  constructor(
    readonly reason: unknown,
    readonly bytesRead: number,
  ) {
    super(reason instanceof Error ? reason.message : String(reason), { cause: reason });
  }
}

/** Whether `body` is one of the {@link ObjectBody} shapes. */
export function isObjectBody(body: unknown): body is ObjectBody {
  return (
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    (typeof body === 'object' && body !== null && typeof (body as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function')
  );
}

export class BodyReader {
  /** Chunks taken from the source but not handed out yet, first one first; `#offset` bytes of the first are used. */
  readonly #pending: Uint8Array[] = [];
  #offset = 0;
  #iterator: AsyncIterator<Uint8Array | string> | undefined;
  #bytesRead = 0;

  constructor(body: ObjectBody) {
    if (typeof body === 'string') this.#pending.push(encoder.encode(body));
    else if (body instanceof Uint8Array) this.#pending.push(body);
    else this.#iterator = body[Symbol.asyncIterator]();
  }

  /** Bytes handed out so far. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /**
   * Up to `size` bytes; fewer only at the end of the body (an empty array: the end). Rejects with
   * {@link BodyReadFailure} when the source fails, with `signal.reason` when `signal` aborts while waiting for it.
   */
  async read(size: number, signal: AbortSignal): Promise<Uint8Array> {
    const pieces: Uint8Array[] = [];
    let collected = 0;
    while (collected < size) {
      let chunk = this.#pending[0];
      if (chunk === undefined) {
        const next = await this.#pull(signal);
        if (next === undefined) break;
        this.#pending.push(next);
        this.#offset = 0;
        chunk = next;
      }
      const available = chunk.length - this.#offset;
      const take = Math.min(available, size - collected);
      pieces.push(chunk.subarray(this.#offset, this.#offset + take));
      collected += take;
      if (take === available) {
        this.#pending.shift();
        this.#offset = 0;
      } else {
        this.#offset += take;
      }
    }
    this.#bytesRead += collected;
    if (pieces.length === 1) return pieces[0]!;
    const joined = new Uint8Array(collected);
    let at = 0;
    for (const piece of pieces) {
      joined.set(piece, at);
      at += piece.length;
    }
    return joined;
  }

  /** Puts bytes back in front, to be read again. */
  unread(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const first = this.#pending[0];
    if (first !== undefined && this.#offset > 0) {
      this.#pending[0] = first.subarray(this.#offset);
      this.#offset = 0;
    }
    this.#pending.unshift(bytes);
    this.#bytesRead -= bytes.length;
  }

  /** Tells the source we are done with it (closes a file stream early); does not wait for it. */
  release(): void {
    const iterator = this.#iterator;
    this.#iterator = undefined;
    if (iterator?.return === undefined) return;
    // A generator suspended in an `await` only returns once it resumes, so never wait for this.
    Promise.resolve()
      .then(() => iterator.return?.())
      .catch(() => undefined);
  }

  async #pull(signal: AbortSignal): Promise<Uint8Array | undefined> {
    const iterator = this.#iterator;
    if (iterator === undefined) return undefined;
    for (;;) {
      let result: IteratorResult<Uint8Array | string>;
      try {
        result = await raceSignal(iterator.next(), signal);
      } catch (error) {
        if (signal.aborted && error === signal.reason) throw error;
        this.#iterator = undefined;
        throw new BodyReadFailure(error, this.#bytesRead);
      }
      if (result.done === true) {
        this.#iterator = undefined;
        return undefined;
      }
      const value: unknown = result.value;
      if (typeof value === 'string') {
        if (value.length > 0) return encoder.encode(value);
      } else if (value instanceof Uint8Array) {
        if (value.length > 0) return value;
      } else {
        this.release();
        throw new BodyReadFailure(new TypeError(`the body yielded a ${describe(value)}; chunks must be Uint8Array or string`), this.#bytesRead);
      }
    }
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value).constructor?.name ?? 'object';
  return typeof value;
}
