/**
 * The relay's own abort (Cancel): what the upstream code relied on from AbortSignal — listeners
 * called once, in order, never after removal (during the abort included) or after the fact — and
 * a real AbortSignal for a library, before or after the abort.
 */
import { describe, expect, it } from 'vitest';
import { Cancel, follow, signalOf, unfollow } from '../../../app/src/routing/cancel.ts';

describe('Cancel', () => {
  it('calls each listener once, in the order added, with the reason readable', () => {
    const cancel = new Cancel();
    const heard: string[] = [];
    for (const name of ['a', 'b', 'c'])
      cancel.onAbort(() => heard.push(`${name}:${String(cancel.reason)}`));
    expect(cancel.aborted).toBe(false);
    cancel.abort('gone');
    cancel.abort('again');
    expect(heard).toEqual(['a:gone', 'b:gone', 'c:gone']);
    expect(cancel.aborted).toBe(true);
    expect(cancel.reason).toBe('gone');
  });

  it('gives an AbortError when no reason is given, as AbortController does', () => {
    const cancel = new Cancel();
    cancel.abort();
    expect(cancel.reason).toBeInstanceOf(DOMException);
    expect((cancel.reason as DOMException).name).toBe('AbortError');
  });

  it('forgets a removed listener, first or later, and leaves the others', () => {
    const cancel = new Cancel();
    const heard: string[] = [];
    const a = () => heard.push('a');
    const b = () => heard.push('b');
    const c = () => heard.push('c');
    cancel.onAbort(a);
    cancel.onAbort(b);
    cancel.onAbort(c);
    cancel.offAbort(a);
    cancel.offAbort(c);
    cancel.offAbort(() => heard.push('never added'));
    cancel.abort();
    expect(heard).toEqual(['b']);
  });

  it('does not call a listener that an earlier one removed while the abort went round', () => {
    const cancel = new Cancel();
    const heard: string[] = [];
    const b = () => heard.push('b');
    const c = () => heard.push('c');
    cancel.onAbort(() => {
      heard.push('a');
      cancel.offAbort(c);
    });
    cancel.onAbort(b);
    cancel.onAbort(c);
    cancel.abort();
    expect(heard).toEqual(['a', 'b']);
  });

  it('calls a listener added twice once, as EventTarget does', () => {
    const cancel = new Cancel();
    let calls = 0;
    const fn = () => calls++;
    cancel.onAbort(() => {});
    cancel.onAbort(fn);
    cancel.onAbort(fn);
    const first = () => calls++;
    const other = new Cancel();
    other.onAbort(first);
    other.onAbort(first);
    cancel.abort();
    other.abort();
    expect(calls).toBe(2);
  });

  it('never calls a listener added after the abort', () => {
    const cancel = new Cancel();
    cancel.abort();
    let called = false;
    cancel.onAbort(() => (called = true));
    expect(called).toBe(false);
  });

  it('keeps telling the others when a listener throws, and reports the error on the next tick', async () => {
    const cancel = new Cancel();
    const heard: string[] = [];
    cancel.onAbort(() => {
      throw new Error('listener broke');
    });
    cancel.onAbort(() => heard.push('second'));
    // Vitest's own handler would count the report as the test's failure: it is set aside.
    const theirs = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    try {
      const reported = new Promise<Error>((resolve) => process.once('uncaughtException', resolve));
      cancel.abort();
      expect(heard).toEqual(['second']);
      expect((await reported).message).toBe('listener broke');
    } finally {
      for (const fn of theirs) process.on('uncaughtException', fn);
    }
  });

  it('makes a real AbortSignal on demand that follows it, before or after the abort', () => {
    const before = new Cancel();
    const signal = before.signal;
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(before.signal).toBe(signal);
    before.abort('why');
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('why');

    const after = new Cancel();
    after.abort('late');
    expect(after.signal.aborted).toBe(true);
    expect(after.signal.reason).toBe('late');
  });
});

describe('follow / unfollow / signalOf', () => {
  const sources = {
    'an AbortSignal': () => {
      const c = new AbortController();
      return { source: c.signal, abort: () => c.abort('x') };
    },
    'a Cancel': () => {
      const c = new Cancel();
      return { source: c, abort: () => c.abort('x') };
    },
  };

  it.each(Object.entries(sources))('follow hears %s once; unfollow stops it', (_name, make) => {
    const followed = make();
    let heard = 0;
    const fn = () => heard++;
    follow(followed.source, fn);
    followed.abort();
    followed.abort();
    expect(heard).toBe(1);

    const dropped = make();
    follow(dropped.source, fn);
    unfollow(dropped.source, fn);
    dropped.abort();
    expect(heard).toBe(1);
  });

  it('follows nothing when there is no source', () => {
    expect(() => {
      follow(undefined, () => {});
      unfollow(undefined, () => {});
    }).not.toThrow();
  });

  it('signalOf hands over an AbortSignal as it is, and a Cancel as its own signal', () => {
    const controller = new AbortController();
    expect(signalOf(controller.signal)).toBe(controller.signal);
    const cancel = new Cancel();
    expect(signalOf(cancel)).toBe(cancel.signal);
  });
});
