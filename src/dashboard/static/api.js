// GraphQL over fetch with the pasted API key. The key lives in sessionStorage: it survives reloads of this tab
// and is gone when the tab closes; it is never written into the page or the URL.
const STORE = 'valuegraph.apiKey';

export const getKey = () => sessionStorage.getItem(STORE);
export const setKey = (key) => sessionStorage.setItem(STORE, key.trim());
export const forgetKey = () => sessionStorage.removeItem(STORE);
/** vg_<role>_<secret>: the prefix tells the role without asking the server (apiKeys is admin-only). */
export const roleOfKey = (key) => /^vg_([a-z]+)_/.exec(key ?? '')?.[1] ?? 'unknown';

export class ApiError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

const listeners = new Set();
/** Called with the error whenever the server rejects the key, so the page can ask for a new one. */
export const onUnauthenticated = (fn) => listeners.add(fn);

export async function gql(query, variables = {}) {
  const key = getKey();
  if (!key) throw new ApiError('no API key', 'UNAUTHENTICATED', 401);
  let res;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch (err) {
    throw new ApiError(`network error: ${err.message}`, 'NETWORK', 0);
  }
  let body;
  try {
    body = await res.json();
  } catch {
    throw new ApiError(`HTTP ${res.status}`, 'HTTP', res.status);
  }
  const first = body.errors?.[0];
  if (first) {
    const err = new ApiError(first.message, first.extensions?.code ?? 'ERROR', res.status);
    if (err.code === 'UNAUTHENTICATED') listeners.forEach((fn) => fn(err));
    throw err;
  }
  return body.data;
}
