// The gradient worker's entry point (src/train/workers.ts starts it): plain JavaScript, so that any Node process
// can start it (a tslab notebook cannot load a .ts worker); it registers tsx's loader and runs the worker in
// TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./gradient-worker.ts');
