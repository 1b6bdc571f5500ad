/**
 * Test helpers: `lightmoe shard` and `lightmoe serve` as a user runs them, each in a child process of
 * its own (so that a test can kill or stop it), reporting its URL once it listens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  /** What it wrote on stderr so far. */
  log(): string;
  stop(): Promise<void>;
}

export type ShardProcess = ServerProcess;

/** Starts `lightmoe shard --model dir --layers layers ...extra` on a free port, the token in its environment. */
export function startShardProcess(dir: string, layers: string, token: string, extra: string[] = []): Promise<ServerProcess> {
  return startServer(['shard', '--model', dir, '--layers', layers, '--port', '0', ...extra], { LIGHTMOE_SHARD_TOKEN: token }, /serving layers .* on (ws:\/\/\S+)/);
}

/** Starts `lightmoe serve --model dir ...extra` on a free port; its URL is the API's base (…/v1). */
export function startServeProcess(dir: string, extra: string[] = []): Promise<ServerProcess> {
  return startServer(['serve', '--model', dir, '--port', '0', ...extra], {}, / on (http:\/\/\S+\/v1)/);
}

async function startServer(args: string[], env: Record<string, string>, ready: RegExp): Promise<ServerProcess> {
  const child = spawn(process.execPath, [path.join(root, 'bin/lightmoe.js'), ...args], {
    cwd: root,
    env: { ...process.env, ...env, VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? '/usr/lib/chromium/vk_swiftshader_icd.json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`lightmoe ${args[0]} did not start in 120 s: ${err}`)), 120_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = ready.exec(out);
      if (m) clearTimeout(timer), resolve(m[1]);
    });
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`lightmoe ${args[0]} exited (${code}): ${err}`))));
  });
  return {
    url,
    pid: child.pid!,
    child,
    log: () => err,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }),
  };
}
