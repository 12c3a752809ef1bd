// Protobuf encoding of the ONNX subset lutnn writes (ModelProto, GraphProto, NodeProto, TensorProto, ...), field numbers from onnx.proto.
import protobuf from 'protobufjs';
import { ArgumentError, FormatError } from '../errors.js';

/** ONNX TensorProto.DataType values lutnn uses. */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  DOUBLE: 11,
} as const;
export type OnnxDataTypeCode = (typeof OnnxDataType)[keyof typeof OnnxDataType];

/** AttributeProto.AttributeType values. */
export const OnnxAttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  FLOATS: 6,
  INTS: 7,
} as const;

// Field numbers as in onnx/onnx.proto (IR version 8+). Only what lutnn writes or reads back is declared; unknown
// fields in files read back are skipped by protobufjs.
const ONNX_JSON = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            refAttrName: { type: 'string', id: 21 },
            docString: { type: 'string', id: 13 },
            type: { type: 'int32', id: 20 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            strings: { rule: 'repeated', type: 'bytes', id: 9 },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: 'string', id: 1 },
            type: { type: 'TypeProto', id: 2 },
            docString: { type: 'string', id: 3 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            domain: { type: 'string', id: 7 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            docString: { type: 'string', id: 6 },
          },
        },
        StringStringEntryProto: {
          fields: {
            key: { type: 'string', id: 1 },
            value: { type: 'string', id: 2 },
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            modelVersion: { type: 'int64', id: 5 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            metadataProps: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
            trainingInfo: { rule: 'repeated', type: 'TrainingInfoProto', id: 20 },
            // Model-local functions, kept as bytes: only counted (a node calling one is reported as unsupported).
            functions: { rule: 'repeated', type: 'bytes', id: 25 },
          },
        },
        TrainingInfoProto: {
          fields: {
            initialization: { type: 'GraphProto', id: 1 },
            algorithm: { type: 'GraphProto', id: 2 },
            initializationBinding: { rule: 'repeated', type: 'StringStringEntryProto', id: 3 },
            updateBinding: { rule: 'repeated', type: 'StringStringEntryProto', id: 4 },
          },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            docString: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
            valueInfo: { rule: 'repeated', type: 'ValueInfoProto', id: 13 },
            // Kept as bytes (not decoded): sparse initializers are refused by the import.
            sparseInitializer: { rule: 'repeated', type: 'bytes', id: 15 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            floatData: { rule: 'repeated', type: 'float', id: 4 },
            int32Data: { rule: 'repeated', type: 'int32', id: 5 },
            int64Data: { rule: 'repeated', type: 'int64', id: 7 },
            name: { type: 'string', id: 8 },
            docString: { type: 'string', id: 12 },
            rawData: { type: 'bytes', id: 9 },
            doubleData: { rule: 'repeated', type: 'double', id: 10 },
            uint64Data: { rule: 'repeated', type: 'uint64', id: 11 },
            externalData: { rule: 'repeated', type: 'StringStringEntryProto', id: 13 },
            dataLocation: { type: 'int32', id: 14 },
            // Read as bytes (not decoded): a chunked tensor is refused by the import.
            segment: { type: 'bytes', id: 3 },
          },
        },
        TensorShapeProto: {
          fields: {
            dim: { rule: 'repeated', type: 'Dimension', id: 1 },
          },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: {
                dimValue: { type: 'int64', id: 1 },
                dimParam: { type: 'string', id: 2 },
                denotation: { type: 'string', id: 3 },
              },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensorType'] } },
          fields: {
            tensorType: { type: 'Tensor', id: 1 },
            denotation: { type: 'string', id: 6 },
          },
          nested: {
            Tensor: {
              fields: {
                elemType: { type: 'int32', id: 1 },
                shape: { type: 'TensorShapeProto', id: 2 },
              },
            },
          },
        },
        OperatorSetIdProto: {
          fields: {
            domain: { type: 'string', id: 1 },
            version: { type: 'int64', id: 2 },
          },
        },
      },
    },
  },
};

// int64 fields decode to JS numbers, not Long objects (values beyond 2^53 round, which the import clamps anyway): a
// number costs 8 bytes, a Long object several times that, and a hostile file of packed int64s must not multiply
// its size in memory.
(protobuf.util as { Long: unknown }).Long = null;
protobuf.configure();

const root = protobuf.Root.fromJSON(ONNX_JSON);
const ModelProtoType = root.lookupType('onnx.ModelProto');

/** The protobufjs type of an ONNX message ('ModelProto', 'NodeProto', ...), for readers of the format (onnx-decode.ts). */
export function onnxMessageType(name: string): protobuf.Type {
  return root.lookupType(`onnx.${name}`);
}

// ---------------------------------------------------------------- plain-object shapes (protobufjs camelCase names)

export interface TensorProto {
  name: string;
  dims: number[];
  dataType: OnnxDataTypeCode;
  /** Little-endian element bytes. */
  rawData: Uint8Array;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: number[];
}

export interface NodeProto {
  name: string;
  opType: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
  domain?: string;
  docString?: string;
}

/** A dimension: a fixed size or a symbolic name (dynamic). */
export type Dim = number | string;

export interface ValueInfoProto {
  name: string;
  type: { tensorType: { elemType: OnnxDataTypeCode; shape: { dim: ({ dimValue: number } | { dimParam: string })[] } } };
  docString?: string;
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  docString?: string;
}

export interface ModelProto {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  docString?: string;
  graph: GraphProto;
  metadataProps: { key: string; value: string }[];
  /** TrainingInfoProto entries: lutnn stores LUT layers' training tensors in an initialization graph (README, lutnn export). */
  trainingInfo?: { initialization: GraphProto }[];
}

// ---------------------------------------------------------------- builders

/** Attribute value kinds: number → INT (or FLOAT with `float`), number[] → INTS, string → STRING, TensorProto → TENSOR. */
export type AttrValue = number | number[] | string | TensorProto | { float: number } | { floats: number[] };

export function attribute(name: string, v: AttrValue): AttributeProto {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new ArgumentError(`onnx attribute '${name}': integer expected, got ${v} (use { float } for FLOAT)`);
    return { name, type: OnnxAttributeType.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: OnnxAttributeType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) {
    for (const x of v) if (!Number.isInteger(x)) throw new ArgumentError(`onnx attribute '${name}': integers expected, got ${JSON.stringify(v)}`);
    return { name, type: OnnxAttributeType.INTS, ints: [...v] };
  }
  if ('float' in v) return { name, type: OnnxAttributeType.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: OnnxAttributeType.FLOATS, floats: [...v.floats] };
  return { name, type: OnnxAttributeType.TENSOR, t: v };
}

type TensorData = Float32Array | Float64Array | Int8Array | Uint8Array | Int32Array | BigInt64Array | number[];

const BYTES: Record<OnnxDataTypeCode, number> = { 1: 4, 2: 1, 3: 1, 6: 4, 7: 8, 11: 8 };

/** A TensorProto with raw little-endian data; `data` is converted to the element type (int64 from integers). */
export function tensorProto(name: string, dataType: OnnxDataTypeCode, dims: readonly number[], data: TensorData): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new ArgumentError(`onnx tensor '${name}': ${data.length} values for dims [${dims.join(',')}] (${count} expected)`);
  }
  const buf = new ArrayBuffer(count * BYTES[dataType]);
  const dv = new DataView(buf);
  for (let i = 0; i < count; i++) {
    const v = data[i];
    switch (dataType) {
      case OnnxDataType.FLOAT:
        dv.setFloat32(i * 4, Number(v), true);
        break;
      case OnnxDataType.DOUBLE:
        dv.setFloat64(i * 8, Number(v), true);
        break;
      case OnnxDataType.INT8:
        dv.setInt8(i, Number(v));
        break;
      case OnnxDataType.UINT8:
        dv.setUint8(i, Number(v));
        break;
      case OnnxDataType.INT32:
        dv.setInt32(i * 4, Number(v), true);
        break;
      case OnnxDataType.INT64:
        dv.setBigInt64(i * 8, typeof v === 'bigint' ? v : BigInt(v), true);
        break;
    }
  }
  return { name, dims: [...dims], dataType, rawData: new Uint8Array(buf) };
}

/** A tensor value-info: element type and shape (numbers fixed, strings symbolic). */
export function valueInfo(name: string, elemType: OnnxDataTypeCode, shape: readonly Dim[]): ValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

// ---------------------------------------------------------------- encode / decode

/** Serialise a model to ONNX protobuf bytes. */
export function encodeModel(model: ModelProto): Uint8Array {
  const err = ModelProtoType.verify(model);
  if (err) throw new ArgumentError(`onnx encode: invalid model: ${err}`);
  return ModelProtoType.encode(ModelProtoType.fromObject(model)).finish();
}

/** A decoded ONNX model as a plain object (int64 as numbers, bytes as Uint8Array); for checks and tests. */
export function decodeModel(bytes: Uint8Array, nameForErrors = 'model.onnx'): ModelProto {
  let msg: protobuf.Message;
  try {
    msg = ModelProtoType.decode(bytes);
  } catch (e) {
    throw new FormatError(`${nameForErrors}: not an ONNX model (${(e as Error).message})`);
  }
  return ModelProtoType.toObject(msg, { longs: Number, bytes: Uint8Array as unknown as typeof String, defaults: false, arrays: true }) as unknown as ModelProto;
}
