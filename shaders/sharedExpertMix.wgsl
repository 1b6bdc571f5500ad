// Optional shared expert (MODEL.md §4.5): moe[t, :] ← moe[t, :]·(1 − c_t) + shared[t, :]·c_t with
// c_t = σ(h_t·coefficientᵀ), from its logit cz[t].
struct Params { n: u32, hidden: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cz: array<f32>;        // [n] coefficient logits
@group(0) @binding(2) var<storage, read> sharedOut: array<f32>; // [n, hidden] f32 shared expert output (`shared` is a WGSL reserved word)
@group(0) @binding(3) var<storage, read_write> moe: array<f32>; // [n, hidden] f32 routed experts' sum

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let t = gid.y;
  if (c >= p.hidden || t >= p.n) { return; }
  let coef = 1.0 / (1.0 + exp(-cz[t]));
  let i = t * p.hidden + c;
  moe[i] = moe[i] * (1.0 - coef) + sharedOut[i] * coef;
}
