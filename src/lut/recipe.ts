// The LUT-NN fine-tuning recipe's pieces: parameter groups (temperature lr, no decay on centroids/θ) and temperatures.
import { ArgumentError } from '../errors.js';
import type { GraphModel } from '../graph/model.js';
import type { Tensor } from '../tensor/tensor.js';

const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

/** The LUT-NN nodes (LutLinear, LutConv) of a graph model with the names of their centroids and θ initializers. */
export function lutNodes(model: GraphModel): { name: string; centroids: string; theta: string }[] {
  return model.info.nodes
    .filter((n) => n.node.op === 'LutLinear' || n.node.op === 'LutConv')
    .map((n) => ({ name: n.node.name, centroids: n.node.inputs[1], theta: n.node.inputs[4] }));
}

/** Temperatures t = 1/(softplus(θ)+1) of the LUT-NN layers, by node name. */
export function lutTemperatures(model: GraphModel): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of lutNodes(model)) out[l.name] = 1 / (softplus(model.weight(l.theta).data[0]) + 1);
  return out;
}

/**
 * The parameters of a LUT model split the way the recipes train them: the centroids and the temperature logits θ of
 * the LUT-NN layers, and every other parameter (weights, biases, normalisation, the dense layers).
 */
export function lutParamSets(model: GraphModel): { weights: Tensor[]; centroids: Tensor[]; theta: Tensor[] } {
  const nodes = lutNodes(model);
  if (nodes.length === 0) throw new ArgumentError('finetune: the model has no LUT-NN layers (convert it with `lutnn convert --method lutnn` first)');
  const thetaNames = new Set(nodes.map((l) => l.theta));
  const centroidNames = new Set(nodes.map((l) => l.centroids));
  const out = { weights: [] as Tensor[], centroids: [] as Tensor[], theta: [] as Tensor[] };
  for (const [name, p] of model.namedParameters()) {
    if (thetaNames.has(name)) out.theta.push(p);
    else if (centroidNames.has(name)) out.centroids.push(p);
    else out.weights.push(p);
  }
  return out;
}

/**
 * Adam parameter groups of the official recipe: every weight at `lr` with `weightDecay`, centroids at `lr`
 * without decay, temperature logits θ at `temperatureLr` without decay. With `weights: false` the weight group is
 * left out (LUTBoost's centroid stage: only centroids and θ are trained).
 */
export function lutParamGroups(model: GraphModel, lr: number, temperatureLr: number, weightDecay = 0, opts: { weights?: boolean } = {}): { params: Tensor[]; lr: number; weightDecay: number }[] {
  const { weights, centroids, theta } = lutParamSets(model);
  return [
    ...(opts.weights === false ? [] : [{ params: weights, lr, weightDecay }]),
    { params: centroids, lr, weightDecay: 0 },
    { params: theta, lr: temperatureLr, weightDecay: 0 },
  ].filter((g) => g.params.length > 0);
}
