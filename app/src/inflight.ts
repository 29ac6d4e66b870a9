import type { InflightTracker } from './types.ts';

export function createInflightTracker(): InflightTracker {
  const pending = new Set<Promise<unknown>>();
  return {
    add(done) {
      const p = done.finally(() => pending.delete(p));
      pending.add(p);
    },
    get size() {
      return pending.size;
    },
    async drain(ms) {
      const deadline = Date.now() + ms;
      while (pending.size > 0) {
        const left = deadline - Date.now();
        if (left <= 0) return false;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...pending]),
          new Promise((resolve) => (timer = setTimeout(resolve, left))),
        ]);
        clearTimeout(timer);
      }
      return true;
    },
  };
}
