// The LUT-NN fine-tuning recipe's pieces: parameter groups (temperature lr, no decay on centroids/θ) and temperatures.
import { ArgumentError } from '../errors.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import { LutConv2d, LutLinear } from './modules.js';

/** Temperatures t = 1/(softplus(θ)+1) of the LUT-NN layers, by layer name. */
export function lutTemperatures(model: Module): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, m] of model.namedModules()) if (m instanceof LutConv2d || m instanceof LutLinear) out[name] = m.temperature;
  return out;
}

/**
 * Adam parameter groups of the official recipe: every weight at `lr` with `weightDecay`, centroids at `lr`
 * without decay, temperature logits θ at `temperatureLr` without decay.
 */
export function lutParamGroups(model: Module, lr: number, temperatureLr: number, weightDecay = 0): { params: Tensor[]; lr: number; weightDecay: number }[] {
  const theta: Tensor[] = [];
  const centroids: Tensor[] = [];
  const rest: Tensor[] = [];
  for (const [name, p] of model.namedParameters()) {
    if (name.endsWith('.theta')) theta.push(p);
    else if (name.endsWith('.centroids')) centroids.push(p);
    else rest.push(p);
  }
  if (theta.length === 0) throw new ArgumentError('finetune: the model has no LUT-NN layers (convert it with `lutnn convert --method lutnn` first)');
  return [
    { params: rest, lr, weightDecay },
    { params: centroids, lr, weightDecay: 0 },
    { params: theta, lr: temperatureLr, weightDecay: 0 },
  ].filter((g) => g.params.length > 0);
}
