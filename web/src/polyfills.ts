/**
 * Globals the shared code expects from Node. Imported first by main.ts: ES modules run in import
 * order, and some dependencies (the imaging module's readers) touch Buffer when they load.
 */
import { Buffer } from 'buffer';

(globalThis as { Buffer?: unknown }).Buffer ??= Buffer;
