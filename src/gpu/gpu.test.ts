import { describe, expect, it } from 'vitest';
import { spreadWorkgroup } from './gpu';

describe('spreadWorkgroup (the workgroups of one-token kernels)', () => {
  it('is 64 on a GPU, whatever the invocations', () => {
    for (const n of [1, 7, 64, 100_000]) expect(spreadWorkgroup({ threads: 0, lanes: 32 }, n)).toBe(64);
  });

  it('on a CPU adapter gives each thread a workgroup while the invocations allow, evenly', () => {
    const cpu = { threads: 2, lanes: 4 };
    expect(spreadWorkgroup(cpu, 32)).toBe(16); // stories260k's q|k|v rows / 4: one workgroup a core
    expect(spreadWorkgroup(cpu, 16)).toBe(8);
    expect(spreadWorkgroup(cpu, 96)).toBe(16); // 6 of 16 take 3 rounds of 16 lanes, 2 of 64 one of 64
    expect(spreadWorkgroup(cpu, 5)).toBe(4); // 4 + 1
    expect(spreadWorkgroup(cpu, 2304)).toBe(64); // already many workgroups
    expect(spreadWorkgroup(cpu, 64, 2)).toBe(64); // two tokens' rows: two workgroups already
    expect(spreadWorkgroup({ threads: 8, lanes: 8 }, 64)).toBe(8);
  });

  it('never goes under the lanes, and gains nothing from smaller workgroups on one thread', () => {
    for (const lanes of [4, 8])
      for (let n = 1; n < 600; n += 7) {
        expect(spreadWorkgroup({ threads: 1, lanes }, n)).toBe(64);
        for (const threads of [2, 3, 16]) {
          const wg = spreadWorkgroup({ threads, lanes }, n);
          expect([64, 32, 16, 8, 4].filter((w) => w >= lanes)).toContain(wg);
        }
      }
  });
});
