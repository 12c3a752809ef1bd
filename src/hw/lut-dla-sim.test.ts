// Tests of the LUT-DLA simulation: codes and sums against a plain reference, cycles and action counts against the analytical model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, ShapeError } from '../errors.js';
import { convLayer, linearLayer, METRICS, type HwLayer, type LayerReport, type Metric } from './lut-dla-layers.js';
import { lutDlaConfigFor, lutDlaLayer, lutDlaWidths, type LutDlaConfig } from './lut-dla.js';
import { simulateLutDla, type LutDlaSimData, type LutDlaSimResult } from './lut-dla-sim.js';
import { TECH_45NM } from './tech.js';

/** A seeded LCG of int8 values in [lo, hi]. */
function int8s(n: number, seed: number, lo = -128, hi = 127): Int8Array {
  const a = new Int8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = lo + ((s >>> 8) % (hi - lo + 1));
  }
  return a;
}

function layerData(layer: HwLayer, batch: number, seed: number, opts: { shift?: boolean; coarse?: boolean } = {}): LutDlaSimData {
  const { subvecLen: V, k: K, metric } = layer.lut!;
  const N = layer.rows * batch;
  const C = layer.inDim / V;
  const M = layer.outDim;
  // coarse: few distinct values, so distances tie often (ties must go to the first centroid).
  const [lo, hi] = opts.coarse ? [-2, 2] : [-128, 127];
  return {
    rows: N, codebooks: C, k: K, subvecLen: V, outDim: M, metric,
    centroids: int8s(C * K * V, seed, lo, hi), table: int8s(C * K * M, seed + 1, -127, 127), inputs: int8s(N * C * V, seed + 2, lo, hi),
    shift: opts.shift ? Int8Array.from({ length: C }, (_, c) => (c % 7) - 3) : undefined,
  };
}

/** Plain loops: the nearest centroid (first on ties) of every sub-vector, and the table sums. */
function reference(d: LutDlaSimData): { codes: Uint8Array; acc: Int32Array } {
  const { rows: N, codebooks: C, k: K, subvecLen: V, outDim: M } = d;
  const codes = new Uint8Array(N * C);
  const acc = new Int32Array(N * M);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const s = d.shift?.[c] ?? 0;
      let best = Infinity;
      for (let k = 0; k < K; k++) {
        const diffs = Array.from({ length: V }, (_, v) => d.inputs[n * C * V + c * V + v] * 2 ** Math.max(s, 0) - d.centroids[(c * K + k) * V + v] * 2 ** Math.max(-s, 0));
        const dist = d.metric === 'l2' ? diffs.reduce((a, x) => a + x * x, 0) : d.metric === 'l1' ? diffs.reduce((a, x) => a + Math.abs(x), 0) : Math.max(...diffs.map(Math.abs));
        if (dist < best) {
          best = dist;
          codes[n * C + c] = k;
        }
      }
      for (let m = 0; m < M; m++) acc[n * M + m] += d.table[(c * K + codes[n * C + c]) * M + m];
    }
  }
  return { codes, acc };
}

const count = (r: LayerReport, component: string, action: string): number => r.actions.find((a) => a.component === component && a.action === action)?.count ?? 0;

/** The simulation's action counts are the analytical model's (the datapath does what the model charges for). */
function assertCounts(sim: LutDlaSimResult, a: LayerReport, cfg: LutDlaConfig, metric: Metric): void {
  const w = lutDlaWidths(cfg);
  const c = sim.counts;
  assert.deepEqual(
    [c.subtracts, c.squaresOrAbs, c.treeOps, c.compares, c.fifoWrites * cfg.codeBits, c.fifoReads * cfg.codeBits, c.tableReads * cfg.tableBits,
      c.matcherWrites * w.chainBits, c.chainAdds, c.psumAdds, c.psumReads * cfg.psumBits, c.psumWrites * cfg.psumBits],
    [count(a, 'distance_pe', 'subtract'), count(a, 'distance_pe', metric === 'l2' ? 'multiply' : 'abs'), count(a, 'distance_pe', metric === 'chebyshev' ? 'tree_max' : 'tree_add'),
      count(a, 'argmin_comparator', 'compare'), count(a, 'index_fifo', 'write_bit'), count(a, 'index_fifo', 'read_bit'), count(a, 'table_sram', 'read_bit'),
      count(a, 'matcher_regs', 'write_bit'), count(a, 'chain_adder', 'add'), count(a, 'psum_adder', 'add'), count(a, 'psum_sram', 'read_bit'), count(a, 'psum_sram', 'write_bit')],
  );
}

const TINY: LutDlaConfig = {
  ccus: 1, pesPerCcu: 4, centroidSlots: 1, peWidth: 2, metrics: ['l2'], lanes: 2, codeBits: 2, actBits: 8, tableBits: 8, psumBits: 32,
  actBufferBytes: 64, centroidBufferBytes: 64, tableBankBytes: 64, psumBufferBytes: 64, indexFifoDepth: 4, clockMHz: 100, dramBytesPerCycle: 64,
};

test('tiny layer (the hand-counted one of lut-dla.test.ts): 19 cycles, codes and sums of the plain loops', () => {
  const layer = linearLayer('tiny', 4, 3, { rows: 2 }, { subvecLen: 2, k: 4, metric: 'l2' });
  const d = layerData(layer, 1, 3);
  const sim = simulateLutDla(d, TINY, { layer });
  const ref = reference(d);
  assert.deepEqual(sim.codes, ref.codes);
  assert.deepEqual(sim.acc, ref.acc);
  // Encode: job 0 in the 4 PEs × 2 stages for cycles 0..7, written in cycle 8, read in 9; 8 lookup issues (cycles
  // 9..16), the last in the chain's stage at 17 and the partial-sum stage at 18: 19 cycles = lutDlaLayer's total.
  assert.equal(sim.cycles.total, 19);
  assert.equal(sim.cycles.firstCode, 9);
  assert.deepEqual([sim.cycles.encodeIssues, sim.cycles.lookupIssues], [4, 8]);
  const a = lutDlaLayer(layer, TINY, TECH_45NM);
  assert.equal(a.cycles.total, sim.cycles.total);
  assertCounts(sim, a, TINY, 'l2');
});

test('codes and integer sums equal plain loops: every metric, shifts, ties, K > P (recirculation), V > peWidth, groups, tiles', () => {
  const cases: { layer: HwLayer; batch: number; cfg: Partial<LutDlaConfig>; shift?: boolean; coarse?: boolean }[] = [
    { layer: linearLayer('a', 36, 20, { rows: 5 }, { subvecLen: 9, k: 16, metric: 'l2' }), batch: 1, cfg: { ccus: 3 } },
    { layer: linearLayer('b', 64, 40, { rows: 3 }, { subvecLen: 16, k: 16, metric: 'l2' }), batch: 2, cfg: { peWidth: 5, pesPerCcu: 4, centroidSlots: 4 }, shift: true },
    { layer: linearLayer('c', 32, 7, { rows: 6 }, { subvecLen: 4, k: 8, metric: 'l1' }), batch: 1, cfg: {}, coarse: true },
    { layer: linearLayer('d', 32, 300, { rows: 4 }, { subvecLen: 4, k: 16, metric: 'chebyshev' }), batch: 1, cfg: { tableBankBytes: 1024, indexFifoDepth: 4 }, coarse: true },
    { layer: convLayer('e', { inH: 5, inW: 5, cin: 3, cout: 6, kernel: 3, padding: 1 }, { subvecLen: 9, k: 5, metric: 'chebyshev' }), batch: 2, cfg: { ccus: 2, pesPerCcu: 2, centroidSlots: 3 }, shift: true },
    { layer: linearLayer('f', 48, 9, { rows: 7 }, { subvecLen: 3, k: 16, metric: 'l1' }), batch: 1, cfg: { actBufferBytes: 96, psumBufferBytes: 128 } },
  ];
  for (const [i, c] of cases.entries()) {
    const cfg = lutDlaConfigFor([c.layer], c.cfg);
    const d = layerData(c.layer, c.batch, 10 + i, c);
    const sim = simulateLutDla(d, cfg, { layer: c.layer, batch: c.batch });
    const ref = reference(d);
    assert.deepEqual(sim.codes, ref.codes, `case ${c.layer.name}: codes`);
    assert.deepEqual(sim.acc, ref.acc, `case ${c.layer.name}: sums`);
    if (c.coarse) assert.ok(new Set(ref.codes).size > 1, 'the coarse data still use several centroids');
    assertCounts(sim, lutDlaLayer(c.layer, cfg, TECH_45NM, { batch: c.batch }), cfg, c.layer.lut!.metric);
  }
});

/** The analytical cycles without the DRAM bound (the simulation has data on chip): compute + fill. */
const onChip = (a: LayerReport): number => a.cycles.compute + a.cycles.fill;

test('cycles equal the analytical model whenever the lookup side is the bottleneck (fmnist-cnn layers, tiles, small FIFOs)', () => {
  const base = [convLayer('conv3', { inH: 14, inW: 14, cin: 32, cout: 64, kernel: 3, padding: 1 }, { subvecLen: 9, k: 16, metric: 'l2' })];
  const fc1 = linearLayer('fc1', 3136, 256, { rows: 1 }, { subvecLen: 16, k: 16, metric: 'l1' });
  const cases: { layer: HwLayer; batch: number; cfg: Partial<LutDlaConfig> }[] = [
    { layer: base[0], batch: 1, cfg: {} }, // tables resident, 4 groups
    { layer: base[0], batch: 2, cfg: { actBufferBytes: 4096 } }, // row tiles
    { layer: base[0], batch: 1, cfg: { tableBankBytes: 512, indexFifoDepth: 8 } }, // output tiles, the FIFO holds one tile's codes
    { layer: base[0], batch: 1, cfg: { lanes: 64 } }, // encode = lookup
    { layer: base[0], batch: 1, cfg: { peWidth: 3 } }, // 3 cycles per distance
    { layer: base[0], batch: 1, cfg: { pesPerCcu: 8, centroidSlots: 2 } }, // two passes per sub-vector
    { layer: base[0], batch: 1, cfg: { ccus: 5 } }, // a partial last group
    { layer: fc1, batch: 3, cfg: {} }, // V > peWidth, 2 output tiles
  ];
  for (const c of cases) {
    const cfg = lutDlaConfigFor([c.layer], c.cfg);
    const a = lutDlaLayer(c.layer, cfg, TECH_45NM, { batch: c.batch });
    assert.ok(a.cycles.lookup >= a.cycles.encode, `${JSON.stringify(c.cfg)}: lookup-bound`);
    const sim = simulateLutDla(layerData(c.layer, c.batch, 1), cfg, { layer: c.layer, batch: c.batch });
    assert.equal(sim.cycles.total, onChip(a), `${c.layer.name} ${JSON.stringify(c.cfg)}: simulated ${sim.cycles.total}, model ${onChip(a)} (${JSON.stringify(a.cycles)})`);
    assert.equal(sim.cycles.lookupIssues, a.cycles.lookup);
    assert.equal(sim.cycles.encodeIssues, a.cycles.encode / (a.tiling.passes as number) / (a.tiling.vPasses as number));
  }
});

test('encode-bound layers: the model is an upper bound, within the encode latency it adds (the last rows overlap it)', () => {
  const layer = convLayer('conv3', { inH: 14, inW: 14, cin: 32, cout: 64, kernel: 3, padding: 1 }, { subvecLen: 9, k: 16, metric: 'l2' });
  for (const extra of [{ peWidth: 1 }, { peWidth: 1, pesPerCcu: 8, centroidSlots: 2 }, { pesPerCcu: 4, centroidSlots: 4 }]) {
    const cfg = lutDlaConfigFor([layer], { lanes: 64, ...extra });
    const a = lutDlaLayer(layer, cfg, TECH_45NM);
    assert.ok(a.cycles.encode > a.cycles.lookup);
    const sim = simulateLutDla(layerData(layer, 1, 2), cfg, { layer });
    const latency = (a.tiling.passes as number) * (a.tiling.vPasses as number) * Math.min(16, cfg.pesPerCcu) * (1 + Math.ceil(Math.log2(Math.min(9, cfg.peWidth))));
    assert.ok(sim.cycles.total <= onChip(a) && sim.cycles.total >= onChip(a) - latency, `${JSON.stringify(extra)}: simulated ${sim.cycles.total}, model ${onChip(a)}, encode latency ${latency}`);
    // One pass (no recirculation): exactly the model less the gap between a row's encode interval and its lookups.
    if (a.tiling.passes === 1) assert.equal(sim.cycles.total, onChip(a) - ((a.tiling.vPasses as number) - 1));
  }
});

test('errors name the field; a layer that does not match the data is refused', () => {
  const layer = linearLayer('x', 8, 4, { rows: 2 }, { subvecLen: 4, k: 4, metric: 'l1' });
  const cfg = lutDlaConfigFor([layer]);
  const d = layerData(layer, 1, 5);
  assert.throws(() => simulateLutDla({ ...d, inputs: new Int8Array(3) }, cfg), /inputs has 3 values, expected 16/);
  assert.throws(() => simulateLutDla({ ...d, table: new Int16Array(32) as unknown as Int8Array }, cfg), (e: Error) => e instanceof ArgumentError && /table must be an Int8Array/.test(e.message));
  assert.throws(() => simulateLutDla({ ...d, shift: Int8Array.of(9, 0) }, cfg), /shift\[0\] must be in −8..8, got 9/);
  assert.throws(() => simulateLutDla({ ...d, metric: 'cosine' as Metric }, cfg), /metric must be one of/);
  assert.throws(() => simulateLutDla(d, cfg, { layer, batch: 2 }), ShapeError);
  assert.throws(() => simulateLutDla(d, { ...cfg, metrics: ['l2'] }), /metric l1 is not built into the PEs/);
  assert.ok(METRICS.length === 3);
});
