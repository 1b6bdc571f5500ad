/**
 * The shard server against hostile and broken clients: every bad frame gets an error frame (or, over
 * the size limit, ws's 1009 close) and a closed socket, and the server keeps serving the next client.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openCheckpoint } from '../model/checkpoint';
import { Model } from '../engine/model';
import { nodeGpuDevice } from './gpu';
import { nodeSource } from './source';
import { startShardServer, type ShardServer } from './shardServer';
import { decodeFrame, encodeFrame, HEADER_BYTES, type Frame } from '../shard/protocol';

const shared = path.resolve(fileURLToPath(new URL('../..', import.meta.url)), '../shared');
const TOKEN = 'the right token';

let server: ShardServer;
let model: Model;
let whole: Model;
let H: number;

beforeAll(async () => {
  const ckpt = await openCheckpoint(nodeSource(path.join(shared, 'models/stories260k')));
  H = ckpt.config.hiddenSize;
  model = await Model.fromCheckpoint(ckpt, await nodeGpuDevice(), { layers: { from: 2, to: ckpt.config.numLayers }, prefillChunk: 8 });
  whole = await Model.fromCheckpoint(ckpt, await nodeGpuDevice(), { layers: { from: 0, to: 2 } });
  server = await startShardServer({ model, token: TOKEN, allowOrigins: ['http://allowed.example'], helloTimeoutMs: 1500 });
});
afterAll(async () => {
  await server.close();
  model.destroy();
  whole.destroy();
});

/** A raw client: frames and the close it ends with. */
class Client {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(
    readonly ws: WebSocket,
    tokenIds = new Set<number>(),
  ) {
    ws.binaryType = 'arraybuffer';
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (d) => {
      this.frames.push(decodeFrame(d as ArrayBuffer, { resultIsToken: (id) => tokenIds.has(id) }));
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  static async open(headers: Record<string, string> = {}): Promise<Client> {
    const c = new Client(new WebSocket(server.url, { headers }));
    await c.opened;
    return c;
  }

  static async hello(): Promise<Client> {
    const c = await Client.open();
    c.send({ type: 'hello', id: 1, token: TOKEN });
    expect((await c.next()).type).toBe('welcome');
    return c;
  }

  send(f: Frame): void {
    // Hidden rows carry their count (a ragged payload counts as one row: the server refuses its length).
    if (f.type === 'forward' && 'hidden' in f.input && f.rows === undefined) f = { ...f, rows: Math.max(1, Math.floor(f.input.hidden.length / H)) };
    this.ws.send(encodeFrame(f));
  }

  async next(): Promise<Frame> {
    while (!this.frames.length) await new Promise<void>((r) => this.waiters.push(r));
    return this.frames.shift()!;
  }
}

/** Hidden rows of `ids` after layers 0-1 (what a coordinator would send this shard). */
async function hiddenOf(ids: number[]): Promise<Float32Array> {
  whole.reset();
  return whole.forward(ids, 'hidden');
}

/** A good client still gets logits of the right size: the server survived whatever came before. */
async function serves(): Promise<void> {
  const c = await Client.hello();
  c.send({ type: 'forward', id: 2, seq: 1, position: 0, want: 'last', input: { hidden: await hiddenOf([1, 2, 3]) } });
  const r = await c.next();
  expect(r.type).toBe('result');
  expect((r as { values: Float32Array }).values.length).toBe(model.config.vocabSize);
  c.ws.close();
}

async function refused(c: Client, message: RegExp): Promise<void> {
  const f = await c.next();
  expect(f.type).toBe('error');
  expect((f as { fatal: boolean }).fatal).toBe(true);
  expect((f as { message: string }).message).toMatch(message);
  expect((await c.closed).code).toBe(1008);
  await serves();
}

describe('shard server', () => {
  test('a wrong token gets an error frame and a closed socket', async () => {
    const c = await Client.open();
    c.send({ type: 'hello', id: 1, token: 'not it' });
    await refused(c, /wrong token/);
  });

  test('a forward before hello is refused', async () => {
    const c = await Client.open();
    c.send({ type: 'forward', id: 1, seq: 1, position: 0, want: 'hidden', input: { hidden: new Float32Array(H) } });
    await refused(c, /first frame must be hello/);
  });

  test('a client that never says hello is dropped', async () => {
    const c = await Client.open();
    await refused(c, /no hello/);
  });

  test('garbage, short, lying and text frames', async () => {
    const garbage = await Client.open();
    garbage.ws.send(Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 255));
    await refused(garbage, /bad magic/);

    const short = await Client.open();
    short.ws.send(new Uint8Array(5));
    await refused(short, /shorter than its 16-byte header/);

    const lying = await Client.hello();
    const f = encodeFrame({ type: 'forward', id: 2, seq: 1, position: 0, want: 'last', input: { hidden: new Float32Array(H) }, rows: 1 });
    new DataView(f.buffer).setUint32(12, 1 << 30, true); // claims a gigabyte of body
    lying.ws.send(f);
    await refused(lying, /header says 1073741824 body bytes/);

    const ragged = await Client.hello();
    ragged.send({ type: 'forward', id: 2, seq: 1, position: 0, want: 'last', input: { hidden: new Float32Array(H + 1) } });
    await refused(ragged, new RegExp(`not rows of ${H} floats`));

    const miscounted = await Client.hello();
    miscounted.send({ type: 'forward', id: 2, seq: 1, position: 0, want: 'last', input: { hidden: new Float32Array(2 * H) }, rows: 3 });
    await refused(miscounted, new RegExp(`3 rows of ${H} floats need ${3 * 4 * H} bytes, the payload has ${8 * H}`));

    const text = await Client.hello();
    text.ws.send('{"hello": true}');
    await refused(text, /text frames/);
  });

  test('a frame over the size limit closes the socket with 1009', async () => {
    const c = await Client.hello();
    c.ws.send(new Uint8Array(server.info.maxFrameBytes + 1));
    expect((await c.closed).code).toBe(1009);
    await serves();
  });

  test('more tokens in a frame than the server takes', async () => {
    const c = await Client.hello();
    c.send({ type: 'forward', id: 2, seq: 1, position: 0, want: 'last', input: { hidden: new Float32Array(H * (server.info.maxTokens + 1)) } });
    // Over maxTokens is over maxFrameBytes too: ws closes first.
    expect((await c.closed).code).toBe(1009);
    await serves();
  });

  test('a client killed mid-frame', async () => {
    const c = await Client.hello();
    // A binary WebSocket frame header announcing 4000 masked bytes, then 10 of them, then the socket dies.
    const socket = (c.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.write(Buffer.from([0x82, 0xfe, 0x0f, 0xa0, 1, 2, 3, 4, ...new Array(10).fill(7)]));
    socket.destroy();
    await c.closed;
    await serves();
  });

  test('a browser page from an origin not allowed is refused at the handshake', async () => {
    await expect(Client.open({ Origin: 'http://evil.example' })).rejects.toThrow(/403/);
    const ok = await Client.open({ Origin: 'http://allowed.example' });
    ok.ws.close();
    await serves();
  });

  test('a client that floods requests without reading is dropped', async () => {
    const c = await Client.hello();
    for (let i = 0; i < 8; i++) c.send({ type: 'forward', id: 10 + i, seq: 1 + i, position: 0, want: 'last', input: { hidden: new Float32Array(H) } });
    await c.closed;
    expect(c.frames.some((f) => f.type === 'error' && /more than 4 requests in flight/.test(f.message))).toBe(true);
    await serves();
  });

  test('a frame that continues from the wrong position gets an error, and the connection goes on', async () => {
    const c = await Client.hello();
    c.send({ type: 'forward', id: 2, seq: 1, position: 5, want: 'last', input: { hidden: new Float32Array(H) } });
    const e = await c.next();
    expect(e).toMatchObject({ type: 'error', fatal: false });
    expect((e as { message: string }).message).toMatch(/holds 0 tokens, the frame continues from 5/);
    c.send({ type: 'forward', id: 3, seq: 1, position: 0, want: 'last', input: { hidden: new Float32Array(H) } });
    expect((await c.next()).type).toBe('result');
    c.ws.close();
  });

  test('sequences are isolated: interleaved on one connection and on two, each gives what it gives alone', async () => {
    const prompts = [
      [1, 300, 301, 302, 303, 304, 305],
      [1, 20, 21, 22, 23, 24, 25],
    ]; // within the server's 8 tokens a frame
    const hidden = [await hiddenOf(prompts[0]), await hiddenOf(prompts[1])];
    // Alone: the whole prompt in one frame.
    const alone: Float32Array[] = [];
    for (const h of hidden) {
      const c = await Client.hello();
      c.send({ type: 'forward', id: 2, seq: 7, position: 0, want: 'last', input: { hidden: h } });
      alone.push(((await c.next()) as { values: Float32Array }).values);
      c.ws.close();
    }
    // Interleaved token by token: two sequences of one connection, and two connections.
    const one = await Client.hello();
    const two = [await Client.hello(), await Client.hello()];
    const got: Float32Array[][] = [[], []];
    for (let t = 0; t < prompts[0].length; t++) {
      for (let s = 0; s < 2; s++) {
        const row = { hidden: hidden[s].slice(t * H, (t + 1) * H) };
        const want = t === prompts[0].length - 1 ? 'last' : 'none';
        one.send({ type: 'forward', id: 10 + t, seq: s, position: t, want, input: row });
        two[s].send({ type: 'forward', id: 10 + t, seq: 1, position: t, want, input: row });
        const a = await one.next();
        const b = await two[s].next();
        expect(a.type).toBe('result');
        expect(b.type).toBe('result');
        if (want === 'last') got[s].push((a as { values: Float32Array }).values, (b as { values: Float32Array }).values);
      }
    }
    for (let s = 0; s < 2; s++) for (const g of got[s]) expect(Array.from(g)).toEqual(Array.from(alone[s]));
    one.ws.close();
    two.forEach((c) => c.ws.close());
  });

  test('the frame codec rejects what it cannot read', () => {
    expect(() => decodeFrame(new Uint8Array(HEADER_BYTES - 1))).toThrow(/shorter/);
    const f = encodeFrame({ type: 'reset', id: 1, seq: 2 });
    f[4] = 9;
    expect(() => decodeFrame(f)).toThrow(/protocol version 9/);
    const g = encodeFrame({ type: 'reset', id: 1, seq: 2 });
    g[5] = 99;
    expect(() => decodeFrame(g)).toThrow(/unknown frame type 99/);
    const ids = encodeFrame({ type: 'forward', id: 1, seq: 1, position: 0, want: 'none', input: { ids: new Uint32Array([1, 2, 3]) } });
    new DataView(ids.buffer).setUint32(HEADER_BYTES + 12, 4, true); // says 4 ids, carries 3
    expect(() => decodeFrame(ids)).toThrow(/4 token ids need 16 bytes, the payload has 12/);
    expect(decodeFrame(encodeFrame({ type: 'forward', id: 5, seq: 9, position: 3, want: 'token', input: { ids: new Uint32Array([7, 8]) } }))).toEqual({
      type: 'forward',
      id: 5,
      seq: 9,
      position: 3,
      want: 'token',
      input: { ids: new Uint32Array([7, 8]) },
    });
  });
});
