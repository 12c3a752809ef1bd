// The lutnn module Web Worker (dist-web/lutnn-worker.js): holds one compiled model and answers load/run/dispose
// requests from WorkerModel, so the page's main thread never runs a kernel.
import { ArgumentError } from '../errors.js';
import type { RuntimeModel } from '../runtime/model.js';
import { kernelInfo } from './kernels.js';
import { takeTaskCounts } from './pool.js';
import { wasmRuntime } from './wasm-host.js';
import { load } from './load.js';
import { serializeError, type LoadedInfo, type Reply, type Request } from './protocol.js';

interface WorkerScope {
  onmessage: ((ev: MessageEvent<Request>) => void) | null;
  postMessage(msg: Reply, transfer?: Transferable[]): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;
let model: RuntimeModel | null = null;

async function handle(req: Request): Promise<{ value: unknown; transfer?: Transferable[] }> {
  switch (req.type) {
    case 'load': {
      if (model) throw new ArgumentError('lutnn worker: a model is already loaded in this worker');
      model = await load(req.source, req.opts);
      const info: LoadedInfo = {
        inputShape: [...model.inputShape],
        inputs: model.inputs.map((i) => ({ ...i, shape: [...i.shape] })),
        outputShape: [...model.outputShape],
        maxBatch: model.maxBatch,
        lutEngine: model.lutEngine,
        summary: model.summary(),
        kernels: kernelInfo()!,
      };
      return { value: info };
    }
    case 'run': {
      if (!model) throw new ArgumentError('lutnn worker: no model loaded');
      const out = model.run(req.input);
      return { value: out, transfer: [out.buffer] };
    }
    case 'taskCounts':
      return { value: takeTaskCounts(wasmRuntime()!) };
    case 'dispose':
      model?.dispose();
      model = null;
      return { value: null };
    default:
      throw new ArgumentError(`lutnn worker: unknown request ${JSON.stringify((req as { type?: unknown }).type)}`);
  }
}

// Requests are answered in arrival order: run() is synchronous, so only a pending load can overlap.
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (ev) => {
  const req = ev.data;
  queue = queue.then(async () => {
    try {
      const { value, transfer } = await handle(req);
      scope.postMessage({ id: req.id, ok: true, value }, transfer ?? []);
    } catch (e) {
      scope.postMessage({ id: req.id, ok: false, error: serializeError(e) });
    }
  });
};
