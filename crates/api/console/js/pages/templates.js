// Templates: Official (built in, read-only) and Custom (this bucket's), with their parameters.

import { ci, arr, toXml } from '../api.js';
import { h, clear, table, select, field, href, loading, errorBox, busy, toast, confirmDialog, modal } from '../ui.js';

const cache = new Map();

/** Official + Custom templates of `bucket` (cached for a minute). */
export async function loadTemplates(bucket, fresh = false) {
  const hit = cache.get(bucket);
  if (!fresh && hit && Date.now() - hit.at < 60000) return hit.list;
  const [official, custom] = await Promise.all(['Official', 'Custom'].map((category) => ci(bucket, 'GET', 'template', { query: { category, pageNumber: '1', pageSize: '100' } })));
  const list = [...arr(official.TemplateList), ...arr(custom.TemplateList)];
  cache.set(bucket, { at: Date.now(), list });
  return list;
}

const PARAMS = ['TransTpl', 'Snapshot', 'Animation', 'ConcatTemplate', 'SmartCover', 'Watermark', 'PicProcess'];

function params(t) {
  const key = PARAMS.find((k) => t[k]);
  if (!key) return '';
  const flat = [];
  const walk = (o, p) => {
    if (o && typeof o === 'object') Object.entries(o).forEach(([k, v]) => walk(v, p ? `${p}.${k}` : k));
    else if (o !== '' && o !== undefined) flat.push(`${p}=${o}`);
  };
  walk(t[key], '');
  return flat.join(', ');
}

export async function render(main, { app, query }) {
  const bucket = app.bucket;
  main.append(h('h1', {}, 'Templates'));
  if (!bucket) { main.append(h('p', {}, 'Create a bucket first.')); return; }
  const cat = select(['All', 'Official', 'Custom'], query.category || 'All', { name: 'category' });
  const tags = ['All', 'Transcode', 'HighSpeedHd', 'Snapshot', 'Animation', 'Concat', 'SmartCover', 'Watermark', 'PicProcess'];
  const tag = select(tags, query.tag || 'All', { name: 'tag' });
  const form = h('form', {
    class: 'filters', role: 'search', 'aria-label': 'Filter templates',
    onsubmit: (e) => { e.preventDefault(); app.navigate(href('/templates', { category: cat.value === 'All' ? '' : cat.value, tag: tag.value === 'All' ? '' : tag.value })); },
  }, field('Category', cat), field('Tag', tag), h('button', { type: 'submit' }, 'Apply'),
  h('button', { type: 'button', onclick: () => createDialog(bucket, () => app.navigate(href('/templates', { category: 'Custom' }))) }, 'New template (XML)'));
  const box = h('div', {}, loading());
  main.append(form, box);
  try {
    const list = (await loadTemplates(bucket, true))
      .filter((t) => !query.category || t.Category === query.category)
      .filter((t) => !query.tag || t.Tag === query.tag);
    clear(box, table([
      { label: 'Name', cell: (t) => t.Name },
      { label: 'Tag', cell: (t) => t.Tag },
      { label: 'Category', cell: (t) => h('span', { class: `badge cat-${String(t.Category).toLowerCase()}` }, t.Category) },
      { label: 'TemplateId', cell: (t) => h('span', { class: 'mono small' }, t.TemplateId) },
      { label: 'Parameters', cell: (t) => h('span', { class: 'small' }, params(t)) },
      { label: 'Actions', cell: (t) => (t.Category === 'Custom' ? h('button', {
        type: 'button', class: 'danger', 'aria-label': `Delete template ${t.Name}`,
        onclick: async (e) => {
          if (!(await confirmDialog(`Delete template ${t.Name}?`))) return;
          busy(e.target, async () => { await ci(bucket, 'DELETE', `template/${t.TemplateId}`); toast('Template deleted'); app.navigate(href('/templates', query)); });
        },
      }, 'Delete') : h('span', { class: 'muted' }, 'built in')) },
    ], list, { caption: 'Templates usable by this bucket', empty: 'No templates match.' }));
  } catch (e) { clear(box, errorBox(e)); }
}

function createDialog(bucket, after) {
  const area = h('textarea', { rows: '14', class: 'mono', spellcheck: 'false' });
  area.value = toXml('Request', { Tag: 'Transcode', Name: 'mp4-480p', Container: { Format: 'mp4' }, Video: { Codec: 'H.264', Height: '480', Crf: '25' }, Audio: { Codec: 'aac', Bitrate: '128' } })
    .replace(/></g, '>\n<');
  const save = h('button', {
    type: 'button', class: 'primary',
    onclick: (e) => busy(e.target, async () => {
      await ci(bucket, 'POST', 'template', { body: area.value });
      cache.delete(bucket);
      toast('Template created');
      e.target.closest('dialog').close();
      after();
    }),
  }, 'Create');
  modal('New template', field('Request body (POST /template)', area), { actions: [save], wide: true });
}
