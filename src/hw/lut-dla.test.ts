// Tests of the LUT-DLA model: a tiny layer counted by hand, tiling and re-reads, monotonicity, errors, area by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, ShapeError } from '../errors.js';
import { convLayer, linearLayer, type HwLayer, type LayerReport } from './lut-dla-layers.js';
import { fmnistCnnLutLayers } from './lut-dla-examples.js';
import { DEFAULT_LUT_DLA_CONFIG, lutDlaArea, lutDlaConfigFor, lutDlaLayer, lutDlaModel, type LutDlaConfig } from './lut-dla.js';
import { TECH_45NM } from './tech.js';

const t = TECH_45NM;
const close = (got: number, want: number, what: string): void => assert.ok(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${what}: ${got} vs ${want}`);
const count = (r: LayerReport, component: string, action: string): number => r.actions.find((a) => a.component === component && a.action === action)?.count ?? 0;

/** One CCU of 4 PEs, 2-wide, 2 lanes, 64-byte buffers, 100 MHz, DRAM wide enough not to matter. */
const TINY: LutDlaConfig = {
  ccus: 1, pesPerCcu: 4, centroidSlots: 1, peWidth: 2, metrics: ['l2'], lanes: 2, codeBits: 2, actBits: 8, tableBits: 8, psumBits: 32,
  actBufferBytes: 64, centroidBufferBytes: 64, tableBankBytes: 64, psumBufferBytes: 64, indexFifoDepth: 4, clockMHz: 100, dramBytesPerCycle: 64,
};
/** N = 2 rows, D = 4, M = 3, V = 2 (C = 2 codebooks), K = 4. */
const TINY_LAYER: HwLayer = linearLayer('tiny', 4, 3, { rows: 2 }, { subvecLen: 2, k: 4, metric: 'l2' });

test('tiny L2 layer (N=2, D=4, M=3, V=2, K=4, one CCU): cycles, action counts and energy by hand', () => {
  const r = lutDlaLayer(TINY_LAYER, TINY, t);
  // C = 2 codebooks, G = ceil(2/1) = 2 groups; tables (G·K·M·8 = 192 bits) fit the 512-bit bank: Mt = M = 3.
  assert.deepEqual(r.tiling, { codebooks: 2, groups: 2, passes: 1, vPasses: 1, rowTile: 2, rowTiles: 1, outTile: 3, outTiles: 1, tablesResident: true, centroidsResident: true });
  // encode = N·G·passes·vPasses = 2·2 = 4; lookup = N·G·ceil(M/lanes) = 2·2·2 = 8.
  // DRAM: input 2·4·8 = 64 + tables 2·4·3·8 = 192 + centroids 2·4·2·8 = 128 bits read, outputs 2·3·8 = 48 written
  // → 432 bits = 54 bytes → ceil(54/64) = 1 cycle.
  // fill = min(K,P)·(1 + ceil(log2 2)) + 1 (FIFO) + min(U,C) (chain) + 1 (psum) = 4·2 + 1 + 1 + 1 = 11.
  assert.deepEqual(r.cycles, { total: 8 + 11, compute: 8, encode: 4, lookup: 8, dram: 1, fill: 11 });
  close(r.seconds, 19 / 100e6, 'seconds');
  assert.deepEqual(r.dramBytes, { input: 8, params: 40, output: 6, read: 48, write: 6 });

  // Distances N·C·K = 16. diffBits 9, L2 distance 2·9 + ceil(log2 2) = 19 bits, chain 8 + ceil(log2 1) = 8 bits.
  const expectCounts: [string, string, number][] = [
    ['distance_pe', 'subtract', 16 * 2],
    ['distance_pe', 'multiply', 16 * 2],
    ['distance_pe', 'tree_add', 16 * 1],
    ['distance_pe', 'register_write_bit', 16 * (2 * 8 + 19 + 2)], // sub-vector + distance + code
    ['centroid_regs', 'write_bit', 128],
    ['argmin_comparator', 'compare', 16],
    ['act_sram', 'read_bit', 2 * 4 * 8],
    ['act_sram', 'write_bit', 64],
    ['centroid_sram', 'read_bit', 128],
    ['centroid_sram', 'write_bit', 128],
    ['index_fifo', 'write_bit', 2 * 2 * 2],
    ['index_fifo', 'read_bit', 2 * 2 * 2],
    ['table_sram', 'read_bit', 2 * 2 * 3 * 8], // N·C·M entries
    ['table_sram', 'write_bit', 192],
    ['matcher_regs', 'write_bit', 2 * 3 * 2 * 8],
    ['psum_adder', 'add', 2 * 3 * 1], // N·M·(G−1)
    ['psum_sram', 'read_bit', 2 * 3 * 1 * 32],
    ['psum_sram', 'write_bit', 2 * 3 * 1 * 32],
    ['dram', 'read_bit', 384],
    ['dram', 'write_bit', 48],
  ];
  assert.deepEqual(r.actions.map((a) => [a.component, a.action, a.count]), expectCounts);
  assert.equal(count(r, 'chain_adder', 'add'), 0); // N·M·(C−G) = 0 with one stage per group

  // Energies with the 45 nm constants spelled out.
  const sub = (0.1 * 9) / 32; // 9-bit subtract from the 32-bit add (0.1 pJ)
  const mul = (0.2 * 9 * 9) / 64; // 9×9 multiply from the 8×8 (0.2 pJ)
  const tree = (0.1 * 19) / 32;
  const reg = 0.009; // per register bit
  const cmp = (0.0295 * 19) / 32;
  const e64 = (10 / 64) * Math.sqrt(64 / 8192); // per bit, 64-byte SRAM (from 10 pJ per 64 bits at 8 KB)
  const e32 = (10 / 64) * Math.sqrt(32 / 8192); // a table bank half: 32 bytes
  const dramBit = 1300 / 64;
  const want = {
    distancePEs: 32 * sub + 32 * mul + 16 * tree + 592 * reg + 128 * reg,
    comparators: 16 * cmp,
    tableReads: 96 * e32,
    accumulators: 96 * reg + 6 * 0.1,
    macs: 0,
    sram: (64 + 64 + 128 + 128 + 192 + 192) * e64 + 16 * reg + 192 * e32,
    dram: 432 * dramBit,
  };
  for (const [k, v] of Object.entries(want)) close(r.energyByCategory[k as keyof typeof want], v, k);
  close(r.energyPJ, Object.values(want).reduce((a, b) => a + b, 0), 'total');
});

test('tiny layer with L1 and Chebyshev: |x| instead of multiplies, max tree for Chebyshev, narrower distances', () => {
  const cfg: LutDlaConfig = { ...TINY, metrics: ['l1', 'chebyshev'] };
  const l1 = lutDlaLayer({ ...TINY_LAYER, lut: { ...TINY_LAYER.lut!, metric: 'l1' } }, cfg, t);
  const ch = lutDlaLayer({ ...TINY_LAYER, lut: { ...TINY_LAYER.lut!, metric: 'chebyshev' } }, cfg, t);
  assert.equal(count(l1, 'distance_pe', 'multiply'), 0);
  assert.equal(count(l1, 'distance_pe', 'abs'), 32);
  assert.equal(count(l1, 'distance_pe', 'tree_add'), 16);
  assert.equal(count(ch, 'distance_pe', 'tree_max'), 16);
  assert.equal(count(ch, 'distance_pe', 'tree_add'), 0);
  // distBits = max(L1 9 + 1, Chebyshev 9) = 10: pipeline bits per distance 2·8 + 10 + 2.
  assert.equal(count(l1, 'distance_pe', 'register_write_bit'), 16 * 28);
  const l2 = lutDlaLayer(TINY_LAYER, TINY, t);
  const enc = (r: LayerReport): number => r.energyByCategory.distancePEs + r.energyByCategory.comparators;
  assert.ok(enc(l1) < enc(l2) / 2, `L1 encode ${enc(l1)} vs L2 ${enc(l2)}`);
  assert.ok(enc(ch) < enc(l2) / 2);
  assert.throws(() => lutDlaLayer({ ...TINY_LAYER, lut: { ...TINY_LAYER.lut!, metric: 'l1' } }, TINY, t), /metric l1 is not built into the PEs \(config\.metrics l2\)/);
});

test('tables that do not fit: output tiles, FIFO-bounded row tiles, tables re-read from DRAM per row tile', () => {
  // 8 rows, D = 4 (C = 2), M = 8, K = 4: the tables (G·K·M·8 = 512 bits) overflow a 32-byte bank; a half holds
  // 128 bits = 4 output columns → Mt = 4, 2 output tiles; rows then limited by the FIFO (3) → 3 row tiles.
  const cfg: LutDlaConfig = { ...TINY, tableBankBytes: 32, indexFifoDepth: 3, actBufferBytes: 1024, psumBufferBytes: 1024 };
  const layer = linearLayer('wide', 4, 8, { rows: 8 }, { subvecLen: 2, k: 4, metric: 'l2' });
  const r = lutDlaLayer(layer, cfg, t);
  assert.equal(r.tiling.tablesResident, false);
  assert.equal(r.tiling.outTile, 4);
  assert.equal(r.tiling.outTiles, 2);
  assert.equal(r.tiling.rowTile, 3);
  assert.equal(r.tiling.rowTiles, 3);
  assert.equal(count(r, 'table_sram', 'write_bit'), 3 * 2 * 4 * 8 * 8); // C·K·M·8 per row tile
  assert.equal(r.dramBytes.params, (3 * 512 + 128) / 8); // tables ×3 + centroids once
  assert.equal(count(r, 'index_fifo', 'read_bit'), 8 * 2 * 2 * 2); // every code read once per output tile
  assert.equal(r.cycles.lookup, 8 * 2 * (2 + 2)); // N·G·(ceil(4/2) + ceil(4/2))
});

test('K > P recirculates through the CCU; V > peWidth takes several cycles per distance', () => {
  const cfg: LutDlaConfig = { ...TINY, pesPerCcu: 2, centroidSlots: 2, codeBits: 2 };
  const r = lutDlaLayer(TINY_LAYER, cfg, t);
  assert.equal(r.tiling.passes, 2);
  assert.equal(r.cycles.encode, 2 * 2 * 2);
  assert.equal(count(r, 'argmin_comparator', 'compare'), 16); // still N·C·K distances
  const wide = lutDlaLayer(linearLayer('v4', 8, 3, { rows: 2 }, { subvecLen: 4, k: 4, metric: 'l2' }), { ...TINY, actBufferBytes: 128 }, t);
  assert.equal(wide.tiling.vPasses, 2);
  assert.equal(wide.cycles.encode, 2 * 2 * 1 * 2);
});

test('a layer that does not fit a single tile is a clear error naming the layer and the buffer', () => {
  const layer = linearLayer('big', 4, 300, { rows: 2 }, { subvecLen: 2, k: 4, metric: 'l2' });
  assert.throws(() => lutDlaLayer(layer, { ...TINY, tableBankBytes: 4 }, t), (e: Error) => e instanceof ShapeError && /layer 'big': a table bank half of 16 bits cannot hold one output column of K·tableBits = 32 bits/.test(e.message));
  assert.throws(() => lutDlaLayer(layer, { ...TINY, tableBankBytes: 8192 }, t), /layer 'big': the psum buffer \(64 B\) cannot hold one row's 300 partial sums/);
  assert.throws(() => lutDlaLayer(linearLayer('x', 128, 3, {}, { subvecLen: 2, k: 4, metric: 'l2' }), { ...TINY, centroidBufferBytes: 1024, tableBankBytes: 4096 }, t), /activation buffer \(64 B\) cannot hold one row's inputs \(128 B\)/);
  assert.throws(() => lutDlaLayer(TINY_LAYER, { ...TINY, centroidBufferBytes: 8 }, t), /centroid buffer \(8 B\) holds neither/);
  assert.throws(() => lutDlaLayer(linearLayer('dense', 4, 3), TINY, t), (e: Error) => e instanceof ArgumentError && /layer 'dense' has no LUT settings/.test(e.message));
  assert.throws(() => lutDlaLayer({ ...TINY_LAYER, lut: { ...TINY_LAYER.lut!, k: 8 } }, TINY, t), /k = 8 needs more than config\.codeBits = 2 bits/);
  assert.throws(() => lutDlaLayer({ ...TINY_LAYER, lut: { ...TINY_LAYER.lut!, k: 4 } }, { ...TINY, pesPerCcu: 2 }, t), /k = 4 centroids exceed pesPerCcu·centroidSlots = 2·1/);
  assert.throws(() => lutDlaLayer({ ...TINY_LAYER, lut: { ...TINY_LAYER.lut!, subvecLen: 3 } }, TINY, t), /inDim 4 is not a multiple of subvecLen 3/);
  assert.throws(() => lutDlaLayer(TINY_LAYER, { ...TINY, lanes: 0 }, t), /config\.lanes must be an integer >= 1, got 0/);
  assert.throws(() => lutDlaLayer(TINY_LAYER, { ...TINY, clockMHz: NaN }, t), /config\.clockMHz must be a finite number > 0/);
  assert.throws(() => lutDlaLayer(TINY_LAYER, { ...TINY, metrics: [] }, t), /config\.metrics must be a non-empty list/);
  assert.throws(() => lutDlaLayer(TINY_LAYER, TINY, t, { batch: 0 }), /batch must be an integer >= 1, got 0/);
});

/** Layers of varied shapes for the property checks. */
function grid(): HwLayer[] {
  const out: HwLayer[] = [];
  for (const [rows, cin, cout] of [[64, 8, 16], [196, 32, 64], [16, 64, 128], [1, 96, 256]]) {
    for (const V of [3, 9]) {
      const D = cin * 9;
      out.push(linearLayer(`r${rows}c${cin}m${cout}v${V}`, D, cout, { rows }, { subvecLen: V, k: 16, metric: 'l2' }));
    }
  }
  out.push(convLayer('conv', { inH: 14, inW: 14, cin: 32, cout: 64, kernel: 3, padding: 1 }, { subvecLen: 9, k: 16, metric: 'l1' }));
  return out;
}

const BIG: Partial<LutDlaConfig> = { metrics: ['l2', 'l1'], peWidth: 9, centroidSlots: 4, codeBits: 8, centroidBufferBytes: 1 << 20, actBufferBytes: 1 << 20 };

test('more CCUs: steady-state cycles and DRAM reads never grow; a CCU that removes no codebook group adds one cycle of chain latency', () => {
  for (const layer of grid()) {
    let prev: LayerReport | null = null;
    for (let U = 1; U <= 24; U++) {
      const r = lutDlaLayer(layer, { ...DEFAULT_LUT_DLA_CONFIG, ...BIG, ccus: U }, t);
      if (prev) {
        const steady = (x: LayerReport): number => x.cycles.total - x.cycles.fill;
        assert.ok(steady(r) <= steady(prev), `${layer.name}: U=${U} steady ${steady(r)} > ${steady(prev)}`);
        assert.ok(r.cycles.total <= prev.cycles.total + 1, `${layer.name}: U=${U} ${r.cycles.total} vs ${prev.cycles.total}`);
        assert.ok(r.dramBytes.read <= prev.dramBytes.read, `${layer.name}: U=${U} DRAM reads grew`);
        if ((r.tiling.groups as number) < (prev.tiling.groups as number) && r.cycles.dram < r.cycles.compute) {
          assert.ok(r.cycles.total < prev.cycles.total, `${layer.name}: U=${U} one group fewer but not faster`);
        }
      }
      prev = r;
    }
  }
  // Whole model: doubling the CCUs never slower than the added chain latency allows; strictly faster while compute-bound.
  const layers = fmnistCnnLutLayers();
  const chain = (U: number): number => layers.reduce((s, l) => s + Math.min(U, l.inDim / l.lut!.subvecLen), 0);
  let prev: { U: number; cycles: number; fast: number } | null = null;
  for (const U of [1, 2, 4, 8, 16, 32]) {
    const cfg = { ...DEFAULT_LUT_DLA_CONFIG, ...BIG, peWidth: 16, ccus: U };
    const cycles = lutDlaModel(layers, cfg, t).total.cycles;
    const fast = lutDlaModel(layers, { ...cfg, dramBytesPerCycle: 1e9 }, t).total.cycles;
    if (prev) {
      assert.ok(cycles <= prev.cycles + chain(U) - chain(prev.U), `fmnist-cnn: U=${U} ${cycles} cycles vs ${prev.cycles}`);
      assert.ok(fast < prev.fast, `fmnist-cnn without a DRAM bound: U=${U} ${fast} cycles, not below ${prev.fast}`);
    }
    prev = { U, cycles, fast };
  }
});

test('bigger K costs more energy on the encode side (and more table traffic)', () => {
  for (const layer of grid()) {
    let prevEnc = 0;
    let prevParams = 0;
    for (const k of [2, 4, 8, 16, 32, 64]) {
      const r = lutDlaLayer({ ...layer, lut: { ...layer.lut!, k } }, { ...DEFAULT_LUT_DLA_CONFIG, ...BIG, tableBankBytes: 1 << 16 }, t);
      const enc = r.energyByCategory.distancePEs + r.energyByCategory.comparators;
      assert.ok(enc > prevEnc, `${layer.name}: K=${k} encode energy ${enc} <= ${prevEnc}`);
      assert.ok(r.dramBytes.params > prevParams, `${layer.name}: K=${k}`);
      assert.equal(count(r, 'argmin_comparator', 'compare'), layer.rows * (layer.inDim / layer.lut!.subvecLen) * k);
      prevEnc = enc;
      prevParams = r.dramBytes.params;
    }
  }
});

test('batch: tables resident across images are loaded once, so DRAM bytes per image fall', () => {
  const layer = convLayer('c', { inH: 8, inW: 8, cin: 16, cout: 32, kernel: 3, padding: 1 }, { subvecLen: 9, k: 16, metric: 'l2' });
  const one = lutDlaModel([layer], DEFAULT_LUT_DLA_CONFIG, t);
  const four = lutDlaModel([layer], DEFAULT_LUT_DLA_CONFIG, t, { batch: 4 });
  assert.equal(one.layers[0].tiling.tablesResident, true);
  assert.equal(four.total.dramBytes.params, one.total.dramBytes.params);
  assert.equal(four.total.dramBytes.input, 4 * one.total.dramBytes.input);
  assert.ok(four.perInference.energyPJ < one.perInference.energyPJ);
  assert.equal(four.layers[0].cycles.lookup, 4 * one.layers[0].cycles.lookup);
});

test('area by hand for the tiny configuration', () => {
  const a = lutDlaArea(TINY, t);
  // One PE: 2 subtractors (9 b), 2 multipliers 9×9, 1 tree adder (19 b), registers 2·1·2·8 + 2·8 + 19 + 2 = 69 bits.
  const pe = 2 * (278 * 9) / 32 + 2 * (6350 * 81) / 1024 + (278 * 19) / 32 + 5.98 * 69;
  close(a.byComponent.distancePEs, 4 * pe, 'distancePEs');
  close(a.byComponent.comparators, (4 * 71 * 19) / 32, 'comparators');
  close(a.byComponent.tableSram, 64 * 8 * 0.7, 'tableSram');
  close(a.byComponent.buffers, (64 + 64 + 64) * 8 * 0.7 + 5.98 * 4 * 2, 'buffers');
  close(a.byComponent.accumulators, 0 + 5.98 * 2 * 8 + (2 * 278 * 32) / 32, 'accumulators');
  close(a.totalUm2, Object.values(a.byComponent).reduce((x, y) => x + y, 0), 'total');
});

test('lutDlaConfigFor fits the PEs to the layers: widest V, the metrics used, code bits and centroid slots for the largest K', () => {
  const layers = [
    linearLayer('a', 32, 8, {}, { subvecLen: 16, k: 64, metric: 'l1' }),
    linearLayer('b', 36, 8, {}, { subvecLen: 9, k: 16, metric: 'chebyshev' }),
  ];
  const cfg = lutDlaConfigFor(layers, { lanes: 32 });
  assert.equal(cfg.peWidth, 16);
  assert.deepEqual(cfg.metrics, ['l1', 'chebyshev']);
  assert.equal(cfg.codeBits, 6);
  assert.equal(cfg.centroidSlots, 4);
  assert.equal(cfg.lanes, 32);
  assert.equal(lutDlaModel(layers, cfg, t).layers.length, 2);
  assert.throws(() => lutDlaConfigFor([linearLayer('d', 4, 4)]), /no layer has LUT settings/);
});
