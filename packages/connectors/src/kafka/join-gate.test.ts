import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { JoinGate, groupExitOf } from './join-gate.js';

/** A Kafka request frame: int32 size, int16 apiKey, int16 apiVersion, int32 correlationId, string clientId, body. */
function frame(apiKey: number, clientId: string, body = Buffer.from([0, 0, 0, 0])): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  const header = Buffer.alloc(14);
  header.writeInt16BE(apiKey, 4);
  header.writeInt16BE(5, 6);
  header.writeInt32BE(42, 8);
  header.writeInt16BE(id.length, 12);
  const out = Buffer.concat([header, id, body]);
  out.writeInt32BE(out.length - 4, 0);
  return out;
}

function fakeSocket(): Socket & { written: Buffer[] } {
  const written: Buffer[] = [];
  const write = (chunk: Buffer): boolean => {
    written.push(chunk);
    return true;
  };
  return { written, destroyed: false, write } as unknown as Socket & { written: Buffer[] };
}

describe('groupExitOf', () => {
  it('recognises JoinGroup (11) and LeaveGroup (13) requests of this client only', () => {
    const me = Buffer.from('app-1');
    expect(groupExitOf(frame(11, 'app-1'), me)).toBe('join');
    expect(groupExitOf(frame(13, 'app-1'), me)).toBe('leave');
    expect(groupExitOf(frame(12, 'app-1'), me)).toBeUndefined(); // Heartbeat
    expect(groupExitOf(frame(8, 'app-1'), me)).toBeUndefined(); // OffsetCommit
    expect(groupExitOf(frame(11, 'app-2'), me)).toBeUndefined();
    expect(groupExitOf(frame(11, 'app-10'), me)).toBeUndefined();
  });

  it('ignores anything that is not a whole request frame', () => {
    const me = Buffer.from('app-1');
    const truncated = frame(11, 'app-1').subarray(0, 16);
    expect(groupExitOf(truncated, me)).toBeUndefined();
    expect(groupExitOf('a string', me)).toBeUndefined();
    expect(groupExitOf(Buffer.alloc(5), me)).toBeUndefined();
    // A raw SASL PLAIN token with a length prefix: "\0app-1\0secret" never parses as a group request.
    const token = Buffer.from('\0app-1\0secret');
    const sized = Buffer.concat([Buffer.alloc(4), token]);
    sized.writeInt32BE(token.length, 0);
    expect(groupExitOf(sized, me)).toBeUndefined();
  });
});

describe('JoinGate', () => {
  it('holds a JoinGroup write until the revoke settles; other writes pass at once', async () => {
    let release!: () => void;
    const exits: string[] = [];
    const held: number[] = [];
    const gate = new JoinGate({
      clientId: 'app-1',
      beforeExit: (exit) => {
        exits.push(exit);
        return new Promise<void>((resolve) => (release = resolve));
      },
      maxHoldMs: 10_000,
      onHeld: (_exit, ms) => void held.push(ms),
      onOverrun: () => {
        throw new Error('no overrun expected');
      },
    });
    const socket = fakeSocket();
    const wrapped = gate.wrap(() => socket)({ host: 'h', port: 1, ssl: {}, onConnect: () => undefined });
    const join = frame(11, 'app-1');
    const commit = frame(8, 'app-1');
    expect(wrapped.write(join)).toBe(true);
    wrapped.write(commit);
    expect(exits).toEqual(['join']);
    expect(socket.written).toEqual([commit]);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.written).toEqual([commit, join]);
    expect(held).toHaveLength(1);
  });

  it('releases a held request after maxHoldMs even if the revoke never settles', async () => {
    const overruns: string[] = [];
    const gate = new JoinGate({
      clientId: 'c',
      beforeExit: () => new Promise<void>(() => undefined),
      maxHoldMs: 30,
      onHeld: () => undefined,
      onOverrun: (exit) => void overruns.push(exit),
    });
    const socket = fakeSocket();
    const wrapped = gate.wrap(() => socket)({ host: 'h', port: 1, ssl: {}, onConnect: () => undefined });
    const leave = frame(13, 'c');
    wrapped.write(leave);
    expect(socket.written).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(socket.written).toEqual([leave]);
    expect(overruns).toEqual(['leave']);
  });
});
