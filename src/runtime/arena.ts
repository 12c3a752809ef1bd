// Activation memory of a compiled plan: which storage each value uses (views alias their input, in-place steps reuse
// a dying input's), liveness over the steps, and byte offsets in one arena (greedy by size), with the peak it must hold.
import { ArgumentError } from '../errors.js';

/** What the planner needs of one step. */
export interface ArenaStep {
  /** For messages. */
  name: string;
  /** Values read (computed values only: the graph input or earlier steps' outputs). */
  inputs: readonly string[];
  /** The value written. */
  output: string;
  /** The output is a view of input 0 (same floats, no data moves). */
  view?: boolean;
  /** Inputs whose storage the kernel may overwrite with the output (same size, element by element). */
  inPlace?: readonly number[];
}

/** A storage: one region of the arena holding one value at a time (or several that are views of each other). */
export interface ArenaSlot {
  /** Byte offset in the arena (64-byte aligned). */
  offset: number;
  /** Bytes at maxBatch (floats per sample · 4 · maxBatch; the region reserved is this rounded up to 64). */
  bytes: number;
  /** Steps it is live over: from the step that writes it (−1 for the graph input) to the last step that reads it through any of its values (the last step for the graph output). */
  from: number;
  to: number;
  /** The values it holds, in the order they are written: the first, its views, the outputs of in-place steps. */
  values: string[];
}

/** One value of the plan. */
export interface ArenaValue {
  name: string;
  /** Floats per sample. */
  floats: number;
  /** Index into ArenaPlan.slots. */
  slot: number;
  /** The step that writes it (−1 for the graph input). */
  from: number;
  /** The last step that reads it (its own step when nothing does; the last step for the graph output). */
  to: number;
}

export interface ArenaPlan {
  maxBatch: number;
  slots: ArenaSlot[];
  values: Map<string, ArenaValue>;
  /** Bytes the arena spans (the highest slot end): at least the peak; more when 64-byte alignment or placement leave holes. */
  arenaBytes: number;
  /** Max over steps of the bytes of the slots live at that step (inputs, outputs and values read later), at maxBatch. */
  peakActivationBytes: number;
  /** The step where the peak is reached (the first one). */
  peakStep: number;
  /** Per step: bytes of the live slots. */
  liveBytes: number[];
}

const ALIGN = 64;
const alignUp = (b: number): number => Math.ceil(b / ALIGN) * ALIGN;

/**
 * Offsets for regions with known lifetimes (TFLite's "greedy by size"): largest first, each at the lowest offset
 * where it overlaps no region placed so far whose steps intersect its own. Returns the bytes spanned.
 */
function placeBySize(slots: ArenaSlot[]): number {
  const order = slots.map((_, k) => k).sort((a, b) => slots[b].bytes - slots[a].bytes || slots[a].from - slots[b].from);
  // The slots placed so far, listed at every step they are live (the graph input's step −1 counts as step 0): the
  // regions a new slot must avoid are those listed over its own steps, found without scanning every placed slot.
  const steps = slots.reduce((m, sl) => Math.max(m, sl.to), 0) + 1;
  const liveAt: number[][] = Array.from({ length: steps }, () => []);
  const seen = new Int32Array(slots.length).fill(-1);
  let end = 0;
  for (const k of order) {
    const sl = slots[k];
    const size = alignUp(Math.max(sl.bytes, 1));
    const lo = Math.max(sl.from, 0);
    const busy: ArenaSlot[] = [];
    for (let i = lo; i <= sl.to; i++) {
      for (const p of liveAt[i]) {
        if (seen[p] === k) continue;
        seen[p] = k;
        busy.push(slots[p]);
      }
    }
    busy.sort((a, b) => a.offset - b.offset);
    let offset = 0;
    for (const p of busy) {
      if (p.offset - offset >= size) break; // the hole before p fits
      offset = Math.max(offset, p.offset + alignUp(Math.max(p.bytes, 1)));
    }
    sl.offset = offset;
    for (let i = lo; i <= sl.to; i++) liveAt[i].push(k);
    end = Math.max(end, offset + size);
  }
  return end;
}

/**
 * Plans the activation arena of `steps` (in run order) for batches of up to `maxBatch`: `floats` gives every value's
 * floats per sample, `input` is the graph input or inputs (written before step 0; 4-byte elements, int32 ids included) and `output` the graph output (read after
 * the last step). A step's output takes a new slot unless it is a view (input 0's slot) or it may run in place on an
 * input whose slot no later step reads (that slot). Slots whose live steps intersect get disjoint bytes (a step's
 * inputs and output included, unless it runs in place); the others may share.
 */
export function planArena(steps: readonly ArenaStep[], floats: ReadonlyMap<string, number>, input: string | readonly string[], output: string, maxBatch: number): ArenaPlan {
  const size = (v: string): number => {
    const f = floats.get(v);
    if (f === undefined) throw new ArgumentError(`planArena: value '${v}' has no size`);
    return f;
  };
  const last = steps.length - 1;
  // The last step reading each value (the graph output: past the last step).
  const lastRead = new Map<string, number>();
  steps.forEach((s, i) => s.inputs.forEach((v) => lastRead.set(v, i)));
  lastRead.set(output, Infinity);

  const values = new Map<string, ArenaValue>();
  const slots: ArenaSlot[] = [];
  const newSlot = (v: string, from: number): number => {
    slots.push({ offset: 0, bytes: size(v) * 4 * maxBatch, from, to: from, values: [] });
    return slots.length - 1;
  };
  const place = (v: string, slot: number, from: number): void => {
    if (values.has(v)) throw new ArgumentError(`planArena: value '${v}' is written twice`);
    const end = Math.max(from, lastRead.get(v) ?? from);
    values.set(v, { name: v, floats: size(v), slot, from, to: Math.min(end, Math.max(last, from)) });
    slots[slot].values.push(v);
    slotEnds[slot] = Math.max(slotEnds[slot] ?? -Infinity, end);
  };
  /** Per slot: the last step any of its values is read (Infinity: it holds the graph output), kept as values are placed. */
  const slotEnds: number[] = [];
  const slotEnd = (slot: number): number => slotEnds[slot];
  const valueOf = (s: ArenaStep, v: string): ArenaValue => {
    const a = values.get(v);
    if (!a) throw new ArgumentError(`planArena: step '${s.name}' reads '${v}', which no earlier step writes`);
    return a;
  };

  for (const v of typeof input === 'string' ? [input] : input) place(v, newSlot(v, -1), -1);
  steps.forEach((s, i) => {
    const ins = s.inputs.map((v) => valueOf(s, v));
    if (s.view) {
      if (size(s.output) !== ins[0].floats) throw new ArgumentError(`planArena: view '${s.name}' has ${size(s.output)} floats per sample, its input ${ins[0].floats}`);
      place(s.output, ins[0].slot, i);
      return;
    }
    const reuse = (s.inPlace ?? []).map((k) => ins[k]).find((a) => a.floats === size(s.output) && slotEnd(a.slot) <= i);
    place(s.output, reuse ? reuse.slot : newSlot(s.output, i), i);
  });
  slots.forEach((sl, k) => {
    sl.to = Math.min(slotEnd(k), Math.max(last, sl.from));
  });

  const arenaBytes = placeBySize(slots);
  // Bytes live per step: each slot adds its bytes over its steps (a difference array: linear in steps + slots).
  const delta = new Float64Array(steps.length + 1);
  for (const sl of slots) {
    const lo = Math.max(sl.from, 0);
    if (lo > sl.to || lo >= steps.length) continue;
    delta[lo] += sl.bytes;
    delta[Math.min(sl.to, steps.length - 1) + 1] -= sl.bytes;
  }
  const liveBytes: number[] = [];
  for (let i = 0, acc = 0; i < steps.length; i++) liveBytes.push((acc += delta[i]));
  let peakStep = 0;
  liveBytes.forEach((b, i) => {
    if (b > liveBytes[peakStep]) peakStep = i;
  });
  return { maxBatch, slots, values, arenaBytes, peakActivationBytes: liveBytes[peakStep] ?? 0, peakStep, liveBytes };
}
