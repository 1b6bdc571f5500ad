// Groups routed rows by expert on the GPU, so resident experts run with no routing round trip to the
// CPU: rows (token, weight) of expert 0 first, then expert 1, …, each in token order (as the CPU plan),
// with every expert's (first row, count) and the indirect dispatch sizes of its two kernels.
// One invocation: n·k·E steps, small next to the experts' work.
struct Params { n: u32, k: u32, experts: u32, inter: u32, hidden: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> idx: array<u32>;             // [n, k] chosen experts
@group(0) @binding(2) var<storage, read> weight: array<f32>;          // [n, k] routing weights
@group(0) @binding(3) var<storage, read_write> tok: array<u32>;       // [n·k] token of each row, grouped by expert
@group(0) @binding(4) var<storage, read_write> rowWeight: array<f32>; // [n·k] weight of each row
@group(0) @binding(5) var<storage, read_write> runs: array<u32>;      // [E, 2] first row, row count
@group(0) @binding(6) var<storage, read_write> args: array<u32>;      // [E, 2, 3] workgroups of expertSwiglu, expertDown

@compute @workgroup_size(1)
fn main() {
  var o = 0u;
  for (var e = 0u; e < p.experts; e++) {
    let first = o;
    for (var r = 0u; r < p.n * p.k; r++) {
      if (idx[r] == e) {
        tok[o] = r / p.k;
        rowWeight[o] = weight[r];
        o++;
      }
    }
    let count = o - first;
    runs[2u * e] = first;
    runs[2u * e + 1u] = count;
    let y = (count + 3u) / 4u; // both kernels take 4 rows per invocation
    // One token (decode): an invocation takes 4 weight rows instead (TT = 1).
    let per = select(1u, 4u, p.n == 1u);
    args[6u * e] = ((p.inter + per - 1u) / per + 63u) / 64u;
    args[6u * e + 1u] = y;
    args[6u * e + 2u] = 1u;
    args[6u * e + 3u] = ((p.hidden + per - 1u) / per + 63u) / 64u;
    args[6u * e + 4u] = y;
    args[6u * e + 5u] = 1u;
  }
}
