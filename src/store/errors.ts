/** Errors the model store reports in a form a page can act on. */

const MiB = (n: number) => (n / 2 ** 20).toFixed(1);

/** The browser will not give the model the space it needs. */
export class StorageFullError extends Error {
  /** Bytes that were to be written. */
  readonly needed: number;
  /** quota − usage when it was found out; NaN when the browser did not say. */
  readonly available: number;
  constructor(what: string, needed: number, available: number, options?: ErrorOptions) {
    const free = Number.isNaN(available) ? 'the browser refused to store more' : `only ${MiB(available)} MiB are free`;
    super(`not enough storage: ${what} needs ${MiB(needed)} MiB, but ${free}. Free some space (delete other models or site data) and download again; completed records are kept.`, options);
    this.name = 'StorageFullError';
    this.needed = needed;
    this.available = available;
  }
}

/** A stored model that is missing or not fully downloaded. */
export class ModelNotStoredError extends Error {
  readonly id: string;
  /** Records still missing, of `records`; both NaN when the model is not stored at all. */
  readonly missing: number;
  readonly records: number;
  constructor(id: string, message: string, missing: number, records: number) {
    super(message);
    this.name = 'ModelNotStoredError';
    this.id = id;
    this.missing = missing;
    this.records = records;
  }
}

export const isQuotaError = (e: unknown) => e instanceof DOMException && e.name === 'QuotaExceededError';

/** The reason to reject with once `signal` has fired: its own reason, which for abort() is an AbortError. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The download was aborted.', 'AbortError');
}
