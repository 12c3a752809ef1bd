// Design-space exploration (`lutnn dse`): real conversions of model points (cached on disk), × LUT-DLA hardware points, Pareto fronts.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad } from '../autograd/engine.js';
import type { DataLoader } from '../data/loader.js';
import { FormatError, LutnnError } from '../errors.js';
import { GraphModel } from '../graph/model.js';
import type { GraphNode } from '../graph/types.js';
import { lutDlaConfigFor, lutDlaModel } from '../hw/lut-dla.js';
import { compareDesigns, layersFromGraph, withLut, type HwLayer } from '../hw/lut-dla-layers.js';
import { systolicConfigMatching, systolicModel } from '../hw/systolic.js';
import { TECH_45NM, type TechTable } from '../hw/tech.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import { candidates, convertModel, selectLayers, type ConvertedLayer } from '../lut/convert.js';
import { lutParamGroups } from '../lut/recipe.js';
import { Adam } from '../optim/index.js';
import type { BaseHyper, Optimizer } from '../optim/optimizer.js';
import { cosine } from '../optim/schedule.js';
import { manualSeed } from '../tensor/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { distillationLoss } from '../train/distill.js';
import { fit } from '../train/fit.js';
import { evaluate } from '../train/metrics.js';
import { evaluateOnRuntime } from './evaluate.js';
import { hardwarePoints, LAYER_KINDS, modelPointName, modelPoints, type DseSpace, type HwField, type LayerKind, type ModelPoint } from './dse-space.js';
import { paretoFront } from './pareto.js';

/*
 * How a sweep runs (resumable; everything it computes once is kept under DIR/cache):
 * 1. Model points: per point and per layer kind present, the kind's layers are converted together from the dense model
 *    (convertModel with `include` = those layers, parallel calibration: each layer calibrates on the dense model, so a
 *    kind's conversion does not depend on the other kinds' settings). A kind's conversion is cached in
 *    cache/layers/<hash>.safetensors (its nodes and tensors), keyed by (model, calibration data, conversion settings,
 *    kind, V, K, metric), so points sharing it (e.g. every conv V with the same linear V, K, metric) convert it once.
 *    The point's model is the dense graph with the converted nodes grafted in; its test accuracy (int8 tables; also
 *    float tables when the space has table entries wider than 8 bits) goes to cache/points/<hash>.json.
 * 2. Hardware: each model point's LUT layers × each hardware point through the LUT-DLA model (lutDlaConfigFor: PE width
 *    = the largest V, the point's metric, code bits for K, centroid slots for K; the swept fields override) and the
 *    INT8 MAC array with the same buffers, clock and DRAM (systolicConfigMatching, 8-bit weights). Only the layers the
 *    conversion replaces are counted, on both designs (layers kept dense, e.g. fmnist-cnn's conv1 and fc2, are not).
 * 3. Fronts: accuracy (max) against energy per inference, area, latency (min). With fine-tuning, the model points with
 *    a point on the accuracy–energy front are fine-tuned (cache/finetune/<hash>.json, checkpoint beside it) and the
 *    fronts are computed again with their fine-tuned accuracy.
 */

/**
 * Where a sweep stands. Model-point phases: `point` = model points with results so far (in the cache, whichever process
 * computed them), `points` = all; `name` the point being worked on; convert steps as convertModel reports them.
 */
export type DseProgress =
  | { phase: 'convert' | 'eval' | 'cached'; point: number; points: number; name: string; step?: string; done?: number; total?: number }
  | { phase: 'finetune'; point: number; points: number; name: string; step: string; done: number; total: number }
  | { phase: 'hardware' | 'report'; point: number; points: number; name: string };

export interface DseOptions {
  dense: GraphModel;
  /** Identity of the dense model (e.g. the sha256 of its file); part of every cache key. */
  modelId: string;
  /** Shown in reports. */
  modelName: string;
  space: DseSpace;
  /** Output directory (created). */
  out: string;
  /** Calibration batches (training images). */
  calibration: readonly Tensor[];
  /** Test batches the accuracy is measured on. */
  test: DataLoader;
  /** Training batches for fine-tuning (needed with finetuneEpochs). */
  train?: DataLoader;
  /** Fine-tune the model points on the accuracy–energy front this many epochs (LUT-NN recipe, distilled from the dense model). */
  finetuneEpochs?: number;
  finetune?: { lr?: number; temperatureLr?: number; distillAlpha?: number; distillTemperature?: number };
  tech?: TechTable;
  /** Stop after converting this many new model points (tests of resume). */
  limit?: number;
  /**
   * Convert only this share of the model points (parallel processes on one DIR): those whose (K, metric) combination
   * has index ≡ index (mod count), so that no two shards need the same conversion of a kind. Other points are taken
   * from the cache when there, else left out.
   */
  shard?: { index: number; count: number };
  /** Abort between model points (and between fine-tuned points); the cache keeps what is done. */
  signal?: AbortSignal;
  onProgress?: (p: DseProgress) => void;
}

/** Accuracy of one model point (fractions; `float` with float tables, null when not measured). */
export interface PointAccuracy {
  int8: number;
  float: number | null;
}

/** One (model point, hardware point): a row of points.csv. */
export interface DsePoint {
  id: number;
  model: string;
  v: Partial<Record<LayerKind, number>>;
  k: number;
  metric: string;
  hw: Partial<Record<HwField, number>>;
  /** Test accuracy (fraction): fine-tuned when `finetuned`, else the conversion's. */
  accuracy: number;
  accuracyKmeans: number;
  finetuned: boolean;
  /** LUT-DLA per inference: energy (µJ, DRAM included), area (mm²), latency (ms). */
  energy: number;
  energyExclDram: number;
  area: number;
  latency: number;
  /** The INT8 MAC array beside it (same layers, buffers, clock). */
  macEnergy: number;
  macArea: number;
  macLatency: number;
  powerEfficiency: number;
  areaEfficiency: number;
  speedup: number;
  pareto: boolean;
  paretoArea: boolean;
  paretoLatency: boolean;
}

export interface DseResult {
  points: DsePoint[];
  fronts: { energy: number[]; area: number[]; latency: number[] };
  modelPoints: number;
  modelPointsDone: number;
  /** Model points taken from the cache, converted now, fine-tuned (this run or cached). */
  cached: number;
  converted: number;
  finetuned: number;
  hardwarePoints: number;
  infeasible: { count: number; reasons: string[] };
  skippedV: { kind: LayerKind; v: number; layer: string; inDim: number }[];
  skippedLayers: { name: string; op: string; reason: string }[];
  layers: { name: string; kind: LayerKind; inDim: number }[];
  denseAccuracy: number;
  testImages: number;
  calibImages: number;
  seconds: number;
  /** CPU seconds of this process (user + system; on a busy machine far below `seconds`). */
  cpuSeconds: number;
  /** False when stopped by `limit` or `signal` before every model point was converted. */
  complete: boolean;
}

const sha = (x: unknown): string => createHash('sha256').update(typeof x === 'string' ? x : JSON.stringify(x)).digest('hex');

/** sha256 over tensors' shapes and bytes (the calibration and test data are part of the cache keys). */
function digestTensors(ts: Iterable<Tensor>): string {
  const h = createHash('sha256');
  for (const t of ts) {
    h.update(JSON.stringify(t.shape));
    const d = t.data as unknown as ArrayBufferView;
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest('hex');
}

function kindOf(c: ReturnType<typeof candidates>[number]): LayerKind {
  if (c.kind === 'linear') return 'linear';
  return c.kernel[0] === 1 && c.kernel[1] === 1 ? 'conv1x1' : 'conv';
}

/** A kind's converted nodes and their initializers (what a cache/layers file holds). */
interface KindConversion {
  nodes: GraphNode[];
  tensors: Record<string, Tensor>;
  layers: ConvertedLayer[];
}

/** The dense model with converted nodes grafted in (nodes replaced by name, their tensors added, unused ones dropped). */
export function graft(dense: GraphModel, parts: readonly KindConversion[], opts: { quantize?: boolean; clone?: boolean } = {}): GraphModel {
  const byName = new Map(parts.flatMap((p) => p.nodes.map((n) => [n.name, n] as const)));
  const q = opts.quantize ?? true;
  const nodes = dense.graph.nodes.map((n) => {
    const r = byName.get(n.name);
    return r ? { ...r, attrs: { ...r.attrs, quantize: q } } : n;
  });
  const weights = new Map(dense.namedWeights().map(([k, t]) => [k, opts.clone ? t.clone() : t]));
  for (const p of parts) for (const [k, t] of Object.entries(p.tensors)) weights.set(k, opts.clone ? t.clone() : t);
  const m = GraphModel.create({ ...dense.graph, nodes }, weights, { dropUnused: true });
  m.eval();
  return m;
}

/** The same model with its LUT nodes' `quantize` attribute set (int8 tables or float tables), sharing the tensors. */
function withQuantize(model: GraphModel, quantize: boolean): GraphModel {
  const nodes = model.graph.nodes.map((n) => (n.op === 'LutConv' || n.op === 'LutLinear' ? { ...n, attrs: { ...n.attrs, quantize } } : n));
  const m = GraphModel.create({ ...model.graph, nodes }, new Map(model.namedWeights()));
  m.eval();
  return m;
}

/**
 * Test accuracy with int8 tables and, when asked, with float tables. Int8 tables run on lutnn's runtime (f32 encoder:
 * the training engine's codes; 1.5x faster than the engine) when every LUT layer has K <= 16, else on the training
 * engine (the runtime's tables past 16 centroids are 7x slower than the engine here); float tables on the engine
 * (the runtime has int8 tables only).
 */
function accuracyOf(model: GraphModel, test: DataLoader, float: boolean): PointAccuracy {
  const shape = model.inputShape;
  const maxK = Math.max(0, ...model.graph.nodes.filter((n) => n.op === 'LutConv' || n.op === 'LutLinear').map((n) => model.weight(n.inputs[1]).shape[1]));
  const int8 = shape && maxK <= 16 ? evaluateOnRuntime(model, test.epoch(0), shape, 'f32').accuracy : evaluate(model, test.epoch(0)).accuracy;
  return { int8, float: float ? evaluate(withQuantize(model, false), test.epoch(0)).accuracy : null };
}

function readJson<T>(path: string): T | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null; // a damaged cache entry is recomputed
  }
}

const yieldToEvents = (): Promise<void> => new Promise((res) => setImmediate(res));

/** Runs the sweep; see the comment at the top of the file. */
export async function runDse(o: DseOptions): Promise<DseResult> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const { dense, space } = o;
  const tech = o.tech ?? TECH_45NM;
  const cacheDir = join(o.out, 'cache');
  for (const d of ['layers', 'points', 'finetune']) mkdirSync(join(cacheDir, d), { recursive: true });
  dense.eval();

  // The layers a conversion replaces, their kinds and (for the hardware models) their GEMM shapes.
  const selected = selectLayers(dense);
  const cands = new Map(candidates(dense).map((c) => [c.name, c]));
  const layers = selected.map((name) => ({ name, kind: kindOf(cands.get(name)!), inDim: cands.get(name)!.D }));
  const fromGraph = layersFromGraph(dense.info);
  const hwLayers = fromGraph.layers.filter((l) => selected.includes(l.name));
  const skippedLayers = fromGraph.skipped.filter((s) => selected.includes(s.name));
  if (hwLayers.length === 0) throw new FormatError(`dse: ${o.modelName} has no converted layer the accelerator models cover (${skippedLayers.map((s) => `${s.name}: ${s.reason}`).join('; ') || 'no Conv or Linear selected'})`);
  const kindByName = new Map(layers.map((l) => [l.name, l.kind]));
  const { points: mpoints, skippedV } = modelPoints(space, layers);
  const hpoints = hardwarePoints(space);
  const needFloat = (space.hardware.tableBits ?? [8]).some((b) => b > 8);

  const calibDigest = digestTensors(o.calibration);
  const testDigest = digestTensors((function* () {
    for (const b of o.test.epoch(0)) yield* [b.x, b.y];
  })());
  const c = space.conversion;
  const convId = { v: 1, modelId: o.modelId, calibDigest, calib: c.calib, maxRows: c.maxRows, iters: c.iters, refit: c.refit, seed: c.seed };
  const pointId = { ...convId, testDigest, needFloat };
  const report = (p: DseProgress): void => o.onProgress?.(p);

  // Dense accuracy on the same test images (cached).
  const densePath = join(cacheDir, `dense-${sha({ modelId: o.modelId, testDigest }).slice(0, 16)}.json`);
  let denseAccuracy = readJson<{ accuracy: number }>(densePath)?.accuracy;
  if (denseAccuracy === undefined) {
    denseAccuracy = evaluate(dense, o.test.epoch(0)).accuracy;
    writeFileAtomic(densePath, JSON.stringify({ accuracy: denseAccuracy }));
  }

  const kindConversion = (mp: ModelPoint, kind: LayerKind, i: number): { conv: KindConversion; cached: boolean } => {
    const names = layers.filter((l) => l.kind === kind).map((l) => l.name);
    const key = sha({ ...convId, kind, v: mp.v[kind], k: mp.k, metric: mp.metric, names });
    const file = join(cacheDir, 'layers', `${kind}-v${mp.v[kind]}-k${mp.k}-${mp.metric}-${key.slice(0, 16)}.safetensors`);
    if (existsSync(file)) {
      try {
        const { tensors, metadata } = loadSafetensors(file);
        const meta = JSON.parse(metadata.dse ?? 'null') as { key: string; nodes: GraphNode[]; layers: ConvertedLayer[] } | null;
        if (meta && meta.key === key) return { conv: { nodes: meta.nodes, tensors, layers: meta.layers }, cached: true };
      } catch (e) {
        if (!(e instanceof LutnnError)) throw e; // a damaged file is converted again
      }
    }
    const { model, layers: converted } = convertModel(dense, o.calibration, {
      method: 'lutnn', include: names, k: mp.k, v: { [kind]: mp.v[kind] }, metric: mp.metric, maxRows: c.maxRows,
      kmeansIters: c.iters, refit: c.refit, seed: c.seed,
      onProgress: (step, done, total) => report({ phase: 'convert', point: pointsDone(), points: mpoints.length, name: modelPointName(mp), step, done, total }),
    });
    const nodes = model.graph.nodes.filter((n) => names.includes(n.name));
    const tensors: Record<string, Tensor> = {};
    for (const n of nodes) for (const v of n.inputs.slice(1)) if (v) tensors[v] = model.weight(v);
    saveSafetensors(file, tensors, { dse: JSON.stringify({ key, nodes, layers: converted }) });
    return { conv: { nodes, tensors, layers: converted }, cached: false };
  };

  const kindsOf = (mp: ModelPoint): LayerKind[] => LAYER_KINDS.filter((k) => mp.v[k] !== undefined);
  const pointFile = (mp: ModelPoint): string => join(cacheDir, 'points', `${modelPointName(mp)}-${sha({ ...pointId, mp }).slice(0, 16)}.json`);
  let doneCount = 0;
  let countedAt = -Infinity;
  /** Model points with a result file (recounted at most twice a second, or when forced). */
  const pointsDone = (force = false): number => {
    if (force || performance.now() - countedAt > 500) {
      doneCount = mpoints.filter((mp) => existsSync(pointFile(mp))).length;
      countedAt = performance.now();
    }
    return doneCount;
  };
  const inShard = (mp: ModelPoint): boolean => {
    if (!o.shard) return true;
    const combo = space.model.k.indexOf(mp.k) * space.model.metric.length + space.model.metric.indexOf(mp.metric);
    return combo % o.shard.count === o.shard.index;
  };
  const accuracy = new Map<string, PointAccuracy>();
  let cached = 0;
  let converted = 0;
  let complete = true;
  for (let i = 0; i < mpoints.length; i++) {
    const mp = mpoints[i];
    const name = modelPointName(mp);
    const saved = readJson<{ accuracy: PointAccuracy; point: ModelPoint }>(pointFile(mp));
    if (saved && saved.accuracy && typeof saved.accuracy.int8 === 'number' && (!needFloat || typeof saved.accuracy.float === 'number')) {
      accuracy.set(name, saved.accuracy);
      cached++;
      report({ phase: 'cached', point: pointsDone(true), points: mpoints.length, name });
      continue;
    }
    if (!inShard(mp)) {
      complete = false;
      continue;
    }
    if (o.signal?.aborted || (o.limit !== undefined && converted >= o.limit)) {
      complete = false;
      break;
    }
    const ts = performance.now();
    const parts = kindsOf(mp).map((k) => kindConversion(mp, k, i).conv);
    const model = graft(dense, parts);
    report({ phase: 'eval', point: pointsDone(), points: mpoints.length, name });
    const acc = accuracyOf(model, o.test, needFloat);
    writeFileAtomic(pointFile(mp), JSON.stringify({ point: mp, accuracy: acc, seconds: (performance.now() - ts) / 1000, layers: parts.flatMap((p) => p.layers) }, null, 1));
    accuracy.set(name, acc);
    converted++;
    report({ phase: 'eval', point: pointsDone(true), points: mpoints.length, name });
    await yieldToEvents(); // lets a SIGINT handler abort between points
  }

  // Hardware figures for every converted model point × hardware point.
  const hw = (mp: ModelPoint): HwLayer[] => hwLayers.map((l) => withLut(l, { subvecLen: mp.v[kindByName.get(l.name)!]!, k: mp.k, metric: mp.metric }));
  const infeasibleReasons = new Set<string>();
  let infeasible = 0;
  const points: DsePoint[] = [];
  const done = mpoints.filter((mp) => accuracy.has(modelPointName(mp)));
  report({ phase: 'hardware', point: 0, points: done.length, name: '' });
  for (const mp of done) {
    const name = modelPointName(mp);
    const acc = accuracy.get(name)!;
    const ls = hw(mp);
    for (const h of hpoints) {
      let row: DsePoint;
      try {
        const cfg = lutDlaConfigFor(ls, h);
        const lut = lutDlaModel(ls, cfg, tech, { batch: space.batch });
        const mac = systolicModel(ls, { ...systolicConfigMatching(cfg, space.mac), actBits: 8, weightBits: 8 }, tech, { batch: space.batch });
        const cmp = compareDesigns(lut, mac);
        const a = (cfg.tableBits > 8 ? acc.float : acc.int8) ?? acc.int8;
        row = {
          id: points.length, model: name, v: mp.v, k: mp.k, metric: mp.metric, hw: h, accuracy: a, accuracyKmeans: a, finetuned: false,
          energy: lut.perInference.energyPJ / 1e6, energyExclDram: lut.perInference.energyExclDramPJ / 1e6, area: lut.area.totalUm2 / 1e6, latency: lut.perInference.seconds * 1e3,
          macEnergy: mac.perInference.energyPJ / 1e6, macArea: mac.area.totalUm2 / 1e6, macLatency: mac.perInference.seconds * 1e3,
          powerEfficiency: cmp.powerEfficiency, areaEfficiency: cmp.areaEfficiency, speedup: cmp.speedup, pareto: false, paretoArea: false, paretoLatency: false,
        };
      } catch (e) {
        if (!(e instanceof LutnnError)) throw e;
        infeasible++;
        if (infeasibleReasons.size < 20) infeasibleReasons.add(e.message.replace(/layer '[^']*'/, 'a layer'));
        continue;
      }
      points.push(row);
    }
  }
  markFronts(points);

  // Fine-tuning of the model points on the accuracy–energy front, then the fronts again.
  let finetuned = 0;
  if (o.finetuneEpochs && o.finetuneEpochs > 0 && complete) {
    if (!o.train) throw new FormatError('dse: fine-tuning needs training data');
    const names = [...new Set(points.filter((p) => p.pareto).map((p) => p.model))];
    const ft = new Map<string, PointAccuracy>();
    for (let j = 0; j < names.length; j++) {
      if (o.signal?.aborted) {
        complete = false;
        break;
      }
      const mp = mpoints.find((m) => modelPointName(m) === names[j])!;
      const r = await finetunePoint(o, mp, kindsOf(mp).map((k) => kindConversion(mp, k, j).conv), { ...pointId, epochs: o.finetuneEpochs, ft: o.finetune ?? {} }, needFloat, cacheDir, (step, d, t) => report({ phase: 'finetune', point: j, points: names.length, name: names[j], step, done: d, total: t }));
      if (!r) {
        complete = false;
        break;
      }
      ft.set(names[j], r);
      finetuned++;
      report({ phase: 'finetune', point: j + 1, points: names.length, name: names[j], step: 'done', done: 1, total: 1 });
      await yieldToEvents();
    }
    for (const p of points) {
      const a = ft.get(p.model);
      if (!a) continue;
      p.accuracy = ((p.hw.tableBits ?? 8) > 8 ? a.float : a.int8) ?? a.int8;
      p.finetuned = true;
    }
    markFronts(points);
  }
  const idsOf = (f: keyof Pick<DsePoint, 'pareto' | 'paretoArea' | 'paretoLatency'>): number[] => points.filter((p) => p[f]).map((p) => p.id);
  return {
    points,
    fronts: { energy: idsOf('pareto'), area: idsOf('paretoArea'), latency: idsOf('paretoLatency') },
    modelPoints: mpoints.length, modelPointsDone: done.length, cached, converted, finetuned, hardwarePoints: hpoints.length,
    infeasible: { count: infeasible, reasons: [...infeasibleReasons] }, skippedV, skippedLayers, layers,
    denseAccuracy, testImages: o.test.dataset.n, calibImages: o.calibration.reduce((a, x) => a + x.shape[0], 0),
    seconds: (performance.now() - t0) / 1000, cpuSeconds: ((c1) => (c1.user + c1.system) / 1e6)(process.cpuUsage(cpu0)), complete,
  };
}

/**
 * Sets pareto / paretoArea / paretoLatency: accuracy against energy, area, latency. Points tied in accuracy and the
 * axis (hardware settings the axis does not see, e.g. lanes for energy) are broken by the other two axes in order:
 * energy front by area then latency, area front by energy then latency, latency front by energy then area.
 */
export function markFronts(points: DsePoint[]): void {
  type Axis = 'energy' | 'area' | 'latency';
  const set = (f: 'pareto' | 'paretoArea' | 'paretoLatency', axis: Axis, then: [Axis, Axis]): void => {
    for (const p of points) p[f] = false;
    const tie = (a: DsePoint, b: DsePoint): number => a[then[0]] - b[then[0]] || a[then[1]] - b[then[1]];
    for (const i of paretoFront(points, (p) => p.accuracy, (p) => p[axis], tie)) points[i][f] = true;
  };
  set('pareto', 'energy', ['area', 'latency']);
  set('paretoArea', 'area', ['energy', 'latency']);
  set('paretoLatency', 'latency', ['energy', 'area']);
}

/**
 * Fine-tunes one model point (LUT-NN recipe: Adam, cosine per step, temperature lr, distillation from the dense
 * model), resumable from its checkpoint; the result is cached. Returns null when aborted.
 */
async function finetunePoint(o: DseOptions, mp: ModelPoint, parts: KindConversion[], id: object, needFloat: boolean, cacheDir: string, progress: (step: string, done: number, total: number) => void): Promise<PointAccuracy | null> {
  const key = sha({ ...id, mp }).slice(0, 16);
  const file = join(cacheDir, 'finetune', `${modelPointName(mp)}-${key}.json`);
  const saved = readJson<{ accuracy: PointAccuracy }>(file);
  if (saved?.accuracy && typeof saved.accuracy.int8 === 'number') return saved.accuracy;
  const train = o.train!;
  const epochs = o.finetuneEpochs!;
  const f = o.finetune ?? {};
  const lr = f.lr ?? 1e-3;
  const model = graft(o.dense, parts, { clone: true });
  model.train();
  o.dense.eval();
  manualSeed(o.space.conversion.seed);
  const optimizer = new Adam(lutParamGroups(model, lr, f.temperatureLr ?? 0.1, 0)) as unknown as Optimizer<BaseHyper>;
  const kd = { alpha: f.distillAlpha ?? 0.5, temperature: f.distillTemperature ?? 2 };
  const ckpt = join(cacheDir, 'finetune', `${modelPointName(mp)}-${key}.ckpt`);
  const r = fit({
    model, optimizer, schedule: cosine({ baseLr: lr, totalSteps: epochs * train.numBatches }), train, epochs,
    loss: (logits, y, x) => distillationLoss(logits, noGrad(() => o.dense.forward(x)), y, kd),
    checkpoint: ckpt, checkpointEvery: 50, config: { dse: key }, resume: true,
    onProgress: (p) => progress(`epoch ${p.epoch + 1}/${p.epochs}`, p.epoch * p.batches + p.batch, p.epochs * p.batches),
  });
  if (r.interrupted) return null;
  model.eval();
  const acc = accuracyOf(model, o.test, needFloat);
  writeFileAtomic(file, JSON.stringify({ point: mp, accuracy: acc, epochs, lr }, null, 1));
  if (existsSync(ckpt)) rmSync(ckpt);
  await yieldToEvents();
  return acc;
}
