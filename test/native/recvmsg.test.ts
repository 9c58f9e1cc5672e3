// The addon's recvMsg (native/src/addon.cc) on a SEQPACKET socketpair, the init's sync socket: it peeks a message's
// length and reads exactly that, so each message arrives whole and alone, an empty queue is null, a closed peer is
// an empty buffer, and a message over the limit is refused with its real length and taken off the queue.
import * as fs from 'node:fs';
import { native } from '@tsrunc/common';
import { builtSkipReason } from '../helpers/tsrunc';

const skip = builtSkipReason();
const describeBuilt = skip ? describe.skip : describe;

describeBuilt(`the addon's recvMsg${skip ? ` [skipped: ${skip}]` : ''}`, () => {
  it('returns each queued message whole, null when none is queued, an empty buffer once the peer closed', () => {
    const [a, b] = native().socketpair();
    try {
      expect(native().recvMsg(a, 1 << 20)).toBeNull();
      const big = Buffer.alloc(100_000, 7);
      native().sendMsg(b, Buffer.from('first'));
      native().sendMsg(b, big);
      native().sendMsg(b, Buffer.from('third'));
      expect(native().recvMsg(a, 1 << 20)?.toString()).toBe('first');
      expect(native().recvMsg(a, 1 << 20)?.equals(big)).toBe(true);
      expect(native().recvMsg(a, 1 << 20)?.toString()).toBe('third');
      expect(native().recvMsg(a, 1 << 20)).toBeNull();
      fs.closeSync(b);
      expect(native().recvMsg(a, 1 << 20)?.length).toBe(0);
    } finally {
      fs.closeSync(a);
      try {
        fs.closeSync(b);
      } catch {
        // closed above
      }
    }
  });

  it('refuses a message longer than the limit with EMSGSIZE and its length, and the next message still arrives', () => {
    const [a, b] = native().socketpair();
    try {
      native().sendMsg(b, Buffer.alloc(300, 1));
      native().sendMsg(b, Buffer.from('next'));
      expect(() => native().recvMsg(a, 100)).toThrow(expect.objectContaining({ code: 'EMSGSIZE', message: 'message of 300 bytes exceeds 100' }));
      expect(native().recvMsg(a, 100)?.toString()).toBe('next');
    } finally {
      fs.closeSync(a);
      fs.closeSync(b);
    }
  });
});
