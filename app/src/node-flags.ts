/**
 * Node/V8 flags the relay runs with in production: the systemd unit puts them on node's command
 * line (cluster workers inherit them), and `npm run bench` starts the relay with the same ones.
 *
 * - `--max-semi-space-size=8`: a relay allocates a lot of short-lived garbage per request (Web
 *   Request/Response objects, streams, JSON). With V8's default young generation (up to 32 MB
 *   per semi-space here) the heap grew to ~285 MB RSS under load against ~25 MB of live data;
 *   8 MB semi-spaces kept it near ~150-220 MB for about 5-10 % more CPU per request (measured
 *   with `npm run bench`, Nov 2026). No old-space cap: a few large image answers in flight must
 *   not crash the process.
 * - `--no-async-context-frame`: Node 24 carries AsyncLocalStorage's context through every
 *   callback and promise job. Around each nextTick, timer, immediate and native callback it
 *   calls `AsyncContextFrame.exchange`, which sets V8's continuation data; on first use the
 *   frame class gets the active implementation as its prototype, so V8 reads those methods
 *   through generic inline-cache calls. Off, the calls stay, as no-ops read inline (Node 22's
 *   default). The relay's main thread: 389.5 → 373.8-375.1 K instructions per chat request
 *   (−3.7 to −4.0 %; a third run 384.3 K; `npm run bench:instructions`, Dec 2026). The relay
 *   uses no AsyncLocalStorage (test/infra/bundle.test.ts looks). A dependency that did would
 *   still work, on the async_hooks implementation, but its first `run()` would turn on promise
 *   hooks for the whole process, far slower than the frames: drop this flag then. (The WAL
 *   checkpoint's worker thread starts with Node's defaults: it runs no request code.)
 */
export const RELAY_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=8',
  '--no-async-context-frame',
];

/**
 * Environment the relay runs with in production (the systemd unit's `Environment=` lines) and in
 * `npm run bench`. glibc gives each thread that allocates its own malloc arena (the main thread,
 * libuv's pool, the WAL checkpoint worker, V8's helpers), and memory freed in one arena is not
 * reused by another: two arenas cut the peak RSS at 1,000 open streams by ~15 MiB (4 alternated
 * pairs of `BENCH_QUICK=1 npm run bench`, Dec 2026: 233-256 → 223-250 MiB), with no CPU cost the
 * runs could see (the relay's threads seldom allocate at the same time).
 */
export const RELAY_NODE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
