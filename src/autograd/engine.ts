// Reverse-mode autodiff: a dynamic tape of GradFn nodes, no-grad mode, and gradient accumulation into `.grad`.
import { AutogradError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, sameShape, type GradFn } from '../tensor/tensor.js';

let gradEnabled = true;
const FREED = Symbol('freed');

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run `fn` with gradient recording off (restored afterwards, also on throw). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Switch recording on or off; returns the previous setting. */
export function setGradEnabled(on: boolean): boolean {
  const prev = gradEnabled;
  gradEnabled = on;
  return prev;
}

/** Whether an op over these inputs must record a node. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/**
 * Attach a backward node to `out` when any input requires grad and grad mode is on.
 * `backward` receives d(loss)/d(out) and returns one gradient per input (null to skip).
 */
export function record(
  out: Tensor,
  name: string,
  inputs: Tensor[],
  backward: (grad: Tensor) => (Tensor | null)[],
): Tensor {
  if (!needsGrad(...inputs)) return out;
  out.requiresGrad = true;
  const node: GradFn = { name, inputs, backward };
  out.gradFn = node;
  return out;
}

/** Add `g` into `acc` in place (same shape), returning acc. */
function accumulate(acc: Tensor, g: Tensor): Tensor {
  const a = acc.f32;
  const b = g.f32;
  for (let i = 0; i < a.length; i++) a[i] += b[i];
  return acc;
}

export interface BackwardOptions {
  /** Keep the graph so backward can run through it again. */
  retainGraph?: boolean;
  /** Called after each node's backward with its name and the milliseconds it took (profiling; bench/train-profile.ts). */
  profile?: (name: string, ms: number) => void;
}

/**
 * Backpropagate from `root`. Without `grad`, root must hold one element (the loss) and its gradient is 1.
 * Leaf gradients are summed into `.grad` (created on first use), as PyTorch does.
 */
export function backward(root: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad) throw new AutogradError('backward: the tensor does not require grad (nothing to differentiate)');
  let seed: Tensor;
  if (grad) {
    if (!sameShape(grad.shape, root.shape)) {
      throw new ShapeError(`backward: grad shape ${fmtShape(grad.shape)} vs tensor shape ${fmtShape(root.shape)}`);
    }
    seed = grad;
  } else {
    if (root.size !== 1) throw new AutogradError(`backward: implicit gradient needs one element, got ${fmtShape(root.shape)}`);
    seed = new Tensor(Float32Array.of(1), root.shape);
  }

  // Topological order (iterative DFS to survive deep graphs).
  const order: Tensor[] = [];
  const visited = new Set<number>();
  const stack: [Tensor, number][] = [[root, 0]];
  visited.add(root.id);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.gradFn ? t.gradFn.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const child = inputs[i];
      if (child.requiresGrad && !visited.has(child.id)) {
        visited.add(child.id);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }

  const grads = new Map<number, Tensor>();
  const owned = new Set<Tensor>(); // gradients this pass allocated itself, safe to add into in place
  grads.set(root.id, seed);
  const prev = setGradEnabled(false);
  try {
    for (let idx = order.length - 1; idx >= 0; idx--) {
      const t = order[idx];
      const g = grads.get(t.id);
      if (!g) continue;
      grads.delete(t.id);
      const fn = t.gradFn;
      if (!fn) {
        // Leaf: accumulate into .grad (never alias a tensor some op returned).
        if (t.grad) accumulate(t.grad, g);
        else t.grad = owned.has(g) ? g : g.clone();
        continue;
      }
      if (FREED in fn) {
        throw new AutogradError(`backward: graph through ${fn.name} was already freed; pass retainGraph to go twice`);
      }
      const t0 = opts.profile ? performance.now() : 0;
      const inGrads = fn.backward(g);
      if (opts.profile) opts.profile(fn.name, performance.now() - t0);
      if (inGrads.length !== fn.inputs.length) {
        throw new AutogradError(`backward: ${fn.name} returned ${inGrads.length} grads for ${fn.inputs.length} inputs`);
      }
      for (let k = 0; k < fn.inputs.length; k++) {
        const inp = fn.inputs[k];
        const ig = inGrads[k];
        if (!ig || !inp.requiresGrad) continue;
        if (!sameShape(ig.shape, inp.shape)) {
          throw new AutogradError(
            `backward: ${fn.name} gave grad ${fmtShape(ig.shape)} for input ${k} of shape ${fmtShape(inp.shape)}`,
          );
        }
        const existing = grads.get(inp.id);
        if (!existing) {
          grads.set(inp.id, ig);
        } else if (owned.has(existing)) {
          accumulate(existing, ig);
        } else {
          const acc = accumulate(existing.clone(), ig);
          owned.add(acc);
          grads.set(inp.id, acc);
        }
      }
      if (!opts.retainGraph) {
        // Free the graph: drop references to inputs and to the closure's saved tensors.
        t.gradFn = { name: fn.name, inputs: [], backward: () => [], [FREED]: true } as GradFn;
      }
    }
  } finally {
    setGradEnabled(prev);
  }
}
