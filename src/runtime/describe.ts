// One-line descriptions of a plan's ops (RuntimeModel.summary(), error messages): kind, fused node names, shapes.
import { fmtShape } from '../errors.js';
import type { Op } from './plan.js';
import type { BinaryOp } from './transformer-kernels-ref.js';

/** The symbol of a binary op in summaries (the constant first for rsub/rdiv). */
const SYMBOL: Record<BinaryOp, string> = { add: '+', sub: '−', mul: '·', div: '/', rsub: '−', rdiv: '/' };

/** A one-line description per op (for summaries and error messages); joins show every input's shape, matmuls their operands' (views). */
export function describeOps(ops: readonly Op[], shapes?: ReadonlyMap<string, number[]>): string[] {
  return ops.map((o) => {
    let ins: string;
    if (o.kind === 'matmul') ins = `${fmtShape(o.srcs[0].shape)} × ${fmtShape(o.srcs[1].shape)}`;
    else if (o.kind === 'binary' && (o.mode === 'row' || o.mode === 'scalar')) {
      const c = o.mode === 'scalar' ? 'scalar' : `const[${o.cols}]`;
      ins = o.op === 'rsub' || o.op === 'rdiv' ? `${c} ${SYMBOL[o.op]} ${fmtShape(o.inShape)}` : `${fmtShape(o.inShape)} ${SYMBOL[o.op]} ${c}`;
    } else {
      const sep = o.kind === 'add' ? ' + ' : o.kind === 'binary' ? ` ${SYMBOL[o.op]} ` : ' ‖ ';
      // A broadcast operand that came first (rsub, rdiv) is shown first.
      const order = o.kind === 'binary' && (o.op === 'rsub' || o.op === 'rdiv') ? [...o.inputs].reverse() : o.inputs;
      ins = o.inputs.length > 1 && shapes ? order.map((v) => fmtShape(shapes.get(v)!)).join(sep) : fmtShape(o.inShape);
    }
    return `${o.kind} ${o.name}: ${ins} → ${fmtShape(o.outShape)}`;
  });
}
