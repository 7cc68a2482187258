// scans.js: MirrorScan in the browser: sign up or in, start a scan of any target
// kind, follow it live, read and filter its findings, contain or release its
// target, and see the metrics.
import { api, upload, query, APIError } from './api.js';
import { h, fill, field, select, fmtTime, fmtSeconds, badge } from './dom.js';
import { bars, stacked } from './charts.js';
import { chatOptions } from './attack.js';

const TYPES = {
  artifact: ['self_modification', 'prompt_artifacts'],
  catalog_model: ['jailbreak', 'pii_leakage', 'prompt_artifacts', 'model_inversion', 'self_modification'],
  endpoint: ['jailbreak', 'pii_leakage', 'prompt_artifacts', 'model_inversion', 'self_modification'],
  embeddings: ['embedding_reidentification'],
};
const KINDS = [['artifact', 'Model file (upload)'], ['catalog_model', 'Catalog model'], ['endpoint', 'Chat endpoint'], ['embeddings', 'Embeddings endpoint']];
const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];
const label = (t) => t.replaceAll('_', ' ');

function targetName(t) {
  if (!t) return '';
  if (t.kind === 'catalog_model') return `catalog model ${t.model_id}`;
  if (t.kind === 'artifact') return `file ${t.artifact_id.slice(0, 8)}…`;
  return `${label(t.kind)} ${t.model} at ${t.url}`;
}

// keyLabel names a target key briefly: "file 1a2b3c4d", "victim @ host:port", the model id.
function keyLabel(key) {
  const [kind, rest] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
  if (kind === 'artifact') return 'file ' + rest.slice(0, 8);
  if (kind === 'endpoint' || kind === 'embeddings') {
    const at = rest.lastIndexOf('#');
    let host = rest.slice(0, at);
    try { host = new URL(host).host; } catch { /* keep it as it is */ }
    return `${rest.slice(at + 1)} @ ${host}`;
  }
  return rest;
}

function authForms(main, ctx) {
  const form = (title, register) => {
    const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'email' });
    const password = h('input', { type: 'password', name: 'password', required: true, minlength: 8,
      autocomplete: register ? 'new-password' : 'current-password' });
    const name = h('input', { type: 'text', name: 'full_name', autocomplete: 'name' });
    const err = h('p', { class: 'error', role: 'alert' });
    const id = register ? 'signup' : 'signin';
    const f = h('form', { class: 'card', 'aria-labelledby': id + '-title', id },
      h('h2', { id: id + '-title' }, title),
      field('Email', email), register ? field('Full name (optional)', name) : null,
      field('Password', password, register ? 'At least 8 characters.' : ''),
      err, h('div', { class: 'row' }, h('button', { type: 'submit' }, title)));
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      fill(err);
      try {
        if (register) await api('POST', '/api/v1/auth/register', { email: email.value, password: password.value, full_name: name.value });
        await api('POST', '/api/v1/auth/login', { email: email.value, password: password.value });
        await ctx.refreshMe();
        ctx.toast(register ? 'Welcome! Your account is ready.' : 'Signed in.');
        ctx.go('#/scans');
      } catch (ex) {
        fill(err, ex instanceof APIError ? ex.describe() : 'That did not work.');
      }
    });
    return f;
  };
  fill(main, h('h1', {}, 'Scans'),
    h('p', {}, 'Sign in to scan model files, catalog models and endpoints for security problems.'),
    h('div', { class: 'grid' }, form('Sign in', false), form('Create account', true)));
}

export async function render(main, ctx) {
  if (!ctx.features.has('scans')) {
    fill(main, h('h1', {}, 'Scans'), h('p', {}, 'MirrorScan is not enabled on this server.'));
    return;
  }
  if (!ctx.me) return authForms(main, ctx);
  const [models, arts, packs] = await Promise.all([api('GET', '/models'), api('GET', '/api/v1/artifacts?limit=50'),
    api('GET', '/api/v1/probe-packs')]);
  const listCard = h('section', { class: 'card wide', 'aria-labelledby': 'list-title' });
  const metricsCard = h('section', { class: 'card wide', 'aria-labelledby': 'metrics-title' });
  const artCard = h('section', { class: 'card', 'aria-labelledby': 'arts-title' });
  fill(main, h('h1', {}, 'Scans'),
    h('div', { class: 'grid' }, newScanCard(ctx, models, arts.items, packs.items), artCard, listCard, metricsCard));
  renderArtifacts(artCard, ctx, arts.items);
  await Promise.all([renderList(listCard, ctx), renderMetrics(metricsCard)]);
}

function newScanCard(ctx, models, artifacts, packs) {
  const kind = select(KINDS, 'artifact', { name: 'kind' });
  const targetBox = h('div');
  const typesBox = h('fieldset', {}, h('legend', {}, 'Scan types'));
  const optionsBox = h('fieldset', {}, h('legend', {}, 'Options'));
  const chatBox = h('div');
  let chat = null; // the chat target's options (attack.js), when the target is one
  const prog = h('progress', { max: 1, value: 0, hidden: true, 'aria-label': 'Upload progress' });
  const err = h('p', { class: 'error', role: 'alert', id: 'new-scan-error' });
  const submit = h('button', { type: 'submit' }, 'Start scan');
  const inputs = {};
  const modelOpts = (models.models || []).map((m) => [m.model_id, m.display_name]);

  const draw = () => {
    const k = kind.value;
    for (const key of Object.keys(inputs)) delete inputs[key];
    if (k === 'artifact') {
      inputs.file = h('input', { type: 'file', name: 'file' });
      inputs.existing = select([['', 'Upload the file chosen above'], ...artifacts.map((a) => [a.artifact_id, `${a.filename} (${a.artifact_id.slice(0, 8)}…)`])], '', { name: 'artifact_id' });
      fill(targetBox, field('Model file', inputs.file, 'Pickle, PyTorch, joblib, NumPy, Keras, ONNX, GGUF, safetensors, zip… It is uploaded, never loaded.'),
        artifacts.length ? field('Or one you uploaded before', inputs.existing) : null);
    } else if (k === 'catalog_model') {
      inputs.model_id = select(modelOpts, models.default_model_id, { name: 'model_id' });
      fill(targetBox, field('Catalog model', inputs.model_id));
    } else {
      inputs.url = h('input', { type: 'url', name: 'url', required: true, placeholder: 'https://host/v1' });
      inputs.model = h('input', { type: 'text', name: 'model', required: true });
      inputs.api_key = h('input', { type: 'password', name: 'api_key', autocomplete: 'off' });
      if (k === 'endpoint') inputs.provider = select([['openai', 'OpenAI-compatible'], ['anthropic', 'Anthropic'], ['gemini', 'Gemini']], 'openai', { name: 'provider' });
      fill(targetBox, field('Base URL', inputs.url), field('Model name', inputs.model),
        inputs.provider ? field('Protocol', inputs.provider) : null,
        field('API key (optional)', inputs.api_key, 'Used for this scan only, never shown again.'));
    }
    fill(typesBox, h('legend', {}, 'Scan types'), TYPES[k].map((t) =>
      h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'scan_types', value: t, checked: true }), label(t))));
    inputs.seed = h('input', { type: 'number', name: 'seed', step: 1 });
    const live = k !== 'artifact';
    inputs.max_requests = h('input', { type: 'number', name: 'max_requests', min: 0, max: 100000 });
    inputs.concurrency = h('input', { type: 'number', name: 'concurrency', min: 0, max: 32 });
    inputs.judge = select([['', 'None'], ...modelOpts], '', { name: 'judge_model_id' });
    fill(optionsBox, h('legend', {}, 'Options'), h('div', { class: 'filters' },
      field('Seed', inputs.seed), live ? field('Max requests', inputs.max_requests) : null,
      live ? field('Concurrency', inputs.concurrency) : null, live && k !== 'embeddings' ? field('Judge model', inputs.judge) : null));
    chat = k === 'catalog_model' || k === 'endpoint' ? chatOptions(ctx, packs, modelOpts, err) : null;
    fill(chatBox, chat ? chat.boxes : null);
  };
  kind.addEventListener('change', draw);
  draw();

  const form = h('form', { class: 'card', 'aria-labelledby': 'new-title', id: 'new-scan' },
    h('h2', { id: 'new-title' }, 'Start a scan'), field('Target', kind), targetBox, typesBox, optionsBox, chatBox, prog, err,
    h('div', { class: 'row' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    fill(err);
    const k = kind.value;
    const target = { kind: k };
    submit.disabled = true;
    try {
      if (k === 'artifact') {
        if (inputs.existing.value) target.artifact_id = inputs.existing.value;
        else {
          const file = inputs.file.files[0];
          if (!file) throw new APIError(422, { error: { message: 'Choose a model file to upload.' } });
          prog.hidden = false; prog.value = 0;
          const art = await upload('/api/v1/artifacts', file, (p) => { prog.value = p; });
          prog.value = 1;
          target.artifact_id = art.artifact_id;
          ctx.toast(`Uploaded ${art.filename} (${art.size} bytes).`);
        }
      } else if (k === 'catalog_model') target.model_id = inputs.model_id.value;
      else {
        target.url = inputs.url.value; target.model = inputs.model.value;
        if (inputs.api_key.value) target.api_key = inputs.api_key.value;
        if (inputs.provider) target.provider = inputs.provider.value;
      }
      const types = [...typesBox.querySelectorAll('input:checked')].map((c) => c.value);
      const options = {};
      if (inputs.seed.value !== '') options.seed = Number(inputs.seed.value);
      if (k !== 'artifact') {
        if (inputs.max_requests.value !== '') options.max_requests = Number(inputs.max_requests.value);
        if (inputs.concurrency.value !== '') options.concurrency = Number(inputs.concurrency.value);
        if (k !== 'embeddings' && inputs.judge.value) options.judge_model_id = inputs.judge.value;
      }
      if (chat) chat.collect(options);
      const res = await api('POST', '/api/v1/scans/analyze', { target, scan_types: types, options });
      ctx.go('#/scans/' + res.scan_id);
    } catch (ex) {
      fill(err, ex instanceof APIError ? ex.describe() : 'The scan could not start.');
      prog.hidden = true;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

async function renderList(card, ctx) {
  const status = select([['', 'Any status'], ['queued', 'Queued'], ['running', 'Running'], ['completed', 'Completed'], ['failed', 'Failed'], ['cancelled', 'Cancelled']], '', { name: 'status' });
  const type = select([['', 'Any type'], ...Object.keys(Object.fromEntries(Object.values(TYPES).flat().map((t) => [t, 1]))).map((t) => [t, label(t)])], '', { name: 'scan_type' });
  const tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  let cursor = '';
  const load = async (reset) => {
    if (reset) { cursor = ''; fill(tbody); }
    const page = await api('GET', '/api/v1/scans' + query({ status: status.value, scan_type: type.value, cursor, limit: 20 }));
    for (const sc of page.items) {
      tbody.append(h('tr', {},
        h('td', {}, h('a', { href: '#/scans/' + sc.scan_id }, fmtTime(sc.created_at))),
        h('td', { class: 'clip' }, targetName(sc.target)),
        h('td', { class: 'opt small' }, sc.scan_types.map(label).join(', ')),
        h('td', {}, badge(sc.status), sc.status === 'running' ? ` ${sc.progress}%` : ''),
        h('td', {}, String(sc.findings_count))));
    }
    if (!tbody.children.length) tbody.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No scans yet.')));
    cursor = page.next_cursor || '';
    more.hidden = !cursor;
  };
  status.addEventListener('change', () => load(true).catch((e) => ctx.toast(e, true)));
  type.addEventListener('change', () => load(true).catch((e) => ctx.toast(e, true)));
  more.addEventListener('click', () => load(false).catch((e) => ctx.toast(e, true)));
  fill(card, h('h2', { id: 'list-title' }, 'Your scans'),
    h('div', { class: 'filters' }, field('Status', status), field('Scan type', type)),
    h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Started'), h('th', {}, 'Target'), h('th', { class: 'opt' }, 'Types'), h('th', {}, 'Status'), h('th', {}, 'Findings'))),
      tbody)), h('div', { class: 'row' }, more));
  await load(true);
}

function renderArtifacts(card, ctx, items) {
  const list = h('ul', { class: 'small' });
  // deleteButton asks in place (no modal dialog): Delete, then Confirm or Keep. A
  // contained file has none: the server keeps it until it is released.
  const deleteButton = (a) => {
    const box = h('span');
    const ask = () => fill(box,
      h('button', { type: 'button', class: 'secondary', 'aria-label': `Delete ${a.filename}`, onclick: confirm }, 'Delete'));
    const confirm = () => {
      const yes = h('button', { type: 'button', class: 'danger', 'aria-label': `Confirm deleting ${a.filename}`, onclick: async () => {
        try {
          await api('DELETE', '/api/v1/artifacts/' + a.artifact_id);
          items = items.filter((x) => x !== a); draw(); ctx.toast(`Deleted ${a.filename}.`);
        } catch (e) { ctx.toast(e, true); ask(); }
      } }, 'Confirm delete');
      fill(box, yes, ' ', h('button', { type: 'button', class: 'secondary', onclick: () => { ask(); box.querySelector('button').focus(); } }, 'Keep'));
      yes.focus();
    };
    ask();
    return box;
  };
  const draw = () => {
    fill(list, items.length ? items.map((a) => h('li', {},
      h('strong', {}, a.filename), ` · ${a.size} bytes · `, h('code', {}, a.sha256.slice(0, 12)), ' ',
      a.contained ? badge('contained') : h('a', { href: `/api/v1/artifacts/${a.artifact_id}/download`, download: a.filename, 'aria-label': `Download ${a.filename}` }, 'Download'), ' ',
      ctx.features.has('delete-artifact') && !a.contained ? deleteButton(a) : '')) : h('li', { class: 'muted' }, 'No uploads yet.'));
  };
  draw();
  fill(card, h('h2', { id: 'arts-title' }, 'Your model files'), list);
}

async function renderMetrics(card) {
  const [m, recent] = await Promise.all([api('GET', '/api/v1/scans/metrics'), api('GET', '/api/v1/scans/vulnerabilities?limit=200')]);
  const byDay = {};
  for (const f of recent.items) {
    const day = f.created_at.slice(0, 10);
    byDay[day] = byDay[day] || {};
    byDay[day][f.severity] = (byDay[day][f.severity] || 0) + 1;
  }
  const days = Object.keys(byDay).sort().map((day) => ({ day, counts: byDay[day] }));
  fill(card, h('h2', { id: 'metrics-title' }, 'Metrics'),
    h('div', { class: 'kpis' },
      h('div', { class: 'kpi' }, h('b', {}, String(m.scans_total)), 'scans'),
      h('div', { class: 'kpi' }, h('b', {}, String(m.findings_total)), 'findings'),
      h('div', { class: 'kpi' }, h('b', {}, fmtSeconds(m.mean_time_to_detect_seconds)), 'mean time to detect'),
      h('div', { class: 'kpi' }, h('b', {}, fmtSeconds(m.mean_time_to_contain_seconds)), 'mean time to contain')),
    h('div', { class: 'grid' },
      h('figure', {}, h('figcaption', {}, h('h3', {}, 'Findings by severity')),
        bars('Findings by severity', SEVERITIES.map((k) => ({ label: k, value: m.findings_by_severity[k] || 0, cls: k })))),
      h('figure', {}, h('figcaption', {}, h('h3', {}, 'Findings by type')),
        bars('Findings by type', Object.entries(m.findings_by_type).map(([k, v]) => ({ label: label(k), value: v })))),
      h('figure', {}, h('figcaption', {}, h('h3', {}, 'Risk per target (latest scan)')),
        m.risk_by_target.length ? bars('Risk per target', m.risk_by_target.slice(0, 10).map((r) => ({
          label: (r.contained ? 'contained · ' : '') + keyLabel(r.target), value: r.risk_score, cls: r.max_severity })), { max: 100 })
          : h('p', { class: 'muted' }, 'No completed scan yet.')),
      h('figure', {}, h('figcaption', {}, h('h3', {}, 'Findings over time (latest 200)')),
        days.length ? stacked('Findings per day by severity', days) : h('p', { class: 'muted' }, 'No findings yet.'))));
}

// transcript shows a probe finding's exchange (the probe's prompt and the model's
// answer, as the scanner kept them, personal data masked), or nothing.
function transcript(ev) {
  if (!ev || (!ev.prompt_excerpt && !ev.response_excerpt)) return null;
  return h('div', { class: 'transcript' }, h('h3', {}, 'Transcript', ev.turn ? ` (turn ${ev.turn})` : ''),
    h('dl', {},
      ev.prompt_excerpt ? [h('dt', {}, 'Probe'), h('dd', {}, h('pre', {}, ev.prompt_excerpt))] : null,
      ev.response_excerpt ? [h('dt', {}, `Model${ev.model ? ' ' + ev.model : ''}`), h('dd', {}, h('pre', {}, ev.response_excerpt))] : null));
}

// renderScan is one scan: live status, actions and findings.
export async function renderScan(main, ctx, id) {
  if (!ctx.me) return authForms(main, ctx);
  let st = await api('GET', '/api/v1/scans/status/' + id);
  const head = h('div');
  const prog = h('progress', { max: 100, value: st.progress, 'aria-label': 'Scan progress' });
  const step = h('p', { class: 'muted', 'aria-live': 'polite' });
  const actions = h('div', { class: 'row' });
  const findingsBox = h('div');
  const minSev = select([['', 'All severities'], ...SEVERITIES.map((k) => [k, `${k} or higher`])], '', { name: 'min_severity' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more findings');
  let cursor = '';

  const drawStatus = () => {
    fill(head, h('p', {}, badge(st.status), ' ', targetName(st.target), ' · ', st.scan_types.map(label).join(', ')),
      h('p', { class: 'muted small' }, `Created ${fmtTime(st.created_at)}`, st.completed_at ? ` · finished ${fmtTime(st.completed_at)}` : ''),
      st.error ? h('p', { class: 'error' }, st.error) : null);
    prog.value = st.progress;
    fill(step, `${st.current_step || st.status} — ${st.progress}% — ${st.findings_count} finding${st.findings_count === 1 ? '' : 's'}`);
    const done = ['completed', 'failed', 'canceled', 'cancelled'].includes(st.status);
    fill(actions,
      h('button', { type: 'button', class: 'danger', id: 'contain', onclick: () => contain(true) }, 'Contain target'),
      h('button', { type: 'button', class: 'secondary', id: 'release', onclick: () => contain(false) }, 'Release target'),
      ctx.features.has('cancel') && !done ? h('button', { type: 'button', class: 'secondary', onclick: cancel }, 'Cancel scan') : null,
      ctx.features.has('report') && done ? h('a', { class: 'button secondary', href: `/api/v1/scans/${id}/report`, target: '_blank', rel: 'noopener' }, 'HTML report') : null);
  };
  const contain = async (on) => {
    try {
      const c = await api('POST', `/api/v1/scans/containment/${id}${on ? '' : '/release'}`);
      ctx.toast(c.contained ? `Contained ${c.target}: ${c.actions.join(', ')}.` : `Released ${c.target}.`);
      fill(containState, c.contained ? badge('contained') : 'not contained');
    } catch (e) { ctx.toast(e, true); }
  };
  const cancel = async () => {
    try { await api('POST', `/api/v1/scans/${id}/cancel`); ctx.toast('Cancel requested.'); } catch (e) { ctx.toast(e, true); }
  };
  const containState = h('span', { id: 'contain-state' });
  if (st.target.kind === 'artifact') {
    const art = await api('GET', '/api/v1/artifacts/' + st.target.artifact_id);
    fill(containState, art.contained ? badge('contained') : 'not contained');
  }

  const loadFindings = async (reset) => {
    if (reset) { cursor = ''; fill(findingsBox); }
    const page = await api('GET', '/api/v1/scans/vulnerabilities' + query({ scan_id: id, min_severity: minSev.value, cursor, limit: 50 }));
    for (const f of page.items) {
      findingsBox.append(h('details', { class: 'finding' },
        h('summary', {}, badge(f.severity), h('span', {}, f.title), h('span', { class: 'muted small' }, `score ${f.score.toFixed(1)} · ${label(f.scan_type)}`)),
        h('div', { class: 'body' },
          h('p', {}, h('strong', {}, 'Remediation: '), f.remediation),
          h('p', { class: 'small muted' }, `Target ${f.target} · ${fmtTime(f.created_at)} · id ${f.id}`),
          transcript(f.evidence),
          h('h3', {}, 'Evidence'), h('pre', {}, JSON.stringify(f.evidence, null, 2)))));
    }
    if (!findingsBox.children.length) findingsBox.append(h('p', { class: 'muted' }, ['completed', 'failed'].includes(st.status) ? 'No findings at this level.' : 'Findings appear when the scan finishes.'));
    cursor = page.next_cursor || '';
    more.hidden = !cursor;
  };
  minSev.addEventListener('change', () => loadFindings(true).catch((e) => ctx.toast(e, true)));
  more.addEventListener('click', () => loadFindings(false).catch((e) => ctx.toast(e, true)));

  fill(main, h('p', {}, h('a', { href: '#/scans' }, '← All scans')), h('h1', {}, 'Scan ', h('code', {}, id.slice(0, 8))),
    h('div', { class: 'grid' },
      h('section', { class: 'card wide', 'aria-label': 'Status' }, head, prog, step,
        h('p', {}, 'Target: ', containState), actions),
      h('section', { class: 'card wide', 'aria-labelledby': 'findings-title' },
        h('h2', { id: 'findings-title' }, 'Findings'), h('div', { class: 'filters' }, field('Severity', minSev)),
        findingsBox, h('div', { class: 'row' }, more))));
  drawStatus();
  await loadFindings(true);

  if (['completed', 'failed', 'canceled', 'cancelled'].includes(st.status)) return null;
  const es = new EventSource('/api/v1/scans/status/' + id);
  const onStatus = (e) => { st = JSON.parse(e.data); drawStatus(); };
  es.addEventListener('progress', onStatus);
  es.addEventListener('done', (e) => {
    es.close();
    onStatus(e);
    ctx.toast(`Scan ${st.status}: ${st.findings_count} finding${st.findings_count === 1 ? '' : 's'}.`);
    loadFindings(true).catch((err) => ctx.toast(err, true));
  });
  es.addEventListener('error', (e) => {
    if (e.data) { es.close(); ctx.toast(JSON.parse(e.data).error?.message || 'The status stream failed.', true); }
  });
  return () => es.close();
}
