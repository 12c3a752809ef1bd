// The plot of LUT-NA mixed precision: accuracy against energy per inference of every configuration the search tried (src/app/plot.ts).
import type { LutnaResult } from './lutna.js';
import { renderSvg, scatterSpec, type ChartSpec, type Point } from './plot.js';

/** Points: single-layer candidates and search rounds (sensitivity images), the final check (verification images), references. */
export function lutnaPoints(r: LutnaResult): { points: Point[]; front: Point[] } {
  const pct = (a: number): number => 100 * a;
  const points: Point[] = r.sensitivity.map((s) => ({
    x: s.energyUJ, y: pct(s.accuracy), series: `one layer changed (${r.sensitivityImages} images)`,
    label: `${s.layer} ${s.actBits}x${s.weightBits} ${s.approx} (${s.design}): ${pct(s.accuracy).toFixed(2)}%, ${s.energyUJ.toFixed(2)} uJ`,
  }));
  for (const s of r.rounds) {
    points.push({
      x: s.energyUJ, y: pct(s.accuracy), series: s.on === 'sensitivity' ? `search rounds (${r.sensitivityImages} images)` : `search rounds (${r.verificationImages} images)`,
      label: `round ${s.round}: ${pct(s.accuracy).toFixed(2)}%, ${s.energyUJ.toFixed(2)} uJ`,
    });
  }
  const refs: Point[] = [
    { x: r.totals.lutnaExact.energyUJ, y: pct(r.base.verificationAccuracy), series: `references (${r.verificationImages} images)`, label: `exact LUT-NA at the file's widths: ${r.totals.lutnaExact.energyUJ.toFixed(2)} uJ` },
    { x: r.totals.wallace.energyUJ, y: pct(r.base.verificationAccuracy), series: `references (${r.verificationImages} images)`, label: `digital Wallace MACs: ${r.totals.wallace.energyUJ.toFixed(2)} uJ` },
    { x: r.totals.tLut.energyUJ, y: pct(r.base.verificationAccuracy), series: `references (${r.verificationImages} images)`, label: `T-LUT: ${r.totals.tLut.energyUJ.toFixed(2)} uJ` },
  ];
  points.push(...refs);
  const fin: Point = { x: r.final.energyUJ, y: pct(r.final.accuracy), series: `chosen (${r.verificationImages} images)`, label: `chosen: ${pct(r.final.accuracy).toFixed(2)}%, ${r.final.energyUJ.toFixed(2)} uJ` };
  points.push(fin);
  // The search's path on the sensitivity images, joined (round order by energy).
  const front = r.rounds.filter((s) => s.on === 'sensitivity').map((s) => ({ x: s.energyUJ, y: pct(s.accuracy), label: `round ${s.round}` }));
  return { points, front };
}

/**
 * The chart: the y axis spans the base accuracy minus max(5, 5 × budget) points up to the best point, so the region
 * that matters is readable; candidates that lose more are drawn on the bottom edge (clamped), and the title says how many.
 */
export function lutnaSpec(r: LutnaResult, file: string): ChartSpec {
  const { points, front } = lutnaPoints(r);
  const top = Math.min(100, Math.max(...points.map((p) => p.y)) + 0.5);
  const floor = Math.max(0, 100 * r.base.verificationAccuracy - Math.max(5, 5 * r.budget));
  const below = points.filter((p) => p.y < floor).length;
  const spec = scatterSpec(points, {
    title: `${file.split('/').pop()}: LUT-NA mixed precision, budget ${r.budget} pts (${r.objective})`,
    xTitle: 'energy per inference (uJ, MACs only)', yTitle: 'test accuracy (%)', xLog: true,
  }, front) as unknown as { layer: { encoding: { y: { scale: Record<string, unknown> } } }[]; config?: unknown; title: unknown };
  if (below > 0) spec.title = { text: spec.title, subtitle: `${below} candidate${below === 1 ? '' : 's'} below ${floor.toFixed(1)}% drawn on the bottom edge` };
  for (const layer of spec.layer) layer.encoding.y.scale = { ...layer.encoding.y.scale, domain: [floor, top], clamp: true };
  spec.config = { legend: { labelLimit: 400, orient: 'bottom', columns: 2 }, title: { fontSize: 12 } };
  return spec as unknown as ChartSpec;
}

export async function lutnaSvg(r: LutnaResult, file: string): Promise<string> {
  return renderSvg(lutnaSpec(r, file));
}
