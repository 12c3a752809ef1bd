// The runtime lowering facet of the op records: every record states one (a lowering, null or a refusal), and the
// refusal message's list of what the runtime runs (RUNTIME_OPS) names exactly the op types that have a lowering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OPS } from '../graph/registry.js';
import { OP_TYPES } from '../graph/types.js';
import { RUNTIME_OPS } from './plan.js';

test('every op record has a runtime lowering facet, and RUNTIME_OPS lists exactly the lowered op types', () => {
  const lowered: string[] = [];
  for (const op of OP_TYPES) {
    const low = OPS[op].lower;
    assert.ok(low === null || typeof low === 'object', `${op}: lower is a lowering, null or { refuse }`);
    if (low && 'refuse' in low) assert.ok(low.refuse.length > 0, `${op}: a refusal gives its reason`);
    else if (low) {
      assert.ok(low.run !== undefined || low.alias === true, `${op}: a lowering runs or is always an alias`);
      lowered.push(op);
    }
    const named = new RegExp(`\\b${op}\\b`).test(RUNTIME_OPS);
    assert.equal(named, lowered.includes(op), `${op} is ${named ? '' : 'not '}named in RUNTIME_OPS but ${lowered.includes(op) ? 'has' : 'has no'} lowering`);
  }
  assert.ok(lowered.includes('Conv') && lowered.includes('LutLinear') && !lowered.includes('LeakyRelu'));
});
