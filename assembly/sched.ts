// Task scheduler run by the main thread and every worker on the same memory: claim tasks, phase barriers.
// A job is a list of phases; task i of the whole job runs once, on whichever thread claims it first.
// Claims go through a generation-tagged 64-bit ticket, so a thread that wakes late can never claim a task
// of a finished job or of one being written.
import {
  CTRL, C_DONE, C_TICKET, C_NTOTAL, C_NPHASES, PHASES, PHASE_BYTES, STATS,
  K_PACK_A, K_PACK_B, K_TILES, K_IM2COL, K_COL2IM, K_BIAS_ADD, K_BIAS_GRAD, K_DEPTHWISE,
  K_LUT_ENCODE, K_LUT_SCAN, K_RT_PAD, K_RT_CONV_ENCODE, K_RT_CONV_SCAN, K_RT_POOL, K_RT_EPI,
  K_LT_ENCODE, K_LT_GATHER, K_LT_SOFT,
} from './layout';
import { packATask, packBTask, tilesTask } from './gemm';
import { im2colTask, col2imTask, biasAddTask, biasGradTask } from './conv';
import { depthwiseTask } from './depthwise';
import { lutEncodeTask, lutScanTask } from './lut-infer';
import { rtPadTask, rtConvEncodeTask, rtConvScanTask } from './lut-conv';
import { rtPoolTask, rtEpiTask } from './runtime';
import { ltEncodeTask, ltGatherTask, ltSoftTask } from './lut-train-jobs';

/** Task index of a closed ticket: larger than any job's task count. */
const CLOSED: i64 = 0x7fffffff;
/** Busy polls before sleeping on the futex (the awaited tasks are usually microseconds from done). */
const SPINS: i32 = 4000;

@inline function ticketPtr(): usize {
  return <usize>(CTRL + C_TICKET);
}

@inline function donePtr(): usize {
  return <usize>(CTRL + C_DONE);
}

/** Lowest address of free memory after the static data: the loader checks it lies below CTRL. */
export function heapBase(): usize {
  return __heap_base;
}

/** Starts the job whose phases and descriptors were just written: new generation, task 0 next. */
export function openJob(): i32 {
  atomic.store<i32>(donePtr(), 0);
  const gen = (atomic.load<i64>(ticketPtr()) >>> 32) + 1;
  atomic.store<i64>(ticketPtr(), gen << 32);
  return <i32>(gen & 0x7fffffff);
}

/** Blocks until `target` tasks of the current job are done (spin first, then futex waits). */
function waitDone(target: i32): void {
  let spins = 0;
  for (;;) {
    const d = atomic.load<i32>(donePtr());
    if (d >= target) return;
    if (++spins < SPINS) continue;
    memory.atomic.wait32(donePtr(), d, 1000000);
  }
}

/** Main thread, after its own work(): waits for the stragglers, then closes the ticket. */
export function finishJob(): void {
  waitDone(atomic.load<i32>(<usize>(CTRL + C_NTOTAL)));
  const gen = atomic.load<i64>(ticketPtr()) >>> 32;
  atomic.store<i64>(ticketPtr(), (gen << 32) | CLOSED);
}

function runTask(idx: i32, tid: i32): void {
  const n = load<i32>(<usize>(CTRL + C_NPHASES));
  let start = 0;
  for (let p = 0; p < n; p++) {
    const e = <usize>(CTRL + PHASES + p * PHASE_BYTES);
    const end = load<i32>(e, 4);
    if (idx < end) {
      // Tasks are claimed in order, so once `start` tasks are done every earlier phase is complete.
      if (p > 0) waitDone(start);
      const t = idx - start;
      switch (load<i32>(e)) {
        case K_PACK_A: packATask(t); break;
        case K_PACK_B: packBTask(t); break;
        case K_TILES: tilesTask(t, tid); break;
        case K_IM2COL: im2colTask(t); break;
        case K_COL2IM: col2imTask(t); break;
        case K_BIAS_ADD: biasAddTask(t); break;
        case K_BIAS_GRAD: biasGradTask(t); break;
        case K_DEPTHWISE: depthwiseTask(t, tid); break;
        case K_LUT_ENCODE: lutEncodeTask(t); break;
        case K_LUT_SCAN: lutScanTask(t); break;
        case K_RT_PAD: rtPadTask(t); break;
        case K_RT_CONV_ENCODE: rtConvEncodeTask(t); break;
        case K_RT_CONV_SCAN: rtConvScanTask(t); break;
        case K_RT_POOL: rtPoolTask(t); break;
        case K_RT_EPI: rtEpiTask(t); break;
        case K_LT_ENCODE: ltEncodeTask(t); break;
        case K_LT_GATHER: ltGatherTask(t); break;
        case K_LT_SOFT: ltSoftTask(t); break;
        default: break;
      }
      return;
    }
    start = end;
  }
}

/** Claims and runs tasks of the current job until none is left; `tid` picks the thread's scratch tile. */
export function work(tid: i32, gen: i32): void {
  const total = <usize>(CTRL + C_NTOTAL);
  for (;;) {
    const w = atomic.load<i64>(ticketPtr());
    // A worker that woke late for an earlier job must not join a later one it was not woken for.
    if (<i32>((w >>> 32) & 0x7fffffff) != gen) return;
    const idx = <i32>(w & 0xffffffff);
    const n = atomic.load<i32>(total);
    if (idx >= n) return;
    if (atomic.cmpxchg<i64>(ticketPtr(), w, w + 1) != w) continue;
    runTask(idx, tid);
    const stat = <usize>(CTRL + STATS + (tid << 2));
    store<i32>(stat, load<i32>(stat) + 1);
    atomic.add<i32>(donePtr(), 1);
    atomic.notify(donePtr(), 64);
  }
}
