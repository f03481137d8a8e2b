// BullMQ loads sandboxed processors with import(); register tsx so the TypeScript processor can be required.
require('tsx/cjs/api').register();
module.exports = require('./bullmq.processor.ts').default;
