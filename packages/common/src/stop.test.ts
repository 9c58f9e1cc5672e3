import { Stopper } from './stop';

describe('Stopper', () => {
  it('calls each listener once, in the order added, with the reason set before the first', () => {
    const stopper = new Stopper();
    const seen: string[] = [];
    const a = (): void => void seen.push(`a:${String(stopper.reason)}`);
    const b = (): void => void seen.push(`b:${String(stopper.aborted)}`);
    stopper.addEventListener('abort', a);
    stopper.addEventListener('abort', b);
    stopper.addEventListener('abort', a); // the same listener twice is one listener, as on an EventTarget
    expect(stopper.aborted).toBe(false);
    stopper.stop('closed');
    stopper.stop('again');
    expect(seen).toEqual(['a:closed', 'b:true']);
    expect(stopper.reason).toBe('closed');
  });

  it('does not call a removed listener, nor one added after the stop', () => {
    const stopper = new Stopper();
    const calls: string[] = [];
    const removed = (): void => void calls.push('removed');
    stopper.addEventListener('abort', removed);
    stopper.removeEventListener('abort', removed);
    stopper.stop(new Error('x'));
    stopper.addEventListener('abort', () => calls.push('late'));
    expect(calls).toEqual([]);
  });
});
