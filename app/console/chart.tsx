import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  readonly label: string;
  readonly values: readonly (number | null)[];
  readonly color: string;
  /** Draw on the right-hand axis (e.g. money beside counts). */
  readonly right?: boolean;
  readonly bars?: boolean;
  readonly format?: (v: number) => string;
}

const bars = uPlot.paths.bars!({ size: [0.6, 40] });

/** A uPlot chart that follows its container's width (phones included). */
export function Chart({
  x,
  xLabel,
  series,
  days = false,
  height = 220,
}: {
  x: readonly number[];
  xLabel: string;
  /** x values are calendar days (midnight UTC stands for the day): label them as such anywhere. */
  days?: boolean;
  series: readonly Series[];
  height?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const right = series.find((s) => s.right);
    const plot = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height,
        legend: { show: true },
        ...(days && { tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') }),
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        axes: [
          { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.15)' } },
          { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.15)' }, size: 50 },
          ...(right
            ? [
                {
                  side: 1,
                  scale: 'right',
                  stroke: 'currentColor',
                  grid: { show: false },
                  size: 60,
                  ...(right.format && {
                    values: (_u: uPlot, ticks: number[]) => ticks.map(right.format!),
                  }),
                },
              ]
            : []),
        ],
        series: [
          { label: xLabel },
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            fill: s.bars ? `${s.color}55` : undefined,
            width: 2,
            ...(s.right && { scale: 'right' }),
            ...(s.bars && { paths: bars, points: { show: false } }),
            ...(s.format && {
              value: (_u: uPlot, v: number | null) => (v === null ? '–' : s.format!(v)),
            }),
          })),
        ],
      },
      [x as number[], ...series.map((s) => s.values as (number | null)[])],
      el,
    );
    const resize = new ResizeObserver(() =>
      plot.setSize({ width: Math.max(200, el.clientWidth), height }),
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [x, xLabel, series, days, height]);
  return <div class="chart" ref={box} />;
}
