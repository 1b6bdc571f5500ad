/** Text ↔ token ids from a model folder's tokenizer.json (Hugging Face format), via @huggingface/tokenizers. */
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { joinPath, readJson, type ModelSource } from '../model/source';

export interface Tokenizer {
  /** Token ids of `text`, with the special tokens the post-processor adds (e.g. BOS) unless told not to. */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  /** Text of `ids`; special tokens (BOS, EOS, ...) are left out. */
  decode(ids: readonly number[]): string;
}

/** A JSON object file of the source, or null when it is missing. */
async function readObject(source: ModelSource, file: string): Promise<object | null> {
  const json = await readJson(source, file);
  if (json !== null && (typeof json !== 'object' || Array.isArray(json))) throw new Error(`${joinPath(source.name, file)}: not a JSON object`);
  return json as object | null;
}

const KEPT_TAGS = new Set(['<think>', '</think>', '<tool_calls>', '</tool_calls>']);

/** null when the folder has no tokenizer.json. */
export async function loadTokenizer(source: ModelSource): Promise<Tokenizer | null> {
  const json = await readObject(source, 'tokenizer.json');
  if (json === null) return null;
  // tokenizer_config.json carries decode settings such as clean_up_tokenization_spaces: without it the
  // library cleans up spaces before punctuation, which does not round-trip SentencePiece-style vocabularies.
  const config = (await readObject(source, 'tokenizer_config.json')) ?? {};
  let tok: HfTokenizer;
  try {
    tok = new HfTokenizer(json, config);
  } catch (e) {
    throw new Error(`${joinPath(source.name, 'tokenizer.json')}: unsupported tokenizer (${(e as Error).message})`, { cause: e });
  }
  // Special tokens are left out of decoded text, except the tags the engine reads in the text: a
  // tokenizer may mark <think> or <tool_calls> special, and hiding them would hide reasoning and calls.
  const hidden = new Set<number>();
  const added = (json as { added_tokens?: { id?: unknown; content?: unknown; special?: unknown }[] }).added_tokens ?? [];
  for (const t of added) if (t.special === true && typeof t.id === 'number' && !KEPT_TAGS.has(String(t.content))) hidden.add(t.id);
  return {
    encode: (text, opts) => tok.encode(text, { add_special_tokens: opts?.addSpecialTokens ?? true }).ids,
    decode: (ids) => {
      const shown = ids.filter((id) => !hidden.has(id));
      // The library throws on an empty list.
      return shown.length === 0 ? '' : tok.decode(shown, { skip_special_tokens: false });
    },
  };
}
