/**
 * Test helper: `lightmoe shard` as a user runs it, in a child process of its own (so that a test can
 * kill or stop it), reporting its URL once it listens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ShardProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  /** What it wrote on stderr so far. */
  log(): string;
  stop(): Promise<void>;
}

/** Starts `lightmoe shard --model dir --layers layers --token token ...extra` on a free port. */
export async function startShardProcess(dir: string, layers: string, token: string, extra: string[] = []): Promise<ShardProcess> {
  const child = spawn(process.execPath, [path.join(root, 'bin/lightmoe.js'), 'shard', '--model', dir, '--layers', layers, '--port', '0', ...extra], {
    cwd: root,
    env: { ...process.env, LIGHTMOE_SHARD_TOKEN: token, VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? '/usr/lib/chromium/vk_swiftshader_icd.json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`lightmoe shard did not start in 120 s: ${err}`)), 120_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /serving layers .* on (ws:\/\/\S+)/.exec(out);
      if (m) clearTimeout(timer), resolve(m[1]);
    });
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`lightmoe shard exited (${code}): ${err}`))));
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
