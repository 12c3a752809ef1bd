// The benchmark suite's JSON layout (bench/suite.ts): one `lutnn bench` report (src/app/bench.ts) per model, keyed
// model → variant → batch → threads, with the peers' ratios beside lutnn's times. Pure data shaping, tested alone.
import type { BenchReport } from '../src/app/bench.js';

/** One (variant, batch, threads) cell of lutnn: its medians and the peers' ratios (peer ms / lutnn ms, > 1: lutnn faster). */
export interface LutnnCell {
  /** Median ms per call of the whole batch, plain SIMD build. */
  ms: number;
  /** The same on the relaxed-SIMD build (another process), or null where it did not run. */
  msRelaxed: number | null;
  /** ms / msRelaxed: what relaxed SIMD gains (across two processes), or null. */
  relaxedSpeedup: number | null;
  /** Peer ratios, each measured in the plain build's process beside `ms`; null when the peer did not run. */
  vsOrtNodeFp32: number | null;
  vsOrtNodeInt8: number | null;
  vsOrtWeb: number | null;
  vsTfjsWasm: number | null;
  /** Only in the "lut" variant: lutnn's own dense runtime ms / ms. */
  vsLutnnDense?: number | null;
  /** Timed rounds behind `ms` (fewer than the suite's reps when the time budget cut a slow method short). */
  samples: number;
}

/** A peer's cell: its median ms and the rounds behind it. */
export interface PeerCell {
  ms: number;
  samples: number;
}

/** Variant names of the peers in the layout, with the bench runner they come from (all run the dense model). */
export const PEERS = {
  ortNodeFp32: 'onnxruntime-node',
  ortNodeInt8: 'onnxruntime-node-int8',
  ortWeb: 'onnxruntime-web',
  tfjsWasm: 'tfjs-wasm',
} as const;
export type PeerName = keyof typeof PEERS;

const RATIO: Record<PeerName, 'vsOrtNodeFp32' | 'vsOrtNodeInt8' | 'vsOrtWeb' | 'vsTfjsWasm'> = {
  ortNodeFp32: 'vsOrtNodeFp32',
  ortNodeInt8: 'vsOrtNodeInt8',
  ortWeb: 'vsOrtWeb',
  tfjsWasm: 'vsTfjsWasm',
};

export interface ModelEntry {
  /** Where the weights come from, e.g. "random" (seeded init: speed does not depend on accuracy). */
  weights: string;
  /** What the rows are: the LUT conversion, input shape, parameter counts. */
  info: Record<string, unknown>;
  /** lutnn on the LUT model and on the dense model it came from. */
  lut: Record<string, Record<string, LutnnCell>>;
  dense: Record<string, Record<string, LutnnCell>>;
  /** The peers on the dense model; null (with a reason in `missing`) when a peer could not run it at all. */
  ortNodeFp32: Record<string, Record<string, PeerCell>> | null;
  ortNodeInt8: Record<string, Record<string, PeerCell>> | null;
  ortWeb: Record<string, Record<string, PeerCell>> | null;
  tfjsWasm: Record<string, Record<string, PeerCell>> | null;
  /** Why a peer is null (not installed, an op it lacks, a model tfjs-model.ts does not build). */
  missing: Partial<Record<PeerName, string>>;
  /** Relative L2 distance of each peer's output from lutnn's dense runtime on the same input. */
  agreement: Record<string, number>;
  /** The bench's run details for this model. */
  repeats: number;
  seconds: number;
  loadavg: number[];
}

const round = (v: number, digits: number): number => +v.toFixed(digits);

/**
 * The suite's entry for one model from its `lutnn bench` report (MODEL = the LUT model, --dense = the dense one, the
 * peers on the dense model only). Every ratio is taken from the same measurement process as the lutnn time it sits
 * beside.
 */
export function modelEntry(r: BenchReport, weights: string, info: Record<string, unknown>): ModelEntry {
  const row = (runner: string, role: string, simd: string | null, batch: number, threads: number) =>
    r.rows.find((x) => x.runner === runner && x.role === role && x.simd === simd && x.batch === batch && x.threads === threads);
  const key = (batch: number, threads: number): [string, string] => [`b${batch}`, `t${threads}`];
  const put = <T>(obj: Record<string, Record<string, T>>, batch: number, threads: number, v: T): void => {
    const [b, t] = key(batch, threads);
    (obj[b] ??= {})[t] = v;
  };
  const lutnn = (role: 'model' | 'dense'): Record<string, Record<string, LutnnCell>> => {
    const out: Record<string, Record<string, LutnnCell>> = {};
    for (const batch of r.batches) {
      for (const threads of r.threads) {
        const plain = row('lutnn', role, 'plain', batch, threads);
        if (!plain) continue;
        const relaxed = row('lutnn', role, 'relaxed', batch, threads);
        const ratio = (runner: string, peerRole = 'dense'): number | null => {
          const p = row(runner, peerRole, null, batch, threads);
          return p ? round(p.medianMs / plain.medianMs, 3) : null;
        };
        const cell: LutnnCell = {
          ms: round(plain.medianMs, 4),
          msRelaxed: relaxed ? round(relaxed.medianMs, 4) : null,
          relaxedSpeedup: relaxed ? round(plain.medianMs / relaxed.medianMs, 3) : null,
          vsOrtNodeFp32: ratio(PEERS.ortNodeFp32),
          vsOrtNodeInt8: ratio(PEERS.ortNodeInt8),
          vsOrtWeb: ratio(PEERS.ortWeb),
          vsTfjsWasm: ratio(PEERS.tfjsWasm),
          samples: plain.repeats,
        };
        if (role === 'model') {
          const d = row('lutnn', 'dense', 'plain', batch, threads);
          cell.vsLutnnDense = d ? round(d.medianMs / plain.medianMs, 3) : null;
        }
        put(out, batch, threads, cell);
      }
    }
    return out;
  };
  const entry: ModelEntry = {
    weights,
    info: { ...info, inputShape: r.inputShape, lutParams: r.model.params, denseParams: r.dense?.params ?? null, lutEngine: r.model.lutEngine },
    lut: lutnn('model'),
    dense: lutnn('dense'),
    ortNodeFp32: null,
    ortNodeInt8: null,
    ortWeb: null,
    tfjsWasm: null,
    missing: {},
    agreement: {},
    repeats: r.repeats,
    seconds: r.seconds,
    loadavg: r.loadavg,
  };
  for (const [name, runner] of Object.entries(PEERS) as [PeerName, string][]) {
    const cells: Record<string, Record<string, PeerCell>> = {};
    let any = false;
    for (const x of r.rows) {
      if (x.runner !== runner || x.role !== 'dense') continue;
      put(cells, x.batch, x.threads, { ms: round(x.medianMs, 4), samples: x.repeats });
      any = true;
    }
    if (any) entry[name] = cells;
    else {
      const b = r.baselines[runner as keyof BenchReport['baselines']];
      entry.missing[name] = r.errors[`${runner}:dense`] ?? (b && !b.available ? b.reason ?? 'not available' : 'no rows');
    }
    const a = r.agreement[`${runner}:dense`];
    if (a !== undefined) entry.agreement[name] = a;
  }
  // A ratio against a peer that has no rows is null in every cell, never a missing key.
  for (const v of [entry.lut, entry.dense]) for (const b of Object.values(v)) for (const c of Object.values(b)) for (const p of Object.keys(RATIO) as PeerName[]) c[RATIO[p]] ??= null;
  return entry;
}
