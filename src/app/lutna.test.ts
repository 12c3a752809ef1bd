// LUT-NA mixed precision: knapsack optimality, candidates, suffix evaluation equal to whole-model runs, the search's guarantees, the plot in Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad } from '../autograd/engine.js';
import { GraphBuilder } from '../graph/builder.js';
import { BATCH } from '../graph/dims.js';
import { GraphModel } from '../graph/model.js';
import { TECH_45NM } from '../hw/tech.js';
import { quantizeModel } from '../quant/quantize.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import type { Batch } from '../train/metrics.js';
import { launch, noChromium, renderSvgInChromium } from '../../test/chromium.js';
import { LutnaRunner, approxChoice, cheapestExact, evenParts, knapsack, lutnaSearch, parseApprox, type LayerChoice } from './lutna.js';
import { lutnaPoints, lutnaSvg } from './lutna-plot.js';

test('knapsack: the optimum of every small instance (brute force), null when nothing fits', () => {
  const rng = new Rng(4);
  for (let trial = 0; trial < 40; trial++) {
    const L = 1 + Math.floor(rng.uniform() * 4);
    const opts = Array.from({ length: L }, () => Array.from({ length: 1 + Math.floor(rng.uniform() * 4) }, () => ({ cost: Math.round(rng.uniform() * 100), loss: Math.floor(rng.uniform() * 6) })));
    const B = Math.floor(rng.uniform() * 10);
    let best = Infinity;
    const walk = (l: number, cost: number, loss: number): void => {
      if (loss > B) return;
      if (l === L) {
        best = Math.min(best, cost);
        return;
      }
      for (const o of opts[l]) walk(l + 1, cost + o.cost, loss + o.loss);
    };
    walk(0, 0, 0);
    const got = knapsack(opts, B);
    if (best === Infinity) {
      assert.equal(got, null);
      continue;
    }
    assert.ok(got);
    assert.equal(got.cost, best);
    assert.ok(got.loss <= B);
    assert.equal(got.picks.reduce((s, k, l) => s + opts[l][k].cost, 0), got.cost);
  }
});

test('candidates: even splits, approximation names, approximations that save over the exact split', () => {
  assert.deepEqual(evenParts(9, 4), [3, 2, 2, 2]);
  assert.deepEqual(evenParts(6, 4), [2, 2, 1, 1]);
  assert.deepEqual(parseApprox('drop6'), { kind: 'drop', t: 6 });
  assert.throws(() => parseApprox('drop'), /not exact, drop-ll, drop<T> or trunc<T>/);
  assert.throws(() => parseApprox('trunc0'), /trunc<T>/);
  // A toy price (cheapestExact / approxChoice take any function of the pricer's shape): energy falls with fewer parts
  // and with each dropped pair or truncation, area with more part pairs.
  const price = (pa: number[], pw: number[], drop: [number, number][], truncate: unknown[], a: number, w: number) =>
    ({ energyPJ: pa.length + pw.length + 10 - drop.length - truncate.length + (a + w) / 100, areaUm2: 100 - pa.length * pw.length + drop.length, name: `${pa}x${pw}/${drop.length}` });
  const ex = cheapestExact(price as never, 8, 9, 'area');
  assert.equal(ex.partsA.length * ex.partsW.length, 16, 'area: the split with most pairs is cheapest under this toy price');
  const d4 = approxChoice(price as never, ex, 'drop4', 'energy')!;
  // partsA 2+2+2+2 (offsets 6,4,2,0) x 3+2+2+2 (offsets 6,4,2,0): pairs of shift < 4 are (3,3), (3,2), (2,3)
  assert.deepEqual(d4.drop.map((p) => p.join()).sort(), ['2,3', '3,2', '3,3']);
  assert.equal(approxChoice(price as never, ex, 'drop4', 'area'), null, 'an approximation that costs more area is no candidate');
  const t4 = approxChoice(price as never, ex, 'trunc4', 'energy')!;
  assert.deepEqual(t4.drop.map((p) => p.join()).sort(), ['3,3'], 'a pair whose every bit is below bit 4 is dropped');
  assert.deepEqual(t4.truncate[0].pairs, [[2, 3], [3, 2]]);
});

/** x [N, 1, 8, 8] → conv (3×1×3×3, pad 1) → relu → conv (4×3×3×3, stride 2) → relu → flatten → fc (5 × 36). Labels: the float model's argmax. */
function setup(): { q: GraphModel; batches: Batch[]; calib: Tensor[] } {
  const rng = new Rng(21);
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [BATCH, 1, 8, 8]);
  const [c1] = b.op('Conv', [x, b.weight('c1.weight', randn([3, 1, 3, 3], 0.6, rng)), b.weight('c1.bias', randn([3], 0.1, rng))], { padding: [1, 1] }, 'c1');
  const [r1] = b.op('Relu', [c1], {}, 'r1');
  const [c2] = b.op('Conv', [r1, b.weight('c2.weight', randn([4, 3, 3, 3], 0.4, rng))], { stride: [2, 2] }, 'c2');
  const [r2] = b.op('Relu', [c2], {}, 'r2');
  const [f] = b.op('Flatten', [r2], {}, 'flatten');
  const [y] = b.op('Linear', [f, b.weight('fc.weight', randn([5, 36], 0.3, rng)), b.weight('fc.bias', randn([5], 0.1, rng))], {}, 'fc');
  b.output(y);
  const { graph, weights } = b.build();
  const float = GraphModel.create(graph, weights).eval();
  const calib = [randn([32, 1, 8, 8], 1, new Rng(2))];
  const q = quantizeModel(float, calib, { actBits: 8, weightBits: 9 }).model.eval();
  const batches: Batch[] = [];
  for (let i = 0; i < 4; i++) {
    const xb = randn([50, 1, 8, 8], 1, new Rng(100 + i));
    const logits = noGrad(() => float.forward(xb));
    const lab = new Int32Array(50);
    for (let n = 0; n < 50; n++) {
      let best = 0;
      for (let j = 1; j < 5; j++) if (logits.f32[n * 5 + j] > logits.f32[n * 5 + best]) best = j;
      lab[n] = best;
    }
    batches.push({ x: xb, y: new Tensor(lab, [50]) });
  }
  return { q, batches, calib };
}

test('evaluation from a cached prefix equals the whole model\'s, for changed widths and approximate multipliers', () => {
  const { q, batches } = setup();
  const runner = new LutnaRunner(q, (_layer, bits) => 0.05 * (8 - bits + 1));
  const mk = (a: number, w: number, approx: string, partsA: number[], partsW: number[], drop: [number, number][] = []): LayerChoice => ({
    actBits: a, weightBits: w, approx, partsA, partsW, drop, truncate: approx.startsWith('trunc') ? [{ belowBit: 4, mode: 'round' }] : [], design: approx, energyPerMacPJ: 1, unitAreaUm2: 1,
  });
  const base = new Map(['c1', 'c2', 'fc'].map((n) => [n, mk(8, 9, 'exact', [4, 4], [5, 4])]));
  const variants: [string, LayerChoice][] = [
    ['c1', mk(8, 9, 'drop-ll', [4, 4], [5, 4], [[1, 1]])],
    ['c2', mk(6, 5, 'exact', [3, 3], [3, 2])],
    ['c2', mk(6, 5, 'trunc4', [3, 3], [3, 2])],
    ['fc', mk(4, 4, 'drop-ll', [2, 2], [2, 2], [[1, 1]])],
  ];
  const full = runner.evaluate(base, batches);
  for (const [layer, c] of variants) {
    const config = new Map(base);
    config.set(layer, c);
    const whole = runner.evaluate(config, batches);
    const cached = runner.evaluateFrom(config, runner.prefix(layer, batches));
    assert.equal(cached.n, 200);
    assert.equal(cached.accuracy, whole.accuracy, `${layer} ${c.approx}`);
    assert.equal(runner.evaluateFrom(base, runner.prefix(layer, batches)).accuracy, full.accuracy);
  }
  // The 4-bit fc changes the logits (so the comparison above is not of identical runs).
  const four = new Map(base);
  four.set('fc', variants[3][1]);
  const a = runner.run(base, batches[0].x).f32;
  const bq = runner.run(four, batches[0].x).f32;
  assert.ok(a.some((v, i) => v !== bq[i]));
});

test('lutnaSearch: verified within the budget, costs add up, a zero budget loses nothing, an unlimited one is cheaper; the plot', async () => {
  const { q, batches, calib } = setup();
  const common = { tech: TECH_45NM, calibration: calib, sensitivity: batches.slice(0, 2), verification: batches, actBits: [8, 5], weightBits: [9, 5], approx: ['drop-ll', 'drop6', 'trunc6'] };
  const r = lutnaSearch(q, { ...common, budget: 1 });
  assert.equal(r.sensitivityImages, 100);
  assert.equal(r.verificationImages, 200);
  assert.ok(r.final.withinBudget && r.final.drop <= 1 + 1e-9, JSON.stringify(r.final));
  // The reported accuracy is a real evaluation of the configuration: run it again.
  // The saved form (widths and scales in r.model) with the chosen multipliers scores the same on the same images.
  const again = new LutnaRunner(r.model, () => { throw new Error('widths are already in the model'); });
  assert.equal(again.evaluate(r.config, batches).accuracy, r.final.accuracy);
  const energy = r.layers.reduce((s, l) => s + l.energyUJ, 0);
  assert.ok(Math.abs(energy - r.totals.mixed.energyUJ) < 1e-9);
  assert.ok(Math.abs(r.layers.reduce((s, l) => s + l.unitAreaUm2, 0) / 1e6 - r.totals.mixed.areaMm2) < 1e-12);
  assert.ok(Math.abs(r.ratios.vsWallace.energy - r.totals.wallace.energyUJ / r.totals.mixed.energyUJ) < 1e-12);
  assert.ok(r.totals.mixed.energyUJ <= r.totals.lutnaExact.energyUJ + 1e-12, 'never above exact LUT-NA at the file widths');
  assert.ok(r.sensitivity.length > 0 && r.sensitivity.every((s) => ['c1', 'c2', 'fc'].includes(s.layer)));
  for (const l of r.layers) assert.ok(r.candidates.perLayer[l.name] >= 1);

  const zero = lutnaSearch(q, { ...common, budget: 0 });
  assert.ok(zero.final.drop <= 0, `budget 0: drop ${zero.final.drop}`);
  const all = lutnaSearch(q, { ...common, budget: 1000 }); // more than all images: the additive model is unconstrained
  assert.ok(all.final.withinBudget);
  assert.ok(all.totals.mixed.energyUJ < r.totals.lutnaExact.energyUJ, 'an unlimited budget takes cheaper candidates');
  // With everything allowed the knapsack takes each layer's cheapest measured candidate.
  for (const l of all.layers) {
    const measured = all.sensitivity.filter((s) => s.layer === l.name);
    const cheapest = Math.min(l.baseEnergyUJ, ...measured.map((s) => s.energyUJ - (all.totals.lutnaExact.energyUJ - l.baseEnergyUJ)));
    assert.ok(l.energyUJ <= cheapest + 1e-9, `${l.name}: ${l.energyUJ} vs ${cheapest}`);
  }

  const { points, front } = lutnaPoints(r);
  assert.equal(points.length, r.sensitivity.length + r.rounds.length + 3 + 1);
  assert.equal(front.length, r.rounds.filter((s) => s.on === 'sensitivity').length);
  const svg = await lutnaSvg(r, 'tiny.safetensors');
  assert.equal((svg.match(/aria-roledescription="point"/g) ?? []).length, points.length + front.length);
  assert.ok(svg.includes('energy per inference') && svg.includes('test accuracy'));
  if (!noChromium) {
    const browser = await launch();
    try {
      const px = await renderSvgInChromium(browser, svg);
      assert.ok(px.width > 400 && px.height > 250 && px.inked > 2000 && px.colours >= 3, JSON.stringify(px));
    } finally {
      await browser.close();
    }
  }
});
