/**
 * `lightmoe shard`: serves a range of a model's layers over a WebSocket (src/shard/protocol.ts) to a
 * coordinator that runs the others. Untrusted peers are the normal case: a frame is checked whole
 * before it is used, a bad one gets an error frame and a closed socket, and nothing a client sends or
 * fails to send (garbage, a stall, a socket cut mid-frame) stops the server serving the next one.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Model, PartInput, Sequence } from '../engine/model';
import { configFingerprint, decodeFrame, encodeFrame, FORWARD_HEAD_BYTES, HEADER_BYTES, ProtocolError, type Frame, type ShardInfo } from '../shard/protocol';

export interface ShardServerOptions {
  /** The layers to serve: a Model loaded with `layers`. */
  model: Model;
  /** Every client must send it in its hello frame. */
  token: string;
  /** Default 127.0.0.1: reachable from this machine only. */
  host?: string;
  /** Default 0: any free port (see `port` of the result). */
  port?: number;
  /** Origins of web pages allowed to connect (a browser coordinator); clients without an Origin (Node) always may. */
  allowOrigins?: string[];
  /** Most sequences one connection may hold (default 16). */
  maxSequences?: number;
  /** Most sequences all connections together may hold (default 64). */
  maxSequencesTotal?: number;
  /** Most requests of one connection queued or running at once (default 4): past it the connection is dropped. */
  maxInFlight?: number;
  /** Most open connections (default 64). */
  maxConnections?: number;
  /** A client that has not said hello by then is dropped (default 10 s). */
  helloTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface ShardServer {
  readonly port: number;
  readonly url: string;
  readonly info: ShardInfo;
  close(): Promise<void>;
}

/** Constant-time comparison of two tokens of any lengths (their digests are compared). */
function sameToken(a: string, b: string): boolean {
  const d = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(d(a), d(b));
}

/**
 * Runs a prefill and a decode step on the model's own sequence, then resets it: the pipelines they use
 * are compiled before a client can ask. A client's first request would otherwise wait for them (seconds
 * on a software adapter), past a short shard timeout.
 */
async function compilePipelines(model: Model): Promise<void> {
  const { hiddenSize, numLayers } = model.config;
  const input = (n: number): PartInput => (model.range.from === 0 ? new Array<number>(n).fill(0) : { hidden: new Float32Array(n * hiddenSize) });
  const want = model.range.to === numLayers ? 'last' : 'hidden';
  await model.forward(input(4), want);
  await model.forward(input(1), want);
  model.reset();
}

export async function startShardServer(opts: ShardServerOptions): Promise<ShardServer> {
  const { model } = opts;
  if (!opts.token) throw new Error('a shard server needs a token');
  const c = model.config;
  const maxTokens = model.chunkTokens;
  const maxFrameBytes = HEADER_BYTES + FORWARD_HEAD_BYTES + maxTokens * c.hiddenSize * 4;
  const info: ShardInfo = {
    layers: { ...model.range },
    model: { numLayers: c.numLayers, hiddenSize: c.hiddenSize, vocabSize: c.vocabSize, fingerprint: configFingerprint(c) },
    maxTokens,
    maxFrameBytes,
  };
  const log = opts.log ?? (() => {});
  const allow = new Set(opts.allowOrigins ?? []);
  const maxSequences = opts.maxSequences ?? 16;
  const maxTotal = opts.maxSequencesTotal ?? 64;
  const maxInFlight = opts.maxInFlight ?? 4;
  /** Answers a client has not read yet past this are a client that does not read: it is dropped. */
  const maxBuffered = 4 * maxFrameBytes + (64 << 20);
  let sequencesTotal = 0;
  // One GPU queue: requests of every connection run one at a time, each on its own sequence.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const r = queue.then(f);
    queue = r.catch(() => {});
    return r;
  };
  // The model's own sequence is current between requests; every client sequence is a new one.
  const idle = model.sequence;
  await compilePipelines(model);

  const wss = new WebSocketServer({
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 0,
    maxPayload: maxFrameBytes,
    verifyClient: ({ req }: { req: IncomingMessage }, done: (ok: boolean, code?: number, message?: string) => void) => {
      const origin = req.headers.origin;
      if (origin !== undefined && !allow.has(origin)) {
        log(`refused a browser client from ${origin} (not in --allow-origin)`);
        return done(false, 403, 'origin not allowed');
      }
      if (wss.clients.size >= (opts.maxConnections ?? 64)) return done(false, 503, 'too many connections');
      done(true);
    },
  });
  wss.on('error', (e) => log(`server error: ${e.message}`));
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const peer = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    const sequences = new Map<number, Sequence>();
    let authed = false;
    let closed = false;
    let inFlight = 0;
    const send = (f: Frame) => {
      if (closed || ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > maxBuffered) return fail(f.id, 'the client does not read its answers', true);
      ws.send(encodeFrame(f));
    };
    const fail = (id: number, message: string, fatal: boolean) => {
      log(`${peer}: ${message}${fatal ? ' (closing)' : ''}`);
      send({ type: 'error', id, fatal, message });
      if (fatal) {
        closed = true;
        ws.close(1008, message.slice(0, 120));
        setTimeout(() => ws.terminate(), 1000).unref(); // a peer that never answers the close
      }
    };
    const hello = setTimeout(() => fail(0, 'no hello frame in time', true), opts.helloTimeoutMs ?? 10_000);
    hello.unref();

    ws.on('error', (e) => log(`${peer}: ${e.message}`)); // e.g. a frame over maxPayload: ws closes with 1009
    ws.on('close', () => {
      closed = true;
      clearTimeout(hello);
      // A client gone mid-generation leaves nothing behind.
      void serial(async () => {
        for (const s of sequences.values()) model.dropSequence(s);
        sequencesTotal -= sequences.size;
        sequences.clear();
      }).catch((e) => log(`${peer}: freeing its sequences: ${(e as Error).message}`));
    });
    ws.on('message', (data, isBinary) => {
      if (closed) return;
      if (!isBinary) return fail(0, 'text frames are not part of the shard protocol', true);
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      let f: Frame;
      try {
        f = decodeFrame(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), { hiddenSize: c.hiddenSize, maxTokens });
      } catch (e) {
        if (e instanceof ProtocolError) return fail(0, e.message, true);
        throw e;
      }
      if (!authed) {
        if (bytes.length > 4096) return fail(0, 'the first frame must be a short hello', true);
        if (f.type !== 'hello') return fail(f.id, 'the first frame must be hello', true);
        if (!sameToken(f.token, opts.token)) return fail(f.id, 'wrong token', true);
        authed = true;
        clearTimeout(hello);
        return send({ type: 'welcome', id: f.id, info });
      }
      if (f.type !== 'reset' && f.type !== 'forward') return fail(f.id, `a client does not send ${f.type} frames`, true);
      if (++inFlight > maxInFlight) return fail(f.id, `more than ${maxInFlight} requests in flight`, true);
      // Everything below runs in request order, after the requests before it.
      void serial(async () => {
        if (closed) return;
        if (f.type === 'reset') {
          const s = sequences.get(f.seq);
          if (s) sequences.delete(f.seq), model.dropSequence(s), sequencesTotal--;
          return send({ type: 'result', id: f.id, values: new Float32Array(0), token: null });
        }
        let s = sequences.get(f.seq);
        const have = s?.position ?? 0;
        if (have !== f.position) return fail(f.id, `sequence ${f.seq} holds ${have} tokens, the frame continues from ${f.position}`, false);
        if (!s) {
          if (sequences.size >= maxSequences) return fail(f.id, `more than ${maxSequences} sequences on one connection`, false);
          if (sequencesTotal >= maxTotal) return fail(f.id, `the server holds its ${maxTotal} sequences`, false);
          sequences.set(f.seq, (s = model.newSequence()));
          sequencesTotal++;
        }
        model.useSequence(s);
        try {
          const input = 'ids' in f.input ? f.input.ids : f.input;
          if (f.want === 'token') send({ type: 'result', id: f.id, values: null, token: await model.nextToken(input) });
          else send({ type: 'result', id: f.id, values: await model.forward(input, f.want), token: null });
        } catch (e) {
          // The model's own checks (token ids, hidden rows, a layer part without a head) name the problem.
          fail(f.id, (e as Error).message, false);
        } finally {
          model.useSequence(idle);
        }
      })
        .catch((e) => fail(f.id, `internal error: ${(e as Error).message}`, true))
        .finally(() => inFlight--);
    });
  });

  const port = (wss.address() as AddressInfo).port;
  const host = opts.host ?? '127.0.0.1';
  return {
    port,
    url: `ws://${host.includes(':') ? `[${host}]` : host}:${port}`,
    info,
    close: async () => {
      await new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      });
      await queue; // the GPU work already queued, and the sequences of the closed connections freed
    },
  };
}
