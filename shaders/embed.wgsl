// x[t, :] = E[ids[ids0 + t], :] for the tokens whose id falls in this row part of E (rows row0 .. row0+rows).
#include "weights.wgsl"

struct Params { n: u32, hidden: u32, row0: u32, rows: u32, ids0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;     // [ids0 + n]
@group(0) @binding(2) var<storage, read> w: array<vec4u>;     // [rows, hidden] tiled WDTYPE
@group(0) @binding(3) var<storage, read_write> x: array<f32>; // [n, hidden] f32
@group(0) @binding(4) var<storage, read> ws: array<u32>;      // tiled block scales (int8, int4)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let t = gid.y;
  if (c >= p.hidden || t >= p.n) { return; }
  let id = ids[p.ids0 + t];
  if (id < p.row0 || id >= p.row0 + p.rows) { return; }
  let r = id - p.row0;
  let j = c / CHUNK;
  let stride = tileStride(r, p.rows);
  var sc = vec4f(0.0);
  if (WDTYPE >= 3u) {
    let blocks = blocksOf(p.hidden);
    let b = chunkBlocks(j, blocks) * stride + tileStart(r, blocks, p.rows);
    sc = chunkScales(ws[b.x], ws[b.y]);
  }
  x[t * p.hidden + c] = elementOf(w[tileStart(r, chunksOf(p.hidden), p.rows) + j * stride], c % CHUNK, sc);
}
