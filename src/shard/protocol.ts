/**
 * The shard protocol: binary WebSocket messages between a coordinator and `lightmoe shard`. Every
 * message is one frame: a 16-byte header (little-endian) and a body whose length the header states.
 *
 *   u32 magic 'LMSH' · u8 version · u8 type · u16 zero · u32 request id · u32 body bytes
 *
 * hello     (client, first frame)  body: UTF-8 JSON { token }
 * welcome   (server)               body: UTF-8 JSON ShardInfo
 * forward   (client)               body: u32 sequence · u32 position before · u8 want · u8 input kind ·
 *                                        u16 zero · u32 tokens · ids (u32 each) or hidden rows (f32)
 * result    (server)               body: f32 values (hidden rows, logits) or one u32 token
 * reset     (client)               body: u32 sequence: forget it (its caches are freed)
 * error     (server)               body: u8 fatal · UTF-8 message; fatal: the socket closes after it
 *
 * decodeFrame checks everything a peer controls (magic, version, type, lengths, counts) before a
 * byte of the body is read, and throws ProtocolError naming what is wrong.
 */

export const MAGIC = 0x48534d4c; // 'LMSH' read as a little-endian u32
export const VERSION = 1;
export const HEADER_BYTES = 16;
/** Bytes of a forward body before its payload. */
export const FORWARD_HEAD_BYTES = 16;

export const FrameType = { hello: 1, welcome: 2, forward: 3, result: 4, reset: 5, error: 6 } as const;
export type FrameTypeName = keyof typeof FrameType;

/** What a forward asks for, as its want byte. */
export const WANTS = ['hidden', 'last', 'all', 'none', 'token'] as const;
export type Want = (typeof WANTS)[number];

/** What the server says of itself after a hello. */
export interface ShardInfo {
  /** Layers from..to-1 of the model. */
  layers: { from: number; to: number };
  /** Of the model's config: a coordinator refuses a shard of another model. */
  model: { numLayers: number; hiddenSize: number; vocabSize: number; fingerprint: string };
  /** Most tokens in one forward frame. */
  maxTokens: number;
  /** Most bytes of one frame the server accepts. */
  maxFrameBytes: number;
}

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export type Frame =
  | { type: 'hello'; id: number; token: string }
  | { type: 'welcome'; id: number; info: ShardInfo }
  | { type: 'forward'; id: number; seq: number; position: number; want: Want; input: { ids: Uint32Array } | { hidden: Float32Array }; /** hidden rows (tokens) */ rows?: number }
  | { type: 'result'; id: number; values: Float32Array | null; token: number | null }
  | { type: 'reset'; id: number; seq: number }
  | { type: 'error'; id: number; fatal: boolean; message: string };

const utf8 = new TextEncoder();

function frame(type: number, id: number, body: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(HEADER_BYTES + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC, true);
  v.setUint8(4, VERSION);
  v.setUint8(5, type);
  v.setUint32(8, id, true);
  v.setUint32(12, body.length, true);
  out.set(body, HEADER_BYTES);
  return out;
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function encodeFrame(f: Frame): Uint8Array<ArrayBuffer> {
  switch (f.type) {
    case 'hello':
      return frame(FrameType.hello, f.id, utf8.encode(JSON.stringify({ token: f.token })));
    case 'welcome':
      return frame(FrameType.welcome, f.id, utf8.encode(JSON.stringify(f.info)));
    case 'forward': {
      const payload = 'ids' in f.input ? f.input.ids : f.input.hidden;
      const hidden = !('ids' in f.input);
      const body = new Uint8Array(FORWARD_HEAD_BYTES + payload.byteLength);
      const v = new DataView(body.buffer);
      v.setUint32(0, f.seq, true);
      v.setUint32(4, f.position, true);
      v.setUint8(8, WANTS.indexOf(f.want));
      v.setUint8(9, hidden ? 1 : 0);
      // The row count rides along for hidden rows too: the server checks it against its own hidden size.
      if (hidden && !Number.isSafeInteger(f.rows)) throw new RangeError('encodeFrame: a forward frame of hidden rows needs their count (rows)');
      v.setUint32(12, hidden ? f.rows! : (f.input as { ids: Uint32Array }).ids.length, true);
      body.set(bytesOf(payload), FORWARD_HEAD_BYTES);
      return frame(FrameType.forward, f.id, body);
    }
    case 'result': {
      if (f.token !== null) {
        const body = new Uint8Array(4);
        new DataView(body.buffer).setUint32(0, f.token, true);
        return frame(FrameType.result, f.id, body);
      }
      return frame(FrameType.result, f.id, f.values ? bytesOf(f.values) : new Uint8Array(0));
    }
    case 'reset': {
      const body = new Uint8Array(4);
      new DataView(body.buffer).setUint32(0, f.seq, true);
      return frame(FrameType.reset, f.id, body);
    }
    case 'error': {
      const msg = utf8.encode(f.message);
      const body = new Uint8Array(1 + msg.length);
      body[0] = f.fatal ? 1 : 0;
      body.set(msg, 1);
      return frame(FrameType.error, f.id, body);
    }
  }
}

/** Hidden rows of a forward frame carry tokens × hiddenSize floats: the receiver states hiddenSize. */
export interface DecodeLimits {
  hiddenSize?: number;
  maxTokens?: number;
  /** A result of this request holds a token (true) or floats. */
  resultIsToken?: (id: number) => boolean;
}

function json(body: Uint8Array, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    throw new ProtocolError(`${what} frame: the body is not UTF-8 JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolError(`${what} frame: the body is not a JSON object`);
  return v as Record<string, unknown>;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function shardInfo(v: Record<string, unknown>): ShardInfo {
  const layers = v.layers as Record<string, unknown> | undefined;
  const model = v.model as Record<string, unknown> | undefined;
  if (!layers || !isCount(layers.from) || !isCount(layers.to) || layers.to <= layers.from) throw new ProtocolError('welcome frame: layers is not a range');
  if (!model || !isCount(model.numLayers) || !isCount(model.hiddenSize) || !isCount(model.vocabSize) || typeof model.fingerprint !== 'string')
    throw new ProtocolError('welcome frame: model is not { numLayers, hiddenSize, vocabSize, fingerprint }');
  if (!isCount(v.maxTokens) || v.maxTokens < 1 || !isCount(v.maxFrameBytes)) throw new ProtocolError('welcome frame: maxTokens or maxFrameBytes is missing');
  return v as unknown as ShardInfo;
}

/** Parses one message; anything malformed throws ProtocolError (no byte past the message is read). */
export function decodeFrame(data: ArrayBuffer | Uint8Array, limits: DecodeLimits = {}): Frame {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length < HEADER_BYTES) throw new ProtocolError(`a frame of ${bytes.length} bytes is shorter than its ${HEADER_BYTES}-byte header`);
  const h = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (h.getUint32(0, true) !== MAGIC) throw new ProtocolError('not a lightmoe shard frame (bad magic)');
  const version = h.getUint8(4);
  if (version !== VERSION) throw new ProtocolError(`protocol version ${version}, this side speaks ${VERSION}`);
  const type = h.getUint8(5);
  if (h.getUint16(6, true) !== 0) throw new ProtocolError('reserved header bytes are not zero');
  const id = h.getUint32(8, true);
  const length = h.getUint32(12, true);
  if (length !== bytes.length - HEADER_BYTES) throw new ProtocolError(`the header says ${length} body bytes, the frame has ${bytes.length - HEADER_BYTES}`);
  const body = bytes.subarray(HEADER_BYTES);
  const b = new DataView(body.buffer, body.byteOffset, body.length);
  switch (type) {
    case FrameType.hello: {
      const v = json(body, 'hello');
      if (typeof v.token !== 'string') throw new ProtocolError('hello frame: token is not a string');
      return { type: 'hello', id, token: v.token };
    }
    case FrameType.welcome:
      return { type: 'welcome', id, info: shardInfo(json(body, 'welcome')) };
    case FrameType.forward: {
      if (body.length < FORWARD_HEAD_BYTES) throw new ProtocolError(`forward frame: ${body.length} body bytes, fewer than its ${FORWARD_HEAD_BYTES}-byte head`);
      const want = WANTS[b.getUint8(8)];
      if (!want) throw new ProtocolError(`forward frame: unknown want ${b.getUint8(8)}`);
      const kind = b.getUint8(9);
      if (kind > 1) throw new ProtocolError(`forward frame: unknown input kind ${kind}`);
      const payload = body.length - FORWARD_HEAD_BYTES;
      if (payload % 4 !== 0) throw new ProtocolError(`forward frame: a payload of ${payload} bytes is not 4-byte words`);
      if (b.getUint16(10, true) !== 0) throw new ProtocolError('forward frame: reserved bytes are not zero');
      const tokens = b.getUint32(12, true);
      if (kind === 0) {
        if (tokens * 4 !== payload) throw new ProtocolError(`forward frame: ${tokens} token ids need ${tokens * 4} bytes, the payload has ${payload}`);
      } else {
        const H = limits.hiddenSize;
        if (!H) throw new ProtocolError('forward frame: hidden rows where none are expected');
        if (payload % (4 * H) !== 0) throw new ProtocolError(`forward frame: ${payload} bytes of hidden states are not rows of ${H} floats`);
        if (tokens * 4 * H !== payload) throw new ProtocolError(`forward frame: ${tokens} rows of ${H} floats need ${tokens * 4 * H} bytes, the payload has ${payload}`);
      }
      if (tokens === 0) throw new ProtocolError('forward frame: no tokens');
      if (limits.maxTokens !== undefined && tokens > limits.maxTokens) throw new ProtocolError(`forward frame: ${tokens} tokens, more than the ${limits.maxTokens} of one frame`);
      // Copied out: the payload sits at offset 32 of the message, and typed arrays need aligned offsets.
      const words = body.slice(FORWARD_HEAD_BYTES).buffer;
      return {
        type: 'forward',
        id,
        seq: b.getUint32(0, true),
        position: b.getUint32(4, true),
        want,
        input: kind === 0 ? { ids: new Uint32Array(words) } : { hidden: new Float32Array(words) },
        ...(kind === 1 ? { rows: tokens } : {}),
      };
    }
    case FrameType.result: {
      if (limits.resultIsToken?.(id)) {
        if (body.length !== 4) throw new ProtocolError(`result frame: a token is 4 bytes, the body has ${body.length}`);
        return { type: 'result', id, values: null, token: b.getUint32(0, true) };
      }
      if (body.length % 4 !== 0) throw new ProtocolError(`result frame: ${body.length} bytes are not f32 values`);
      return { type: 'result', id, values: new Float32Array(body.slice().buffer), token: null };
    }
    case FrameType.reset:
      if (body.length !== 4) throw new ProtocolError(`reset frame: the body is ${body.length} bytes, not 4`);
      return { type: 'reset', id, seq: b.getUint32(0, true) };
    case FrameType.error: {
      if (body.length < 1) throw new ProtocolError('error frame: empty body');
      return { type: 'error', id, fatal: body[0] !== 0, message: new TextDecoder().decode(body.subarray(1)) };
    }
    default:
      throw new ProtocolError(`unknown frame type ${type}`);
  }
}

/**
 * A short digest of what makes two loads the same model (every config field but the weight format):
 * FNV-1a over the config's JSON with sorted keys.
 */
export function configFingerprint(config: object): string {
  const { quantization: _q, ...rest } = config as Record<string, unknown>;
  const text = JSON.stringify(rest, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v));
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}
