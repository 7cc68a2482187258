// attack.js: the options of a scan of a chat target (a catalog model or an
// endpoint): the target as deployed (its system prompt and purpose), the user's
// probe packs (listed, picked, uploaded), and the depth of the attack (strategies,
// samples, temperature, attacker model). The API validates all of it; its field
// errors are shown as they come.
import { api, APIError } from './api.js';
import { h, fill, field, select } from './dom.js';

// Strategies of the API (options.strategies); those marked need an attacker model.
const STRATEGIES = [
  ['base64', false], ['rot13', false], ['hex', false], ['leetspeak', false], ['homoglyph', false], ['zero_width', false],
  ['payload_splitting', false], ['best_of_n', false], ['paraphrase', true], ['translation', true], ['crescendo', true],
];
const MAX_SAMPLES = 20;
const MAX_TEMPERATURE = 2;
const label = (t) => t.replaceAll('_', ' ');

// chatOptions returns the option fieldsets of a chat target and collect(options),
// which adds what was filled in to a scan's options. packs are the user's packs
// (GET /api/v1/probe-packs items); modelOpts the catalog as [id, name] pairs; err
// the form's alert, where a pack upload's errors are shown.
export function chatOptions(ctx, packs, modelOpts, err) {
  const systemPrompt = h('textarea', { name: 'system_prompt', rows: 4, maxlength: 32768 });
  const purpose = h('input', { type: 'text', name: 'purpose', maxlength: 1024, placeholder: 'e.g. orders and deliveries of Acme Plumbing' });
  const context = h('fieldset', {}, h('legend', {}, 'Target as deployed'),
    field('System prompt', systemPrompt, 'The target\'s own instructions: the probes run under them instead of the scanner\'s. Never put credentials here.'),
    field('Purpose', purpose, 'What the target is for; goal-hijack probes try to make it leave it.'));

  const packList = h('div', { id: 'pack-list' });
  const drawPacks = (checked) => {
    fill(packList, packs.length ? packs.map((p) => h('label', { class: 'inline' },
      h('input', { type: 'checkbox', name: 'probe_pack_ids', value: p.pack_id, checked: checked.has(p.pack_id) }),
      `${p.name} (${p.probes} probe${p.probes === 1 ? '' : 's'})`))
      : h('p', { class: 'muted small' }, 'No probe packs yet: upload one below.'));
  };
  drawPacks(new Set());
  const packFile = h('input', { type: 'file', name: 'pack_file', accept: '.yaml,.yml,.json' });
  const packUpload = h('button', { type: 'button', class: 'secondary' }, 'Upload pack');
  packUpload.addEventListener('click', async () => {
    fill(err);
    const file = packFile.files[0];
    if (!file) {
      fill(err, 'Choose a probe pack file (YAML or JSON) to upload.');
      return;
    }
    packUpload.disabled = true;
    try {
      const p = await api('POST', '/api/v1/probe-packs', { name: file.name, content: await file.text() });
      const checked = new Set([...packList.querySelectorAll('input:checked')].map((c) => c.value));
      checked.add(p.pack_id);
      packs.unshift(p);
      drawPacks(checked);
      packFile.value = '';
      ctx.toast(`Probe pack ${p.name} uploaded: ${p.probes} probe${p.probes === 1 ? '' : 's'}.`);
    } catch (ex) {
      fill(err, ex instanceof APIError ? ex.describe() : 'The pack could not be uploaded.');
    } finally {
      packUpload.disabled = false;
    }
  });
  const packBox = h('fieldset', {}, h('legend', {}, 'Probe packs'), packList,
    field('New probe pack', packFile, 'Your own probes in the built-in schema (docs/probe-packs.md).'), h('div', { class: 'row' }, packUpload));

  const strategies = h('div', { id: 'strategy-list' }, STRATEGIES.map(([name, attacker]) => h('label', { class: 'inline' },
    h('input', { type: 'checkbox', name: 'strategies', value: name }), label(name) + (attacker ? ' (attacker model)' : ''))));
  const samples = h('input', { type: 'number', name: 'samples', min: 0, max: MAX_SAMPLES, step: 1 });
  const temperature = h('input', { type: 'number', name: 'temperature', min: 0, max: MAX_TEMPERATURE, step: 0.1 });
  const attacker = select([['', 'None'], ...modelOpts], '', { name: 'attacker_model_id' });
  const attack = h('fieldset', {}, h('legend', {}, 'Attacks'),
    h('p', { class: 'muted small' }, 'Strategies also send every probe they apply to disguised (encoded, perturbed, or rewritten by an attacker model).'),
    strategies,
    h('div', { class: 'filters' },
      field('Samples per probe', samples, `0 to ${MAX_SAMPLES}; results become attack success rates.`),
      field('Temperature', temperature, `0 to ${MAX_TEMPERATURE}, for every sample.`),
      field('Attacker model', attacker, 'Drives paraphrase, translation and crescendo.')));

  const collect = (options) => {
    if (systemPrompt.value.trim()) options.system_prompt = systemPrompt.value;
    if (purpose.value.trim()) options.purpose = purpose.value.trim();
    const ids = [...packList.querySelectorAll('input:checked')].map((c) => c.value);
    if (ids.length) options.probe_pack_ids = ids;
    const names = [...strategies.querySelectorAll('input:checked')].map((c) => c.value);
    if (names.length) options.strategies = names;
    if (samples.value !== '') options.samples = Number(samples.value);
    if (temperature.value !== '') options.temperature = Number(temperature.value);
    if (attacker.value) options.attacker_model_id = attacker.value;
  };
  return { boxes: [context, packBox, attack], collect };
}
