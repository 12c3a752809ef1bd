// Analytical model of an INT8 MAC systolic array (weight-stationary) with the same buffers, clock and DRAM model as LUT-DLA.
import { ArgumentError, ShapeError } from '../errors.js';
import { checkConfigFields, checkLayer, inputElemsOf, summarise, type AreaReport, type DesignReport, type HwLayer, type LayerReport } from './lut-dla-layers.js';
import type { LutDlaConfig } from './lut-dla.js';
import {
  addArea, addEnergy, dramEnergyPerBit, energyOf, multArea, multEnergy, regArea, regEnergyPerBit, sramArea, sramReadEnergyPerBit,
  sramWriteEnergyPerBit, type ActionCount, type ComponentEnergy, type EnergyCategory, type TechTable,
} from './tech.js';

/*
 * The array: R×C PEs, each an actBits×weightBits multiplier, a psumBits adder, a weight register, an input register
 * (inputs flow right) and a partial-sum register (partial sums flow down). Weight-stationary: a fold is an R×C block
 * of the weight matrix [D, M] held in the PEs; input rows stream through; a column of R PEs reduces R products.
 * Every layer runs as the dense INT8 GEMM of the same shape (a LUT layer's LUT settings are ignored).
 *
 * Loop nest, per layer (N = rows·batch, Fk = ceil(D/R) folds of the inner dim, Fm = ceil(M/C) of the outputs):
 *   for each row tile (Nt rows; inputs in the activation buffer, Nt×C partial sums in the psum buffer)
 *     for each output fold (C outputs)
 *       for each inner fold (R inputs): load the fold's weights, stream the Nt rows; the array's bottom edge adds
 *         the column sums to the stored partial sums (psum adders), or writes the outputs after the last fold.
 * Tiling: weights resident when D·M·wb ≤ weightBufferBytes·8 (loaded from DRAM once), else re-read per row tile
 * (the buffer must hold one fold). Nt = largest that fits the activation buffer (the row's share of the input) and,
 * when Fk > 1, the psum buffer (Nt·C·psumBits).
 *
 * Cycles: SCALE-Sim's analytical weight-stationary count (Samajdar et al., ISPASS'20): per fold 2R + C + T − 2
 * cycles — R to load the weights, T rows streaming, R + C − 2 of skew fill and drain — with T = the tile's rows:
 *   compute = Fk·Fm·Σ_row tiles (2R + C + Nt_i − 2) = Fk·Fm·(rowTiles·(2R + C − 2) + N),
 *   dram = ceil(DRAM bytes / dramBytesPerCycle), total = max(compute, dram) (fill and drain are inside compute).
 *
 * Energy: Σ count × energy per action:
 *   N·D·M multiplies; N·M·(D − Fk) in-array adds (a fold's column of r PEs adds r−1 times); N·D·M register
 *   writes of actBits + psumBits bits (input forwarded, partial sum passed down; weight shifting during loads is
 *   not counted); weight-register writes D·M·wb per row tile; psum adds N·M·(Fk−1) with as many psum-buffer reads
 *   and writes of psumBits; activation-buffer reads N·D·ab per output fold (Fm times), writes of the input once;
 *   weight-buffer reads D·M·wb per row tile, writes of what DRAM delivers; DRAM reads (input once, weights) and
 *   writes (outputs at actBits). No leakage; no requantisation or bias cost (as for LUT-DLA).
 */

export interface SystolicConfig {
  /** R: PE rows (the inner, reduced dimension). */
  rows: number;
  /** C: PE columns (outputs). */
  cols: number;
  actBits: number;
  weightBits: number;
  psumBits: number;
  actBufferBytes: number;
  weightBufferBytes: number;
  psumBufferBytes: number;
  clockMHz: number;
  dramBytesPerCycle: number;
}

/** A 16×16 INT8 array with 64 KB activation, 40 KB weight and 64 KB psum buffers (the LUT-DLA default's SRAM). */
export const DEFAULT_SYSTOLIC_CONFIG: Readonly<SystolicConfig> = {
  rows: 16,
  cols: 16,
  actBits: 8,
  weightBits: 8,
  psumBits: 32,
  actBufferBytes: 64 * 1024,
  weightBufferBytes: 40 * 1024,
  psumBufferBytes: 64 * 1024,
  clockMHz: 300,
  dramBytesPerCycle: 16,
};

/**
 * The array that matches a LUT-DLA configuration: the same activation and psum buffers, a weight buffer as large as
 * LUT-DLA's table banks and centroid buffer together, the same widths, clock and DRAM bandwidth.
 */
export function systolicConfigMatching(lut: LutDlaConfig, array: { rows: number; cols: number }): SystolicConfig {
  return {
    rows: array.rows,
    cols: array.cols,
    actBits: lut.actBits,
    weightBits: lut.tableBits,
    psumBits: lut.psumBits,
    actBufferBytes: lut.actBufferBytes,
    weightBufferBytes: lut.ccus * lut.tableBankBytes + lut.centroidBufferBytes,
    psumBufferBytes: lut.psumBufferBytes,
    clockMHz: lut.clockMHz,
    dramBytesPerCycle: lut.dramBytesPerCycle,
  };
}

const INT_FIELDS = ['rows', 'cols', 'actBits', 'weightBits', 'psumBits', 'actBufferBytes', 'weightBufferBytes', 'psumBufferBytes'] as const;

export function checkSystolicConfig(cfg: SystolicConfig): void {
  checkConfigFields('systolic', cfg, INT_FIELDS, ['clockMHz', 'dramBytesPerCycle']);
}

/** Energy per action of every component (the Accelergy ERT of this configuration). */
export function systolicEnergyTable(cfg: SystolicConfig, tech: TechTable): ComponentEnergy[] {
  checkSystolicConfig(cfg);
  const reg = regEnergyPerBit(tech);
  const act = (name: string, energyPJ: number, category: EnergyCategory) => ({ name, energyPJ, category });
  const sram = (bytes: number) => [act('read_bit', sramReadEnergyPerBit(tech, bytes), 'sram'), act('write_bit', sramWriteEnergyPerBit(tech, bytes), 'sram')];
  return [
    {
      name: 'mac_pe',
      actions: [act('multiply', multEnergy(tech, cfg.actBits, cfg.weightBits), 'macs'), act('add', addEnergy(tech, cfg.psumBits), 'macs'), act('register_write_bit', reg, 'macs')],
    },
    { name: 'weight_regs', actions: [act('write_bit', reg, 'macs')] },
    { name: 'psum_adder', actions: [act('add', addEnergy(tech, cfg.psumBits), 'accumulators')] },
    { name: 'act_sram', actions: sram(cfg.actBufferBytes) },
    { name: 'weight_sram', actions: sram(cfg.weightBufferBytes) },
    { name: 'psum_sram', actions: sram(cfg.psumBufferBytes) },
    { name: 'dram', actions: [act('read_bit', dramEnergyPerBit(tech), 'dram'), act('write_bit', dramEnergyPerBit(tech), 'dram')] },
  ];
}

/**
 * Area by component (um2): macPEs = R·C·[multiplier actBits×weightBits + adder psumBits + registers weightBits +
 * actBits + psumBits]; weightSram = the weight buffer; buffers = activation + psum SRAM; accumulators = C psum adders.
 */
export function systolicArea(cfg: SystolicConfig, tech: TechTable): AreaReport {
  checkSystolicConfig(cfg);
  const pe = multArea(tech, cfg.actBits, cfg.weightBits) + addArea(tech, cfg.psumBits) + regArea(tech, cfg.weightBits + cfg.actBits + cfg.psumBits);
  const byComponent = {
    macPEs: cfg.rows * cfg.cols * pe,
    weightSram: sramArea(tech, cfg.weightBufferBytes),
    buffers: sramArea(tech, cfg.actBufferBytes + cfg.psumBufferBytes),
    accumulators: cfg.cols * addArea(tech, cfg.psumBits),
  };
  return { totalUm2: Object.values(byComponent).reduce((a, b) => a + b, 0), byComponent };
}

/** One layer as an INT8 GEMM on the array for `batch` images (formulas at the top of the file). */
export function systolicLayer(layer: HwLayer, cfg: SystolicConfig, tech: TechTable, opts: { batch?: number; energyTable?: ComponentEnergy[] } = {}): LayerReport {
  checkSystolicConfig(cfg);
  checkLayer(layer, 'systolic');
  const at = `systolic: layer '${layer.name}'`;
  const batch = opts.batch ?? 1;
  if (!Number.isSafeInteger(batch) || batch < 1) throw new ArgumentError(`systolic: batch must be an integer >= 1, got ${batch}`);
  const { rows: R, cols: Cc, actBits: ab, weightBits: wb, psumBits: pb } = cfg;
  const N = layer.rows * batch;
  const D = layer.inDim;
  const M = layer.outDim;
  const Fk = Math.ceil(D / R);
  const Fm = Math.ceil(M / Cc);

  const weightBits = D * M * wb;
  const weightsResident = weightBits <= cfg.weightBufferBytes * 8;
  if (!weightsResident && R * Cc * wb > cfg.weightBufferBytes * 8) throw new ShapeError(`${at}: the weight buffer (${cfg.weightBufferBytes} B) cannot hold one ${R}x${Cc} fold`);

  const inputBits = inputElemsOf(layer) * batch * ab;
  const rowInputBits = inputBits / N;
  let Nt = Math.min(N, Math.floor((cfg.actBufferBytes * 8) / rowInputBits));
  if (Nt < 1) throw new ShapeError(`${at}: the activation buffer (${cfg.actBufferBytes} B) cannot hold one row's inputs (${Math.ceil(rowInputBits / 8)} B)`);
  if (Fk > 1) {
    const byPsum = Math.floor((cfg.psumBufferBytes * 8) / (Cc * pb));
    if (byPsum < 1) throw new ShapeError(`${at}: the psum buffer (${cfg.psumBufferBytes} B) cannot hold one row's ${Cc} partial sums`);
    Nt = Math.min(Nt, byPsum);
  }
  const rowTiles = Math.ceil(N / Nt);

  const weightDramBits = weightBits * (weightsResident ? 1 : rowTiles);
  const outputBits = N * M * ab;
  const readBits = inputBits + weightDramBits;

  const compute = Fk * Fm * (rowTiles * (2 * R + Cc - 2) + N);
  const dram = Math.ceil((readBits + outputBits) / 8 / cfg.dramBytesPerCycle);
  const total = Math.max(compute, dram);

  const macs = N * D * M;
  const a = (component: string, action: string, count: number): ActionCount => ({ component, action, count });
  const actions: ActionCount[] = [
    a('mac_pe', 'multiply', macs),
    a('mac_pe', 'add', N * M * (D - Fk)),
    a('mac_pe', 'register_write_bit', macs * (ab + pb)),
    a('weight_regs', 'write_bit', rowTiles * weightBits),
    a('psum_adder', 'add', N * M * (Fk - 1)),
    a('act_sram', 'read_bit', N * D * ab * Fm),
    a('act_sram', 'write_bit', inputBits),
    a('weight_sram', 'read_bit', rowTiles * weightBits),
    a('weight_sram', 'write_bit', weightDramBits),
    a('psum_sram', 'read_bit', N * M * (Fk - 1) * pb),
    a('psum_sram', 'write_bit', N * M * (Fk - 1) * pb),
    a('dram', 'read_bit', readBits),
    a('dram', 'write_bit', outputBits),
  ].filter((x) => x.count > 0);
  const { totalPJ, byCategory } = energyOf(opts.energyTable ?? systolicEnergyTable(cfg, tech), actions);

  return {
    name: layer.name,
    cycles: { total, compute, encode: 0, lookup: 0, dram, fill: 0 },
    seconds: total / (cfg.clockMHz * 1e6),
    energyPJ: totalPJ,
    energyByCategory: byCategory,
    dramBytes: { input: inputBits / 8, params: weightDramBits / 8, output: outputBits / 8, read: readBits / 8, write: outputBits / 8 },
    tiling: { innerFolds: Fk, outFolds: Fm, rowTile: Nt, rowTiles, weightsResident },
    actions,
  };
}

/** A model (its layers as INT8 GEMMs, one after another) on the array: per-layer reports, sums, area, efficiencies. */
export function systolicModel(layers: readonly HwLayer[], cfg: SystolicConfig, tech: TechTable, opts: { batch?: number } = {}): DesignReport {
  if (layers.length === 0) throw new ArgumentError('systolicModel: no layers');
  const energyTable = systolicEnergyTable(cfg, tech);
  const batch = opts.batch ?? 1;
  return summarise('systolic', {
    techName: tech.name,
    clockMHz: cfg.clockMHz,
    batch,
    layers: layers.map((l) => systolicLayer(l, cfg, tech, { batch, energyTable })),
    energyTable,
    area: systolicArea(cfg, tech),
  });
}
