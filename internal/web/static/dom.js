// dom.js: building the page from nodes, never from HTML strings, so no text from the API is ever
// parsed as markup.

// h creates an element: attrs sets attributes (on* keys add listeners; false or
// null leaves one out), children are nodes or text.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';

// s creates an SVG element.
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// clear empties el and appends children.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// field is a labelled control: a label bound to the control by id.
let ids = 0;
export function field(label, control, hint) {
  if (!control.id) control.id = 'f' + ++ids;
  const parts = [h('label', { for: control.id }, label), control];
  if (hint) {
    const hid = control.id + '-hint';
    control.setAttribute('aria-describedby', hid);
    parts.push(h('div', { id: hid, class: 'muted small' }, hint));
  }
  return h('div', {}, parts);
}

export function select(options, value, attrs = {}) {
  return h('select', attrs, options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function fmtSeconds(v) {
  if (v === null || v === undefined) return '—';
  if (v < 60) return v.toFixed(1) + ' s';
  if (v < 3600) return (v / 60).toFixed(1) + ' min';
  return (v / 3600).toFixed(1) + ' h';
}

export function pct(v) {
  return (100 * (v || 0)).toFixed(0) + '%';
}

export function badge(text, cls) {
  return h('span', { class: 'badge ' + (cls || text) }, text);
}
