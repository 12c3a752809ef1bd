// ONNX import: an ONNX model (protobuf bytes, opsets 13–21) → a graph IR and its weights.
//
// Passes: decode (onnx-decode.ts, bounded) → initializers read (onnx-tensor.ts: raw, typed or external data) → graph
// inputs with dim 0 the symbolic batch N and the other dims from the file or --input-shape → LUT layers marked by
// `lutnn export` collapsed back (onnx-lut-marker.ts) → topological order (cycles and undefined inputs are
// FormatErrors) → constants folded as far as they go without shapes → decomposed patterns fused (onnx-fuse.ts) →
// one pass in order: a node whose inputs are constants is folded (onnx-fold.ts; Shape of a computed value folds
// from its inferred shape, so shape computations fold for the given input shape), any other node is mapped by the
// import rule of the op record that claims its op type (the `onnxImport` facet of src/graph/ops/*.ts), which emits
// IR nodes whose shapes are inferred at once. Ops no record claims are collected and reported together in one
// OnnxUnsupportedError. Nodes that do not reach a graph output are dropped, and the result is checked by the
// graph analysis like any model file.
import { FormatError, LutnnError } from '../errors.js';
import { MAX_VALUE_ELEMENTS, analyzeGraph } from '../graph/analyze.js';
import { checkAttrs } from '../graph/attrs.js';
import { BATCH, dimProd, fmtDims, isDim, sizePerSample, type Dim } from '../graph/dims.js';
import type { OnnxImportCtx, OnnxImportRule } from '../graph/op.js';
import { OPS, opDef } from '../graph/registry.js';
import type { Attrs, Graph, GraphInput, GraphNode, IrDType, OpType, TensorInfo, ValueInfo } from '../graph/types.js';
import { OP_TYPES } from '../graph/types.js';
import { Tensor } from '../tensor/tensor.js';
import { decodeOnnx, type DecodedValueInfo } from './onnx-decode.js';
import { FOLDABLE, charge, foldNode, isFloat, numbers, shapeSlice, sizeOf, type Const, type FoldAttrs } from './onnx-fold.js';
import { fusePatterns, type FuseCounts } from './onnx-fuse.js';
import { applyLutMarker, trainingTensors } from './onnx-lut-marker.js';
import { Names, attrReader, nodeLabel, nodeOf, topoOrder, type INode } from './onnx-nodes.js';
import { elemTypeOf, readTensor, type ExternalReader } from './onnx-tensor.js';

export const IMPORT_MIN_OPSET = 13;
export const IMPORT_MAX_OPSET = 21;

/** One unsupported op type of a model: how many nodes use it, the first one, and why (when a rule said). */
export interface UnsupportedOp {
  op: string;
  count: number;
  firstNode: string;
  reasons: string[];
}

/** The ops of an ONNX model lutnn cannot import, all listed (one error for the whole model). */
export class OnnxUnsupportedError extends LutnnError {
  constructor(
    readonly file: string,
    readonly ops: UnsupportedOp[],
  ) {
    const list = ops.map((o) => `${o.op} ×${o.count} (first: '${o.firstNode}'${o.reasons.length ? `; ${o.reasons.join('; ')}` : ''})`);
    super(`${file}: ${ops.length} unsupported op type${ops.length === 1 ? '' : 's'}: ${list.join(', ')}`);
  }
}

export interface OnnxImportOptions {
  /** Name of the file in messages. */
  file?: string;
  /** Per-sample shape of graph input 0 (e.g. [3, 224, 224]); needed when the file leaves dims other than the batch symbolic. */
  inputShape?: readonly number[];
  /** Reads tensors stored as external data (a file beside the model). */
  external?: ExternalReader;
}

export interface OnnxImportResult {
  graph: Graph;
  weights: Map<string, Tensor>;
  opset: number;
  irVersion: number;
  producer: string;
  /** Graph inputs and outputs: IR name, ONNX name, dtype, shape (dim 0 the batch N). */
  inputs: { name: string; onnxName: string; dtype: IrDType; shape: Dim[] }[];
  outputs: { name: string; onnxName: string; dtype: IrDType; shape: Dim[] }[];
  /** ONNX nodes in the file, ONNX nodes folded into constants, IR nodes made. */
  onnxNodes: number;
  folded: number;
  nodes: number;
  fused: FuseCounts;
  /** LUT layers restored from lutnn's marker. */
  lutLayers: number;
  /** IR node count per op type. */
  ops: Record<string, number>;
  /** The file's metadata_props. */
  metadata: Record<string, string>;
}

/** Thrown by ctx.unsupported: the node goes to the unsupported list. */
class Unsupported extends Error {}

const LUTNN_DOMAIN = 'lutnn';

/** Rules by "domain::opType" (built once from the records). */
let RULES: Map<string, { op: OpType; rule: OnnxImportRule }[]> | null = null;

function rules(): Map<string, { op: OpType; rule: OnnxImportRule }[]> {
  if (RULES) return RULES;
  const m = new Map<string, { op: OpType; rule: OnnxImportRule }[]>();
  for (const op of OP_TYPES) {
    for (const rule of OPS[op].onnxImport ?? []) {
      for (const t of rule.types) {
        const k = `${rule.domain ?? ''}::${t}`;
        const l = m.get(k);
        if (l) l.push({ op, rule });
        else m.set(k, [{ op, rule }]);
      }
    }
  }
  return (RULES = m);
}

/** The ONNX op types the records import (for the README and `lutnn import --json`). */
export function importableOps(): string[] {
  return [...rules().keys()].filter((k) => k.startsWith('::')).map((k) => k.slice(2)).sort();
}

/** IR dtypes of constants: floats float32, integers int32, bool uint8 0/1 (as the Equal record makes), 8-bit kept. */
const IR_OF: Partial<Record<string, IrDType>> = { float32: 'float32', float64: 'float32', int64: 'int32', int32: 'int32', int16: 'int32', uint16: 'int32', uint32: 'int32', bool: 'uint8', int8: 'int8', uint8: 'uint8' };

function constInfo(c: Const): ValueInfo {
  return { shape: c.batched ? [BATCH, ...c.shape.slice(1)] : [...c.shape], dtype: IR_OF[c.dtype] ?? 'float32' };
}

/** The IR name of an ONNX node: its scoped name without the leading '/' and a trailing '/<OpType>…' ('/fc1/Gemm' → 'fc1'). */
function irBaseName(n: INode, index: number): string {
  if (!n.name) return `${n.opType || 'node'}_${index}`;
  const parts = n.name.replace(/^\/+/, '').split('/');
  if (parts.length > 1 && parts[parts.length - 1].startsWith(n.opType)) parts.pop();
  return parts.join('/') || n.name;
}

/**
 * Imports an ONNX model. Throws FormatError (naming the file and the node) for malformed or inconsistent files and
 * OnnxUnsupportedError listing every op lutnn lacks.
 */
export function importOnnx(bytes: Uint8Array, opts: OnnxImportOptions = {}): OnnxImportResult {
  const file = opts.file ?? 'model.onnx';
  const model = decodeOnnx(bytes, file);
  const g = model.graph!;
  let opset: number | null = null;
  for (const o of model.opsetImport ?? []) if (o.domain === '' || o.domain === 'ai.onnx') opset = o.version;
  if (opset === null) throw new FormatError(`${file}: no opset_import for the default ONNX domain`);
  if (!(opset >= IMPORT_MIN_OPSET && opset <= IMPORT_MAX_OPSET)) {
    throw new OnnxUnsupportedError(file, [{ op: `opset ${opset}`, count: 1, firstNode: '(model)', reasons: [`lutnn imports opsets ${IMPORT_MIN_OPSET}..${IMPORT_MAX_OPSET}; export with opset_version between them`] }]);
  }
  if ((g.sparseInitializer ?? []).length > 0) throw new FormatError(`${file}: sparse initializers are not supported`);
  const metadata: Record<string, string> = {};
  for (const e of model.metadataProps ?? []) metadata[e.key] = e.value;

  // Initializers (and the LUT layers' training tensors of lutnn's marker).
  const consts = new Map<string, Const>();
  const trainable = new WeakSet<Const>();
  const addInit = (name: string, c: Const): void => {
    if (name === '') throw new FormatError(`${file}: an initializer has no name`);
    if (consts.has(name)) throw new FormatError(`${file}: two initializers are named '${name.slice(0, 200)}'`);
    consts.set(name, c);
    if (c.dtype === 'float32' || c.dtype === 'float64') trainable.add(c);
  };
  for (const t of g.initializer ?? []) addInit(t.name ?? '', readTensor(t, `${file}: initializer '${(t.name ?? '').slice(0, 200)}'`, opts.external));
  const training = trainingTensors(model);
  for (const [name, t] of training) if (!consts.has(name)) addInit(name, readTensor(t, `${file}: training tensor '${name.slice(0, 200)}'`, opts.external));

  const fileInits = new Set(consts.keys());

  // Graph inputs.
  const values = new Names();
  const irOf = new Map<string, string>(); // ONNX value → IR value
  const infos = new Map<string, ValueInfo>(); // IR value → info
  const { inputs, fileBatch } = graphInputs(file, (g.input ?? []).filter((v) => !consts.has(v.name ?? '')), opts.inputShape);
  const irInputs: GraphInput[] = inputs.map((inp) => {
    const name = values.fresh(inp.onnxName, 'input');
    irOf.set(inp.onnxName, name);
    infos.set(name, { shape: inp.shape, dtype: inp.dtype });
    return { name, dtype: inp.dtype, shape: inp.shape };
  });

  // Nodes: the LUT marker, order, constants, patterns.
  const decodedNodes = g.node ?? [];
  let nodes = decodedNodes.map(nodeOf);
  const marker = applyLutMarker(nodes, metadata, new Set(training.keys()), file);
  nodes = marker.nodes;
  // Values only a removed (marked) layer defined, such as its codes, count as defined: their readers are dropped below.
  const defined = new Set<string>([...consts.keys(), ...irOf.keys(), ...marker.dropped]);
  const graphOutputs = (g.output ?? []).map((o) => o.name ?? '');
  // Folded values: at most max(4M elements, the file's bytes) each, and four times that in all.
  const maxElements = Math.max(1 << 22, bytes.length);
  const total = { left: 4 * maxElements };
  const foldCtx = (n: INode, i: number) => ({ file, node: n.name || `#${i}`, opset: opset!, maxElements, total });
  const foldAttrs = (n: INode, where: string): FoldAttrs => {
    const a = attrReader(n, where);
    return {
      int: (k, d) => a.int(k, d),
      ints: (k) => (a.has(k) ? a.ints(k) : null),
      float: (k) => (a.has(k) ? a.float(k) : null),
      floats: (k) => (a.has(k) ? a.floats(k) : null),
      has: (k) => a.has(k),
      tensor: (k) => {
        const at = n.attrs.get(k);
        return at?.kind === 'tensor' ? readTensor(at.v, `${where}: attribute '${k}'`, opts.external) : null;
      },
    };
  };
  const tryFold = (n: INode, i: number, ins: (Const | null)[]): Const[] | null => {
    if (n.domain !== '' || !FOLDABLE.has(n.opType) || n.opType === 'Shape' && ins[0] === null) return null;
    const fc = foldCtx(n, i);
    const out = foldNode(fc, n.opType, foldAttrs(n, `${file}: node ${nodeLabel(n, i)}`), ins);
    if (!out || out.length < n.outputs.filter((o) => o !== '').length) return null;
    charge(fc, ins, out);
    // Data movement keeps a weight trainable (a position embedding sliced to the sequence length).
    if (['Identity', 'Slice', 'Gather', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'Concat', 'Expand'].includes(n.opType) && ins.some((c) => c && trainable.has(c))) {
      for (const c of out) if (isFloat(c.dtype)) trainable.add(c);
    }
    return out;
  };
  // Constants that fold before any shape is known (Constant nodes, arithmetic on initializers): the fusion needs them.
  for (const i of topoOrder(nodes, defined, file)) {
    const n = nodes[i];
    const ins = n.inputs.map((v) => (v === '' ? null : consts.get(v) ?? undefined));
    if (ins.some((c) => c === undefined) || n.opType === 'Shape' || n.opType === 'Size') continue;
    const out = tryFold(n, i, ins as (Const | null)[]);
    if (out) n.outputs.forEach((o, k) => o !== '' && out[k] && consts.set(o, out[k]));
  }
  const fused = fusePatterns(nodes, (v) => consts.get(v) ?? null, new Set(graphOutputs));
  nodes = fused.nodes;

  // The main pass.
  const irNodes: GraphNode[] = [];
  const nodeNames = new Names();
  const weights = new Map<string, Tensor>();
  const params = new Set<string>();
  const dataWeights = new Set<string>();
  const initOf = new Map<string, string>(); // ONNX constant → IR initializer
  const poisoned = new Set<string>();
  const unsupported = new Map<string, UnsupportedOp>();
  let folded = 0;
  const report = (op: string, node: string, reason: string): void => {
    const u = unsupported.get(op);
    if (!u) unsupported.set(op, { op, count: 1, firstNode: node, reasons: reason ? [reason] : [] });
    else {
      u.count++;
      if (reason && u.reasons.length < 3 && !u.reasons.includes(reason)) u.reasons.push(reason);
    }
  };
  const ruleMap = rules();
  const known = (n: INode): boolean => (n.domain === '' && FOLDABLE.has(n.opType)) || ruleMap.has(`${n.domain}::${n.opType}`);

  const order = topoOrder(nodes, defined, file);
  for (const i of order) {
    const n = nodes[i];
    const label = nodeLabel(n, i);
    const where = `${file}: node ${label}`;
    const opName = n.domain ? `${n.domain}.${n.opType}` : n.opType;
    if (n.outputs.every((o) => o === '' || consts.has(o))) continue; // folded before the fusion
    if (n.inputs.some((v) => marker.dropped.has(v))) {
      // A reader of a LUT layer's inner value (its codes as an extra output): dropped with the layer.
      n.outputs.forEach((o) => marker.dropped.add(o));
      continue;
    }
    if (n.inputs.some((v) => poisoned.has(v))) {
      if (!known(n)) report(opName, n.name || label, '');
      n.outputs.forEach((o) => poisoned.add(o));
      continue;
    }
    const ins = n.inputs.map((v) => (v === '' ? null : consts.get(v) ?? null));
    const allConst = n.inputs.every((v) => v === '' || consts.has(v));
    let out: Const[] | null = null;
    if ((n.opType === 'Shape' || n.opType === 'Size') && n.domain === '' && n.inputs[0] && !consts.has(n.inputs[0])) {
      const info = infos.get(irOf.get(n.inputs[0])!)!;
      const dims = info.shape;
      out = n.opType === 'Shape' ? [shapeSlice(dims, attrReader(n, where))] : null;
      if (n.opType === 'Size') out = [{ dtype: 'int64', shape: [], data: [dimProd(dims)] }];
    } else if (allConst) {
      out = tryFold(n, i, ins);
    }
    if (out) {
      n.outputs.forEach((o, k) => o !== '' && out![k] && consts.set(o, out![k]));
      folded++;
      continue;
    }
    const cands = (ruleMap.get(`${n.domain}::${n.opType}`) ?? []).filter(({ rule }) => {
      const v = n.domain === '' ? opset! : 1;
      return v >= (rule.since ?? 1) && v <= (rule.until ?? Infinity);
    });
    if (cands.length === 0) {
      report(opName, n.name || label, n.domain && n.domain !== LUTNN_DOMAIN ? `domain '${n.domain.slice(0, 60)}'` : '');
      n.outputs.forEach((o) => poisoned.add(o));
      continue;
    }
    const base = irBaseName(n, i);
    let emitted = 0;
    const emitStart = irNodes.length;
    const ctx: OnnxImportCtx = {
      node: base,
      opType: n.opType,
      opset: n.domain === '' ? opset : 1,
      attr: attrReader(n, where),
      inputCount: n.inputs.length,
      outputCount: n.outputs.length,
      has: (k) => k >= 0 && k < n.inputs.length && n.inputs[k] !== '',
      info(k) {
        const v = n.inputs[k];
        if (!v) throw new FormatError(`${where}: input ${k} is missing`);
        const c = consts.get(v);
        return c ? constInfo(c) : infos.get(irOf.get(v)!)!;
      },
      isConst: (k) => k < n.inputs.length && consts.has(n.inputs[k]),
      ints(k) {
        const c = k < n.inputs.length ? consts.get(n.inputs[k]) : undefined;
        return c && !isFloat(c.dtype) && !c.batched ? [...(c.data as Dim[])] : null;
      },
      floats(k) {
        const c = k < n.inputs.length ? consts.get(n.inputs[k]) : undefined;
        if (!c || !isFloat(c.dtype) || c.batched) return null;
        return { shape: [...c.shape], data: c.data instanceof Float32Array ? c.data : Float32Array.from(c.data as Float64Array) };
      },
      value(k, o = {}) {
        const v = n.inputs[k];
        if (!v) throw new FormatError(`${where}: input ${k} is missing`);
        const ir = irOf.get(v);
        if (ir !== undefined) return ir;
        const c = consts.get(v)!;
        const cached = initOf.get(v);
        if (cached !== undefined) return c.batched && !o.broadcast ? batchOf(cached, c) : cached;
        const name = values.fresh(fileInits.has(v) ? v : `${base}.${k === 0 ? 'x' : `in${k}`}`);
        weights.set(name, tensorOf(c, `${where}: input ${k}`, (m) => ctx.unsupported(m)));
        infos.set(name, { shape: [...c.shape], dtype: weights.get(name)!.dtype });
        // A float weight of the file read where an op takes an activation (a position embedding) is trained (below).
        if (isFloat(c.dtype) && trainable.has(c) && sizeOf(c.shape) > 1) dataWeights.add(name);
        initOf.set(v, name);
        return c.batched && !o.broadcast ? batchOf(name, c) : name;
      },
      batch: () => irInputs[0].name,
      weight(name, shape, data) {
        const wname = values.fresh(`${base}.${name}`);
        weights.set(wname, new Tensor(data, shape));
        infos.set(wname, { shape: [...shape], dtype: data instanceof Float32Array ? 'float32' : data instanceof Uint8Array ? 'uint8' : 'int32' });
        return wname;
      },
      emit(op, ins2, attrs = {}) {
        const def = opDef(op);
        if (!def) throw new Error(`onnx import: no record '${op}'`);
        const irName = nodeNames.fresh(emitted++ === 0 ? base : `${base}/${op}`, op);
        const at = `${where} → ${op} '${irName}'`;
        const checked = checkAttrs<Attrs>(at, def.attrs, attrs);
        const inInfos = ins2.map((v, k) => {
          if (v === '') return null;
          const info = infos.get(v);
          if (!info) throw new Error(`onnx import: rule of ${n.opType} passed an unknown value '${v}'`);
          const spec = def.inputs[Math.min(k, def.inputs.length - 1)];
          if (spec.role !== 'data' && !weights.has(v)) ctx.unsupported(`${op} input '${spec.name}' must be a constant weight, the file computes it`);
          if (spec.role === 'data' && dataWeights.has(v)) params.add(v);
          const dtypes = spec.dtypes ?? ['float32'];
          if (!dtypes.includes(info.dtype)) ctx.unsupported(`${op} input '${spec.name}' is ${info.dtype}, lutnn's ${op} takes ${dtypes.join(' or ')}`);
          return info;
        });
        const outs = def.infer({ node: irName, inputs: inInfos, attrs: checked });
        const names = outs.map((o, k) => {
          if (!o.shape.every(isDim)) throw new FormatError(`${at}: output ${k} has an invalid shape ${fmtDims(o.shape as Dim[])}`);
          if (!(sizePerSample(o.shape) <= MAX_VALUE_ELEMENTS)) throw new FormatError(`${at}: output ${fmtDims(o.shape)} is too large`);
          const vn = values.fresh(k === 0 ? irName : `${irName}:${k}`);
          infos.set(vn, o);
          return vn;
        });
        irNodes.push({ name: irName, op, inputs: [...ins2], outputs: names, attrs: checked });
        return names;
      },
      unsupported(reason: string): never {
        throw new Unsupported(reason);
      },
      fileBatch,
    };
    /** A constant the same for every sample (stored for one), repeated over the batch for an op that does not broadcast. */
    const batchOf = (init: string, c: Const): string => ctx.emit('Expand', [init, irInputs[0].name], { shape: [1, ...c.shape.slice(1)] })[0];
    const candidates = cands.filter(({ rule }) => {
      try {
        return !rule.accepts || rule.accepts(ctx);
      } catch (e) {
        if (e instanceof Unsupported) return false;
        throw e;
      }
    });
    if (candidates.length !== 1) {
      if (candidates.length > 1) throw new Error(`onnx import: ${candidates.map((c) => c.op).join(' and ')} both accept ${where}`);
      report(opName, n.name || label, 'not in a form lutnn supports');
      n.outputs.forEach((o) => poisoned.add(o));
      continue;
    }
    let res: string[];
    try {
      res = candidates[0].rule.map(ctx);
    } catch (e) {
      irNodes.length = emitStart; // nodes a failed rule made are dropped
      if (e instanceof Unsupported) {
        report(opName, n.name || label, e.message);
        n.outputs.forEach((o) => poisoned.add(o));
        continue;
      }
      if (e instanceof FormatError) throw e;
      if (e instanceof LutnnError) throw new FormatError(`${where}: ${e.message}`);
      throw e;
    }
    n.outputs.forEach((o, k) => {
      if (o === '') return;
      if (k < res.length) irOf.set(o, res[k]);
      else poisoned.add(o); // an optional output the rule does not make (MaxPool indices, Dropout mask)
    });
  }
  const outputs = graphOutputs.map((o, k) => {
    if (poisoned.has(o)) return '';
    if (marker.dropped.has(o)) return null;
    const ir = irOf.get(o);
    if (ir !== undefined) return ir;
    if (!consts.has(o)) throw new FormatError(`${file}: graph output '${o.slice(0, 200)}' is not defined by any node`);
    throw new FormatError(`${file}: graph output ${k} '${o.slice(0, 200)}' is a constant; lutnn graphs compute their outputs`);
  });
  for (const o of graphOutputs) if (poisoned.has(o) && ![...unsupported.values()].length) report('(output)', o, 'computed by an unsupported optional output');
  if (unsupported.size > 0) throw new OnnxUnsupportedError(file, [...unsupported.values()]);
  const outNames = outputs.filter((o): o is string => o !== null && o !== '');
  if (outNames.length === 0) throw new FormatError(`${file}: the graph has no outputs`);
  return finish(file, model, irInputs, inputs, irNodes, outNames, graphOutputs.filter((_, k) => outputs[k]), weights, params, infos, {
    onnxNodes: decodedNodes.length, folded, fused: fused.counts, lutLayers: marker.layers, metadata, opset,
  });
}

/** An IR tensor of a constant: float as float32, integers as int32 (range-checked), int8 / uint8 kept. */
function tensorOf(c: Const, where: string, unsupported: (m: string) => never): Tensor {
  const shape = [...c.shape];
  if (isFloat(c.dtype)) return new Tensor(c.data instanceof Float32Array ? c.data.slice() : Float32Array.from(c.data as Float64Array), shape);
  const v = numbers(c);
  if (!v) return unsupported('a shape that depends on the batch size is used as data');
  if (c.dtype === 'int8') return new Tensor(Int8Array.from(v), shape);
  if (c.dtype === 'uint8' || c.dtype === 'bool') return new Tensor(Uint8Array.from(v), shape);
  for (const x of v) if (!(Math.abs(x) <= 2 ** 31 - 1)) throw new FormatError(`${where}: integer ${x} does not fit int32 (lutnn computes with int32)`);
  return new Tensor(Int32Array.from(v), shape);
}

/** Graph inputs: dtype and shape (dim 0 the batch N; symbolic dims from --input-shape, matched by name across inputs). */
function graphInputs(file: string, vis: DecodedValueInfo[], inputShape: readonly number[] | undefined): { inputs: { onnxName: string; dtype: IrDType; shape: Dim[] }[]; fileBatch: number | null } {
  if (vis.length === 0) throw new FormatError(`${file}: the graph has no inputs`);
  if (vis.length > 1024) throw new FormatError(`${file}: ${vis.length} graph inputs, at most 1024 supported`);
  const params = new Map<string, number>();
  let fileBatch: number | null = null;
  const out = vis.map((vi, k) => {
    const name = vi.name ?? '';
    const where = `${file}: graph input '${name.slice(0, 200)}'`;
    const tt = vi.type?.tensorType;
    if (!tt) throw new FormatError(`${where} is not a tensor`);
    const elem = elemTypeOf(tt.elemType ?? 0, where);
    const dtype = ({ float32: 'float32', int64: 'int32', int32: 'int32', int8: 'int8', uint8: 'uint8', bool: 'uint8' } as Partial<Record<string, IrDType>>)[elem];
    if (!dtype) throw new FormatError(`${where} is ${elem}; lutnn takes float32, int64 / int32 (as int32), int8, uint8 or bool (as uint8) inputs`);
    const dims = tt.shape?.dim ?? [];
    if (!tt.shape || dims.length === 0) throw new FormatError(`${where} has no shape (lutnn needs its rank and a batch dim 0)`);
    if (dims.length > 16) throw new FormatError(`${where} has ${dims.length} dims, at most 16 supported`);
    const d0 = dims[0];
    if (d0.dimValue !== undefined && d0.dimValue !== null && typeof d0.dimValue === 'number') {
      if (fileBatch !== null && fileBatch !== d0.dimValue) throw new FormatError(`${where}: batch ${d0.dimValue}, another input has ${fileBatch}`);
      fileBatch = d0.dimValue;
    }
    const rest = dims.slice(1);
    if (k === 0 && inputShape) {
      if (inputShape.length !== rest.length) throw new FormatError(`${where} has ${rest.length} dims besides the batch, --input-shape gives ${inputShape.length} ([${inputShape.join(',')}])`);
      rest.forEach((d, i) => {
        if (d.dimParam) params.set(d.dimParam, inputShape[i]);
        else if (typeof d.dimValue === 'number' && d.dimValue !== inputShape[i]) throw new FormatError(`${where}: dim ${i + 1} is ${d.dimValue} in the file, --input-shape gives ${inputShape[i]}`);
      });
    }
    const shape: Dim[] = [BATCH];
    rest.forEach((d, i) => {
      let v: number | undefined;
      if (k === 0 && inputShape) v = inputShape[i];
      else if (typeof d.dimValue === 'number' && !d.dimParam) v = d.dimValue;
      else if (d.dimParam && params.has(d.dimParam)) v = params.get(d.dimParam);
      if (v === undefined) {
        throw new FormatError(`${where}: dim ${i + 1} is ${d.dimParam ? `symbolic ('${d.dimParam.slice(0, 60)}')` : 'unknown'}; give the input shape with --input-shape${k > 0 ? ' (other inputs take dims of input 0 by name)' : ''}`);
      }
      if (!Number.isSafeInteger(v) || v < 1 || v > 2 ** 31 - 1) throw new FormatError(`${where}: dim ${i + 1} is ${v}, expected a positive size`);
      shape.push(v);
    });
    if (!(sizePerSample(shape) <= MAX_VALUE_ELEMENTS)) throw new FormatError(`${where}: shape ${fmtDims(shape)} is too large`);
    return { onnxName: name, dtype, shape };
  });
  return { inputs: out, fileBatch };
}

interface FinishInfo {
  onnxNodes: number;
  folded: number;
  fused: FuseCounts;
  lutLayers: number;
  metadata: Record<string, string>;
  opset: number;
}

/** Drops nodes that reach no output, checks the graph, and reports. */
function finish(
  file: string,
  model: { irVersion: number; producerName: string; producerVersion: string },
  irInputs: GraphInput[],
  inputs: { onnxName: string }[],
  irNodes: GraphNode[],
  outNames: string[],
  onnxOutputs: string[],
  weights: Map<string, Tensor>,
  params: Set<string>,
  infos: Map<string, ValueInfo>,
  r: FinishInfo,
): OnnxImportResult {
  const live = new Set(outNames);
  const keep: GraphNode[] = [];
  for (let i = irNodes.length - 1; i >= 0; i--) {
    const nd = irNodes[i];
    if (!nd.outputs.some((o) => live.has(o))) continue;
    keep.push(nd);
    for (const v of nd.inputs) if (v) live.add(v);
  }
  keep.reverse();
  for (const k of [...weights.keys()]) if (!live.has(k)) weights.delete(k);
  // A graph output read twice, or one that is a graph input, gets its own Identity (IR outputs are distinct values).
  const seen = new Set<string>();
  const inputNames = new Set(irInputs.map((i) => i.name));
  const outs = outNames.map((o) => {
    if (!seen.has(o) && !inputNames.has(o) && !weights.has(o)) {
      seen.add(o);
      return o;
    }
    const name = `${o}/output`;
    keep.push({ name, op: 'Identity', inputs: [o], outputs: [name], attrs: {} });
    infos.set(name, infos.get(o)!);
    return name;
  });
  const graph: Graph = { inputs: irInputs, nodes: keep, outputs: outs, ...(params.size ? { params: [...params].filter((p) => weights.has(p)) } : {}) };
  const initInfos = new Map<string, TensorInfo>([...weights].map(([k, t]) => [k, { shape: t.shape, dtype: t.dtype }]));
  const info = analyzeGraph(graph, initInfos, { file });
  for (const [k, t] of weights) {
    if (t.dtype === 'float32') for (const x of t.f32) if (!Number.isFinite(x)) throw new FormatError(`${file}: weight '${k}' holds ${x}; lutnn needs finite weights`);
  }
  const ops: Record<string, number> = {};
  for (const n of info.nodes) ops[n.node.op] = (ops[n.node.op] ?? 0) + 1;
  return {
    graph: info.graph,
    weights,
    opset: r.opset,
    irVersion: model.irVersion ?? 0,
    producer: `${model.producerName ?? ''} ${model.producerVersion ?? ''}`.trim(),
    inputs: irInputs.map((g, k) => ({ name: g.name, onnxName: inputs[k].onnxName, dtype: g.dtype, shape: g.shape })),
    outputs: info.graph.outputs.map((o, k) => ({ name: o, onnxName: onnxOutputs[k] ?? o, dtype: info.values.get(o)!.dtype, shape: [...info.values.get(o)!.shape] })),
    onnxNodes: r.onnxNodes,
    folded: r.folded,
    nodes: info.nodes.length,
    fused: r.fused,
    lutLayers: r.lutLayers,
    ops,
    metadata: r.metadata,
  };
}
