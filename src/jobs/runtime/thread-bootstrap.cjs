// Worker threads do not inherit jest's or tsx's TypeScript hooks in every launcher, so register tsx here
// before loading the TypeScript entry. Harmless when the hooks are already active.
require('tsx/cjs/api').register();
require('./thread.entry.ts');
