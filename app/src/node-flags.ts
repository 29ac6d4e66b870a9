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
