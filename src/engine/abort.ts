/** The error an aborted load or generation rejects with: a DOMException named AbortError, as fetch's. */
export function abortError(what: 'load' | 'generation' = 'generation'): Error {
  return new DOMException(`The ${what} was aborted.`, 'AbortError');
}
