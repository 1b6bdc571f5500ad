import type { LayerRange, ModelConfig } from '../model/config';
import type { LogitsWanted, PartInput } from '../engine/model';
import type { Executor } from './executor';
import { configFingerprint, decodeFrame, encodeFrame, type Frame, type ShardInfo, type Want } from './protocol';

/** The WebSocket class: the browser's own, or `ws`'s in Node 20 (which has none). */
export type WebSocketClass = new (url: string) => WebSocket;

export interface ShardSpec {
  /** ws:// or wss:// address of a `lightmoe shard` server. */
  url: string;
  token: string;
}

export interface RemoteOptions {
  /** A request unanswered this long fails, naming the shard, and the connection is dropped (default 30 s). */
  timeoutMs?: number;
  WebSocket?: WebSocketClass;
}

/** Most bytes of logits one result frame carries: longer 'all' requests go in several frames. */
const MAX_RESULT_BYTES = 32 << 20;

interface Pending {
  resolve: (f: Frame) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  token: boolean;
}

/** A range of layers served by `lightmoe shard` over a WebSocket (src/shard/protocol.ts). */
export class RemoteExecutor implements Executor {
  readonly name: string;
  private seq = 1;
  private position = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Why the connection is gone, once it is. */
  private down: string | null = null;

  private constructor(
    private readonly ws: WebSocket,
    url: string,
    readonly info: ShardInfo,
    private readonly timeoutMs: number,
  ) {
    this.name = `shard ${url}`;
  }

  get layers(): LayerRange {
    return this.info.layers;
  }

  get alive(): boolean {
    return this.down === null;
  }

  /** Connects, says hello with the token, and checks that the shard serves layers of `config`'s model. */
  static async connect(spec: ShardSpec, config: ModelConfig, opts: RemoteOptions = {}): Promise<RemoteExecutor> {
    const WS = opts.WebSocket ?? globalThis.WebSocket;
    if (!WS) throw new Error(`shard ${spec.url}: this runtime has no WebSocket`);
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const name = `shard ${spec.url}`;
    let ws: WebSocket;
    try {
      ws = new WS(spec.url);
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
    ws.binaryType = 'arraybuffer';
    const welcome = await new Promise<ShardInfo>((resolve, reject) => {
      const timer = setTimeout(() => (ws.close(), reject(new Error(`${name} did not answer within ${timeoutMs} ms`))), timeoutMs);
      const done = (f: () => void) => {
        clearTimeout(timer);
        ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
        f();
      };
      ws.onopen = () => ws.send(encodeFrame({ type: 'hello', id: 0, token: spec.token }));
      ws.onerror = () => {}; // the close event that follows says more
      ws.onclose = (e) => done(() => reject(new Error(`${name} refused the connection${closeText(e)}`)));
      ws.onmessage = (e) =>
        done(() => {
          try {
            const f = decodeFrame(e.data as ArrayBuffer);
            if (f.type === 'error') throw new Error(f.message);
            if (f.type !== 'welcome') throw new Error(`a ${f.type} frame instead of welcome`);
            resolve(f.info);
          } catch (err) {
            ws.close();
            reject(new Error(`${name}: ${(err as Error).message}`));
          }
        });
    });
    const m = welcome.model;
    const want = { numLayers: config.numLayers, hiddenSize: config.hiddenSize, vocabSize: config.vocabSize, fingerprint: configFingerprint(config) };
    if (m.numLayers !== want.numLayers || m.hiddenSize !== want.hiddenSize || m.vocabSize !== want.vocabSize || m.fingerprint !== want.fingerprint) {
      ws.close();
      throw new Error(`${name} serves another model (config ${JSON.stringify(m)}, this one ${JSON.stringify(want)})`);
    }
    return new RemoteExecutor(ws, spec.url, welcome, timeoutMs).listen();
  }

  private listen(): this {
    this.ws.onmessage = (e) => {
      let f: Frame;
      try {
        f = decodeFrame(e.data as ArrayBuffer, { resultIsToken: (id) => this.pending.get(id)?.token ?? false });
      } catch (err) {
        return this.fail(`sent a malformed frame (${(err as Error).message})`);
      }
      const p = this.pending.get(f.id);
      if (f.type === 'error' && (f.fatal || !p)) return this.fail(f.message);
      if (!p) return this.fail(`answered request ${f.id}, which was never sent`);
      this.pending.delete(f.id);
      clearTimeout(p.timer);
      if (f.type === 'error') p.reject(new Error(`${this.name}: ${f.message}`));
      else p.resolve(f);
    };
    this.ws.onclose = (e) => this.fail(`closed the connection${closeText(e)}`);
    this.ws.onerror = () => {};
    return this;
  }

  /** The connection is unusable: every waiting request fails with `why`. */
  private fail(why: string): void {
    if (this.down) return;
    this.down = `${this.name} ${why}`;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(this.down));
    }
    this.pending.clear();
    try {
      this.ws.close();
    } catch {
      // already closing
    }
  }

  private request(f: Frame, token: boolean): Promise<Frame> {
    if (this.down) return Promise.reject(new Error(this.down));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(`did not answer within ${this.timeoutMs} ms`), this.timeoutMs);
      this.pending.set(f.id, { resolve, reject, timer, token });
      try {
        this.ws.send(encodeFrame(f));
      } catch (e) {
        this.fail(`could not be sent a frame: ${(e as Error).message}`);
      }
    });
  }

  /** One forward frame of at most maxTokens tokens. */
  private async part(input: { ids: Uint32Array } | { hidden: Float32Array }, want: Want, n: number): Promise<Frame & { type: 'result' }> {
    const f = (await this.request({ type: 'forward', id: this.nextId++, seq: this.seq, position: this.position, want, input, rows: n }, want === 'token')) as Frame & { type: 'result' };
    this.position += n;
    return f;
  }

  /** Token ids s .. s + m, checked as a local model checks them (a u32 would wrap -1 and cut 1.5). */
  private ids(input: ArrayLike<number>, s: number, m: number): Uint32Array {
    const V = this.info.model.vocabSize;
    const out = new Uint32Array(m);
    for (let i = 0; i < m; i++) {
      const id = input[s + i];
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`token id ${id} at position ${s + i} is outside the vocabulary (0 .. ${V - 1})`);
      out[i] = id;
    }
    return out;
  }

  /** The input in frames of at most `rows` tokens; `want` for the last one, `others` for the rest. */
  private async frames(input: PartInput, want: Want, others: Want, rows: number, each: (f: Frame & { type: 'result' }, n: number, last: boolean) => void): Promise<void> {
    const H = this.info.model.hiddenSize;
    const n = 'hidden' in input ? input.hidden.length / H : input.length;
    if (!Number.isInteger(n)) throw new RangeError(`hidden states of ${(input as { hidden: Float32Array }).hidden.length} floats are not rows of ${H}`);
    for (let s = 0; s < n; s += rows) {
      const m = Math.min(rows, n - s);
      const part = 'hidden' in input ? { hidden: input.hidden.subarray(s * H, (s + m) * H) } : { ids: this.ids(input, s, m) };
      each(await this.part(part, s + m === n ? want : others, m), m, s + m === n);
    }
  }

  async forward(input: PartInput, want: LogitsWanted | 'hidden'): Promise<Float32Array> {
    const width = want === 'hidden' ? this.info.model.hiddenSize : this.info.model.vocabSize;
    const rows = want === 'all' ? Math.max(1, Math.min(this.info.maxTokens, Math.floor(MAX_RESULT_BYTES / (width * 4)))) : this.info.maxTokens;
    const out: Float32Array[] = [];
    let total = 0;
    const every = want === 'all' || want === 'hidden';
    await this.frames(input, want, every ? want : 'none', rows, (f, m, last) => {
      const expect = every ? m * width : want === 'last' && last ? width : 0;
      const got = f.values?.length ?? -1;
      if (got !== expect) {
        this.fail(`sent ${got} values where ${expect} were due`);
        throw new Error(this.down!);
      }
      if (got) out.push(f.values!), (total += got);
    });
    if (out.length === 1) return out[0];
    const all = new Float32Array(total);
    let o = 0;
    for (const v of out) all.set(v, o), (o += v.length);
    return all;
  }

  async nextToken(input: PartInput): Promise<number> {
    let token = -1;
    await this.frames(input, 'token', 'none', this.info.maxTokens, (f) => f.token !== null && (token = f.token));
    if (token < 0 || token >= this.info.model.vocabSize) throw new Error(`${this.name} answered token ${token}, outside the vocabulary`);
    return token;
  }

  /** A new sequence: the old one is freed on the shard. */
  async reset(): Promise<void> {
    const old = this.seq;
    this.seq = old + 1;
    this.position = 0;
    await this.request({ type: 'reset', id: this.nextId++, seq: old }, false);
  }

  stats(): null {
    return null;
  }

  async close(): Promise<void> {
    this.fail('was closed by this side');
  }
}

function closeText(e: CloseEvent): string {
  return e.code ? ` (code ${e.code}${e.reason ? `: ${e.reason}` : ''})` : '';
}
