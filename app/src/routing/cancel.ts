/**
 * Why a request's upstream call stops early: the client left, or the failover's time budget ran
 * out. Node's AbortSignal is an EventTarget, and every chat request added and removed two
 * listeners and made two AbortControllers: 8–10 thousand instructions of its main thread
 * (callgrind, 2.2–2.6 %). The relay's own chain (client → failover → upstream call) passes a
 * Cancel instead: plain callbacks, and a real AbortSignal made only when a library asks for one.
 */
export class Cancel {
  #aborted = false;
  #reason: unknown = undefined;
  /** One listener is the common case (the upstream call's watchdog): no array for it. */
  #listener: (() => void) | undefined;
  #more: (() => void)[] | undefined;
  #controller: AbortController | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** An AbortSignal that follows this one, for a library that takes only that (made once). */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /**
   * Calls every listener once, in the order added, then forgets them; one removed by an earlier
   * one meanwhile is not called. A listener that throws does not keep the others from hearing
   * it; its error is thrown on the next tick, as an EventTarget reports one.
   */
  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    // Taken one at a time from the live list, so that offAbort during the calls is heard.
    for (let fn = this.#listener; fn; fn = this.#listener) {
      this.#listener = this.#more?.shift();
      call(fn);
    }
    this.#more = undefined;
    this.#controller?.abort(reason);
  }

  /**
   * Like `addEventListener('abort', fn, { once: true })`: never called if already aborted, and
   * once however often it was added.
   */
  onAbort(fn: () => void): void {
    if (this.#aborted || this.#listener === fn || this.#more?.includes(fn)) return;
    if (!this.#listener) this.#listener = fn;
    else (this.#more ??= []).push(fn);
  }

  offAbort(fn: () => void): void {
    if (this.#listener === fn) {
      this.#listener = this.#more?.shift();
      return;
    }
    const i = this.#more?.indexOf(fn) ?? -1;
    if (i >= 0) this.#more!.splice(i, 1);
  }
}

function call(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    process.nextTick(() => {
      throw err;
    });
  }
}

/** What the upstream code follows: the relay's own Cancel, or a signal (a timeout, a test's). */
export type AbortSource = AbortSignal | Cancel;

/** `fn` is called once when `source` aborts; it reads why from `source.reason`. */
export function follow(source: AbortSource | undefined, fn: () => void): void {
  if (source instanceof Cancel) source.onAbort(fn);
  else source?.addEventListener('abort', fn, { once: true });
}

export function unfollow(source: AbortSource | undefined, fn: () => void): void {
  if (source instanceof Cancel) source.offAbort(fn);
  else source?.removeEventListener('abort', fn);
}

/** A real AbortSignal for `source`, for a library's API. */
export function signalOf(source: AbortSource): AbortSignal {
  return source instanceof Cancel ? source.signal : source;
}
