# A minimal protobuf reader/writer for ONNX files (the `onnx` Python package is not in Debian): op types, opset imports, initializer rewrites.
"""Used by make_onnx_fixtures.py. Field numbers are those of onnx/onnx.proto."""
from collections import Counter

import numpy as np


def _read_varint(buf, i):
    shift = 0
    value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def pb_fields(buf):
    """(field number, wire type, value) of one message: int for varints, bytes otherwise."""
    i = 0
    n = len(buf)
    while i < n:
        key, i = _read_varint(buf, i)
        fn, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _read_varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            ln, i = _read_varint(buf, i)
            v, i = buf[i:i + ln], i + ln
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f'protobuf: wire type {wt} at byte {i}')
        yield fn, wt, v


def _varint(v):
    if v < 0:
        v += 1 << 64  # int64 as two's complement, ten bytes
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_field(fn, wt, v):
    key = _varint((fn << 3) | wt)
    if wt == 0:
        return key + _varint(v)
    if wt == 2:
        return key + _varint(len(v)) + bytes(v)
    return key + bytes(v)  # fixed32 / fixed64


def onnx_summary(model_bytes):
    """Opset imports, op-type counts (domain-qualified when not the default) and initializer count."""
    opsets = {}
    graph = None
    for fn, _, v in pb_fields(model_bytes):
        if fn == 8:  # ModelProto.opset_import
            f = {k: val for k, _, val in pb_fields(v)}
            opsets[f.get(1, b'').decode()] = f.get(2)
        elif fn == 7:  # ModelProto.graph
            graph = v
    ops = Counter()
    n_init = 0
    for fn, _, v in pb_fields(graph):
        if fn == 1:  # GraphProto.node
            f = {}
            for k, _, val in pb_fields(v):
                f.setdefault(k, val)
            domain = f.get(7, b'').decode()
            op = f[4].decode()
            ops[op if domain in ('', 'ai.onnx') else f'{domain}:{op}'] += 1
        elif fn == 5:
            n_init += 1
    return opsets, ops, n_init


def rewrite_initializers(model_bytes, mode, data_name=None):
    """The model with each initializer's raw_data moved to an external file ('external', returns the data
    bytes too) or to the typed repeated field ('typed': float_data for FLOAT, int64_data for INT64)."""
    data = bytearray()
    moved = 0

    def tensor(buf):
        nonlocal moved
        fields = list(pb_fields(buf))
        dtype = next((v for fn, _, v in fields if fn == 2), 0)
        raw = next((v for fn, _, v in fields if fn == 9), None)
        if raw is None:
            return buf
        keep = b''.join(pb_field(fn, wt, v) for fn, wt, v in fields if fn != 9)
        if mode == 'external':
            while len(data) % 64:
                data.append(0)
            offset = len(data)
            data.extend(raw)
            moved += 1
            entries = [('location', data_name), ('offset', str(offset)), ('length', str(len(raw)))]
            ext = b''.join(pb_field(13, 2, pb_field(1, 2, k.encode()) + pb_field(2, 2, v.encode())) for k, v in entries)
            return keep + ext + pb_field(14, 0, 1)  # data_location = EXTERNAL
        if dtype == 1:  # FLOAT: packed float_data has the same little-endian bytes as raw_data
            moved += 1
            return keep + pb_field(4, 2, raw)
        if dtype == 7:  # INT64: packed varints
            moved += 1
            vals = np.frombuffer(raw, dtype='<i8')
            return keep + pb_field(7, 2, b''.join(_varint(int(x)) for x in vals))
        return buf

    out = bytearray()
    for fn, wt, v in pb_fields(model_bytes):
        if fn == 7:
            g = bytearray()
            for gfn, gwt, gv in pb_fields(v):
                g += pb_field(gfn, gwt, tensor(gv) if gfn == 5 else gv)
            v = bytes(g)
        out += pb_field(fn, wt, v)
    assert moved > 0
    return bytes(out), bytes(data), moved
