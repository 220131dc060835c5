// Workflows: list, create/edit (a simple form or the XML itself), activate/pause, delete, and
// the DAG drawn from the topology.

import { ci, arr, toXml, parseXml, xmlToObj, parseTime } from '../api.js';
import { h, clear, table, toast, field, select, busy, confirmDialog, stateBadge, formatTime, href, loading, errorBox } from '../ui.js';
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
      { label: 'Name', cell: (w) => h('a', { href: href(`/workflows/${w.WorkflowId}`) }, w.Name) },
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

async function detail(main, { app }, id) {
  const bucket = app.bucket;
  const r = await ci(bucket, 'GET', 'workflow', { query: { ids: id } });
  const w = arr(r.MediaWorkflowList)[0];
  if (!w) { main.append(h('h1', {}, 'Workflow'), errorBox(`no workflow ${id} in ${bucket}`)); return; }
  const templates = await loadTemplates(bucket).catch(() => []);
  const names = Object.fromEntries(templates.map((t) => [t.TemplateId, t.Name]));
  const nodes = Object.entries(w.Topology?.Nodes || {});
  main.append(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: href('/workflows') }, 'Workflows'), ' / ', w.Name),
    h('div', { class: 'page-head' }, h('h1', {}, w.Name), stateBadge(w.State)),
    h('div', { class: 'actions' },
      toggleButton(bucket, w, () => app.navigate(href(`/workflows/${id}`))),
      w.State === 'Paused' ? h('a', { class: 'button', href: href(`/workflows/${id}/edit`) }, 'Edit') : h('span', { class: 'muted' }, 'Pause to edit.'),
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

async function editor(main, { app }, id) {
  const bucket = app.bucket;
  let existing = null;
  if (id) {
    const r = await ci(bucket, 'GET', 'workflow', { query: { ids: id } });
    existing = arr(r.MediaWorkflowList)[0];
  }
  const templates = await loadTemplates(bucket).catch(() => []);
  const title = existing ? `Edit ${existing.Name}` : 'New workflow';
  main.append(h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: href('/workflows') }, 'Workflows'), ' / ', title),
    h('h1', {}, title));

  // --- the form --------------------------------------------------------------------------
  const start = existing?.Topology?.Nodes?.Start?.Input || {};
  const name = h('input', { name: 'name', required: true, value: existing?.Name || '', pattern: '[\\w\\-\\u4e00-\\u9fa5]{1,128}' });
  const state = select([['Active', 'Active'], ['Paused', 'Paused']], existing?.State || 'Active', { name: 'state' });
  const prefix = h('input', { name: 'prefix', value: start.ObjectPrefix ?? 'input/', spellcheck: 'false' });
  const filter = select([['video', 'Video files'], ['audio', 'Audio files'], ['image', 'Image files'], ['all', 'Every file']], 'video', { name: 'filter' });
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
      clear(tpl, tag === 'SmartCover' || !tag ? h('option', { value: '' }, tag ? '(defaults)' : '(none)') : null,
        opts.map((t) => h('option', { value: t.TemplateId, selected: t.TemplateId === init.template }, `${t.Name} (${t.Category})`)));
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

  /** Node names: `<Type>_<n>`, numbered per type in form order. */
  function nodeNames() {
    const seen = {};
    return [...steps.children].map((li) => {
      const t = li._get().type;
      seen[t] = (seen[t] || 0) + 1;
      return `${t}_${seen[t]}`;
    });
  }

  function stepsList() {
    const names = nodeNames();
    return [...steps.children].map((li, i) => ({ ...li._get(), node: names[i] }));
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
    const nodes = {
      Start: {
        Type: 'Start',
        Input: {
          ObjectPrefix: prefix.value,
          ...(cbUrl.value ? { NotifyConfig: { Url: cbUrl.value, Event: 'WorkflowFinish', ResultFormat: 'XML', Type: 'Url', State: 'On' } } : {}),
          ExtFilter: filter.value === 'all' ? { State: 'On', AllFile: 'true' } : { State: 'On', [filter.value[0].toUpperCase() + filter.value.slice(1)]: 'true' },
        },
      },
    };
    for (const s of list) {
      deps[s.node] = [];
      (deps[s.after] || deps.Start).push(s.node);
      const op = {};
      if (s.template) op.TemplateId = s.template;
      if (s.type !== 'MediaInfo') op.Output = { Region: 'ap-guangzhou', Bucket: bucket, Object: s.output };
      nodes[s.node] = s.type === 'MediaInfo' ? { Type: s.type } : { Type: s.type, Operation: op };
    }
    const dependencies = Object.fromEntries(Object.entries(deps).map(([k, v]) => [k, v.length ? v.join(',') : 'End']));
    return { MediaWorkflow: { Name: name.value, State: state.value, Topology: { Dependencies: dependencies, Nodes: nodes } } };
  }

  function update() {
    refreshAfter();
    try { clear(preview, dagSvg(buildRequest().MediaWorkflow.Topology, { templateNames: Object.fromEntries(templates.map((t) => [t.TemplateId, t.Name])), title: 'Preview of the graph' })); } catch { /* incomplete */ }
  }

  // Existing workflow → rows (when it is a simple chain/tree of supported nodes).
  if (existing) {
    const deps = existing.Topology?.Dependencies || {};
    const parent = {};
    for (const [from, to] of Object.entries(deps)) for (const t of String(to).split(',')) parent[t.trim()] = from;
    Object.entries(existing.Topology?.Nodes || {}).filter(([n]) => n !== 'Start').forEach(([n, v]) => {
      steps.append(stepRow({ type: v.Type, template: v.Operation?.TemplateId, output: v.Operation?.Output?.Object, after: parent[n], name: n }));
    });
  } else {
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
      app.navigate(href(`/workflows/${wf?.WorkflowId || existing.WorkflowId}`));
    });
  }

  const form = h('form', {
    class: 'card', id: 'workflow-form', 'aria-labelledby': 'form-h',
    onsubmit: (e) => { e.preventDefault(); save(toXml('Request', buildRequest()), e.submitter); },
  },
  h('h2', { id: 'form-h' }, 'Form'),
  h('div', { class: 'row' }, field('Name', name), field('State', state)),
  h('div', { class: 'row' }, field('Object prefix', prefix, 'uploads under this prefix start a run'), field('Files', filter)),
  field('Callback URL', cbUrl),
  h('h3', {}, 'Nodes'), steps,
  h('button', { type: 'button', onclick: () => { steps.append(stepRow({ type: 'Snapshot' })); update(); } }, 'Add node'),
  h('h3', {}, 'Graph preview'), preview,
  h('div', { class: 'actions' },
    h('button', { type: 'submit', class: 'primary', id: 'save-workflow' }, existing ? 'Save changes' : 'Create workflow'),
    h('button', { type: 'button', onclick: () => { xmlArea.value = pretty(toXml('Request', buildRequest())); xmlArea.focus(); } }, 'Show as XML')));

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
