// Analytical model of the LUT-DLA accelerator: cycles, energy by component and area of LUT layers on a configurable datapath.
import { ArgumentError, ShapeError } from '../errors.js';
import {
  checkConfigFields, checkLayer, inputElemsOf, laneSteps, METRICS, summarise,
  type AreaReport, type DesignReport, type HwLayer, type LayerReport, type Metric,
} from './lut-dla-layers.js';
import {
  addArea, addEnergy, cmpArea, cmpEnergy, dramEnergyPerBit, energyOf, multArea, multEnergy, regArea, regEnergyPerBit,
  sramArea, sramReadEnergyPerBit, sramWriteEnergyPerBit,
  type ActionCount, type ComponentEnergy, type EnergyCategory, type TechTable,
} from './tech.js';

/*
 * The datapath (after LUT-NOTES "LUT-DLA"; where the paper's details are unknown the choices below are ours).
 *
 * - U centroid computation units (CCUs). CCU u is a chain of P distance PEs; each PE holds S centroid slots of
 *   peWidth elements (double-buffered so the next codebook's centroids load while the current one streams) and
 *   computes one distance per cycle: peWidth subtractors, then per element a square (L2: a multiplier) or |x|
 *   (L1, Chebyshev), then a reduction tree of peWidth−1 adders (L2, L1) or max units (Chebyshev); a comparator
 *   against the incoming running minimum passes (min distance, index) and the sub-vector on to the next PE.
 *   K ≤ P: one pass; K > P: the sub-vector recirculates ceil(K/P) times (slot s holds centroid s·P + j), so a
 *   CCU accepts a new sub-vector every ceil(K/P) cycles. V > peWidth: ceil(V/peWidth) cycles per distance.
 *   PE pipeline depth: 1 + ceil(log2 min(V, peWidth)) stages (elementwise stage + tree; LUT-LLM's model says 1 + log2 V).
 * - The U CCUs encode U different codebooks of the same rows (a codebook group), each into its own index FIFO
 *   (depth indexFifoDepth codes) that decouples the encode side from the lookup side.
 * - In-memory matching (IMM): a chain of U matcher stages, one per CCU. Stage u owns a table bank (tableBankBytes,
 *   two ping-pong halves) holding the tables of codebooks u, u+U, ... For one row and `lanes` outputs, stage u reads
 *   lanes entries of row lut[c_u][code][m..m+lanes) and adds them to the partial sums flowing down the chain
 *   (chain adders of tableBits + ceil(log2 U) bits); the last stage adds the chain's sum into the partial-sum buffer
 *   (psumBits, read-modify-write) — or writes the final output when it is the last codebook group.
 * - LUT-stationary dataflow, per layer (N = rows·batch, C = D/V, G = ceil(C/U) groups):
 *     for each row tile (Nt rows: inputs in the activation buffer, partial sums Nt×M in the psum buffer)
 *       for each codebook group g (U CCUs and matcher stages work on codebooks g·U .. g·U+U−1)
 *         encode the Nt sub-vectors of each codebook → codes (FIFO)
 *         for each output tile (Mt outputs whose table slice [K, Mt] is in one ping-pong half)
 *           for each row n: look up and accumulate Mt outputs, lanes per cycle
 *   i.e. all M outputs of a subspace before moving on; codes are reused across output tiles (the FIFO then
 *   holds a tile's Nt codes, so Nt ≤ indexFifoDepth when Mt < M).
 * - Tiling (chosen to fit the buffers):
 *   tables resident when a bank holds all its codebooks: G·K·M·tb ≤ tableBankBytes·8 → loaded once, Mt = M;
 *   otherwise Mt = min(M, floor(tableBankBytes·8 / 2 / (K·tb))) (one half) and the tables are re-read from DRAM
 *   for every row tile. Centroids resident when C·K·V·ab ≤ centroidBufferBytes·8, else re-read per row tile (the
 *   buffer must then hold two groups' centroids). Nt = largest that fits: the activation buffer holds Nt rows' share
 *   of the input (inputElems·ab / rows bits per row; conv halos neglected), the psum buffer Nt·M·psumBits when G > 1.
 *
 * Cycles (whole layer, whole batch):
 *   encode = N · G · ceil(K/P) · ceil(V/peWidth)           (each CCU encodes one sub-vector per pass per cycle)
 *   lookup = N · G · Σ_output tiles ceil(Mt/lanes)          (each stage reads `lanes` entries per cycle)
 *   dram   = ceil(DRAM bytes / dramBytesPerCycle)           (transfers hidden by double buffering up to this bound)
 *   fill   = ceil(K/P)·ceil(V/peWidth)·min(K,P)·peStages + 1 (FIFO) + min(U,C) (matcher chain) + 1 (psum add)
 *   total  = max(encode, lookup, dram) + fill               (the FIFO overlaps encode and lookup; fill/drain once
 *            per layer: centroid slots are double-buffered and tables ping-pong, so groups and tiles add no bubbles)
 *
 * Energy: Σ count × energy per action (the actions below; lutDlaEnergyTable gives the energies):
 *   distances = N·C·K; per distance V subtracts, V multiplies (L2) or V |x| (L1, Chebyshev), V−1 tree adds (L2, L1)
 *   or V−1 max (Chebyshev), one argmin compare, and a pipeline-register write of V·ab + distBits + codeBits bits;
 *   centroids: C·K·V·ab bits read from the centroid buffer into the PE registers per row tile;
 *   inputs: N·D·ab bits read from the activation buffer (each sub-vector once; it recirculates inside the CCU);
 *   codes: N·C·codeBits written to the FIFOs, read once per output tile;
 *   tables: N·C·M entries of tb bits read; N·M·C matcher-register writes of chainBits; N·M·(C−G) chain adds; N·M·(G−1) psum adds
 *   with N·M·(G−1) psum reads and writes of psumBits; DRAM reads (input once, tables, centroids) and writes (outputs
 *   at ab bits; no requantisation or bias cost — bias is the psum's initial value).
 *   Widths: diffBits = actBits+1; L2 distance 2·diffBits + ceil(log2 peWidth), L1 diffBits + ceil(log2 peWidth),
 *   Chebyshev diffBits; distBits (comparator, pipeline) = the widest of the metrics built in; tree adders at the
 *   widest adder-tree metric's final width (an over-estimate for the lower tree levels).
 *   SRAM energy per bit by capacity: activation, centroid, psum buffers as single arrays; a table access touches
 *   one ping-pong half of one bank (tableBankBytes/2). Memory traffic uses the layer's widths, datapath ops the
 *   accelerator's.
 */

export interface LutDlaConfig {
  /** U: centroid computation units (= matcher stages = codebooks encoded in parallel). */
  ccus: number;
  /** P: distance PEs per CCU. */
  pesPerCcu: number;
  /** S: centroid slots per PE (K ≤ P·S). */
  centroidSlots: number;
  /** Elements per distance PE (V ≤ peWidth runs in one cycle). */
  peWidth: number;
  /** Distance datapaths built into each PE. */
  metrics: Metric[];
  /** Table entries read and accumulated per matcher stage per cycle. */
  lanes: number;
  /** Bits of a code (K ≤ 2^codeBits). */
  codeBits: number;
  actBits: number;
  tableBits: number;
  psumBits: number;
  actBufferBytes: number;
  centroidBufferBytes: number;
  /** Per matcher stage: its table bank, both ping-pong halves. */
  tableBankBytes: number;
  psumBufferBytes: number;
  /** Codes per index FIFO (one FIFO per CCU). */
  indexFifoDepth: number;
  clockMHz: number;
  dramBytesPerCycle: number;
}

/** A reference configuration (our choice, near the public core of LUT-NOTES: 8 CCUs, uint8 tables, 8-bit activations). */
export const DEFAULT_LUT_DLA_CONFIG: Readonly<LutDlaConfig> = {
  ccus: 8,
  pesPerCcu: 16,
  centroidSlots: 1,
  peWidth: 9,
  metrics: ['l2'],
  lanes: 16,
  codeBits: 4,
  actBits: 8,
  tableBits: 8,
  psumBits: 32,
  actBufferBytes: 64 * 1024,
  centroidBufferBytes: 8 * 1024,
  tableBankBytes: 4 * 1024,
  psumBufferBytes: 64 * 1024,
  indexFifoDepth: 64,
  clockMHz: 300,
  dramBytesPerCycle: 16,
};

const log2ceil = (x: number): number => Math.ceil(Math.log2(x));

/**
 * A configuration fitted to the layers: peWidth = the largest V, metrics = those used, codeBits = ceil(log2 max K),
 * centroidSlots = ceil(max K / pesPerCcu); anything in `overrides` wins.
 */
export function lutDlaConfigFor(layers: readonly HwLayer[], overrides: Partial<LutDlaConfig> = {}): LutDlaConfig {
  const luts = layers.map((l) => l.lut).filter((x) => x !== undefined);
  if (luts.length === 0) throw new ArgumentError('lutDlaConfigFor: no layer has LUT settings');
  const maxK = Math.max(...luts.map((l) => l.k));
  const base: LutDlaConfig = { ...DEFAULT_LUT_DLA_CONFIG, metrics: [...DEFAULT_LUT_DLA_CONFIG.metrics] };
  const P = overrides.pesPerCcu ?? base.pesPerCcu;
  return {
    ...base,
    peWidth: Math.max(...luts.map((l) => l.subvecLen)),
    metrics: METRICS.filter((m) => luts.some((l) => l.metric === m)),
    codeBits: Math.max(1, log2ceil(maxK)),
    centroidSlots: Math.ceil(maxK / P),
    ...overrides,
  };
}

const INT_FIELDS = ['ccus', 'pesPerCcu', 'centroidSlots', 'peWidth', 'lanes', 'codeBits', 'actBits', 'tableBits', 'psumBits', 'actBufferBytes', 'centroidBufferBytes', 'tableBankBytes', 'psumBufferBytes', 'indexFifoDepth'] as const;

/** Checks a configuration; errors name the field. */
export function checkLutDlaConfig(cfg: LutDlaConfig): void {
  checkConfigFields('lutDla', cfg, INT_FIELDS, ['clockMHz', 'dramBytesPerCycle']);
  if (!Array.isArray(cfg.metrics) || cfg.metrics.length === 0 || cfg.metrics.some((m) => !METRICS.includes(m))) {
    throw new ArgumentError(`lutDla: config.metrics must be a non-empty list of ${METRICS.join(', ')}, got ${JSON.stringify(cfg.metrics)}`);
  }
  if (cfg.codeBits > 8) throw new ArgumentError(`lutDla: config.codeBits must be <= 8 (K <= 256), got ${cfg.codeBits}`);
}

/** Datapath widths (bits) derived from the configuration. */
export function lutDlaWidths(cfg: LutDlaConfig): { diffBits: number; distBits: number; treeBits: number; chainBits: number } {
  const diffBits = cfg.actBits + 1;
  const lw = log2ceil(cfg.peWidth);
  const has = (m: Metric): boolean => cfg.metrics.includes(m);
  const l2 = 2 * diffBits + lw;
  const l1 = diffBits + lw;
  const distBits = Math.max(has('l2') ? l2 : 0, has('l1') ? l1 : 0, has('chebyshev') ? diffBits : 0);
  const treeBits = Math.max(has('l2') ? l2 : 0, has('l1') ? l1 : 0);
  return { diffBits, distBits, treeBits, chainBits: cfg.tableBits + log2ceil(cfg.ccus) };
}

/** Energy per action of every component (the Accelergy ERT of this configuration). */
export function lutDlaEnergyTable(cfg: LutDlaConfig, tech: TechTable): ComponentEnergy[] {
  checkLutDlaConfig(cfg);
  const w = lutDlaWidths(cfg);
  const has = (m: Metric): boolean => cfg.metrics.includes(m);
  const reg = regEnergyPerBit(tech);
  const act = (name: string, energyPJ: number, category: EnergyCategory) => ({ name, energyPJ, category });
  const sram = (bytes: number, readCat: EnergyCategory = 'sram') => [
    act('read_bit', sramReadEnergyPerBit(tech, bytes), readCat),
    act('write_bit', sramWriteEnergyPerBit(tech, bytes), 'sram'),
  ];
  const pe = [act('subtract', addEnergy(tech, w.diffBits), 'distancePEs')];
  if (has('l2')) pe.push(act('multiply', multEnergy(tech, w.diffBits, w.diffBits), 'distancePEs'));
  if (has('l1') || has('chebyshev')) pe.push(act('abs', addEnergy(tech, w.diffBits), 'distancePEs'));
  if (w.treeBits > 0) pe.push(act('tree_add', addEnergy(tech, w.treeBits), 'distancePEs'));
  if (has('chebyshev')) pe.push(act('tree_max', cmpEnergy(tech, w.diffBits), 'distancePEs'));
  pe.push(act('register_write_bit', reg, 'distancePEs'));
  return [
    { name: 'distance_pe', actions: pe },
    { name: 'centroid_regs', actions: [act('write_bit', reg, 'distancePEs')] },
    { name: 'argmin_comparator', actions: [act('compare', cmpEnergy(tech, w.distBits), 'comparators')] },
    { name: 'act_sram', actions: sram(cfg.actBufferBytes) },
    { name: 'centroid_sram', actions: sram(cfg.centroidBufferBytes) },
    { name: 'index_fifo', actions: [act('write_bit', reg, 'sram'), act('read_bit', reg, 'sram')] },
    { name: 'table_sram', actions: sram(cfg.tableBankBytes / 2, 'tableReads') },
    { name: 'matcher_regs', actions: [act('write_bit', reg, 'accumulators')] },
    { name: 'chain_adder', actions: [act('add', addEnergy(tech, w.chainBits), 'accumulators')] },
    { name: 'psum_adder', actions: [act('add', addEnergy(tech, cfg.psumBits), 'accumulators')] },
    { name: 'psum_sram', actions: sram(cfg.psumBufferBytes) },
    { name: 'dram', actions: [act('read_bit', dramEnergyPerBit(tech), 'dram'), act('write_bit', dramEnergyPerBit(tech), 'dram')] },
  ];
}

/**
 * Area by component (um2):
 *   distancePEs = U·P·[peWidth subtractors (diffBits) + peWidth multipliers diffBits×diffBits (L2) + peWidth |x|
 *     (L1/Chebyshev, an adder each) + (peWidth−1) tree adders (treeBits; L2/L1) + (peWidth−1) max units (diffBits;
 *     Chebyshev) + registers 2·S·peWidth·actBits (centroid slots, double-buffered) + peWidth·actBits + distBits +
 *     codeBits (pipeline)]; comparators = U·P argmin comparators (distBits);
 *   tableSram = U·tableBankBytes; buffers = activation + centroid + psum SRAM + U·indexFifoDepth·codeBits register bits;
 *   accumulators = (U−1)·lanes chain adders + U·lanes·chainBits matcher registers + lanes psum adders (psumBits).
 */
export function lutDlaArea(cfg: LutDlaConfig, tech: TechTable): AreaReport {
  checkLutDlaConfig(cfg);
  const w = lutDlaWidths(cfg);
  const has = (m: Metric): boolean => cfg.metrics.includes(m);
  const W = cfg.peWidth;
  const pes = cfg.ccus * cfg.pesPerCcu;
  const onePe =
    W * addArea(tech, w.diffBits) +
    (has('l2') ? W * multArea(tech, w.diffBits, w.diffBits) : 0) +
    (has('l1') || has('chebyshev') ? W * addArea(tech, w.diffBits) : 0) +
    (w.treeBits > 0 && W > 1 ? (W - 1) * addArea(tech, w.treeBits) : 0) +
    (has('chebyshev') && W > 1 ? (W - 1) * cmpArea(tech, w.diffBits) : 0) +
    regArea(tech, 2 * cfg.centroidSlots * W * cfg.actBits + W * cfg.actBits + w.distBits + cfg.codeBits);
  const byComponent = {
    distancePEs: pes * onePe,
    comparators: pes * cmpArea(tech, w.distBits),
    tableSram: sramArea(tech, cfg.ccus * cfg.tableBankBytes),
    buffers: sramArea(tech, cfg.actBufferBytes + cfg.centroidBufferBytes + cfg.psumBufferBytes) + regArea(tech, cfg.ccus * cfg.indexFifoDepth * cfg.codeBits),
    accumulators:
      (cfg.ccus - 1) * cfg.lanes * addArea(tech, w.chainBits) + regArea(tech, cfg.ccus * cfg.lanes * w.chainBits) + cfg.lanes * addArea(tech, cfg.psumBits),
  };
  return { totalUm2: Object.values(byComponent).reduce((a, b) => a + b, 0), byComponent };
}

/** One LUT layer on LUT-DLA for `batch` images (see the formulas at the top of the file). */
export function lutDlaLayer(layer: HwLayer, cfg: LutDlaConfig, tech: TechTable, opts: { batch?: number; energyTable?: ComponentEnergy[] } = {}): LayerReport {
  checkLutDlaConfig(cfg);
  checkLayer(layer, 'lutDla');
  const at = `lutDla: layer '${layer.name}'`;
  const lut = layer.lut;
  if (!lut) throw new ArgumentError(`${at} has no LUT settings; a dense layer does not run on LUT-DLA`);
  const batch = opts.batch ?? 1;
  if (!Number.isSafeInteger(batch) || batch < 1) throw new ArgumentError(`lutDla: batch must be an integer >= 1, got ${batch}`);
  const { subvecLen: V, k: K, metric } = lut;
  const ab = lut.actBits ?? cfg.actBits;
  const tb = lut.tableBits ?? cfg.tableBits;
  if (ab > cfg.actBits) throw new ArgumentError(`${at}: actBits ${ab} exceeds the accelerator's ${cfg.actBits}`);
  if (tb > cfg.tableBits) throw new ArgumentError(`${at}: tableBits ${tb} exceeds the accelerator's ${cfg.tableBits}`);
  if (!cfg.metrics.includes(metric)) throw new ArgumentError(`${at}: metric ${metric} is not built into the PEs (config.metrics ${cfg.metrics.join(', ')})`);
  if (K > 2 ** cfg.codeBits) throw new ArgumentError(`${at}: k = ${K} needs more than config.codeBits = ${cfg.codeBits} bits per code`);
  const P = cfg.pesPerCcu;
  if (K > P * cfg.centroidSlots) throw new ArgumentError(`${at}: k = ${K} centroids exceed pesPerCcu·centroidSlots = ${P}·${cfg.centroidSlots}`);

  const { distBits, chainBits } = lutDlaWidths(cfg);
  const U = cfg.ccus;
  const L = cfg.lanes;
  const pb = cfg.psumBits;
  const cb = cfg.codeBits;
  const N = layer.rows * batch;
  const D = layer.inDim;
  const M = layer.outDim;
  const C = D / V;
  const G = Math.ceil(C / U);
  const uActive = Math.min(U, C);
  const passes = Math.ceil(K / P);
  const vPasses = Math.ceil(V / cfg.peWidth);

  // Tables: resident (loaded once, no output tiling) when each bank holds all of its ≤ G codebooks' tables.
  const bankBits = cfg.tableBankBytes * 8;
  const tablesResident = G * K * M * tb <= bankBits;
  const Mt = tablesResident ? M : Math.min(M, Math.floor(bankBits / 2 / (K * tb)));
  if (Mt < 1) throw new ShapeError(`${at}: a table bank half of ${bankBits / 2} bits cannot hold one output column of K·tableBits = ${K * tb} bits`);
  const outTiles = Math.ceil(M / Mt);
  const mSteps = laneSteps(M, Mt, L);

  // Centroids: resident when all fit, otherwise two groups' worth must (double-buffered) and they are re-read per row tile.
  const centroidBits = C * K * V * ab;
  const centroidsResident = centroidBits <= cfg.centroidBufferBytes * 8;
  if (!centroidsResident && 2 * uActive * K * V * ab > cfg.centroidBufferBytes * 8) {
    throw new ShapeError(`${at}: the centroid buffer (${cfg.centroidBufferBytes} B) holds neither the layer's centroids (${centroidBits / 8} B) nor two groups of ${uActive} codebooks (${(2 * uActive * K * V * ab) / 8} B)`);
  }

  // Row tile: the largest that fits the activation buffer, the psum buffer (when partial sums are kept) and the FIFO.
  const inputBits = inputElemsOf(layer) * batch * ab;
  const rowInputBits = inputBits / N;
  let Nt = Math.min(N, Math.floor((cfg.actBufferBytes * 8) / rowInputBits));
  if (Nt < 1) throw new ShapeError(`${at}: the activation buffer (${cfg.actBufferBytes} B) cannot hold one row's inputs (${Math.ceil(rowInputBits / 8)} B)`);
  if (G > 1) {
    const byPsum = Math.floor((cfg.psumBufferBytes * 8) / (M * pb));
    if (byPsum < 1) throw new ShapeError(`${at}: the psum buffer (${cfg.psumBufferBytes} B) cannot hold one row's ${M} partial sums of ${pb} bits`);
    Nt = Math.min(Nt, byPsum);
  }
  if (outTiles > 1) Nt = Math.min(Nt, cfg.indexFifoDepth);
  const rowTiles = Math.ceil(N / Nt);

  // DRAM traffic (bits).
  const tableDramBits = C * K * M * tb * (tablesResident ? 1 : rowTiles);
  const centroidDramBits = centroidBits * (centroidsResident ? 1 : rowTiles);
  const outputBits = N * M * ab;
  const readBits = inputBits + tableDramBits + centroidDramBits;

  // Cycles.
  const encode = N * G * passes * vPasses;
  const lookup = N * G * mSteps;
  const dram = Math.ceil((readBits + outputBits) / 8 / cfg.dramBytesPerCycle);
  const peStages = 1 + log2ceil(Math.min(V, cfg.peWidth));
  const fill = passes * vPasses * Math.min(K, P) * peStages + 1 + uActive + 1;
  const total = Math.max(encode, lookup, dram) + fill;

  // Action counts.
  const dist = N * C * K;
  const a = (component: string, action: string, count: number): ActionCount => ({ component, action, count });
  const actions: ActionCount[] = [
    a('distance_pe', 'subtract', dist * V),
    ...(metric === 'l2' ? [a('distance_pe', 'multiply', dist * V)] : [a('distance_pe', 'abs', dist * V)]),
    metric === 'chebyshev' ? a('distance_pe', 'tree_max', dist * (V - 1)) : a('distance_pe', 'tree_add', dist * (V - 1)),
    a('distance_pe', 'register_write_bit', dist * (V * ab + distBits + cb)),
    a('centroid_regs', 'write_bit', rowTiles * centroidBits),
    a('argmin_comparator', 'compare', dist),
    a('act_sram', 'read_bit', N * D * ab),
    a('act_sram', 'write_bit', inputBits),
    a('centroid_sram', 'read_bit', rowTiles * centroidBits),
    a('centroid_sram', 'write_bit', centroidDramBits),
    a('index_fifo', 'write_bit', N * C * cb),
    a('index_fifo', 'read_bit', N * C * cb * outTiles),
    a('table_sram', 'read_bit', N * C * M * tb),
    a('table_sram', 'write_bit', tableDramBits),
    a('matcher_regs', 'write_bit', N * M * C * chainBits),
    a('chain_adder', 'add', N * M * (C - G)),
    a('psum_adder', 'add', N * M * (G - 1)),
    a('psum_sram', 'read_bit', N * M * (G - 1) * pb),
    a('psum_sram', 'write_bit', N * M * (G - 1) * pb),
    a('dram', 'read_bit', readBits),
    a('dram', 'write_bit', outputBits),
  ].filter((x) => x.count > 0);
  const { totalPJ, byCategory } = energyOf(opts.energyTable ?? lutDlaEnergyTable(cfg, tech), actions);

  return {
    name: layer.name,
    cycles: { total, compute: Math.max(encode, lookup), encode, lookup, dram, fill },
    seconds: total / (cfg.clockMHz * 1e6),
    energyPJ: totalPJ,
    energyByCategory: byCategory,
    dramBytes: { input: inputBits / 8, params: (tableDramBits + centroidDramBits) / 8, output: outputBits / 8, read: readBits / 8, write: outputBits / 8 },
    tiling: { codebooks: C, groups: G, passes, vPasses, rowTile: Nt, rowTiles, outTile: Mt, outTiles, tablesResident, centroidsResident },
    actions,
  };
}

/** A model (its LUT layers, run one after another) on LUT-DLA: per-layer reports, sums, area and efficiencies. */
export function lutDlaModel(layers: readonly HwLayer[], cfg: LutDlaConfig, tech: TechTable, opts: { batch?: number } = {}): DesignReport {
  if (layers.length === 0) throw new ArgumentError('lutDlaModel: no layers');
  const energyTable = lutDlaEnergyTable(cfg, tech);
  const batch = opts.batch ?? 1;
  return summarise('lut-dla', {
    techName: tech.name,
    clockMHz: cfg.clockMHz,
    batch,
    layers: layers.map((l) => lutDlaLayer(l, cfg, tech, { batch, energyTable })),
    energyTable,
    area: lutDlaArea(cfg, tech),
  });
}
