import type { InflightTracker } from './types.ts';

export function createInflightTracker(): InflightTracker {
  // One count for all that is in flight (a promise's work or begin()'s), and who waits for it to
  // come to nothing.
  let open = 0;
  let idle: (() => void)[] = [];
  const begin = () => {
    open++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--open > 0) return;
      const waiting = idle;
      idle = [];
      for (const wake of waiting) wake();
    };
  };
  return {
    add(done) {
      const end = begin();
      // then(end, end), not finally: finally chains two more promises per call (two calls per
      // request: ~690 → ~450 ns each), and its copy of a rejection would go unhandled.
      done.then(end, end);
    },
    begin,
    get size() {
      return open;
    },
    async drain(ms) {
      const deadline = Date.now() + ms;
      // Again after each wake: new work may have begun before this turn came.
      while (open > 0) {
        const left = deadline - Date.now();
        if (left <= 0) return false;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => idle.push(resolve)),
          new Promise((resolve) => (timer = setTimeout(resolve, left))),
        ]);
        clearTimeout(timer);
      }
      return true;
    },
  };
}
