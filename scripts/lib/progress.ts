import { SingleBar } from 'cli-progress';
import type { Io } from './cli.ts';

export interface Progress {
  increment(by?: number): void;
  stop(): void;
}

/** A progress bar on the operator's terminal; silent when output is piped or captured. */
export function startProgress(io: Io, label: string, total: number): Progress {
  const stream = io.progressStream;
  if (!stream?.isTTY || total === 0) return { increment() {}, stop() {} };
  const bar = new SingleBar({
    stream,
    format: `${label} [{bar}] {value}/{total} ({percentage}%)`,
    hideCursor: true,
    clearOnComplete: false,
  });
  bar.start(total, 0);
  return { increment: (by = 1) => bar.increment(by), stop: () => bar.stop() };
}
