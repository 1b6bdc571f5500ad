/** The module Web Worker that runs the engine off the page's main thread; the page talks to it through comlink. */
import { expose } from 'comlink';
import { sendErrorsWithTheirClass } from '../client/errors';
import { EngineCore } from '../engine/core';
import { requestGpuDevice } from '../gpu/device';

sendErrorsWithTheirClass();
expose(new EngineCore(() => requestGpuDevice(self.navigator.gpu)));
