// The fused LUT op on the thread pool: encode, gather and the soft backward run one task per block of a chunk, and
// give bit-identical values and gradients for 1, 2 and 3 threads, with the workers taking part (convs and rows).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../autograd/engine.js';
import { getParallelMinMacs, getNumThreads, setNumThreads, setParallelMinMacs, startWorkers, takeTaskCounts } from '../backend/pool.js';
import { wasmRuntime } from '../backend/wasm.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { METRICS, type Metric } from '../backend/metric.js';
import { lutConv2d, lutForward, thetaForTemperature } from './lut.js';

type Inputs = [x: Tensor, centroids: Tensor, weight: Tensor, bias: Tensor];

/**
 * For every metric: forward + backward of `op` on fresh copies of `inputs` (dL/dy = G) with 1 thread, then with 2
 * and 3; values and all gradients must be bit-identical, and some worker must have run a task.
 */
async function assertThreadIdentity(inputs: Inputs, G: Tensor, temperature: number, op: (ins: Inputs, th: Tensor, metric: Metric) => Tensor): Promise<void> {
  const rt = wasmRuntime() ?? assert.fail('no wasm runtime');
  const prevThreads = getNumThreads();
  const prevMin = getParallelMinMacs();
  try {
    setNumThreads(3);
    await startWorkers(rt);
    setParallelMinMacs(0);
    for (const metric of METRICS) {
      const run = (threads: number): { outs: Float32Array[]; helpers: number } => {
        setNumThreads(threads);
        takeTaskCounts(rt);
        const ins = inputs.map((t) => t.clone().requireGrad()) as Inputs;
        const th = new Tensor(Float32Array.of(thetaForTemperature(temperature)), []).requireGrad();
        const y = op(ins, th, metric);
        backward(y, G);
        const outs = [y, ...ins, th].map((t, i) => (i === 0 ? t.f32.slice() : t.grad!.f32.slice()));
        return { outs, helpers: takeTaskCounts(rt).slice(1).filter((n) => n > 0).length };
      };
      const one = run(1);
      assert.equal(one.helpers, 0);
      for (const threads of [2, 3]) {
        let helped = 0;
        for (let attempt = 0; attempt < 20 && helped === 0; attempt++) {
          const r = run(threads);
          r.outs.forEach((o, i) => assert.deepEqual(o, one.outs[i], `${metric}, ${threads} threads, output ${i}`));
          helped = r.helpers;
        }
        assert.ok(helped > 0, `${metric}, ${threads} threads: no worker ran a task`);
      }
    }
  } finally {
    setNumThreads(prevThreads);
    setParallelMinMacs(prevMin);
  }
}

test('lutConv2d values and gradients are bit-identical for 1, 2 and 3 threads (every metric), and workers help', async () => {
  const rng = new Rng(31);
  // 7 images of 6×6 with 4 channels → rows of D = 36, C = 4, V = 9; 3 images per chunk gives chunks of 3, 3 and 1 blocks.
  const inputs: Inputs = [randn([7, 4, 6, 6], 0.7, rng), randn([4, 16, 9], 0.7, rng), randn([4, 9, 5], 1, rng), randn([5], 1, rng)];
  const G = randn([7, 5, 6, 6], 1, rng);
  await assertThreadIdentity(inputs, G, 0.4, ([x, P, W, b], th, metric) => lutConv2d(x, P, W, b, th, { kernel: [3, 3], padding: 1, metric, chunkRows: 3 * 36 }));
});

test('lutForward (rows) splits chunks into 64-row blocks: bit-identical for 1, 2 and 3 threads, and workers help', async () => {
  const rng = new Rng(41);
  // 200 rows with chunkRows 128: chunks of 2 and 1 blocks of 64 rows, then a tail block of 8.
  const inputs: Inputs = [randn([200, 48], 0.7, rng), randn([3, 16, 16], 0.7, rng), randn([3, 16, 6], 1, rng), randn([6], 1, rng)];
  const G = randn([200, 6], 1, rng);
  await assertThreadIdentity(inputs, G, 0.3, ([x, P, W, b], th, metric) => lutForward(x, P, W, b, th, { metric, chunkRows: 128 }));
});
