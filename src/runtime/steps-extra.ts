// Executable steps of the simple ops the records lower to: activations, int32 → float32 casts and gathers by the
// TypeScript heap kernels (heap-kernels.ts), slices by the strided-copy kernel. Like steps.ts: byte pointers in, no allocation, no throw.
import { castI32ToF32, gatherKernel, unaryKernel } from './heap-kernels.js';
import type { Op } from './plan.js';
import type { Blocks, KernelHost, Step } from './steps.js';

const size = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

function unaryStep(host: KernelHost, op: Extract<Op, { kind: 'unary' }>): Step {
  const len = size(op.outShape);
  return { op, scratch: 0, scratchBytes: 0, run: (n, x, y) => unaryKernel(host.rt.memory, x, y, n * len, op.act, op.lo, op.hi) };
}

function castStep(host: KernelHost, op: Extract<Op, { kind: 'cast' }>): Step {
  const len = size(op.outShape);
  return { op, scratch: 0, scratchBytes: 0, run: (n, x, y) => castI32ToF32(host.rt.memory, x, y, n * len) };
}

/** Embedding rows of a resident table by per-sample ids (input 0), or constant picks (resident indices) of input 0. */
function gatherStep(host: KernelHost, blocks: Blocks, op: Extract<Op, { kind: 'gather' }>): Step {
  const { rt } = host;
  const { outer, len, inner, count } = op;
  let table = 0;
  let idx = 0;
  if (op.table) table = blocks.put(op.table);
  if (op.indices) {
    idx = blocks.alloc(op.indices.length * 4);
    new Int32Array(rt.memory.buffer, idx, op.indices.length).set(op.indices);
  }
  return {
    op,
    scratch: 0,
    scratchBytes: 0,
    run(n, x, y) {
      if (op.table) gatherKernel(rt.memory, table, 0, x, count, y, n, 1, len, inner, count);
      else gatherKernel(rt.memory, x, size(op.inShape), idx, 0, y, n, outer, len, inner, count);
    },
  };
}

/** A Slice (or one output of a Split): rtPermute over each sample from `offset` floats in. */
function sliceStep(host: KernelHost, op: Extract<Op, { kind: 'slice' }>): Step {
  const { dims: d, strides: s } = op.copy;
  const inSample = size(op.inShape);
  return { op, scratch: 0, scratchBytes: 0, run: (n, x, y) => host.rt.ex.rtPermute(x + 4 * op.offset, y, n, inSample, d[0], d[1], d[2], d[3], s[0], s[1], s[2], s[3]) };
}

/** The step of one of those ops, or null for the other kinds. */
export function extraStep(host: KernelHost, blocks: Blocks, op: Op): Step | null {
  switch (op.kind) {
    case 'unary':
      return unaryStep(host, op);
    case 'cast':
      return castStep(host, op);
    case 'gather':
      return gatherStep(host, blocks, op);
    case 'slice':
      return sliceStep(host, op);
    default:
      return null;
  }
}

/** `step` followed by the op's post activation (HardSwish, Clip, ... fused into its producer) on its output, in place. */
export function withPost(host: KernelHost, step: Step): Step {
  const post = 'post' in step.op ? step.op.post : null;
  if (!post) return step;
  const len = size(step.op.outShape);
  const run = step.run.bind(step);
  return Object.assign(step, {
    run(n: number, x: number, y: number, xs: readonly number[]) {
      run(n, x, y, xs);
      unaryKernel(host.rt.memory, y, y, n * len, post.act, post.lo, post.hi);
    },
  });
}
