// The tfjs-backend-wasm peer of `lutnn bench` / the benchmark suite (BenchOptions.baselines.tfjsWasm): a dense model's
// runtime plan rebuilt in TensorFlow.js (bench/tfjs-model.ts) on the wasm backend, loaded by the measurement process.
import type { CreatePeer } from '../src/app/bench.js';
import { buildTfjsModel } from './tfjs-model.js';

export const createPeer: CreatePeer = async ({ runtime, inputShape, threads }) => {
  const tf = await import('@tensorflow/tfjs');
  const tfw = await import('@tensorflow/tfjs-backend-wasm');
  tfw.setThreadsCount(threads); // before the backend starts (one measurement process per thread count)
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend did not start');
  await tf.ready();
  // Throws for what bench/tfjs-model.ts does not build (residual adds, attention, LUT layers), naming the op.
  let m: ReturnType<typeof buildTfjsModel>;
  try {
    m = buildTfjsModel(tf, runtime.ops, inputShape);
  } catch (e) {
    throw new Error(`bench/tfjs-model.ts builds sequential conv/pool/linear plans only: ${(e as Error).message}`);
  }
  return { run: (x, batch) => m.run(x, batch), dispose: () => m.dispose() };
};
