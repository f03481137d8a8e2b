/**
 * Jest environment for tests that run onnxruntime-node in the test's own thread. Jest gives each test file a
 * separate realm, so typed arrays created by the native binding (outer realm) fail onnxruntime-common's
 * `instanceof Float32Array` checks inside the sandbox. Sharing the typed-array constructors fixes that;
 * production code never runs inside a vm and is unaffected. Use with: @jest-environment ./test/unit/embeddings-jest-env.cjs
 */
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Uint8Array', 'Uint8ClampedArray', 'Int8Array', 'Uint16Array', 'Int16Array',
  'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class SharedTypedArraysEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = SharedTypedArraysEnvironment;
