// playground.js: ask a catalog model, watch the answer stream in, rate it with a
// thumb, or edit it and save the edit. This tab's history stays in sessionStorage.
import { api, stream, APIError } from './api.js';
import { h, fill, field, fmtTime } from './dom.js';

const KEY = 'mirror.playground';

function session() {
  let s;
  try { s = JSON.parse(sessionStorage.getItem(KEY)); } catch { s = null; }
  if (!s || !s.id) s = { id: crypto.randomUUID(), history: [] };
  return s;
}

function save(s) {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

export async function render(main, ctx) {
  const state = session();
  save(state);
  const catalog = await api('GET', '/models');
  const models = catalog.models || [];

  const modelSel = h('select', { name: 'model_id', required: true },
    models.map((m) => h('option', { value: m.model_id, selected: m.model_id === (state.model || catalog.default_model_id) },
      `${m.display_name} (${m.provider})`)));
  const prompt = h('textarea', { name: 'text', required: true, maxlength: 32000, placeholder: 'Ask something…' });
  const submit = h('button', { type: 'submit' }, 'Generate');
  const stop = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Stop');
  const answer = h('div', { class: 'answer', 'aria-live': 'polite', 'aria-busy': 'false', id: 'answer' });
  const meta = h('div', { class: 'meta' });
  const actions = h('div', { class: 'row', hidden: true });
  const historyList = h('ol', { class: 'history', 'aria-label': 'This session’s generations' });

  const form = h('form', { 'aria-labelledby': 'pg-title' },
    field('Model', modelSel, models.length ? '' : 'No model is available: configure a provider key, or use the offline demo in development.'),
    field('Your message', prompt, 'Ctrl+Enter sends.'),
    h('div', { class: 'row' }, submit, stop));

  fill(main,
    h('h1', { id: 'pg-title' }, 'Playground'),
    h('div', { class: 'grid' },
      h('section', { class: 'card', 'aria-label': 'Ask' }, form),
      h('section', { class: 'card', 'aria-labelledby': 'ans-title' }, h('h2', { id: 'ans-title' }, 'Answer'), answer, meta, actions),
      h('section', { class: 'card wide', 'aria-labelledby': 'hist-title' },
        h('h2', { id: 'hist-title' }, 'This session'),
        h('p', { class: 'muted small' }, 'Session ', h('code', {}, state.id), ' — kept in this tab only.'),
        historyList)));

  prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) form.requestSubmit();
  });

  let controller = null;
  stop.addEventListener('click', () => controller && controller.abort());

  const renderHistory = () => {
    fill(historyList, state.history.length ? state.history.map((g) =>
      h('li', {},
        h('div', { class: 'prompt' }, g.prompt),
        h('div', { class: 'answer' }, g.edited || g.response),
        h('div', { class: 'meta' }, `${g.model_id} · ${fmtTime(g.created_at)}`,
          g.thumb ? ` · thumb ${g.thumb}` : '', g.edited ? ' · edited' : ''))) : h('li', { class: 'muted' }, 'Nothing yet.'));
  };
  renderHistory();

  const showActions = (gen) => {
    const entry = () => state.history.find((x) => x.generation_id === gen.generation_id);
    const up = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Good');
    const down = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Bad');
    const edit = h('button', { type: 'button', class: 'secondary' }, 'Edit answer');
    const thumb = async (value) => {
      try {
        await api('POST', '/feedback/thumb', { generation_id: gen.generation_id, thumb: value });
        up.setAttribute('aria-pressed', String(value === 'up'));
        down.setAttribute('aria-pressed', String(value === 'down'));
        const e = entry(); if (e) { e.thumb = value; save(state); renderHistory(); }
        ctx.toast(`Thanks: thumb ${value} recorded.`);
      } catch (err) { ctx.toast(err, true); }
    };
    up.addEventListener('click', () => thumb('up'));
    down.addEventListener('click', () => thumb('down'));
    edit.addEventListener('click', () => {
      const area = h('textarea', { name: 'edited_response' });
      area.value = answer.textContent;
      const saveBtn = h('button', { type: 'button' }, 'Save edit');
      const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
      const box = h('div', { class: 'edit-box' }, field('Edited answer', area), h('div', { class: 'row' }, saveBtn, cancel));
      actions.after(box);
      edit.disabled = true;
      area.focus();
      cancel.addEventListener('click', () => { box.remove(); edit.disabled = false; edit.focus(); });
      saveBtn.addEventListener('click', async () => {
        try {
          await api('POST', '/feedback/edit', { generation_id: gen.generation_id, edited_response: area.value });
          fill(answer, area.value);
          const e = entry(); if (e) { e.edited = area.value; save(state); renderHistory(); }
          box.remove(); edit.disabled = false; edit.focus();
          ctx.toast('Your edit was saved.');
        } catch (err) { ctx.toast(err, true); }
      });
    });
    fill(actions, h('span', { class: 'muted small' }, 'Was this useful?'), up, down, edit);
    actions.hidden = false;
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!prompt.value.trim()) { prompt.focus(); return; }
    state.model = modelSel.value;
    save(state);
    controller = new AbortController();
    submit.disabled = true; stop.hidden = false; actions.hidden = true;
    fill(answer); fill(meta, 'Generating…');
    for (const el of main.querySelectorAll('.edit-box')) el.remove();
    answer.setAttribute('aria-busy', 'true');
    const body = { submission: { model_id: modelSel.value, text: prompt.value, session_id: state.id } };
    let done = null;
    try {
      await stream('/generate_response', body, (name, data) => {
        if (name === 'delta') answer.append(data.text);
        else if (name === 'done') done = data;
        else if (name === 'error') throw new APIError(0, data);
      }, { signal: controller.signal });
      if (!done) throw new APIError(0, { error: { message: 'The answer stopped before it finished.' } });
      fill(answer, done.response);
      fill(meta, `${done.model_id}${done.fallback_used ? ' (fallback)' : ''} · ${done.latency_ms} ms · ` +
        `${done.usage.input_tokens}+${done.usage.output_tokens} tokens · $${(done.cost_usd || 0).toFixed(6)}` +
        (done.persisted ? '' : ' · not persisted'));
      state.history.unshift({ generation_id: done.generation_id, prompt: prompt.value, response: done.response, model_id: done.model_id, created_at: done.created_at });
      state.history = state.history.slice(0, 50);
      save(state);
      renderHistory();
      showActions(done);
    } catch (err) {
      if (err.name === 'AbortError') fill(meta, 'Stopped.');
      else { fill(meta, h('span', { class: 'error' }, err instanceof APIError ? err.describe() : 'The request failed.')); }
    } finally {
      answer.setAttribute('aria-busy', 'false');
      submit.disabled = false; stop.hidden = true; controller = null;
    }
  });

  prompt.focus();
  return () => controller && controller.abort();
}
