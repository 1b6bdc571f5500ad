import { describe, expect, test } from 'vitest';
import type { Model } from '../engine/model';
import { memorySource } from '../model/source';
import { generateGreedy, readEosIds } from './generate';

/** A stand-in model that answers a fixed script of tokens and records what it was fed. */
function scripted(answers: number[]) {
  const fed: number[][] = [];
  const model = {
    async nextToken(ids: ArrayLike<number>) {
      fed.push(Array.from(ids));
      return answers[fed.length - 1];
    },
  } as unknown as Model;
  return { model, fed };
}

describe('generateGreedy', () => {
  test('feeds the prompt once, then one token per step', async () => {
    const { model, fed } = scripted([7, 8, 9, 10]);
    const seen: number[] = [];
    expect(await generateGreedy(model, [1, 2], { maxTokens: 3, onToken: (id) => seen.push(id) })).toEqual([7, 8, 9]);
    expect(fed).toEqual([[1, 2], [7], [8]]);
    expect(seen).toEqual([7, 8, 9]);
  });

  test('stops after a stop token, keeping it', async () => {
    const { model } = scripted([7, 2, 9]);
    expect(await generateGreedy(model, [1], { maxTokens: 10, stopIds: [1, 2] })).toEqual([7, 2]);
  });

  test('maxTokens 0 runs nothing', async () => {
    const { model, fed } = scripted([7]);
    expect(await generateGreedy(model, [1], { maxTokens: 0 })).toEqual([]);
    expect(fed).toEqual([]);
  });
});

describe('readEosIds', () => {
  const eos = (json?: string) => readEosIds(memorySource('m', json === undefined ? {} : { 'generation_config.json': json }));

  test('a number, a list, or nothing', async () => {
    expect(await eos('{"eos_token_id": 2}')).toEqual([2]);
    expect(await eos('{"eos_token_id": [1, 2]}')).toEqual([1, 2]);
    expect(await eos('{"bos_token_id": 1}')).toEqual([]);
    expect(await eos()).toEqual([]);
  });

  test('malformed files are named', async () => {
    await expect(eos('{')).rejects.toThrow('m/generation_config.json: not valid JSON');
    await expect(eos('{"eos_token_id": "2"}')).rejects.toThrow('m/generation_config.json: eos_token_id must be');
  });
});
