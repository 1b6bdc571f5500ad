// Groups routed rows by expert on the GPU, so resident experts run with no routing round trip to the
// CPU: rows (token, weight) of expert 0 first, then expert 1, …, each in token order (as the CPU plan),
// with every expert's (first row, count) and the indirect dispatch sizes of its two kernels.
// One workgroup of WG invocations, each owning every WG-th expert: it counts that expert's rows, one
// invocation turns the counts into first rows, and each writes its experts' rows. n·k steps an
// invocation (times E / WG), where one invocation alone took n·k·E.
struct Params { n: u32, k: u32, experts: u32, inter: u32, hidden: u32, wgUp: u32, wgDown: u32 }
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> idx: array<u32>;             // [n, k] chosen experts
@group(0) @binding(2) var<storage, read> weight: array<f32>;          // [n, k] routing weights
@group(0) @binding(3) var<storage, read_write> tok: array<u32>;       // [n·k] token of each row, grouped by expert
@group(0) @binding(4) var<storage, read_write> rowWeight: array<f32>; // [n·k] weight of each row
@group(0) @binding(5) var<storage, read_write> runs: array<u32>;      // [E, 2] first row, row count
@group(0) @binding(6) var<storage, read_write> args: array<u32>;      // [E, 2, 3] workgroups of expertSwiglu, expertDown

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32) {
  let rows = p.n * p.k;
  for (var e = li; e < p.experts; e += WG) {
    var count = 0u;
    for (var r = 0u; r < rows; r++) { count += select(0u, 1u, idx[r] == e); }
    runs[2u * e + 1u] = count;
    let y = (count + 3u) / 4u; // both kernels take 4 routed rows an invocation (TT = 4)
    // One token (decode, TT = 1, as rowsPerInvocation says): an invocation takes 4 weight rows instead.
    let per = select(1u, 4u, p.n == 1u);
    args[6u * e] = ((p.inter + per - 1u) / per + p.wgUp - 1u) / p.wgUp;
    args[6u * e + 1u] = y;
    args[6u * e + 2u] = 1u;
    args[6u * e + 3u] = ((p.hidden + per - 1u) / per + p.wgDown - 1u) / p.wgDown;
    args[6u * e + 4u] = y;
    args[6u * e + 5u] = 1u;
  }
  storageBarrier(); // a control barrier too: the counts are written and visible
  if (li == 0u) {
    var o = 0u;
    for (var e = 0u; e < p.experts; e++) {
      runs[2u * e] = o;
      o += runs[2u * e + 1u];
    }
  }
  storageBarrier();
  for (var e = li; e < p.experts; e += WG) {
    var o = runs[2u * e];
    for (var r = 0u; r < rows; r++) {
      if (idx[r] == e) {
        tok[o] = r / p.k;
        rowWeight[o] = weight[r];
        o++;
      }
    }
  }
}
