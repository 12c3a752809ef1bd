// Cycle-level functional simulation of the LUT-DLA datapath on integers: pipelined distance PEs with a running min and index, the index FIFO, the table-row accumulation chain.
import { ArgumentError, ShapeError } from '../errors.js';
import { METRICS, type HwLayer, type Metric } from './lut-dla-layers.js';
import { lutDlaLayer, type LutDlaConfig } from './lut-dla.js';
import { TECH_45NM } from './tech.js';

/*
 * What is simulated (the datapath of lut-dla.ts, cycle by cycle, on the tiling lutDlaLayer chooses):
 *
 * - Encode side: the U CCUs work in lockstep on one job (row n, codebook group g), CCU u on codebook c = g·U + u
 *   (idle when c >= C). A CCU is a pipeline of min(K, P) distance PEs of peStages = 1 + ceil(log2 min(V, peWidth))
 *   stages each; every stage holds a job for vPasses = ceil(V/peWidth) cycles (peWidth elements per cycle). The
 *   sub-vector and the running (best distance, best index) travel with the job; on leaving PE j in pass s the job
 *   compares the distance to centroid k = s·P + j (if k < K) with the running minimum, strictly (the first k wins
 *   ties). With K > P a job leaving the last PE re-enters the first (priority over new jobs) for ceil(K/P) passes.
 *   Distances on integers: x' = x·2^max(s,0) and p' = p·2^max(−s,0) for the codebook's shift s (the x scale over the
 *   centroid scale is 2^s); L2 Σ(x'−p')², L1 Σ|x'−p'|, Chebyshev max|x'−p'|.
 * - The index FIFO (indexFifoDepth entries of U codes): a job leaving the CCUs is written in the next cycle (the
 *   whole encode pipeline stalls while the FIFO is full) and can be read one cycle after its write. Codes stay in the
 *   FIFO until the last output tile has used them.
 * - Lookup side: an issue stage reads one FIFO entry per cycle and issues one work item (row n, group g, up to
 *   `lanes` outputs of the current output tile) per cycle, in the order of the LUT-stationary dataflow (row tile,
 *   group, output tile, row, lanes). The item then passes the matcher chain, one stage per cycle: stage u reads
 *   lut[c][code_c][m .. m+lanes) (c = g·U + u) and adds it to the chain's partial sums; one more cycle adds the chain's
 *   sums into the partial-sum buffer (group > 0) or initialises it (group 0).
 * - Not simulated: DRAM and the SRAM fills (the data are on chip when the layer starts; lutDlaLayer's DRAM bound is
 *   the bandwidth bound of the same traffic), bias and requantisation (the integer sums are the result, as the
 *   runtime's int32 accumulators before scale·acc + bias).
 *
 * The simulation counts the datapath's actions as they happen; the tests compare them and the cycles with
 * lutDlaLayer's formulas.
 */

/** One LUT layer's integer data: the hardware's operands. */
export interface LutDlaSimData {
  /** N rows (batch included), C codebooks, K centroids, V = subvecLen, M outputs. */
  rows: number;
  codebooks: number;
  k: number;
  subvecLen: number;
  outDim: number;
  metric: Metric;
  /** [C, K, V] int8 centroids (on the centroid scale of their codebook). */
  centroids: Int8Array;
  /** [C, K, M] int8 table. */
  table: Int8Array;
  /** [N, C·V] int8 activations (on the x scale of each codebook). */
  inputs: Int8Array;
  /** [C] x scale over centroid scale as a power of two (default all 0: the same scale), each in −8..8. */
  shift?: Int8Array;
}

export interface LutDlaSimOptions {
  /** The layer whose tiling is used (conv geometry matters for the row tile); default a linear layer of the data's shape. */
  layer?: HwLayer;
  /** Images: data.rows must be layer.rows · batch (default 1). */
  batch?: number;
  /** Give up (ShapeError) after this many cycles (default 10^9): a guard against a deadlock. */
  maxCycles?: number;
}

/** Datapath actions counted while simulating (same meaning as lutDlaLayer's action counts). */
export interface LutDlaSimCounts {
  distances: number;
  subtracts: number;
  /** L2: multiplies; L1, Chebyshev: absolute values. */
  squaresOrAbs: number;
  /** L2, L1: tree adds; Chebyshev: tree max. */
  treeOps: number;
  compares: number;
  /** Codes written to and read from the index FIFOs. */
  fifoWrites: number;
  fifoReads: number;
  /** Table entries read by the matcher stages. */
  tableReads: number;
  /** Matcher stage register writes (one per entry read). */
  matcherWrites: number;
  chainAdds: number;
  psumAdds: number;
  psumReads: number;
  psumWrites: number;
}

export interface LutDlaSimResult {
  /** [N, C] codes. */
  codes: Uint8Array;
  /** [N, M] integer sums Σ_c table[c][code][m]. */
  acc: Int32Array;
  cycles: {
    /** Cycles until the last partial sum is written. */
    total: number;
    /** Cycles in which a new job entered the CCUs (N·G when nothing recirculates). */
    encodeIssues: number;
    /** Cycles the CCUs stood still because the FIFO was full. */
    encodeStalls: number;
    /** Cycles in which the issue stage issued a work item (= lutDlaLayer's lookup cycles). */
    lookupIssues: number;
    /** Cycles in which the issue stage waited for codes. */
    lookupStarved: number;
    /** Cycle in which the first code became readable. */
    firstCode: number;
    /** Most FIFO entries in use at once. */
    fifoPeak: number;
  };
  counts: LutDlaSimCounts;
  tiling: Record<string, number | boolean>;
}

function checkData(d: LutDlaSimData): void {
  const at = 'lutDlaSim';
  for (const f of ['rows', 'codebooks', 'k', 'subvecLen', 'outDim'] as const) {
    if (!Number.isSafeInteger(d[f]) || d[f] < 1) throw new ArgumentError(`${at}: ${f} must be an integer >= 1, got ${String(d[f])}`);
  }
  if (!METRICS.includes(d.metric)) throw new ArgumentError(`${at}: metric must be one of ${METRICS.join(', ')}, got ${String(d.metric)}`);
  const { rows: N, codebooks: C, k: K, subvecLen: V, outDim: M } = d;
  const want = (name: string, a: unknown, n: number): void => {
    if (!(a instanceof Int8Array)) throw new ArgumentError(`${at}: ${name} must be an Int8Array`);
    if (a.length !== n) throw new ShapeError(`${at}: ${name} has ${a.length} values, expected ${n}`);
  };
  want('centroids', d.centroids, C * K * V);
  want('table', d.table, C * K * M);
  want('inputs', d.inputs, N * C * V);
  if (d.shift !== undefined) {
    want('shift', d.shift, C);
    for (let c = 0; c < C; c++) if (d.shift[c] < -8 || d.shift[c] > 8) throw new ArgumentError(`${at}: shift[${c}] must be in −8..8, got ${d.shift[c]}`);
  }
}

interface Job {
  /** Index in the dataflow's job order (the FIFO is written in this order). */
  index: number;
  n: number;
  g: number;
  pass: number;
  best: Float64Array;
  idx: Int32Array;
}

/** Simulates one LUT layer on LUT-DLA; see the notes at the top of the file. */
export function simulateLutDla(d: LutDlaSimData, cfg: LutDlaConfig, opts: LutDlaSimOptions = {}): LutDlaSimResult {
  checkData(d);
  const { rows: N, codebooks: C, k: K, subvecLen: V, outDim: M, metric } = d;
  const D = C * V;
  const batch = opts.batch ?? 1;
  const layer: HwLayer = opts.layer ?? { name: 'sim', rows: N, inDim: D, outDim: M, lut: { subvecLen: V, k: K, metric } };
  if (layer.rows * batch !== N || layer.inDim !== D || layer.outDim !== M || layer.lut?.subvecLen !== V || layer.lut.k !== K || layer.lut.metric !== metric) {
    throw new ShapeError(`lutDlaSim: layer '${layer.name}' (rows ${layer.rows}·batch ${batch}, ${layer.inDim}→${layer.outDim}, V ${layer.lut?.subvecLen}, K ${layer.lut?.k}, ${layer.lut?.metric}) does not match the data (N ${N}, D ${D}, M ${M}, V ${V}, K ${K}, ${metric})`);
  }
  // The analytical model checks the configuration against the layer and chooses the tiling.
  const tiling = lutDlaLayer(layer, cfg, TECH_45NM, { batch }).tiling;
  const U = cfg.ccus;
  const P = cfg.pesPerCcu;
  const L = cfg.lanes;
  const F = cfg.indexFifoDepth;
  const G = Math.ceil(C / U);
  const Nt = tiling.rowTile as number;
  const Mt = tiling.outTile as number;
  const passes = Math.ceil(K / P);
  const vPasses = Math.ceil(V / cfg.peWidth);
  const nPE = Math.min(K, P);
  const peStages = 1 + Math.ceil(Math.log2(Math.min(V, cfg.peWidth)));
  const Lp = nPE * peStages;
  const maxCycles = opts.maxCycles ?? 1e9;
  const shift = d.shift ?? new Int8Array(C);

  const counts: LutDlaSimCounts = {
    distances: 0, subtracts: 0, squaresOrAbs: 0, treeOps: 0, compares: 0, fifoWrites: 0, fifoReads: 0,
    tableReads: 0, matcherWrites: 0, chainAdds: 0, psumAdds: 0, psumReads: 0, psumWrites: 0,
  };
  const codes = new Uint8Array(N * C);
  const acc = new Int32Array(N * M);
  const active = (g: number): number => Math.min(U, C - g * U); // codebooks of group g

  // Jobs in the dataflow's order: row tile, group, row.
  const jobs: { n: number; g: number }[] = [];
  const rowTiles = Math.ceil(N / Nt);
  for (let rt = 0; rt < rowTiles; rt++) {
    for (let g = 0; g < G; g++) for (let n = rt * Nt; n < Math.min(N, (rt + 1) * Nt); n++) jobs.push({ n, g });
  }
  // Work items of the lookup side, in order: (row tile, group, output tile, row, lanes); `last` pops the entry.
  const outTiles = Math.ceil(M / Mt);
  const work: { job: number; m0: number; cnt: number; first: boolean; last: boolean }[] = [];
  {
    let j0 = 0;
    for (let rt = 0; rt < rowTiles; rt++) {
      const n0 = rt * Nt;
      const nt = Math.min(N, n0 + Nt) - n0;
      for (let g = 0; g < G; g++) {
        for (let t = 0; t < outTiles; t++) {
          const mEnd = Math.min(M, (t + 1) * Mt);
          for (let i = 0; i < nt; i++) {
            for (let m0 = t * Mt; m0 < mEnd; m0 += L) {
              work.push({ job: j0 + i, m0, cnt: Math.min(L, mEnd - m0), first: m0 === t * Mt, last: t === outTiles - 1 && m0 + L >= mEnd });
            }
          }
        }
        j0 += nt;
      }
    }
  }

  // Distance of job's row n, codebook c, to centroid k (integers; counts the PE's operations).
  const distance = (n: number, c: number, k: number): number => {
    const s = shift[c];
    const xs = s > 0 ? 2 ** s : 1;
    const ps = s < 0 ? 2 ** -s : 1;
    const x0 = n * D + c * V;
    const p0 = (c * K + k) * V;
    let dist = 0;
    for (let v = 0; v < V; v++) {
      const diff = d.inputs[x0 + v] * xs - d.centroids[p0 + v] * ps;
      if (metric === 'l2') dist += diff * diff;
      else if (metric === 'l1') dist += Math.abs(diff);
      else dist = Math.max(dist, Math.abs(diff));
    }
    counts.distances++;
    counts.subtracts += V;
    counts.squaresOrAbs += V;
    counts.treeOps += V - 1;
    return dist;
  };

  // Encode side state.
  const pipe: (Job | null)[] = new Array<Job | null>(Lp).fill(null);
  let timer = 0; // cycles the jobs have spent at their current positions
  let nextJob = 0;
  let inPipe = 0;
  const enter = (): void => {
    if (pipe[0] !== null || nextJob >= jobs.length) return;
    const { n, g } = jobs[nextJob];
    pipe[0] = { index: nextJob++, n, g, pass: 0, best: new Float64Array(U).fill(Infinity), idx: new Int32Array(U) };
    inPipe++;
    cyc.encodeIssues++;
  };
  let pendingWrite: Job | null = null; // a job that left the CCUs at the end of the last cycle: written this cycle
  // FIFO: entries are jobs in order; written[j] = cycle of the write.
  const writeCycle = new Float64Array(jobs.length).fill(Infinity);
  let written = 0;
  let popped = 0;
  // Lookup side state.
  let nextWork = 0;
  const inflight: { w: number; issued: number; sums: Int32Array }[] = [];
  let done = 0;
  const cyc = { total: 0, encodeIssues: 0, encodeStalls: 0, lookupIssues: 0, lookupStarved: 0, firstCode: -1, fifoPeak: 0 };

  const leavePE = (job: Job, pos: number): void => {
    // The job leaves PE j = pos / peStages after its last stage: compare against centroid pass·P + j.
    const j = Math.floor(pos / peStages);
    const k = job.pass * P + j;
    if (k >= K) return;
    for (let u = 0; u < active(job.g); u++) {
      const c = job.g * U + u;
      const dist = distance(job.n, c, k);
      counts.compares++;
      if (dist < job.best[u]) {
        job.best[u] = dist;
        job.idx[u] = k;
      }
    }
  };

  enter(); // the first job is in the first stage from cycle 0
  for (let t = 0; ; t++) {
    if (t >= maxCycles) throw new ShapeError(`lutDlaSim: no result after ${maxCycles} cycles (deadlock?)`);
    // FIFO write of the job that left the CCUs last cycle (space was checked then).
    if (pendingWrite) {
      if (pendingWrite.index !== written) throw new Error('lutDlaSim: FIFO written out of order'); // cannot happen: jobs leave in order
      for (let u = 0; u < active(pendingWrite.g); u++) codes[pendingWrite.n * C + pendingWrite.g * U + u] = pendingWrite.idx[u];
      counts.fifoWrites += active(pendingWrite.g);
      writeCycle[written++] = t;
      if (cyc.firstCode < 0) cyc.firstCode = t + 1;
      pendingWrite = null;
    }
    cyc.fifoPeak = Math.max(cyc.fifoPeak, written - popped);

    // Lookup side: matcher chain stages and the partial-sum stage of the items in flight, then one issue.
    for (let i = 0; i < inflight.length; i++) {
      const f = inflight[i];
      const w = work[f.w];
      const { n, g } = jobs[w.job];
      const stage = t - f.issued - 1;
      if (stage < 0) continue;
      if (stage < active(g)) {
        const c = g * U + stage;
        const row = (c * K + codes[n * C + c]) * M + w.m0;
        for (let l = 0; l < w.cnt; l++) f.sums[l] += d.table[row + l];
        counts.tableReads += w.cnt;
        counts.matcherWrites += w.cnt;
        if (stage > 0) counts.chainAdds += w.cnt;
      } else if (stage === Math.min(U, C)) {
        const o = n * M + w.m0;
        if (g > 0) {
          for (let l = 0; l < w.cnt; l++) acc[o + l] += f.sums[l];
          counts.psumReads += w.cnt;
          counts.psumAdds += w.cnt;
        } else {
          for (let l = 0; l < w.cnt; l++) acc[o + l] = f.sums[l];
        }
        if (g < G - 1) counts.psumWrites += w.cnt;
        inflight.splice(i--, 1);
        done++;
        cyc.total = t + 1;
      }
    }
    if (nextWork < work.length) {
      const w = work[nextWork];
      if (writeCycle[w.job] < t) {
        if (w.first) counts.fifoReads += active(jobs[w.job].g);
        inflight.push({ w: nextWork, issued: t, sums: new Int32Array(w.cnt) });
        cyc.lookupIssues++;
        nextWork++;
        if (w.last) popped++;
      } else {
        cyc.lookupStarved++;
      }
    }
    if (done === work.length) break;

    // Encode side, at the end of the cycle: after vPasses cycles at their positions the jobs move one stage on (a job
    // leaving the last PE is written to the FIFO in the next cycle, or goes round again); then a new job takes the
    // first stage, from the next cycle on, if it is free.
    if (inPipe > 0) {
      if (timer < vPasses) timer++;
      if (timer === vPasses) {
        const out = pipe[Lp - 1];
        if (out !== null && out.pass === passes - 1 && written - popped >= F) {
          cyc.encodeStalls++; // FIFO full: everything holds (pendingWrite is always empty here: written at the cycle's start)
        } else {
          // Compare points: every job at the last stage of a PE leaves that PE now.
          for (let pos = Lp - 1; pos >= 0; pos--) if (pipe[pos] && (pos + 1) % peStages === 0) leavePE(pipe[pos]!, pos);
          for (let pos = Lp - 1; pos > 0; pos--) pipe[pos] = pipe[pos - 1];
          pipe[0] = null;
          if (out) {
            if (out.pass < passes - 1) {
              out.pass++;
              pipe[0] = out;
            } else {
              pendingWrite = out;
              inPipe--;
            }
          }
          timer = 0;
          enter();
        }
      }
    }
  }
  return { codes, acc, cycles: cyc, counts, tiling };
}
