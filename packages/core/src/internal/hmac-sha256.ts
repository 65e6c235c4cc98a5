/**
 * HMAC-SHA-256 (RFC 2104 over FIPS 180-4) in plain TypeScript, for `mask`'s salted hashing.
 *
 * Why not Web Crypto: `crypto.subtle.sign` costs one promise and one trip through the crypto thread per value, which
 * for the short strings masking hashes (e-mails, phone numbers) is far slower than computing the two SHA-256 blocks
 * here, and it would force every masking step to become asynchronous. Why not `node:crypto`: the package root imports
 * nothing but rxjs and zod, so it runs unchanged in browsers, Deno, Bun and edge runtimes.
 *
 * The key's inner and outer pad blocks are compressed once, when the hasher is created, so hashing a value of up to 55
 * UTF-8 bytes costs exactly two compressions. Verified against `node:crypto` in `hmac-sha256.test.ts`.
 *
 * @internal
 */

const ROUND_CONSTANTS = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const INITIAL_STATE = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

const HEX_BYTES: readonly string[] = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

const utf8 = new TextEncoder();

/** A keyed HMAC-SHA-256 function: UTF-8 of `message` in, lowercase hex digest out. */
export type HmacSha256 = (message: string) => string;

/**
 * Creates an HMAC-SHA-256 function for `key` (UTF-8). Not safe to call re-entrantly from several threads — JavaScript
 * has none — but each hasher owns its buffers, so independent hashers never interfere.
 *
 * @example
 * ```ts
 * const hmac = createHmacSha256('pepper');
 * hmac('alice@example.com'); // 64 lowercase hex characters
 * ```
 */
export function createHmacSha256(key: string): HmacSha256 {
  const words = new Int32Array(64);
  const state = new Int32Array(8);

  // Keys longer than a block are hashed first (RFC 2104 §2).
  let keyBytes: Uint8Array = utf8.encode(key);
  if (keyBytes.length > 64) {
    state.set(INITIAL_STATE);
    keyBytes = wordsToBytes(digestBytes(state, words, keyBytes, keyBytes.length));
  }
  const pad = new Uint8Array(64);
  pad.set(keyBytes);
  const innerState = new Int32Array(8);
  const outerState = new Int32Array(8);
  for (let i = 0; i < 64; i++) pad[i]! ^= 0x36;
  innerState.set(INITIAL_STATE);
  compressBytes(innerState, words, pad, 0);
  for (let i = 0; i < 64; i++) pad[i]! ^= 0x36 ^ 0x5c;
  outerState.set(INITIAL_STATE);
  compressBytes(outerState, words, pad, 0);

  let buffer = new Uint8Array(256);
  const outerBlock = new Uint8Array(64);
  // Padding of the outer message: 64 bytes of key pad + 32 bytes of inner digest = 768 bits.
  outerBlock[32] = 0x80;
  outerBlock[62] = 0x03;
  outerBlock[63] = 0x00;

  return (message) => {
    // Worst case 3 UTF-8 bytes per UTF-16 unit, plus 72 bytes for padding.
    const needed = message.length * 3 + 72;
    if (buffer.length < needed) buffer = new Uint8Array(Math.max(needed, buffer.length * 2));
    const length = utf8.encodeInto(message, buffer).written;

    state.set(innerState);
    const inner = digestBytes(state, words, buffer, length, 64);
    for (let i = 0; i < 8; i++) {
      const word = inner[i]!;
      outerBlock[i * 4] = word >>> 24;
      outerBlock[i * 4 + 1] = word >>> 16;
      outerBlock[i * 4 + 2] = word >>> 8;
      outerBlock[i * 4 + 3] = word;
    }
    state.set(outerState);
    compressBytes(state, words, outerBlock, 0);

    let hex = '';
    for (let i = 0; i < 8; i++) {
      const word = state[i]!;
      hex += HEX_BYTES[(word >>> 24) & 0xff]! + HEX_BYTES[(word >>> 16) & 0xff]! + HEX_BYTES[(word >>> 8) & 0xff]! + HEX_BYTES[word & 0xff]!;
    }
    return hex;
  };
}

/**
 * Finishes a SHA-256 over `bytes[0, length)` starting from `state`, which has already absorbed `prefixLength` bytes.
 * Pads in place, so `bytes` must have at least 72 spare bytes after `length`. Returns `state`.
 */
function digestBytes(state: Int32Array, words: Int32Array, bytes: Uint8Array, length: number, prefixLength = 0): Int32Array {
  if (bytes.length < length + 72) {
    const grown = new Uint8Array(length + 72);
    grown.set(bytes.subarray(0, length));
    bytes = grown;
  }
  const blocks = Math.floor((length + 8) / 64) + 1;
  const end = blocks * 64;
  bytes[length] = 0x80;
  bytes.fill(0, length + 1, end - 8);
  const bits = (length + prefixLength) * 8;
  // Message length in bits as a 64-bit big-endian integer; lengths here stay below 2^53 bits.
  const high = Math.floor(bits / 0x100000000);
  bytes[end - 8] = high >>> 24;
  bytes[end - 7] = high >>> 16;
  bytes[end - 6] = high >>> 8;
  bytes[end - 5] = high;
  bytes[end - 4] = bits >>> 24;
  bytes[end - 3] = bits >>> 16;
  bytes[end - 2] = bits >>> 8;
  bytes[end - 1] = bits;
  for (let offset = 0; offset < end; offset += 64) compressBytes(state, words, bytes, offset);
  return state;
}

function wordsToBytes(state: Int32Array): Uint8Array {
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const word = state[i]!;
    bytes[i * 4] = word >>> 24;
    bytes[i * 4 + 1] = word >>> 16;
    bytes[i * 4 + 2] = word >>> 8;
    bytes[i * 4 + 3] = word;
  }
  return bytes;
}

/** The SHA-256 compression function over the 64-byte block at `offset`. */
function compressBytes(state: Int32Array, words: Int32Array, bytes: Uint8Array, offset: number): void {
  for (let i = 0; i < 16; i++) {
    const at = offset + i * 4;
    words[i] = (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const w15 = words[i - 15]!;
    const w2 = words[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    words[i] = (words[i - 16]! + s0 + words[i - 7]! + s1) | 0;
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const choose = (e & f) ^ (~e & g);
    const t1 = (h + s1 + choose + ROUND_CONSTANTS[i]! + words[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const majority = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (s0 + majority) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}
