// review.js: the admins' feedback browser: generations with their feedback,
// per-model statistics, and exports (JSON lines, CSV, preference pairs).
import { api, query } from './api.js';
import { h, fill, field, select, fmtTime, pct, badge } from './dom.js';
import { bars } from './charts.js';

export async function render(main, ctx) {
  if (!ctx.me || ctx.me.role !== 'admin') {
    fill(main, h('h1', {}, 'Feedback'), h('p', {}, 'This page is for admins. ', h('a', { href: '#/scans' }, 'Sign in'), ' with an account an operator made admin (mirror admin grant).'));
    return;
  }
  const models = await api('GET', '/models');
  const model = select([['', 'Any model'], ...(models.models || []).map((m) => [m.model_id, m.display_name])], '', { name: 'model_id' });
  const session = h('input', { type: 'text', name: 'session_id' });
  const since = h('input', { type: 'date', name: 'since' });
  const hasFB = select([['', 'Any'], ['true', 'With feedback'], ['false', 'Without feedback']], '', { name: 'has_feedback' });
  const filters = h('form', { class: 'filters', 'aria-label': 'Filters' },
    field('Model', model), field('Session', session), field('Since', since), field('Feedback', hasFB),
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Apply')));
  const statsBox = h('div');
  const exportsBox = h('div', { class: 'row' });
  const tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  let cursor = '';
  const params = () => ({ model_id: model.value, session_id: session.value.trim(), since: since.value, has_feedback: hasFB.value });

  const loadStats = async () => {
    const p = params();
    delete p.has_feedback;
    const st = await api('GET', '/api/v1/feedback/stats' + query(p));
    if (!st.models.length) { fill(statsBox, h('p', { class: 'muted' }, 'No stored generations match.')); return; }
    fill(statsBox,
      h('div', { class: 'table-wrap' }, h('table', { id: 'stats' },
        h('thead', {}, h('tr', {}, ['Model', 'Generations', 'Thumbs up', 'Thumbs down', 'Edit rate', 'Mean edit distance (words)', 'p50', 'p95', 'Cost'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, st.models.map((m) => h('tr', {},
          h('th', { scope: 'row' }, m.model_id), h('td', {}, String(m.generations)),
          h('td', {}, h('meter', { min: 0, max: 1, value: m.thumbs_up_rate, 'aria-label': `${m.model_id} thumbs up rate` }), ' ', pct(m.thumbs_up_rate)),
          h('td', {}, pct(m.thumbs_down_rate)), h('td', {}, pct(m.edit_rate)),
          h('td', {}, m.mean_edit_distance === null ? '—' : m.mean_edit_distance.toFixed(1)),
          h('td', {}, `${m.latency_p50_ms} ms`), h('td', {}, `${m.latency_p95_ms} ms`), h('td', {}, `$${m.cost_usd.toFixed(4)}`)))))),
      h('figure', {}, h('figcaption', {}, h('h3', {}, 'Generations per model')),
        bars('Generations per model', st.models.map((m) => ({ label: m.model_id, value: m.generations })))));
  };

  const drawExports = () => {
    const p = params();
    fill(exportsBox, h('span', {}, 'Download:'),
      [['jsonl', 'JSON lines'], ['csv', 'CSV'], ['preference', 'Preference pairs']].map(([f, name]) =>
        h('a', { class: 'button secondary', id: 'export-' + f, href: '/api/v1/feedback/export' + query({ format: f, ...p }), download: '' }, name)));
  };

  const loadGens = async (reset) => {
    if (reset) { cursor = ''; fill(tbody); }
    const page = await api('GET', '/api/v1/generations' + query({ ...params(), cursor, limit: 25 }));
    for (const g of page.items) {
      const thumbs = g.feedback.filter((e) => e.kind === 'thumb');
      const edits = g.feedback.filter((e) => e.kind === 'edit');
      const last = thumbs.length ? thumbs[thumbs.length - 1].thumb : '';
      tbody.append(h('tr', {},
        h('td', {}, fmtTime(g.created_at)), h('td', {}, g.model_id),
        h('td', { class: 'opt small' }, g.session_id || '—'),
        h('td', {}, h('details', {}, h('summary', { class: 'clip' }, g.prompt),
          h('p', {}, h('strong', {}, 'Answer: '), g.response),
          edits.length ? h('p', {}, h('strong', {}, 'Latest edit: '), edits[edits.length - 1].edited_response) : null,
          h('p', { class: 'small muted' }, `${g.latency_ms} ms · ${g.input_tokens}+${g.output_tokens} tokens · id ${g.generation_id}`))),
        h('td', {}, last ? badge(last === 'up' ? 'up' : 'down', last === 'up' ? 'completed' : 'failed') : '', edits.length ? ` ${edits.length} edit${edits.length > 1 ? 's' : ''}` : '',
          h('span', { class: 'visually-hidden' }, `${thumbs.length} thumbs, ${edits.length} edits`))));
    }
    if (!tbody.children.length) tbody.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No generations match.')));
    cursor = page.next_cursor || '';
    more.hidden = !cursor;
  };

  const refresh = () => Promise.all([loadStats(), loadGens(true)]).then(drawExports).catch((e) => ctx.toast(e, true));
  filters.addEventListener('submit', (e) => { e.preventDefault(); refresh(); });
  more.addEventListener('click', () => loadGens(false).catch((e) => ctx.toast(e, true)));

  fill(main, h('h1', {}, 'Feedback'),
    h('div', { class: 'grid' },
      h('section', { class: 'card wide', 'aria-label': 'Filters' }, filters),
      h('section', { class: 'card wide', 'aria-labelledby': 'stats-title' }, h('h2', { id: 'stats-title' }, 'Per model'), statsBox),
      h('section', { class: 'card wide', 'aria-labelledby': 'export-title' }, h('h2', { id: 'export-title' }, 'Export'),
        h('p', { class: 'small muted' }, 'Preference pairs: the edit is chosen over the model’s answer; thumbs without an edit become labelled examples.'), exportsBox),
      h('section', { class: 'card wide', 'aria-labelledby': 'gens-title' }, h('h2', { id: 'gens-title' }, 'Generations'),
        h('div', { class: 'table-wrap' }, h('table', {},
          h('thead', {}, h('tr', {}, ['When', 'Model', 'Session', 'Prompt', 'Feedback'].map((t, i) => h('th', { scope: 'col', class: i === 2 ? 'opt' : false }, t)))), tbody)),
        h('div', { class: 'row' }, more))));
  await Promise.all([loadStats(), loadGens(true)]);
  drawExports();
}
