/**
 * Stop strings over streamed text. Text is released as soon as it can no longer be the start of a
 * stop string; on a match, the text before it is released and the stop string itself is dropped
 * (as OpenAI does).
 */

/** Length of the longest suffix of `text` that is a proper prefix of one of `stops`. */
export function partialStopLength(text: string, stops: readonly string[]): number {
  let best = 0;
  for (const s of stops) {
    for (let len = Math.min(s.length - 1, text.length); len > best; len--) {
      if (text.endsWith(s.slice(0, len))) {
        best = len;
        break;
      }
    }
  }
  return best;
}

export class StopMatcher {
  private readonly stops: string[];
  private held = '';
  private done = false;

  constructor(stops: string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  get stopped(): boolean {
    return this.done;
  }

  push(delta: string): { emit: string; stopped: boolean } {
    if (this.done) return { emit: '', stopped: true };
    const text = this.held + delta;
    // Nothing released so far could start a stop string, so the earliest match here is the
    // earliest in the whole stream.
    let at = -1;
    for (const s of this.stops) {
      const i = text.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0) {
      this.done = true;
      this.held = '';
      return { emit: text.slice(0, at), stopped: true };
    }
    const keep = partialStopLength(text, this.stops);
    this.held = text.slice(text.length - keep);
    return { emit: text.slice(0, text.length - keep), stopped: false };
  }

  /** At the end of generation: the held-back text, which turned out not to be a stop string. */
  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }
}
