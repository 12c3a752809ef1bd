// Reading untrusted ONNX bytes: a structural pre-scan (wire format, nesting, message counts) then protobufjs decoding.
//
// The pre-scan walks the protobuf wire format with protobufjs's Reader against the schema of onnx-proto.ts without
// building anything: a truncated field, a length running past its message, a wire type that cannot occur, or more
// messages than the limits allow is a FormatError naming the file, the byte offset and the field path
// ("graph.node[17].attribute[2]"). Only then does protobufjs decode the model, so the decoded objects are bounded by
// the counts checked here (each message costs a few hundred bytes at most; scalars and bytes are bounded by the file).
import protobuf from 'protobufjs';
import { FormatError } from '../errors.js';
import { onnxMessageType } from './onnx-proto.js';

/** Limits of an ONNX file the import reads (beyond them it is refused before decoding). */
export const ONNX_LIMITS = {
  /** Nodes of the main graph. */
  nodes: 100_000,
  /** Messages of any kind in the whole file (nodes, attributes, tensors, dims, ...). */
  messages: 2_000_000,
  /** Nesting depth of messages (ModelProto → GraphProto → NodeProto → AttributeProto → TensorProto → ... is 6). */
  depth: 16,
} as const;

// ---------------------------------------------------------------- decoded shapes (fields absent in the file read as the proto3 defaults)

export interface OnnxEntry {
  key: string;
  value: string;
}

export interface DecodedTensor {
  name: string;
  dims: number[];
  dataType: number;
  floatData: number[];
  int32Data: number[];
  int64Data: number[];
  doubleData: number[];
  uint64Data: number[];
  rawData: Uint8Array;
  externalData: OnnxEntry[];
  dataLocation: number;
  segment: Uint8Array;
}

export interface DecodedAttribute {
  name: string;
  type: number;
  f: number;
  i: number;
  s: Uint8Array;
  t: DecodedTensor | null;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
}

export interface DecodedNode {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain: string;
  attribute: DecodedAttribute[];
}

export interface DecodedDim {
  dimValue?: number;
  dimParam?: string;
}

export interface DecodedValueInfo {
  name: string;
  type: { tensorType?: { elemType: number; shape: { dim: DecodedDim[] } | null } | null } | null;
}

export interface DecodedGraph {
  node: DecodedNode[];
  name: string;
  initializer: DecodedTensor[];
  input: DecodedValueInfo[];
  output: DecodedValueInfo[];
  sparseInitializer: Uint8Array[];
}

export interface DecodedModel {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  graph: DecodedGraph | null;
  metadataProps: OnnxEntry[];
  functions: Uint8Array[];
  trainingInfo: { initialization: DecodedGraph | null }[];
}

// ---------------------------------------------------------------- pre-scan

interface ScanState {
  file: string;
  reader: protobuf.Reader;
  messages: number;
  nodes: number;
}

const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'group start', 'group end', 'fixed32'];

function fail(s: ScanState, at: number, path: string, what: string): never {
  throw new FormatError(`${s.file}: malformed ONNX protobuf at byte ${at}${path ? ` in ${path}` : ''}: ${what}`);
}

/** Walks one message of `type` from the reader's position to `end`. */
function scanMessage(s: ScanState, type: protobuf.Type, end: number, path: string, depth: number): void {
  const r = s.reader;
  if (depth > ONNX_LIMITS.depth) fail(s, r.pos, path, `messages nested deeper than ${ONNX_LIMITS.depth}`);
  const counts = new Map<number, number>();
  while (r.pos < end) {
    const at = r.pos;
    let tag: number;
    try {
      tag = r.uint32();
    } catch {
      fail(s, at, path, 'truncated field tag');
    }
    const id = tag >>> 3;
    const wire = tag & 7;
    if (id === 0) fail(s, at, path, 'field number 0');
    const field = type.fieldsById[id];
    const k = counts.get(id) ?? 0;
    counts.set(id, k + 1);
    const fieldPath = field ? `${path ? `${path}.` : ''}${field.name}${field.repeated ? `[${k}]` : ''}` : path;
    const sub = field?.resolvedType instanceof protobuf.Type ? field.resolvedType : null;
    if (wire === 3 || wire === 4 || wire > 5) fail(s, at, fieldPath, `wire type ${wire} (${WIRE_NAMES[wire] ?? 'invalid'}) does not occur in ONNX files`);
    try {
      if (sub && wire === 2) {
        const len = r.uint32();
        const subEnd = r.pos + len;
        if (subEnd > end) fail(s, at, fieldPath, `message of ${len} bytes runs past the end of its container (${end - r.pos} bytes left)`);
        if (++s.messages > ONNX_LIMITS.messages) fail(s, at, fieldPath, `more than ${ONNX_LIMITS.messages} messages`);
        if (sub.name === 'NodeProto' && depth === 1 && ++s.nodes > ONNX_LIMITS.nodes) fail(s, at, fieldPath, `more than ${ONNX_LIMITS.nodes} nodes`);
        scanMessage(s, sub, subEnd, fieldPath, depth + 1);
        continue;
      }
      r.skipType(wire);
    } catch (e) {
      if (e instanceof FormatError) throw e;
      fail(s, at, fieldPath, `truncated ${WIRE_NAMES[wire]} value (${(e as Error).message})`);
    }
    if (r.pos > end) fail(s, at, fieldPath, `value runs past the end of its message by ${r.pos - end} bytes`);
  }
}

/**
 * Decodes ONNX bytes (untrusted) into plain decoded messages. Throws FormatError naming `file` for anything that is
 * not a well-formed ModelProto within the limits.
 */
export function decodeOnnx(bytes: Uint8Array, file: string): DecodedModel {
  if (!(bytes instanceof Uint8Array)) throw new FormatError(`${file}: expected the bytes of an ONNX file`);
  if (bytes.length === 0) throw new FormatError(`${file}: empty file, not an ONNX model`);
  const modelType = onnxMessageType('ModelProto');
  const s: ScanState = { file, reader: protobuf.Reader.create(bytes), messages: 0, nodes: 0 };
  // ModelProto is depth 0, its graph 1 (whose nodes are counted), a node 2, ...
  scanMessage(s, modelType, bytes.length, '', 0);
  let msg: protobuf.Message;
  try {
    msg = modelType.decode(bytes);
  } catch (e) {
    // The pre-scan accepts only what protobufjs can decode; this is a second line of defence.
    throw new FormatError(`${file}: not an ONNX model (${(e as Error).message})`);
  }
  const m = msg as unknown as DecodedModel;
  if (!m.graph) throw new FormatError(`${file}: no graph in the ONNX model (is this an ONNX file?)`);
  return m;
}
