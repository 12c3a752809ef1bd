// rtPool2d's 2×2 stride-2 max pooling (SIMD, four outputs at a time) against the scalar rule, bit for bit, NaN and ±0 included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wasmRuntime } from '../backend/wasm.js';
import { Rng } from '../tensor/rng.js';

/** The rule of src/ops/pool.ts: scan the window in order, take v when !(v <= best) and best is not NaN. */
function maxPoolRef(x: Float32Array, planes: number, H: number, W: number): Float32Array {
  const OH = Math.floor(H / 2);
  const OW = Math.floor(W / 2);
  const y = new Float32Array(planes * OH * OW);
  for (let p = 0; p < planes; p++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        const at = (r: number, c: number): number => x[p * H * W + r * W + c];
        let best = at(2 * oy, 2 * ox);
        for (const v of [at(2 * oy, 2 * ox + 1), at(2 * oy + 1, 2 * ox), at(2 * oy + 1, 2 * ox + 1)]) if (!(v <= best) && best === best) best = v;
        y[(p * OH + oy) * OW + ox] = best;
      }
  return y;
}

test('rtPool2d 2x2/2 max: bit-identical to the scalar rule for widths around the 4-output groups, with NaN and signed zeros', () => {
  const rt = wasmRuntime() ?? assert.fail('no wasm runtime');
  const rng = new Rng(17);
  for (const [planes, H, W] of [[3, 28, 28], [2, 14, 14], [5, 6, 9], [1, 2, 2], [4, 7, 16], [2, 4, 18]]) {
    const n = planes * H * W;
    const x = new Float32Array(n);
    const nanA = new Float32Array(new Uint32Array([0x7fc00001]).buffer)[0]; // two NaN payloads: the first of a window must win
    const nanB = new Float32Array(new Uint32Array([0xffc00002]).buffer)[0];
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      x[i] = u < 0.05 ? nanA : u < 0.1 ? nanB : u < 0.2 ? 0 : u < 0.3 ? -0 : u < 0.4 ? 1 : rng.normal(0, 1);
    }
    const OH = Math.floor(H / 2);
    const OW = Math.floor(W / 2);
    const xp = rt.heap.alloc(n * 4);
    const yp = rt.heap.alloc(planes * OH * OW * 4 + 16);
    try {
      rt.f32(xp, n).set(x);
      (rt.ex as unknown as { rtPool2d(...a: number[]): void }).rtPool2d(xp, yp, planes, H, W, 2, 2, 2, 2, 0, 0, OH, OW, 0);
      const got = new Uint32Array(rt.f32(yp, planes * OH * OW).slice().buffer);
      const want = new Uint32Array(maxPoolRef(x, planes, H, W).buffer);
      assert.deepEqual(got, want, `${planes}x${H}x${W}`);
    } finally {
      rt.heap.free(xp);
      rt.heap.free(yp);
    }
  }
});
