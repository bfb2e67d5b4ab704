/**
 * Build small ONNX graphs in memory, so that onnxruntime (MLAS kernels, its own thread pool, off the
 * JS thread) serves as Sieve's tensor engine for the heavy linear algebra: projections, covariance
 * products, similarity scores. Also used by tests to make tiny CLIP-shaped models.
 *
 * Only the protobuf fields these graphs need are written (field numbers from onnx/onnx.proto3).
 */

/** ONNX TensorProto.DataType values. */
export const OnnxType = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, double: 11 } as const;
export type OnnxTypeName = keyof typeof OnnxType;

/** A tensor input/output: a name, an element type and a shape (a string is a symbolic dimension). */
export interface ValueSpec {
  name: string;
  type: OnnxTypeName;
  shape: (number | string)[];
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, number | number[] | string | { floats: number[] } | { tensor: InitSpec }>;
}

/** A constant tensor baked into the graph. */
export interface InitSpec {
  name: string;
  type: 'float' | 'int64';
  dims: number[];
  values: ArrayLike<number>;
}

export interface GraphSpec {
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: InitSpec[];
  opset?: number;
}

// --- a minimal protobuf writer -------------------------------------------------------------------
class Pb {
  private parts: number[] = [];
  private chunks: Uint8Array[] = [];

  private flush() {
    if (this.parts.length) {
      this.chunks.push(Uint8Array.from(this.parts));
      this.parts = [];
    }
  }
  private varint(v: number | bigint) {
    let n = BigInt.asUintN(64, BigInt(v));
    while (n >= 0x80n) {
      this.parts.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    this.parts.push(Number(n));
  }
  private key(field: number, wire: number) {
    this.varint((field << 3) | wire);
  }
  int(field: number, v: number) {
    this.key(field, 0);
    this.varint(v);
    return this;
  }
  float(field: number, v: number) {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(...b);
    return this;
  }
  bytes(field: number, b: Uint8Array) {
    this.key(field, 2);
    this.varint(b.byteLength);
    this.flush();
    this.chunks.push(b);
    return this;
  }
  str(field: number, s: string) {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field: number, m: Pb) {
    return this.bytes(field, m.finish());
  }
  packedInts(field: number, vs: ArrayLike<number>) {
    const inner = new Pb();
    for (let i = 0; i < vs.length; i++) inner.varint(vs[i]);
    return this.bytes(field, inner.finish());
  }
  finish(): Uint8Array {
    this.flush();
    const total = this.chunks.reduce((s, c) => s + c.byteLength, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }
}

function valueInfo(v: ValueSpec): Pb {
  const shape = new Pb();
  for (const d of v.shape) shape.msg(1, typeof d === 'number' ? new Pb().int(1, d) : new Pb().str(2, d));
  const tensorType = new Pb().int(1, OnnxType[v.type]).msg(2, shape);
  return new Pb().str(1, v.name).msg(2, new Pb().msg(1, tensorType));
}

function tensorProto(t: InitSpec): Pb {
  const p = new Pb();
  p.packedInts(1, t.dims);
  p.int(2, OnnxType[t.type]);
  p.str(8, t.name);
  if (t.type === 'float') {
    const raw = Float32Array.from(t.values);
    p.bytes(9, new Uint8Array(raw.buffer));
  } else {
    const raw = BigInt64Array.from(Array.from(t.values, (v) => BigInt(v)));
    p.bytes(9, new Uint8Array(raw.buffer));
  }
  return p;
}

function attribute(name: string, v: NonNullable<NodeSpec['attrs']>[string]): Pb {
  const a = new Pb().str(1, name);
  if (typeof v === 'number') return a.int(3, v).int(20, 2); // INT
  if (typeof v === 'string') return a.str(4, v).int(20, 3); // STRING
  if (Array.isArray(v)) return a.packedInts(8, v).int(20, 7); // INTS
  if ('floats' in v) {
    for (const f of v.floats) a.float(7, f);
    return a.int(20, 6); // FLOATS
  }
  return a.msg(5, tensorProto(v.tensor)).int(20, 4); // TENSOR
}

/** Serialise a graph as an ONNX ModelProto (IR version 8, default opset 17). */
export function buildOnnxModel(g: GraphSpec): Uint8Array {
  const graph = new Pb();
  g.nodes.forEach((n, i) => {
    const node = new Pb();
    for (const x of n.inputs) node.str(1, x);
    for (const y of n.outputs) node.str(2, y);
    node.str(3, `${n.op}_${i}`);
    node.str(4, n.op);
    for (const [k, v] of Object.entries(n.attrs ?? {})) node.msg(5, attribute(k, v));
    graph.msg(1, node);
  });
  graph.str(2, 'sieve');
  for (const t of g.initializers ?? []) graph.msg(5, tensorProto(t));
  for (const v of g.inputs) graph.msg(11, valueInfo(v));
  for (const v of g.outputs) graph.msg(12, valueInfo(v));
  const model = new Pb();
  model.int(1, 8); // ir_version
  model.str(2, 'sieve');
  model.msg(7, graph);
  model.msg(8, new Pb().str(1, '').int(2, g.opset ?? 17));
  return model.finish();
}
