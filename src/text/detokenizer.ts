/**
 * Incremental detokenization: token ids in, new text out.
 *
 * Decoding token by token is wrong in two ways: a character split over byte tokens decodes to
 * U+FFFD until its last byte arrives, and SentencePiece-style decoders strip the leading space of
 * the first token they see. So each step decodes a small window that starts with a few already
 * released tokens and releases what that window adds beyond them (the scheme vLLM and TGI use):
 * the window's own first token absorbs the stripped space, and a window whose text ends in U+FFFD
 * is held back until the character completes. Each step costs O(window), not O(generated).
 */

const REPLACEMENT = '\uFFFD';
/** How many prompt tokens start the first window, as context for the first generated one. */
const PROMPT_CONTEXT = 5;

export class StreamingDetokenizer {
  private readonly tok: { decode(ids: number[]): string };
  /** The window: released tokens kept as context, then the unreleased ones from `readAt` on. */
  private ids: number[];
  private readAt: number;

  constructor(tok: { decode(ids: number[]): string }, promptIds: number[] = []) {
    this.tok = tok;
    this.ids = promptIds.slice(-PROMPT_CONTEXT);
    this.readAt = this.ids.length;
  }

  /** The text `id` adds; '' while a character is incomplete. */
  push(id: number): string {
    this.ids.push(id);
    const prefix = this.decode(this.ids.slice(0, this.readAt));
    const text = this.decode(this.ids);
    if (text.length <= prefix.length || text.endsWith(REPLACEMENT)) return '';
    return this.release(prefix, text);
  }

  /** At the end of generation: whatever is held back, even an incomplete character (as U+FFFD). */
  flush(): string {
    if (this.readAt === this.ids.length) return '';
    return this.release(this.decode(this.ids.slice(0, this.readAt)), this.decode(this.ids));
  }

  /** @huggingface/tokenizers throws on an empty id list. */
  private decode(ids: number[]): string {
    return ids.length === 0 ? '' : this.tok.decode(ids);
  }

  /** Returns what `text` adds to `prefix`; the unreleased tokens become the next window's context. */
  private release(prefix: string, text: string): string {
    this.ids = this.ids.slice(this.readAt);
    this.readAt = this.ids.length;
    if (text.startsWith(prefix)) return text.slice(prefix.length);
    // A decoder that rewrites across the boundary (e.g. cleanup of spaces before punctuation):
    // release from where the two first differ, which may repeat a little text but loses none.
    let i = 0;
    while (i < prefix.length && prefix[i] === text[i]) i++;
    return text.slice(i);
  }
}
