// Starts the tslab kernel (what the kernelspec runs, in the project root) with TypeScript's directory watching
// turned off. tslab's compiler host keeps one timer slot for TypeScript's debounced rebuilds and throws
// "Unexpected pending rebuildTimer" — killing the kernel — when a directory event (a file written anywhere under
// a failed module-lookup location, e.g. while src/ is being edited and results are written) schedules a second
// timer beside a pending source rebuild. Edits to files the notebook imports are still picked up (file
// watchers); a module file created after an import of it failed needs a kernel restart.
const ts = require('@tslab/typescript-for-tslab');
ts.sys.watchDirectory = () => ({ close() {} });
require('tslab/dist/main.js').main();
