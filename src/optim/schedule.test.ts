// Tests for learning-rate schedules: values at known steps, validation, and applying them to parameter groups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applySchedule, constant, cosine, createSchedule, linearWarmup, step, SGD } from './index.js';
import { tensor } from '../tensor/create.js';
import { ArgumentError } from '../errors.js';

const near = (a: number, b: number, msg?: string): void => assert.ok(Math.abs(a - b) < 1e-12, msg ?? `${a} vs ${b}`);

test('cosine without warmup: baseLr at 0, midpoint at half, minLr at the end and after', () => {
  const s = cosine({ baseLr: 0.1, totalSteps: 100, minLr: 0.001 });
  near(s(0), 0.1);
  near(s(50), 0.001 + 0.099 * 0.5);
  near(s(25), 0.001 + 0.099 * 0.5 * (1 + Math.SQRT1_2));
  near(s(100), 0.001);
  near(s(500), 0.001);
  assert.ok(s(10) > s(11));
});

test('cosine with warmup ramps linearly then decays from baseLr', () => {
  const s = cosine({ baseLr: 1, totalSteps: 110, warmupSteps: 10 });
  near(s(0), 0.1);
  near(s(4), 0.5);
  near(s(9), 1);
  near(s(10), 1);
  near(s(60), 0.5);
  near(s(110), 0);
});

test('step and linearWarmup values', () => {
  const s = step({ baseLr: 0.1, stepSize: 10, gamma: 0.5 });
  near(s(0), 0.1);
  near(s(9), 0.1);
  near(s(10), 0.05);
  near(s(25), 0.025);
  const w = linearWarmup({ baseLr: 2, warmupSteps: 4 });
  assert.deepEqual([0, 1, 2, 3, 4, 100].map((i) => w(i)), [0.5, 1, 1.5, 2, 2, 2]);
  near(constant({ baseLr: 0.3 })(1000), 0.3);
});

test('schedules validate their options and the step index', () => {
  assert.throws(() => cosine({ baseLr: 0.1, totalSteps: 0 }), ArgumentError);
  assert.throws(() => cosine({ baseLr: 0.1, totalSteps: 10, warmupSteps: 10 }), /warmupSteps 10 must be below totalSteps 10/);
  assert.throws(() => cosine({ baseLr: 0.1, totalSteps: 10, minLr: 0.2 }), /minLr/);
  assert.throws(() => step({ baseLr: 0.1, stepSize: 1.5, gamma: 0.1 }), /stepSize/);
  assert.throws(() => linearWarmup({ baseLr: 0, warmupSteps: 3 }), /baseLr must be a finite number > 0/);
  assert.throws(() => constant({ baseLr: 1 })(-1), /step must be a non-negative integer/);
  assert.throws(() => createSchedule({ kind: 'exp' } as never), /unknown kind 'exp'/);
});

test('createSchedule rebuilds a schedule from its config', () => {
  const s = cosine({ baseLr: 0.1, totalSteps: 50, warmupSteps: 5, minLr: 0.01 });
  const r = createSchedule(JSON.parse(JSON.stringify(s.config)));
  for (const i of [0, 3, 5, 17, 49, 60]) assert.equal(r(i), s(i));
});

test('applySchedule scales each group from its own initial lr, keeping ratios', () => {
  const a = tensor([1]).requireGrad();
  const b = tensor([1]).requireGrad();
  const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.01 }], { lr: 0.1 });
  const s = step({ baseLr: 0.1, stepSize: 2, gamma: 0.1 });
  assert.equal(applySchedule(opt, s, 0), 1);
  near(opt.paramGroups[0].lr, 0.1);
  near(opt.paramGroups[1].lr, 0.01);
  applySchedule(opt, s, 3);
  near(opt.paramGroups[0].lr, 0.01);
  near(opt.paramGroups[1].lr, 0.001);
  // Applying step 0 again restores the starting lrs: the schedule is a pure function of the index.
  applySchedule(opt, s, 0);
  near(opt.paramGroups[1].lr, 0.01);
  // The lr applied is the one the update uses.
  applySchedule(opt, s, 2);
  b.grad = tensor([1]);
  opt.step();
  near(b.f32[0], Math.fround(1 - 0.001), `${b.f32[0]}`);
});
