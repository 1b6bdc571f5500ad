/**
 * The demo's model list, /models/index.json: every folder under public/models/ with a config.json.
 * The dev server answers it from the folders there now; a build writes it into its output.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Plugin } from 'vite';

function listModels(modelsDir: string): { id: string; url: string }[] {
  if (!existsSync(modelsDir)) return [];
  const ids = readdirSync(modelsDir, { withFileTypes: true })
    .filter((d) => (d.isDirectory() || d.isSymbolicLink()) && existsSync(path.join(modelsDir, d.name, 'config.json')))
    .map((d) => d.name)
    .sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : a.localeCompare(b)));
  return ids.map((id) => ({ id, url: `/models/${encodeURIComponent(id)}/` }));
}

export function modelIndex(publicDir: string): Plugin {
  const dir = path.join(publicDir, 'models');
  return {
    name: 'lightmoe-model-index',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        if (req.url?.split('?')[0] !== '/models/index.json') return next();
        res.setHeader('Content-Type', 'application/json');
        res.setHeader('Cache-Control', 'no-cache');
        res.end(JSON.stringify(listModels(dir)));
      });
    },
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: 'models/index.json', source: JSON.stringify(listModels(dir)) });
    },
  };
}
