// Entry point: key handling, the header's connection state, and hash routing (#/ and #/customer/<externalId>).
import { forgetKey, getKey, gql, onUnauthenticated, roleOfKey, setKey } from './api.js';
import { renderCustomer } from './customer.js';
import { clear, h } from './dom.js';
import { renderOverview } from './overview.js';

const main = document.getElementById('main');
const keyState = document.getElementById('key-state');
let stopPage = null;
let keyProblem = null;

function renderKeyState(health) {
  clear(keyState);
  const key = getKey();
  if (!key) {
    keyState.append(h('span', { class: 'dot dot--off', 'aria-hidden': 'true' }), 'No API key');
    return;
  }
  const where = health ? ` · ${health.database} · ${health.jobs}` : '';
  keyState.append(
    h('span', { class: `dot ${health ? 'dot--on' : 'dot--wait'}`, 'aria-hidden': 'true' }),
    h('span', { id: 'key-role' }, `${roleOfKey(key)} key`),
    h('span', { class: 'mono muted' }, ` ${key.slice(0, 12)}…`),
    h('span', { class: 'muted' }, where),
    h('button', { type: 'button', class: 'ghost', id: 'forget-key', onclick: () => { forgetKey(); route(); } }, 'Forget key'),
  );
}

function renderKeyForm() {
  const input = h('input', { id: 'api-key', name: 'key', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'vg_reader_…' });
  const form = h(
    'form',
    { class: 'key-form', id: 'key-form', onsubmit: (e) => { e.preventDefault(); keyProblem = null; setKey(input.value); route(); } },
    h('h1', {}, 'ValueGraph dashboard'),
    h('p', {}, 'Paste an API key (reader or higher). It stays in this browser tab only (sessionStorage) and is sent as a Bearer header to this server’s GraphQL API.'),
    keyProblem ? h('p', { class: 'notice notice--error', role: 'alert' }, keyProblem) : null,
    h('label', { for: 'api-key' }, 'API key'),
    h('div', { class: 'key-form__row' }, input, h('button', { type: 'submit' }, 'Open dashboard')),
    h('p', { class: 'muted small' }, 'Create one with ', h('code', {}, 'bin/valuegraph keys create --role reader --name analyst'), ' (or use the admin key printed by ', h('code', {}, 'npm run demo'), ').'),
  );
  main.append(form);
  input.focus();
}

onUnauthenticated((err) => {
  // Every panel's request fails at once: only the first one resets the page.
  if (!getKey()) return;
  forgetKey();
  keyProblem = `The server refused the key: ${err.message}`;
  route();
});

function route() {
  stopPage?.();
  stopPage = null;
  clear(main);
  renderKeyState(null);
  if (!getKey()) return renderKeyForm();
  gql('query Health { health { ok database jobs version } }').then((d) => renderKeyState(d.health), () => {});
  const m = /^#\/customer\/(.+)$/.exec(location.hash);
  stopPage = m ? renderCustomer(main, decodeURIComponent(m[1])) : renderOverview(main);
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

document.getElementById('search').addEventListener('submit', (e) => {
  e.preventDefault();
  const v = document.getElementById('search-input').value.trim();
  if (v) location.hash = `#/customer/${encodeURIComponent(v)}`;
});
window.addEventListener('hashchange', route);
route();
