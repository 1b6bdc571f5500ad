/**
 * A plain static file server of the tests' own: a folder's files as they are, with byte ranges (the
 * model store downloads by ranges) and, for a page of another origin, CORS. Vite's servers refuse
 * unknown host names and serve only their own folders; this one stands in for a CDN or a model hub.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.css': 'text/css' };

export async function staticServer(root: string, port: number, opts: { cors?: boolean } = {}): Promise<Server> {
  const server = createServer((req, res) => {
    if (opts.cors) {
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Access-Control-Allow-Headers', 'Range');
      res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length, Accept-Ranges, ETag');
      if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    }
    let rel: string;
    try {
      rel = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    } catch {
      return void res.writeHead(400).end(); // a malformed %-escape
    }
    let file = path.join(root, path.normalize(rel));
    // Inside root itself, not a sibling folder whose name starts with root's.
    const inside = file === root || file.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
    if (inside && existsSync(file) && statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!inside || !existsSync(file)) return void res.writeHead(404).end();
    const { size, mtimeMs } = statSync(file);
    const headers = { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Accept-Ranges': 'bytes', ETag: `"${size}-${Math.floor(mtimeMs)}"` };
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(range[2] ? Number(range[2]) : size - 1, size - 1);
      if (start > end) return void res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': end - start + 1 });
      return void (req.method === 'HEAD' ? res.end() : createReadStream(file, { start, end }).pipe(res));
    }
    res.writeHead(200, { ...headers, 'Content-Length': size });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return server;
}

export const closeServer = (s: Server) => new Promise<void>((r) => s.close(() => r()));
