/**
 * Writes a tiny random-weight BERT encoder (ONNX) plus WordPiece tokenizer files into a directory, laid out the
 * way transformers.js loads a local model: DIR/config.json, tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json, vocab.txt, onnx/model.onnx (fp32) and onnx/model_quantized.onnx (int8 MatMuls through
 * com.microsoft DynamicQuantizeMatMul, like dynamically quantised Hugging Face exports).
 *
 * Why: no model hub is reachable from CI or from these machines, yet the tests must run the real loading and
 * inference path. No Python: the ONNX protobuf is written with protobufjs from the subset of onnx.proto below.
 * The weights are random (seeded), so the vectors have the right shape and cost but NO meaning.
 *
 *   npx tsx scripts/make-tiny-model.ts <dir> [--hidden 32] [--layers 2] [--heads 4]
 */
import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { Rng } from '../src/lib/random';

const ONNX_SUBSET = `
syntax = "proto3";
package onnx;
message AttributeProto {
  string name = 1; float f = 2; int64 i = 3; bytes s = 4; TensorProto t = 5;
  repeated float floats = 7; repeated int64 ints = 8; int32 type = 20;
}
message ValueInfoProto { string name = 1; TypeProto type = 2; }
message NodeProto {
  repeated string input = 1; repeated string output = 2; string name = 3; string op_type = 4;
  repeated AttributeProto attribute = 5; string domain = 7;
}
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
message ModelProto {
  int64 ir_version = 1; string producer_name = 2; GraphProto graph = 7; repeated OperatorSetIdProto opset_import = 8;
}
message GraphProto {
  repeated NodeProto node = 1; string name = 2; repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12;
}
message TensorProto { repeated int64 dims = 1; int32 data_type = 2; string name = 8; bytes raw_data = 9; }
message TensorShapeProto {
  message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; }
  oneof value { Tensor tensor_type = 1; }
}
`;

const FLOAT = 1;
const INT8 = 3;
const INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, INTS: 7 } as const;

export interface TinyModelOptions {
  hidden?: number;
  layers?: number;
  heads?: number;
  intermediate?: number;
  maxPositions?: number;
  seed?: number;
}

/** Words the tiny vocabulary knows whole; everything else falls back to single letters and ##letters. */
const WORDS = `the a an and or but not no never i you he she it we they my your our this that is was are were be
been have has had do does did will would can could should very so too just really all any some more most less
good great excellent love loved like liked happy satisfied perfect fast quick nice best amazing recommend
bad terrible awful worst hate hated angry disappointed broken poor slow late delay delayed lost damaged wrong
refund return cancel leave unsubscribe account order orders ordered delivery delivered shipping package arrived
price prices expensive cheap cheaper discount sale cost money worth value buy bought again next time soon
product products quality service support customer shop store item items size color fit work works worked
day days week weeks month still yet after before with without for from to of in on at by about as thanks thank`
  .split(/\s+/)
  .filter(Boolean);

export function buildVocab(): string[] {
  const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const punct = [...'.,!?;:\'"()-/&$%*+=@#'];
  const letters = [...'abcdefghijklmnopqrstuvwxyz0123456789'];
  const words = [...new Set(WORDS)];
  return [...special, ...punct, ...letters, ...letters.map((l) => `##${l}`), ...words];
}

interface Graph {
  nodes: object[];
  inits: object[];
}

function tensor(name: string, dims: number[], type: number, raw: Uint8Array): object {
  return { name, dims, dataType: type, rawData: raw };
}
const f32 = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
function i64(values: number[]): Uint8Array {
  const b = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => b.writeBigInt64LE(BigInt(v), i * 8));
  return b;
}

/** Builds the graph of make_bert_onnx.py's BERT encoder: embeddings + LN, N × (MHA, LN, GELU FFN, LN). */
function buildGraph(o: Required<TinyModelOptions>, vocabSize: number, quant: boolean): Graph {
  const rng = new Rng(o.seed);
  const g: Graph = { nodes: [], inits: [] };
  const H = o.hidden;
  const HD = H / o.heads;
  const C = (name: string, dims: number[], type: number, raw: Uint8Array) => (g.inits.push(tensor(name, dims, type, raw)), name);
  const cf = (name: string, values: number[], dims: number[] = []) => C(name, dims, FLOAT, f32(Float32Array.from(values)));
  const ci = (name: string, values: number[], dims: number[] = []) => C(name, dims, INT64, i64(values));
  const randn = (n: number, std = 0.02) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
    return a;
  };
  const W = (name: string, rows: number, cols: number) => C(name, [rows, cols], FLOAT, f32(randn(rows * cols)));
  const N = (op: string, inputs: string[], output: string, attrs: object[] = [], domain = '') => {
    g.nodes.push({ opType: op, input: inputs, output: [output], name: output, attribute: attrs, domain });
    return output;
  };
  const aInt = (name: string, i: number) => ({ name, i, type: ATTR.INT });
  const aInts = (name: string, ints: number[]) => ({ name, ints, type: ATTR.INTS });
  const aFloat = (name: string, f: number) => ({ name, f, type: ATTR.FLOAT });
  const ln = (x: string, p: string) =>
    N('LayerNormalization', [x, cf(`${p}.g`, Array(H).fill(1), [H]), cf(`${p}.b`, Array(H).fill(0), [H])], `${p}.out`, [
      aInt('axis', -1),
      aFloat('epsilon', 1e-12),
    ]);
  const linear = (x: string, p: string, din: number, dout: number) => {
    const w = randn(din * dout);
    const bias = cf(`${p}.bias`, Array(dout).fill(0), [dout]);
    if (quant) {
      let max = 0;
      for (const v of w) max = Math.max(max, Math.abs(v));
      const scale = max / 127;
      const q = new Int8Array(w.length);
      for (let i = 0; i < w.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i]! / scale)));
      C(`${p}.wq`, [din, dout], INT8, new Uint8Array(q.buffer));
      cf(`${p}.ws`, [scale]);
      C(`${p}.wz`, [], INT8, new Uint8Array([0]));
      return N('DynamicQuantizeMatMul', [x, `${p}.wq`, `${p}.ws`, `${p}.wz`, bias], `${p}.out`, [], 'com.microsoft');
    }
    C(`${p}.w`, [din, dout], FLOAT, f32(w));
    return N('Add', [N('MatMul', [x, `${p}.w`], `${p}.mm`), bias], `${p}.out`);
  };

  W('emb.word', vocabSize, H);
  W('emb.pos', o.maxPositions, H);
  W('emb.type', 2, H);
  const we = N('Gather', ['emb.word', 'input_ids'], 'we');
  const te = N('Gather', ['emb.type', 'token_type_ids'], 'te');
  const T = N('Gather', [N('Shape', ['input_ids'], 'ids_shape'), ci('c1', [1])], 'T', [aInt('axis', 0)]);
  const pos = N('Range', [ci('c0', [0]), T, ci('cstep', [1])], 'pos_ids');
  const pe = N('Gather', ['emb.pos', pos], 'pe');
  let x = ln(N('Add', [N('Add', [we, te], 'wt'), pe], 'wtp'), 'emb.ln');

  const mf = N('Cast', ['attention_mask'], 'mask_f', [aInt('to', FLOAT)]);
  const inv = N('Sub', [cf('one', [1]), mf], 'mask_inv');
  const madd0 = N('Mul', [inv, cf('neg', [-10000])], 'mask_add0');
  const madd = N('Unsqueeze', [madd0, ci('ax12', [1, 2], [2])], 'mask_add');
  const shpHeads = ci('shp_heads', [0, 0, o.heads, HD], [4]);
  const shpBack = ci('shp_back', [0, 0, H], [3]);
  const sc = cf('sqrt_hd', [1 / Math.sqrt(HD)]);
  for (let l = 0; l < o.layers; l++) {
    const P = `l${l}`;
    const heads = (t: string, n: string, perm: number[]) =>
      N('Transpose', [N('Reshape', [t, shpHeads], `${P}.${n}r`)], `${P}.${n}t`, [aInts('perm', perm)]);
    const q = heads(linear(x, `${P}.q`, H, H), 'q', [0, 2, 1, 3]);
    const k = heads(linear(x, `${P}.k`, H, H), 'k', [0, 2, 3, 1]);
    const v = heads(linear(x, `${P}.v`, H, H), 'v', [0, 2, 1, 3]);
    const s = N('Add', [N('Mul', [N('MatMul', [q, k], `${P}.s`), sc], `${P}.ss`), madd], `${P}.sm`);
    const pr = N('Softmax', [s], `${P}.p`, [aInt('axis', -1)]);
    const ctx = N('Transpose', [N('MatMul', [pr, v], `${P}.ctx`)], `${P}.ctxt`, [aInts('perm', [0, 2, 1, 3])]);
    const ao = linear(N('Reshape', [ctx, shpBack], `${P}.ctxr`), `${P}.o`, H, H);
    x = ln(N('Add', [x, ao], `${P}.res1`), `${P}.ln1`);
    const h = linear(x, `${P}.ff1`, H, o.intermediate);
    const e = N('Erf', [N('Div', [h, cf(`${P}.sqrt2`, [Math.SQRT2])], `${P}.hd`)], `${P}.erf`);
    const gelu = N(
      'Mul',
      [N('Mul', [h, cf(`${P}.half`, [0.5])], `${P}.hh`), N('Add', [e, cf(`${P}.onee`, [1])], `${P}.e1`)],
      `${P}.gelu`,
    );
    x = ln(N('Add', [x, linear(gelu, `${P}.ff2`, o.intermediate, H)], `${P}.res2`), `${P}.ln2`);
  }
  N('Identity', [x], 'last_hidden_state');
  return g;
}

function encodeModel(g: Graph, hidden: number, quant: boolean): Uint8Array {
  const root = protobuf.parse(ONNX_SUBSET, { keepCase: false }).root;
  const Model = root.lookupType('onnx.ModelProto');
  const dims = (names: (string | number)[]) => ({
    dim: names.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
  });
  const io = (name: string, elemType: number, shape: (string | number)[]) => ({
    name,
    type: { tensorType: { elemType, shape: dims(shape) } },
  });
  const msg = Model.fromObject({
    irVersion: 8,
    producerName: 'valuegraph-make-tiny-model',
    opsetImport: [{ domain: '', version: 17 }, ...(quant ? [{ domain: 'com.microsoft', version: 1 }] : [])],
    graph: {
      name: 'tiny_random_bert',
      node: g.nodes,
      initializer: g.inits,
      input: ['input_ids', 'attention_mask', 'token_type_ids'].map((n) => io(n, INT64, ['batch_size', 'sequence_length'])),
      output: [io('last_hidden_state', FLOAT, ['batch_size', 'sequence_length', hidden])],
    },
  });
  return Model.encode(msg).finish();
}

function tokenizerJson(vocab: string[], maxLength: number): object {
  const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: special.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
    _comment: `generated by scripts/make-tiny-model.ts; model_max_length ${maxLength}`,
  };
}

/** Writes the model directory; returns its path. Deterministic for a given seed and shape. */
export function makeTinyModel(dir: string, opts: TinyModelOptions = {}): string {
  const o: Required<TinyModelOptions> = { hidden: 32, layers: 2, heads: 4, intermediate: 64, maxPositions: 128, seed: 1234, ...opts };
  if (o.hidden % o.heads !== 0) throw new Error('hidden must be a multiple of heads');
  const vocab = buildVocab();
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  const json = (name: string, v: unknown) => fs.writeFileSync(path.join(dir, name), `${JSON.stringify(v, null, 1)}\n`);
  json('config.json', {
    architectures: ['BertModel'],
    model_type: 'bert',
    hidden_size: o.hidden,
    num_hidden_layers: o.layers,
    num_attention_heads: o.heads,
    intermediate_size: o.intermediate,
    hidden_act: 'gelu',
    max_position_embeddings: o.maxPositions,
    type_vocab_size: 2,
    vocab_size: vocab.length,
    layer_norm_eps: 1e-12,
    pad_token_id: 0,
    _comment: 'RANDOM weights generated by scripts/make-tiny-model.ts for offline tests; vectors have no meaning',
  });
  json('tokenizer_config.json', {
    clean_up_tokenization_spaces: true,
    cls_token: '[CLS]',
    do_basic_tokenize: true,
    do_lower_case: true,
    mask_token: '[MASK]',
    model_max_length: o.maxPositions,
    pad_token: '[PAD]',
    sep_token: '[SEP]',
    strip_accents: null,
    tokenize_chinese_chars: true,
    tokenizer_class: 'BertTokenizer',
    unk_token: '[UNK]',
  });
  json('special_tokens_map.json', { cls_token: '[CLS]', mask_token: '[MASK]', pad_token: '[PAD]', sep_token: '[SEP]', unk_token: '[UNK]' });
  fs.writeFileSync(path.join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
  json('tokenizer.json', tokenizerJson(vocab, o.maxPositions));
  fs.writeFileSync(path.join(dir, 'onnx', 'model.onnx'), encodeModel(buildGraph(o, vocab.length, false), o.hidden, false));
  fs.writeFileSync(path.join(dir, 'onnx', 'model_quantized.onnx'), encodeModel(buildGraph(o, vocab.length, true), o.hidden, true));
  return dir;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const dir = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
  if (!dir) {
    process.stderr.write('usage: npx tsx scripts/make-tiny-model.ts <dir> [--hidden 32] [--layers 2] [--heads 4]\n');
    process.exit(2);
  }
  const num = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const opts: TinyModelOptions = {};
  for (const [k, flag] of [['hidden', '--hidden'], ['layers', '--layers'], ['heads', '--heads']] as const) {
    const v = num(flag);
    if (v !== undefined) opts[k] = v;
  }
  makeTinyModel(path.resolve(dir), opts);
  process.stdout.write(`tiny random BERT written to ${path.resolve(dir)}\n`);
}
