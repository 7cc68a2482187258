// charts.js: small SVG charts drawn with attributes and classes only (no inline
// style, so the CSP holds). Each chart is an image with a text alternative.
import { s, h } from './dom.js';

// bars draws horizontal bars: rows are {label, value, cls}.
export function bars(title, rows, { format = (v) => String(v), max } = {}) {
  const top = max || Math.max(1, ...rows.map((r) => r.value));
  const rowH = 24, labelW = 175, width = 480, barW = width - labelW - 60;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${rows.length * rowH + 8}`, role: 'img',
    'aria-label': `${title}: ` + rows.map((r) => `${r.label} ${format(r.value)}`).join(', ') });
  svg.append(s('title', {}, title));
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    const w = Math.max(r.value > 0 ? 2 : 0, (r.value / top) * barW);
    const label = r.label.length > 20 ? r.label.slice(0, 19) + '…' : r.label;
    svg.append(
      s('text', { x: 0, y: y + 15 }, label),
      s('rect', { class: 'bar ' + (r.cls || ''), x: labelW, y: y + 3, width: w.toFixed(1), height: rowH - 8, rx: 3 }),
      s('text', { x: labelW + w + 6, y: y + 15 }, format(r.value)));
  });
  return svg;
}

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];

// stacked draws a column per day, stacked by severity: days are {day, counts}.
export function stacked(title, days) {
  const width = 460, height = 180, left = 28, bottom = 22;
  const top = Math.max(1, ...days.map((d) => SEVERITIES.reduce((a, k) => a + (d.counts[k] || 0), 0)));
  const colW = Math.min(40, (width - left) / Math.max(1, days.length));
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `${title}: ` + days.map((d) => `${d.day}: ` + SEVERITIES.filter((k) => d.counts[k]).map((k) => `${d.counts[k]} ${k}`).join(', ')).join('; ') });
  svg.append(s('title', {}, title),
    s('line', { class: 'axis', x1: left, y1: height - bottom, x2: width, y2: height - bottom }),
    s('text', { x: 0, y: 12 }, String(top)), s('text', { x: 0, y: height - bottom }, '0'));
  days.forEach((d, i) => {
    let y = height - bottom;
    const x = left + i * colW + 2;
    for (const k of SEVERITIES) {
      const n = d.counts[k] || 0;
      if (!n) continue;
      const hgt = (n / top) * (height - bottom - 10);
      y -= hgt;
      svg.append(s('rect', { class: k, x, y: y.toFixed(1), width: Math.max(2, colW - 4), height: hgt.toFixed(1) }));
    }
    if (days.length <= 10 || i % Math.ceil(days.length / 10) === 0) {
      svg.append(s('text', { x, y: height - 6 }, d.day.slice(5)));
    }
  });
  return h('div', {}, svg, h('div', { class: 'legend', 'aria-hidden': 'true' }, SEVERITIES.map((k) => h('span', { class: k }, k))));
}
