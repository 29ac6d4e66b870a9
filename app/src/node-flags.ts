/**
 * Node/V8 flags the relay runs with in production: the systemd unit puts them on node's command
 * line (cluster workers inherit them), and `npm run bench` starts the relay with the same ones.
 *
 * A relay allocates a lot of short-lived garbage per request (Web Request/Response objects,
 * streams, JSON). With V8's default young generation (up to 32 MB per semi-space here) the heap
 * grew to ~285 MB RSS under load against ~25 MB of live data; 8 MB semi-spaces kept it near
 * ~150-220 MB for about 5-10 % more CPU per request (measured with `npm run bench`, Nov 2026).
 * No old-space cap: a few large image answers in flight must not crash the process.
 */
export const RELAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/**
 * Environment the relay runs with in production (the systemd unit's `Environment=` lines) and in
 * `npm run bench`. glibc gives each thread that allocates its own malloc arena (the main thread,
 * libuv's pool, the WAL checkpoint worker, V8's helpers), and memory freed in one arena is not
 * reused by another: two arenas cut the peak RSS at 1,000 open streams by ~15 MiB (4 alternated
 * pairs of `BENCH_QUICK=1 npm run bench`, Dec 2026: 233-256 → 223-250 MiB), with no CPU cost the
 * runs could see (the relay's threads seldom allocate at the same time).
 */
export const RELAY_NODE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
