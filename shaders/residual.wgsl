// a[i] ← alpha·r[i] + beta·a[i]: the residual join (r is the normed input when postnorm, else the stream).
struct Params { count: u32, alpha: f32, beta: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> r: array<f32>;       // [count] f32
@group(0) @binding(2) var<storage, read_write> a: array<f32>; // [count] f32

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.count) { return; }
  a[i] = p.alpha * r[i] + p.beta * a[i];
}
