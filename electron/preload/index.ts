/**
 * The preload: one frozen object, `window.keyceremony`, with one function per contract channel
 * and nothing else (never ipcRenderer). Sandboxed; bundled to a single CommonJS file.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { CHANNELS, ipcName } from '../../src/api/contract.js';

const api = Object.freeze(Object.fromEntries(CHANNELS.map((c) => [c, (request: unknown) => ipcRenderer.invoke(ipcName(c), request)])));
contextBridge.exposeInMainWorld('keyceremony', api);
