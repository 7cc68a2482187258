// app.js: the shell. It routes on the URL hash (#/playground, #/scans,
// #/scans/ID, #/feedback), keeps who is signed in, and shows short notices.
import { api, signedIn, APIError } from './api.js';
import { h, fill } from './dom.js';
import * as playground from './playground.js';
import * as scans from './scans.js';
import * as review from './review.js';

const features = new Set((document.querySelector('meta[name="mirror-features"]')?.content || '').split(/\s+/).filter(Boolean));

const ctx = {
  me: null,
  features,
  toast,
  refreshMe,
  go: (hash) => { if (location.hash === hash) route(); else location.hash = hash; },
};

document.getElementById('nav-docs').hidden = !features.has('docs');

let toastTimer;
// toast says msg in the live region for a few seconds; bad marks an error.
function toast(msg, bad = false) {
  const el = document.getElementById('toast');
  el.classList.toggle('bad', bad);
  el.textContent = msg instanceof APIError ? msg.describe() : String(msg);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.textContent = ''; }, bad ? 8000 : 4000);
}

async function refreshMe() {
  ctx.me = null;
  if (features.has('scans') && signedIn()) {
    try {
      ctx.me = await api('GET', '/api/v1/auth/me');
    } catch (e) {
      if (!(e instanceof APIError) || e.status !== 401) throw e;
    }
  }
  renderAccount();
}

function renderAccount() {
  const el = document.getElementById('account');
  document.getElementById('nav-feedback').hidden = !(ctx.me && ctx.me.role === 'admin' && features.has('review'));
  if (!ctx.me) {
    fill(el, features.has('scans') ? h('a', { href: '#/scans' }, 'Sign in') : '');
    return;
  }
  fill(el,
    h('span', {}, ctx.me.email, ctx.me.role === 'admin' ? ' (admin)' : ''),
    h('button', { type: 'button', class: 'secondary', onclick: signOut }, 'Sign out'));
}

async function signOut() {
  try {
    await api('POST', '/api/v1/auth/logout');
  } catch (e) {
    toast(e, true);
  }
  await refreshMe();
  toast('Signed out.');
  route();
}

const views = [
  [/^#\/scans\/([\w-]+)$/, (main, m) => scans.renderScan(main, ctx, m[1]), 'scans'],
  [/^#\/scans$/, (main) => scans.render(main, ctx), 'scans'],
  [/^#\/feedback$/, (main) => review.render(main, ctx), 'feedback'],
  [/^(#\/playground)?$/, (main) => playground.render(main, ctx), 'playground'],
];

let dispose = null;
let current = 0;

// route renders the view of the URL's hash. Each view draws into its own
// container: a view still loading when the next navigation starts keeps drawing
// into a container that is no longer on the page, and is disposed when it ends.
async function route() {
  if (dispose) { dispose(); dispose = null; }
  const token = ++current;
  const main = document.getElementById('main');
  const hash = location.hash || '#/playground';
  for (const [re, view, nav] of views) {
    const m = hash.match(re) || (nav === 'playground' && !views.some(([r]) => r.test(hash)) ? [] : null);
    if (!m) continue;
    for (const a of document.querySelectorAll('[data-nav]')) {
      if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const box = h('div');
    main.replaceChildren(box);
    // After a navigation, focus starts at the new content, at once: never later,
    // when it would pull the caret out of a field the person is already typing in.
    if (focusMain) { focusMain = false; main.focus({ preventScroll: true }); }
    let done = null;
    try {
      done = (await view(box, m)) || null;
    } catch (e) {
      fill(box, h('p', { class: 'error', role: 'alert' }, e instanceof APIError ? e.describe() : 'Something went wrong.'));
      if (!(e instanceof APIError)) throw e;
    }
    if (token === current) dispose = done;
    else if (done) done();
    return;
  }
}

let focusMain = false;
addEventListener('hashchange', () => {
  focusMain = true;
  route();
});
refreshMe().catch((e) => toast(e, true)).finally(route);
