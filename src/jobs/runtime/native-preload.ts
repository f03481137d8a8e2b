/**
 * onnxruntime-node's addon is not context-aware: once a worker thread that loaded it exits, the next thread
 * that loads it fails with "Module did not self-register". Loading it once on the main thread keeps it
 * registered for the life of the process, so job threads can come and go (measured on Node 20).
 */
let done = false;

export function preloadNativeAddons(): void {
  if (done) return;
  done = true;
  try {
    require('onnxruntime-node');
  } catch {
    // Not installed or not loadable here: the embedding provider reports that itself when asked.
  }
}
