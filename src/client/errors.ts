/**
 * Errors keep their class across the worker: comlink's own handler sends only message, name and stack,
 * so `instanceof ConfigError` would be false on the page. This handler sends the error's own fields too
 * (file, field, tensor, needed, …) and the page rebuilds the lightmoe class named by `name`.
 */
import { transferHandlers, type TransferHandler } from 'comlink';
import { ConfigError } from '../model/config';
import { CheckpointError } from '../model/safetensors';
import { ModelNotStoredError, StorageFullError } from '../store/errors';
import { NoAdapterError } from '../gpu/device';
import { WorkerStartError } from './workerStart';

const CLASSES: Record<string, { prototype: Error }> = { ConfigError, CheckpointError, ModelNotStoredError, StorageFullError, NoAdapterError, WorkerStartError, Error, TypeError, RangeError };

interface SentError {
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, unknown>;
  cause?: SentError;
}

function send(e: Error): SentError {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) if (k !== 'cause' && (v === null || typeof v !== 'object')) fields[k] = v;
  return { name: e.name, message: e.message, stack: e.stack, fields, cause: e.cause instanceof Error ? send(e.cause) : undefined };
}

function revive(s: SentError): Error {
  // AbortError and the other DOMExceptions come back as DOMExceptions, so `e.name === 'AbortError'` checks keep working.
  if (!Object.hasOwn(CLASSES, s.name)) return new DOMException(s.message, s.name);
  const e: Error = Object.create(CLASSES[s.name].prototype);
  Object.defineProperties(e, {
    message: { value: s.message, writable: true, configurable: true },
    stack: { value: s.stack, writable: true, configurable: true },
  });
  Object.assign(e, s.fields);
  if (s.cause) Object.defineProperty(e, 'cause', { value: revive(s.cause), writable: true, configurable: true });
  return e;
}

type Thrown = { value: unknown };
type Serialized = { isError: true; value: SentError } | { isError: false; value: unknown };

/** Installs the handler; both sides of the worker call it (it replaces comlink's 'throw' handler, once). */
export function sendErrorsWithTheirClass(): void {
  const base = transferHandlers.get('throw') as TransferHandler<Thrown, Serialized>;
  if ((base as { lightmoe?: true }).lightmoe) return;
  const handler: TransferHandler<Thrown, Serialized> & { lightmoe: true } = {
    lightmoe: true,
    canHandle: base.canHandle,
    serialize: ({ value }) => [value instanceof Error ? { isError: true, value: send(value) } : { isError: false, value }, []],
    deserialize: (s) => {
      throw s.isError ? revive(s.value) : s.value;
    },
  };
  transferHandlers.set('throw', handler);
}
