// Workflows: list, create/edit (a simple form or the XML itself), activate/pause, delete, and
// the DAG drawn from the topology.

import { ci, arr, toXml, parseXml, xmlToObj, parseTime } from '../api.js';
import { h, clear, table, toast, field, select, busy, confirmDialog, stateBadge, formatTime, href, loading, errorBox, notInBucket, isNotFound } from '../ui.js';
import { dagSvg } from '../dag.js';
import { loadTemplates } from './templates.js';

export async function listWorkflows(bucket) {
  const r = await ci(bucket, 'GET', 'workflow', { query: { pageNumber: '1', pageSize: '100' } });
  return arr(r.MediaWorkflowList);
}

export async function render(main, ctx) {
  const { app, args } = ctx;
  const bucket = app.bucket;
  if (!bucket) { main.append(h('h1', {}, 'Workflows'), h('p', {}, 'Create a bucket first.')); return; }
  if (args[0] === 'new') return editor(main, ctx, null);
  if (args[0] && args[1] === 'edit') return editor(main, ctx, args[0]);
  if (args[0]) return detail(main, ctx, args[0]);

  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Workflows'),
    h('a', { class: 'button primary', href: href('/workflows/new') }, 'New workflow')));
  const box = h('div', {}, loading());
  main.append(box);
  try {
    const list = await listWorkflows(bucket);
    clear(box, table([
      { label: 'Name', cell: (w) => h('a', { href: href(`/workflows/${w.WorkflowId}`, { bucket }) }, w.Name) },
      { label: 'State', cell: (w) => stateBadge(w.State) },
      { label: 'Prefix', cell: (w) => h('span', { class: 'mono' }, w.Topology?.Nodes?.Start?.Input?.ObjectPrefix ?? '') },
      { label: 'Nodes', class: 'num', cell: (w) => String(Object.keys(w.Topology?.Nodes || {}).length) },
      { label: 'Updated', cell: (w) => formatTime(parseTime(w.UpdateTime)) },
      { label: 'Actions', cell: (w) => h('div', { class: 'actions' },
        toggleButton(bucket, w, () => app.navigate(href('/workflows'))),
        h('a', { class: 'button', href: href('/runs', { workflow: w.WorkflowId }) }, 'Runs')) },
    ], list, { caption: `Workflows of ${bucket}`, empty: 'No workflows yet: create one.' }));
  } catch (e) { clear(box, errorBox(e)); }
}

function toggleButton(bucket, w, after) {
  const active = w.State === 'Active';
  return h('button', {
    type: 'button', class: active ? '' : 'primary', 'aria-label': `${active ? 'Pause' : 'Activate'} ${w.Name}`,
    onclick: (e) => busy(e.target, async () => {
      await ci(bucket, 'PUT', `workflow/${w.WorkflowId}`, { query: { [active ? 'paused' : 'active']: '' } });
      toast(`${w.Name} ${active ? 'paused' : 'activated'}`);
      after();
    }),
  }, active ? 'Pause' : 'Activate');
}

/** The workflow `id` of the bucket, or null after showing where it was looked for. */
async function loadWorkflow(main, app, bucket, id, link) {
  let w;
  try {
    w = arr((await ci(bucket, 'GET', 'workflow', { query: { ids: id } })).MediaWorkflowList)[0];
  } catch (e) {
    if (!isNotFound(e)) throw e;
    main.append(h('h1', {}, 'Workflow'), notInBucket(`Workflow ${id}`, bucket, app, link, e));
    return null;
  }
  if (!w) { main.append(h('h1', {}, 'Workflow'), notInBucket(`Workflow ${id}`, bucket, app, link)); return null; }
  return w;
}

async function detail(main, { app, stale }, id) {
  const bucket = app.bucket;
  const w = await loadWorkflow(main, app, bucket, id, (b) => href(`/workflows/${id}`, { bucket: b }));
  if (!w) return;
  const templates = await loadTemplates(bucket).catch(() => []);
  if (stale?.()) return;
  const names = Object.fromEntries(templates.map((t) => [t.TemplateId, t.Name]));
  const nodes = Object.entries(w.Topology?.Nodes || {});
  main.append(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: href('/workflows') }, 'Workflows'), ' / ', w.Name),
    h('div', { class: 'page-head' }, h('h1', {}, w.Name), stateBadge(w.State)),
    h('div', { class: 'actions' },
      toggleButton(bucket, w, () => app.navigate(href(`/workflows/${id}`, { bucket }))),
      w.State === 'Paused' ? h('a', { class: 'button', href: href(`/workflows/${id}/edit`, { bucket }) }, 'Edit') : h('span', { class: 'muted' }, 'Pause to edit.'),
      h('a', { class: 'button', href: href('/runs', { workflow: id }) }, 'Runs'),
      h('button', { type: 'button', class: 'danger', onclick: async (e) => {
        if (!(await confirmDialog(`Delete workflow ${w.Name}?`))) return;
        busy(e.target, async () => { await ci(bucket, 'DELETE', `workflow/${id}`); toast('Workflow deleted'); app.navigate(href('/workflows')); });
      } }, 'Delete')),
    h('dl', { class: 'props' },
      h('dt', {}, 'WorkflowId'), h('dd', { class: 'mono' }, w.WorkflowId),
      h('dt', {}, 'Created'), h('dd', {}, formatTime(parseTime(w.CreateTime))),
      h('dt', {}, 'Updated'), h('dd', {}, formatTime(parseTime(w.UpdateTime)))),
    h('section', { 'aria-labelledby': 'dag-h' }, h('h2', { id: 'dag-h' }, 'Graph'), dagSvg(w.Topology, { templateNames: names, title: `Graph of ${w.Name}` })),
    h('section', { 'aria-labelledby': 'nodes-h' }, h('h2', { id: 'nodes-h' }, 'Nodes'), table([
      { label: 'Node', cell: ([n]) => n },
      { label: 'Type', cell: ([, v]) => v.Type },
      { label: 'Template', cell: ([, v]) => (v.Operation?.TemplateId ? `${names[v.Operation.TemplateId] || ''} ${v.Operation.TemplateId}` : '') },
      { label: 'Output', cell: ([, v]) => h('span', { class: 'mono' }, v.Operation?.Output?.Object || (v.Input ? `prefix ${v.Input.ObjectPrefix}` : '')) },
    ], nodes)),
    h('details', {}, h('summary', {}, 'XML'), h('pre', { class: 'xml' }, workflowXml(w))));
}

function workflowXml(w) {
  return pretty(toXml('Request', { MediaWorkflow: { Name: w.Name, State: w.State, Topology: w.Topology } }));
}

function pretty(xml) {
  let depth = 0;
  return xml.replace(/></g, '>\n<').split('\n').map((line) => {
    if (/^<\//.test(line)) depth--;
    const out = `${'  '.repeat(Math.max(depth, 0))}${line}`;
    if (/^<[^/!?][^>]*[^/]>$/.test(line) && !/<\/[^>]+>$/.test(line)) depth++;
    return out;
  }).join('\n');
}

const NODE_TYPES = [
  ['Transcode', 'Transcode'], ['Snapshot', 'Snapshot'], ['SmartCover', 'SmartCover'],
  ['Animation', 'Animation'], ['MediaInfo', null],
];
const DEFAULT_OUTPUT = {
  Transcode: 'output/${RunId}/${InputName}.${Ext}',
  Snapshot: 'output/${RunId}/snapshot-${Number}.jpg',
  SmartCover: 'output/${RunId}/cover-${Number}.jpg',
  Animation: 'output/${RunId}/${InputName}.${Ext}',
};

const truthy = (v) => String(v ?? '').trim().toLowerCase() === 'true';

/** The "Files" choice showing a stored ExtFilter: none, off or AllFile → every file; one kind
 *  alone → that kind; anything else cannot be shown by the select → 'stored' (kept as is). */
function filterChoice(f) {
  if (!f || typeof f !== 'object' || String(f.State ?? '').toLowerCase() !== 'on' || truthy(f.AllFile)) return 'all';
  const kinds = ['Video', 'Audio', 'Image'].filter((k) => truthy(f[k]));
  if (kinds.length === 1 && !truthy(f.ContentType) && !truthy(f.Custom)) return kinds[0].toLowerCase();
  return 'stored';
}

function describeFilter(f) {
  const parts = ['Video', 'Audio', 'Image', 'ContentType'].filter((k) => truthy(f?.[k]));
  if (truthy(f?.Custom)) parts.push(`.${String(f.CustomExts || '').split('/').join(' .')}`);
  return parts.join(', ') || 'no file';
}

/** Whether the form can show a topology: a tree of the node types it knows. */
function formCanEdit(topology) {
  const nodes = Object.entries(topology?.Nodes || {}).filter(([n]) => n !== 'Start' && n !== 'End');
  if (nodes.some(([, v]) => !NODE_TYPES.some(([t]) => t === v?.Type))) return false;
  const parents = {};
  for (const [from, to] of Object.entries(topology?.Dependencies || {})) {
    for (const t of String(to).split(',').map((x) => x.trim()).filter((x) => x && x !== 'End')) parents[t] = (parents[t] || 0) + 1;
  }
  return nodes.every(([n]) => (parents[n] || 0) <= 1);
}

async function editor(main, { app, stale }, id) {
  const bucket = app.bucket;
  let existing = null;
  if (id) {
    existing = await loadWorkflow(main, app, bucket, id, (b) => href(`/workflows/${id}/edit`, { bucket: b }));
    if (!existing) return;
  }
  const templates = await loadTemplates(bucket).catch(() => []);
  if (stale?.()) return;
  const title = existing ? `Edit ${existing.Name}` : 'New workflow';
  main.append(h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: href('/workflows') }, 'Workflows'), ' / ', title),
    h('h1', {}, title));

  // --- the form --------------------------------------------------------------------------
  const start = existing?.Topology?.Nodes?.Start?.Input || {};
  const name = h('input', { name: 'name', required: true, value: existing?.Name || '', pattern: '[\\w\\-\\u4e00-\\u9fa5]{1,128}' });
  const state = select([['Active', 'Active'], ['Paused', 'Paused']], existing?.State || 'Active', { name: 'state' });
  const prefix = h('input', { name: 'prefix', value: start.ObjectPrefix ?? 'input/', spellcheck: 'false' });
  // The form shows what is stored; what it does not show (NotifyConfig's Event and
  // ResultFormat, queues, a filter it cannot express, a node's other settings) is saved as stored.
  const filterInit = existing ? filterChoice(start.ExtFilter) : 'video';
  const filterOptions = [['video', 'Video files'], ['audio', 'Audio files'], ['image', 'Image files'], ['all', 'Every file']];
  if (filterInit === 'stored') filterOptions.push(['stored', `As stored: ${describeFilter(start.ExtFilter)}`]);
  const filter = select(filterOptions, filterInit, { name: 'filter' });
  const storedUrl = start.NotifyConfig?.Url || '';
  const editable = !existing || formCanEdit(existing.Topology);
  const cbUrl = h('input', { name: 'callback', type: 'url', value: start.NotifyConfig?.Url || '', placeholder: 'https://example.com/hook (optional)' });
  const steps = h('ol', { class: 'steps' });
  const preview = h('div', { class: 'preview' });

  function stepRow(init = {}) {
    const type = select(NODE_TYPES.map(([t]) => t), init.type || 'Transcode', { name: 'step_type', 'aria-label': 'Node type' });
    const tpl = h('select', { name: 'step_template', 'aria-label': 'Template' });
    const out = h('input', { name: 'step_output', value: init.output || DEFAULT_OUTPUT[init.type || 'Transcode'], spellcheck: 'false', 'aria-label': 'Output object' });
    const after = h('select', { name: 'step_after', 'aria-label': 'Runs after' });
    const fillTemplates = () => {
      const tag = NODE_TYPES.find(([t]) => t === type.value)[1];
      const opts = tag ? templates.filter((t) => t.Tag === tag) : [];
      // A stored template that is not listed (deleted, or the list failed) is still shown.
      const unlisted = tag && init.template && type.value === init.type && !opts.some((t) => t.TemplateId === init.template);
      clear(tpl, tag === 'SmartCover' || !tag ? h('option', { value: '' }, tag ? '(defaults)' : '(none)') : null,
        opts.map((t) => h('option', { value: t.TemplateId, selected: t.TemplateId === init.template }, `${t.Name} (${t.Category})`)),
        unlisted ? h('option', { value: init.template, selected: true }, `${init.template} (not listed)`) : null);
      // A sensible default for a new Transcode node: the first MP4 template.
      if (!init.template && tag === 'Transcode') {
        const mp4 = opts.find((t) => /mp4/i.test(t.Name));
        if (mp4) tpl.value = mp4.TemplateId;
      }
      tpl.disabled = !tag;
      out.disabled = !tag;
    };
    type.addEventListener('change', () => { out.value = DEFAULT_OUTPUT[type.value] || ''; fillTemplates(); update(); });
    fillTemplates();
    const li = h('li', { class: 'step' },
      field('Type', type), field('Template', tpl), field('Output object', out), field('After', after),
      h('button', { type: 'button', class: 'danger', 'aria-label': 'Remove this node', onclick: () => { li.remove(); update(); } }, 'Remove'));
    li._init = init;
    li._get = () => ({ type: type.value, template: tpl.value, output: out.value, after: after.value });
    li._after = after;
    [tpl, out, after].forEach((c) => c.addEventListener('change', update));
    return li;
  }

  /** Node names: a stored node keeps its name (while its type is unchanged); new ones are
   *  `<Type>_<n>`, numbered per type in form order, skipping names in use. */
  function nodeNames() {
    const rows = [...steps.children];
    const keep = rows.map((li) => (li._init.name && li._get().type === li._init.type ? li._init.name : null));
    const used = new Set(keep.filter(Boolean));
    const seen = {};
    return rows.map((li, i) => {
      if (keep[i]) return keep[i];
      const t = li._get().type;
      let n = seen[t] || 0;
      let name;
      do { n += 1; name = `${t}_${n}`; } while (used.has(name));
      seen[t] = n;
      used.add(name);
      return name;
    });
  }

  function stepsList() {
    const names = nodeNames();
    return [...steps.children].map((li, i) => ({ ...li._get(), node: names[i], init: li._init }));
  }

  function refreshAfter() {
    const list = [...steps.children];
    const names = nodeNames();
    list.forEach((li, i) => {
      const current = li._after.value || li._init.after || 'Start';
      const choices = ['Start', ...names.slice(0, i)];
      clear(li._after, choices.map((c) => h('option', { value: c, selected: c === current }, c)));
    });
  }

  function buildRequest() {
    const list = stepsList();
    const deps = { Start: [] };
    const input = existing ? structuredClone(start) : {};
    input.ObjectPrefix = prefix.value;
    if (cbUrl.value !== storedUrl) {
      if (cbUrl.value) {
        input.NotifyConfig = { Event: 'WorkflowFinish', ResultFormat: 'XML', Type: 'Url', State: 'On', ...(input.NotifyConfig || {}), Url: cbUrl.value };
      } else delete input.NotifyConfig;
    }
    if (!existing || filter.value !== filterInit) {
      if (filter.value === 'all') input.ExtFilter = { State: 'On', AllFile: 'true' };
      else if (filter.value !== 'stored') input.ExtFilter = { State: 'On', [filter.value[0].toUpperCase() + filter.value.slice(1)]: 'true' };
    }
    const nodes = { Start: { Type: 'Start', Input: input } };
    for (const s of list) {
      deps[s.node] = [];
      (deps[s.after] || deps.Start).push(s.node);
      // A stored node of the same type keeps every setting the form does not show.
      const node = s.init.stored && s.init.type === s.type ? structuredClone(s.init.stored) : { Type: s.type };
      if (s.type !== 'MediaInfo') {
        const op = (node.Operation && typeof node.Operation === 'object') ? node.Operation : {};
        if (s.template) op.TemplateId = s.template; else delete op.TemplateId;
        const out = op.Output && typeof op.Output === 'object' ? op.Output : {};
        op.Output = { Region: 'ap-guangzhou', Bucket: bucket, ...out, Object: s.output };
        node.Operation = op;
      }
      nodes[s.node] = node;
    }
    const dependencies = Object.fromEntries(Object.entries(deps).map(([k, v]) => [k, v.length ? v.join(',') : 'End']));
    return { MediaWorkflow: { Name: name.value, State: state.value, Topology: { Dependencies: dependencies, Nodes: nodes } } };
  }

  function update() {
    refreshAfter();
    try { clear(preview, dagSvg(editable ? buildRequest().MediaWorkflow.Topology : existing.Topology, { templateNames: Object.fromEntries(templates.map((t) => [t.TemplateId, t.Name])), title: 'Preview of the graph' })); } catch { /* incomplete */ }
  }

  // Existing workflow → rows (when it is a simple chain/tree of supported nodes).
  if (existing && editable) {
    const deps = existing.Topology?.Dependencies || {};
    const children = {};
    const parent = {};
    for (const [from, to] of Object.entries(deps)) {
      children[from] = String(to).split(',').map((t) => t.trim()).filter((t) => t && t !== 'End');
      for (const t of children[from]) parent[t] = from;
    }
    // Parents before children (the "After" choices are the rows above).
    const all = existing.Topology?.Nodes || {};
    const order = [];
    const queue = [...(children.Start || [])];
    while (queue.length) {
      const n = queue.shift();
      if (order.includes(n) || !(n in all)) continue;
      order.push(n);
      queue.push(...(children[n] || []));
    }
    for (const n of Object.keys(all)) if (n !== 'Start' && n !== 'End' && !order.includes(n)) order.push(n);
    for (const n of order) {
      const v = all[n];
      steps.append(stepRow({ type: v.Type, template: v.Operation?.TemplateId, output: v.Operation?.Output?.Object, after: parent[n], name: n, stored: v }));
    }
  } else if (!existing) {
    steps.append(stepRow({ type: 'Transcode' }));
  }

  const xmlArea = h('textarea', { name: 'xml', rows: '18', class: 'mono', spellcheck: 'false' });
  xmlArea.value = existing ? workflowXml(existing) : '';

  async function save(body, button) {
    await busy(button, async () => {
      const r = existing
        ? await ci(bucket, 'PUT', `workflow/${existing.WorkflowId}`, { body })
        : await ci(bucket, 'POST', 'workflow', { body });
      const wf = r.MediaWorkflow;
      toast(`Workflow ${wf?.Name || ''} saved`);
      app.navigate(href(`/workflows/${wf?.WorkflowId || existing.WorkflowId}`, { bucket }));
    });
  }

  const form = h('form', {
    class: 'card', id: 'workflow-form', 'aria-labelledby': 'form-h',
    onsubmit: (e) => { e.preventDefault(); if (editable) save(toXml('Request', buildRequest()), e.submitter); },
  },
  h('h2', { id: 'form-h' }, 'Form'),
  editable ? null : h('p', { class: 'error', id: 'form-unsupported' }, 'The form cannot show this graph (node types or joins it does not build); edit the XML instead.'),
  h('div', { class: 'row' }, field('Name', name), field('State', state)),
  h('div', { class: 'row' }, field('Object prefix', prefix, 'uploads under this prefix start a run'), field('Files', filter)),
  field('Callback URL', cbUrl),
  h('h3', {}, 'Nodes'), steps,
  h('button', { type: 'button', onclick: () => { steps.append(stepRow({ type: 'Snapshot' })); update(); } }, 'Add node'),
  h('h3', {}, 'Graph preview'), preview,
  h('div', { class: 'actions' },
    h('button', { type: 'submit', class: 'primary', id: 'save-workflow', disabled: !editable }, existing ? 'Save changes' : 'Create workflow'),
    h('button', { type: 'button', disabled: !editable, onclick: () => { xmlArea.value = pretty(toXml('Request', buildRequest())); xmlArea.focus(); } }, 'Show as XML')));

  // The parser's error (line, column, what) under the editor, not only a passing toast.
  const xmlError = h('p', { class: 'error', role: 'alert', id: 'xml-error', hidden: true });
  const checkXml = () => {
    try {
      parseXml(xmlArea.value, 'the XML');
      xmlError.hidden = true;
      return true;
    } catch (err) {
      xmlError.textContent = err.message;
      xmlError.hidden = false;
      return false;
    }
  };

  const xmlForm = h('form', {
    class: 'card', 'aria-labelledby': 'xml-h',
    onsubmit: (e) => {
      e.preventDefault();
      if (!checkXml()) return;
      save(xmlArea.value, e.submitter);
    },
  },
  h('h2', { id: 'xml-h' }, 'XML'),
  field('Request body (<Request><MediaWorkflow>…)', xmlArea, 'exactly what POST /workflow takes'),
  xmlError,
  h('div', { class: 'actions' },
    h('button', { type: 'button', onclick: () => { if (!checkXml()) return; try { clear(preview, dagSvg(xmlToObj(parseXml(xmlArea.value, 'the XML')).MediaWorkflow?.Topology, { title: 'Preview of the graph' })); toast('Preview updated from the XML'); } catch (err) { toast(err.message, 'error'); } } }, 'Preview graph'),
    h('button', { type: 'submit' }, existing ? 'Save XML' : 'Create from XML')));

  main.append(h('div', { class: 'editor-grid' }, form, xmlForm));
  update();
}
