# The PyTorch models of the ONNX import fixtures, written the way users write them (see make_onnx_fixtures.py).
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class HandLayerNorm(nn.Module):
    """LayerNorm written out as older code does (the original BERT/ConvNeXt style): exports decomposed."""

    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x):
        u = x.mean(-1, keepdim=True)
        s = (x - u).pow(2).mean(-1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight * x + self.bias


def make_mlp():
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 32), nn.BatchNorm1d(32), nn.ReLU(),
        nn.Linear(32, 32), nn.ReLU(),
        nn.Dropout(0.1),
        nn.Linear(32, 10),
    )


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = BasicBlock(16, 16, 1)   # [N,16,28,28]
        self.layer2 = BasicBlock(16, 32, 2)   # [N,32,14,14]
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        x = torch.flatten(self.avgpool(x), 1)  # [N,32]
        return self.fc(x)


def conv_bn(cin, cout, k, stride=1, groups=1, act=None):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class DepthwiseSeparable(nn.Module):
    def __init__(self, cin, cout, stride, act):
        super().__init__()
        self.dw = conv_bn(cin, cin, 3, stride, groups=cin, act=act)
        self.pw = conv_bn(cin, cout, 1, act=act)

    def forward(self, x):
        return self.pw(self.dw(x))


class InvertedResidual(nn.Module):
    def __init__(self, c, expand, act):
        super().__init__()
        h = c * expand
        self.block = nn.Sequential(conv_bn(c, h, 1, act=act), conv_bn(h, h, 3, groups=h, act=act), conv_bn(h, c, 1))

    def forward(self, x):
        return x + self.block(x)


class MobileNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(1, 16, 3, act=nn.Hardswish),                # [N,16,28,28]
            DepthwiseSeparable(16, 32, 1, nn.ReLU6),             # [N,32,28,28]
            DepthwiseSeparable(32, 64, 2, nn.ReLU6),             # [N,64,14,14]
            InvertedResidual(64, 2, nn.Hardswish),
            DepthwiseSeparable(64, 96, 2, nn.Hardswish),         # [N,96,7,7]
        )
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(96, 10))

    def forward(self, x):
        x = self.features(x).mean(dim=(2, 3))  # [N,96]
        return self.classifier(x)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        h = self.heads
        q = self.q(x).reshape(B, N, h, C // h).transpose(1, 2)  # [B,h,N,d]
        k = self.k(x).reshape(B, N, h, C // h).transpose(1, 2)
        v = self.v(x).reshape(B, N, h, C // h).transpose(1, 2)
        attn = (q @ k.transpose(-2, -1)) * self.scale             # [B,h,N,N]
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)          # [B,N,C]
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(1, dim, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # [N,C,4,4] -> [N,16,C]


class ViT(nn.Module):
    def __init__(self, dim=32, heads=4, hidden=64, depth=2, patch=7, classes=10, torch_layers=False):
        super().__init__()
        n = (28 // patch) ** 2
        self.patch_embed = PatchEmbed(patch, dim)
        self.pos_embed = nn.Parameter(0.1 * torch.randn(1, n, dim))
        if torch_layers:
            layer = nn.TransformerEncoderLayer(dim, heads, hidden, dropout=0.1, activation='gelu', batch_first=True, norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, depth)  # deep copies of `layer`: identical weights
            with torch.no_grad():  # as after training: layers differ (identical ones export as shared initializers + Identity)
                for p in self.blocks.layers[1:].parameters():
                    p.add_(0.05 * torch.randn(p.shape))
        else:
            self.blocks = nn.Sequential(*[Block(dim, heads, hidden) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x) + self.pos_embed  # [N,16,C]
        x = self.norm(self.blocks(x))
        return self.head(x.mean(dim=1))


class BertEmbeddings(nn.Module):
    def __init__(self, vocab, hidden, max_pos, type_vocab):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden, padding_idx=0)
        self.position_embeddings = nn.Embedding(max_pos, hidden)
        self.token_type_embeddings = nn.Embedding(type_vocab, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(0.1)
        self.register_buffer('position_ids', torch.arange(max_pos).expand((1, -1)))

    def forward(self, input_ids):
        seq_len = input_ids.size(1)
        position_ids = self.position_ids[:, :seq_len]
        token_type_ids = torch.zeros_like(input_ids)
        e = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids) + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(e))


class BertSelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.head_size = hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(0.1)

    def split_heads(self, x):
        x = x.view(x.size()[:-1] + (self.heads, self.head_size))
        return x.permute(0, 2, 1, 3)  # [B,h,T,d]

    def forward(self, h, ext_mask):
        q = self.split_heads(self.query(h))
        k = self.split_heads(self.key(h))
        v = self.split_heads(self.value(h))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_size)  # [B,h,T,T]
        scores = scores + ext_mask
        probs = self.dropout(F.softmax(scores, dim=-1))
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()  # [B,T,h,d]
        return ctx.view(ctx.size()[:-2] + (self.heads * self.head_size,))


class BertLayer(nn.Module):
    def __init__(self, hidden, heads, ffn):
        super().__init__()
        self.attention = BertSelfAttention(hidden, heads)
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.intermediate = nn.Linear(hidden, ffn)
        self.output = nn.Linear(ffn, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(0.1)

    def forward(self, h, ext_mask):
        a = self.attn_norm(self.dropout(self.attn_out(self.attention(h, ext_mask))) + h)
        f = self.output(F.gelu(self.intermediate(a)))
        return self.out_norm(self.dropout(f) + a)


class Bert(nn.Module):
    def __init__(self, vocab=100, hidden=32, heads=4, ffn=64, layers=2, max_pos=32, classes=3):
        super().__init__()
        self.embeddings = BertEmbeddings(vocab, hidden, max_pos, 2)
        self.layers = nn.ModuleList([BertLayer(hidden, heads, ffn) for _ in range(layers)])
        self.pooler = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Linear(hidden, classes)

    def forward(self, input_ids, attention_mask):
        ext = attention_mask[:, None, None, :].to(dtype=torch.float32)  # [B,1,1,T]
        ext = (1.0 - ext) * -10000.0
        h = self.embeddings(input_ids)
        for layer in self.layers:
            h = layer(h, ext)
        pooled = torch.tanh(self.pooler(h[:, 0]))  # first token
        return self.classifier(self.dropout(pooled))


class GeluTanhLayerNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(32, 64)
        self.act = nn.GELU(approximate='tanh')
        self.norm = nn.LayerNorm(64)
        self.fc2 = nn.Linear(64, 32)
        self.hand_norm = HandLayerNorm(32, eps=1e-6)
        self.head = nn.Linear(32, 5)

    def forward(self, x):  # [N,16,32]
        x = self.norm(self.act(self.fc1(x)))
        x = self.hand_norm(self.fc2(x))
        return self.head(x.mean(dim=1))


class FmnistCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.dropout = nn.Dropout(0.25)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))  # [N,32,14,14]
        x = self.pool(F.relu(self.bn2(self.conv2(x))))  # [N,64,7,7]
        x = torch.flatten(x, 1)                         # [N,3136]
        return self.fc2(self.dropout(F.relu(self.fc1(x))))
