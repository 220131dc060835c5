// Runs (workflow executions): filter by workflow/state/time, live state by polling, a run's
// task timeline (Gantt), progress, Code/Message, and its outputs: thumbnails and players.

import { ci, arr, presign, parseTime, ciTime } from '../api.js';
import { h, svg, clear, table, field, select, stateBadge, formatTime, formatDuration, progressBar, href, loading, errorBox, modal, toast, notInBucket, isNotFound } from '../ui.js';
import { dagSvg } from '../dag.js';
import { listWorkflows } from './workflows.js';
import { download } from './buckets.js';
import { loadTemplates } from './templates.js';

const STATES = ['All', 'Running', 'Success', 'Failed', 'Cancel'];
const IMAGE = /\.(jpe?g|png|webp|gif|bmp|avif)$/i;
const VIDEO = /\.(mp4|m4v|mov|webm|mkv|ogv)$/i;
const AUDIO = /\.(mp3|m4a|aac|wav|flac|ogg|opus)$/i;
const HLS = /\.m3u8$/i;

function poll(app, fn, ms) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    if (stopped) return;
    let again = true;
    if (!document.hidden) {
      try { again = (await fn()) !== false; } catch (e) { /* shown by fn */ }
    }
    if (!stopped && again) timer = setTimeout(tick, ms);
  };
  app.onLeave(() => { stopped = true; clearTimeout(timer); });
  timer = setTimeout(tick, ms);
}

export async function render(main, ctx) {
  const { app, args } = ctx;
  if (!app.bucket) { main.append(h('h1', {}, 'Runs'), h('p', {}, 'Create a bucket first.')); return; }
  if (args[0]) return detail(main, ctx, args[0]);
  return list(main, ctx);
}

async function list(main, { app, query, stale }) {
  const bucket = app.bucket;
  const workflows = await listWorkflows(bucket);
  if (stale?.()) return;
  const wf = select([['', 'All workflows'], ...workflows.map((w) => [w.WorkflowId, w.Name])], query.workflow || '', { name: 'workflow' });
  const st = select(STATES, query.state || 'All', { name: 'state' });
  const since = h('input', { type: 'datetime-local', name: 'since', value: query.since || '' });
  const until = h('input', { type: 'datetime-local', name: 'until', value: query.until || '' });
  const live = h('input', { type: 'checkbox', name: 'live', checked: query.live !== '0' });
  const form = h('form', {
    class: 'filters', role: 'search', 'aria-label': 'Filter runs',
    onsubmit: (e) => {
      e.preventDefault();
      app.navigate(href('/runs', { workflow: wf.value, state: st.value === 'All' ? '' : st.value, since: since.value, until: until.value, live: live.checked ? '' : '0' }));
    },
  }, field('Workflow', wf), field('State', st), field('Created from', since), field('Created until', until),
  h('div', { class: 'field checkbox' }, live, h('label', { for: (live.id = 'live-updates') }, 'Live updates')),
  h('button', { type: 'submit' }, 'Apply'));
  const updated = h('p', { class: 'muted', 'aria-live': 'off' });
  const box = h('div', {}, loading());
  main.append(h('h1', {}, 'Runs'), form, updated, box);

  const names = Object.fromEntries(workflows.map((w) => [w.WorkflowId, w.Name]));
  const targets = query.workflow ? [query.workflow] : workflows.map((w) => w.WorkflowId);
  const q = { orderByTime: 'Desc', size: '100', states: query.state || 'All' };
  if (query.since) q.startCreationTime = ciTime(new Date(query.since));
  if (query.until) q.endCreationTime = ciTime(new Date(query.until));

  async function refresh() {
    try {
      const pages = await Promise.all(targets.slice(0, 30).map((id) => ci(bucket, 'GET', 'workflowexecution', { query: { workflowId: id, ...q } })));
      const runs = pages.flatMap((p) => arr(p.WorkflowExecutionList))
        .sort((a, b) => (parseTime(b.CreateTime) - parseTime(a.CreateTime)) || (a.RunId < b.RunId ? 1 : -1));
      clear(box, table([
        { label: 'Run', cell: (r) => h('a', { href: href(`/runs/${r.RunId}`, { bucket }), class: 'mono' }, r.RunId) },
        { label: 'Workflow', cell: (r) => names[r.WorkflowId] || r.WorkflowId },
        { label: 'Object', cell: (r) => h('span', { class: 'mono' }, r.Object) },
        { label: 'State', cell: (r) => stateBadge(r.State) },
        { label: 'Created', cell: (r) => formatTime(parseTime(r.CreateTime)) },
      ], runs, { caption: 'Runs, newest first', empty: targets.length ? 'No runs match.' : 'No workflows yet.', rowAttrs: (r) => ({ 'data-run': r.RunId, 'data-state': r.State }) }));
      updated.textContent = `Updated ${formatTime(new Date())}`;
    } catch (e) { clear(box, errorBox(e)); }
  }
  await refresh();
  if (live.checked) poll(app, refresh, 3000);
}

async function detail(main, { app, stale }, runId) {
  const bucket = app.bucket;
  const head = h('div', {});
  const dag = h('section', { 'aria-labelledby': 'rdag-h' });
  const gantt = h('section', { 'aria-labelledby': 'gantt-h' });
  const tasks = h('section', { 'aria-labelledby': 'tasks-h' });
  const outputs = h('section', { 'aria-labelledby': 'out-h' }, h('h2', { id: 'out-h' }, 'Outputs'));
  const outputList = h('ul', { class: 'outputs' });
  outputs.append(outputList);
  const shown = new Set();
  main.append(h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: href('/runs') }, 'Runs'), ' / ', h('span', { class: 'mono' }, runId)),
    head, dag, gantt, tasks, outputs);

  const templateNames = Object.fromEntries((await loadTemplates(bucket).catch(() => [])).map((t) => [t.TemplateId, t.Name]));
  if (stale?.()) return;
  let lastState = null;
  async function refresh() {
    let r;
    try { r = (await ci(bucket, 'GET', `workflowexecution/${runId}`)).WorkflowExecution; } catch (e) {
      // Not in this bucket: say which bucket was searched and offer the others (no more polling).
      if (isNotFound(e)) { clear(head, h('h1', {}, 'Run'), notInBucket(`Run ${runId}`, bucket, app, (b) => href(`/runs/${runId}`, { bucket: b }), e)); return false; }
      clear(head, errorBox(e));
      return true;
    }
    const run = Array.isArray(r) ? r[0] : r;
    if (!run) { clear(head, h('h1', {}, 'Run'), notInBucket(`Run ${runId}`, bucket, app, (b) => href(`/runs/${runId}`, { bucket: b }))); return false; }
    const list = arr(run.Tasks);
    const running = !['Success', 'Failed', 'Cancel'].includes(run.State);
    clear(head,
      h('div', { class: 'page-head' }, h('h1', {}, `Run of ${run.WorkflowName || run.WorkflowId}`), h('span', { id: 'run-state', 'data-state': run.State }, stateBadge(run.State))),
      h('dl', { class: 'props' },
        h('dt', {}, 'RunId'), h('dd', { class: 'mono' }, run.RunId),
        h('dt', {}, 'Object'), h('dd', { class: 'mono' }, run.Object),
        h('dt', {}, 'Workflow'), h('dd', {}, h('a', { href: href(`/workflows/${run.WorkflowId}`, { bucket }) }, run.WorkflowName || run.WorkflowId)),
        h('dt', {}, 'Created'), h('dd', {}, formatTime(parseTime(run.CreateTime)))),
      running ? h('p', { class: 'muted' }, 'Live: refreshing every 1.5 s.') : null);
    if (lastState !== run.State || running) {
      const states = Object.fromEntries(list.map((t) => [t.Name, t.State]));
      states.Start = 'Success';
      if (!running) states.End = run.State;
      clear(dag, h('h2', { id: 'rdag-h' }, 'Graph'), dagSvg(run.Topology, { states, templateNames, title: 'Graph of this run, coloured by task state' }));
      clear(gantt, h('h2', { id: 'gantt-h' }, 'Timeline'), ganttSvg(run, list));
      clear(tasks, h('h2', { id: 'tasks-h' }, 'Tasks'), table([
        { label: 'Node', cell: (t) => t.Name },
        { label: 'Type', cell: (t) => t.Type },
        { label: 'State', cell: (t) => stateBadge(t.State) },
        { label: 'Progress', cell: (t) => progressBar(t.State === 'Success' ? 100 : t.Progress, `${t.Name} progress`) },
        { label: 'Code', cell: (t) => h('span', { class: 'mono' }, t.Code || '') },
        { label: 'Message', cell: (t) => t.Message || '' },
        { label: 'Template', cell: (t) => t.TemplateName || t.TemplateId || '' },
        { label: 'Started', cell: (t) => formatTime(parseTime(t.StartTime)) },
        { label: 'Took', cell: (t) => formatDuration(took(t)) },
        { label: 'Job', cell: (t) => h('span', { class: 'mono small' }, t.JobId || '') },
      ], list, { caption: 'Tasks of this run', empty: 'No tasks yet.', rowAttrs: (t) => ({ 'data-task': t.Name, 'data-state': t.State }) }));
    }
    lastState = run.State;
    for (const t of list) {
      const objects = arr(t.ResultInfo?.ObjectInfo);
      // HLS/DASH: the playlist gets the player; its segments are not listed one by one.
      const hasPlaylist = objects.some((o) => HLS.test(o.ObjectName) || /\.mpd$/i.test(o.ObjectName));
      for (const o of objects) {
        if (shown.has(o.ObjectName)) continue;
        if (hasPlaylist && /\.(ts|m4s|aac)$/i.test(o.ObjectName)) continue;
        shown.add(o.ObjectName);
        outputList.append(outputItem(bucket, t, o));
      }
    }
    if (!shown.size) clear(outputList, h('li', { class: 'empty' }, running ? 'No outputs yet.' : 'This run wrote no outputs.'));
    else outputList.querySelector('li.empty')?.remove();
    return running;
  }
  if (await refresh()) poll(app, refresh, 1500);
}

function took(t) {
  const s = parseTime(t.StartTime);
  const e = parseTime(t.EndTime) || (t.State === 'Running' ? new Date() : null);
  return s && e ? e - s : null;
}

function ganttSvg(run, tasks) {
  const created = parseTime(run.CreateTime) || new Date();
  const rows = tasks.map((t) => ({
    t,
    queued: parseTime(t.CreateTime) || created,
    start: parseTime(t.StartTime),
    end: parseTime(t.EndTime) || (['Running', 'Submitted'].includes(t.State) ? new Date() : null),
  }));
  const t0 = Math.min(created.getTime(), ...rows.map((r) => r.queued.getTime()));
  const t1 = Math.max(t0 + 1000, ...rows.map((r) => (r.end || r.start || r.queued).getTime()));
  const span = t1 - t0;
  const LABEL = 170, W = 820, ROW = 28, TOP = 26;
  const x = (d) => LABEL + ((d - t0) / span) * (W - LABEL - 10);
  const root = svg('svg', { class: 'gantt', viewBox: `0 0 ${W} ${TOP + rows.length * ROW + 6}`, role: 'img', 'aria-label': `Task timeline: ${rows.map((r) => `${r.t.Name} ${r.t.State}${r.start ? `, ran ${formatDuration(took(r.t))}` : ''}`).join('; ')}` });
  // Axis: 5 ticks.
  for (let i = 0; i <= 4; i++) {
    const tx = LABEL + (i / 4) * (W - LABEL - 10);
    root.append(svg('line', { x1: String(tx), x2: String(tx), y1: '18', y2: String(TOP + rows.length * ROW), class: 'grid' }));
    root.append(svg('text', { x: String(tx), y: '12', 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle', class: 'tick' }, i === 0 ? '0 s' : `+${formatDuration((span * i) / 4)}`));
  }
  rows.forEach((r, i) => {
    const y = TOP + i * ROW;
    root.append(svg('text', { x: '4', y: String(y + 17), class: 'label' }, `${r.t.Name}`.slice(0, 24)));
    const qEnd = r.start || r.end || r.queued;
    root.append(svg('rect', { x: String(x(r.queued)), y: String(y + 8), width: String(Math.max(1, x(qEnd) - x(r.queued))), height: '8', class: 'queued' }, svg('title', {}, `${r.t.Name}: waiting`)));
    if (r.start) {
      root.append(svg('rect', { x: String(x(r.start)), y: String(y + 4), width: String(Math.max(3, x(r.end || r.start) - x(r.start))), height: '16', rx: '3', class: `bar state-${String(r.t.State).toLowerCase()}` },
        svg('title', {}, `${r.t.Name} (${r.t.Type}): ${r.t.State}, ${formatDuration(took(r.t))}`)));
    }
  });
  return h('div', { class: 'gantt-wrap' }, root,
    h('p', { class: 'legend muted' }, h('span', { class: 'swatch queued' }), ' waiting  ', h('span', { class: 'swatch bar' }), ' running/ran'));
}

function outputItem(bucket, task, o) {
  const key = o.ObjectName;
  const li = h('li', { class: 'output', 'data-key': key },
    h('div', { class: 'output-head' }, h('span', { class: 'badge' }, task.Type), h('span', { class: 'mono' }, key)));
  const media = h('div', { class: 'output-media' });
  li.append(media, h('div', { class: 'actions' },
    h('button', { type: 'button', 'aria-label': `Download ${key}`, onclick: () => download(bucket, key).catch((e) => toast(e.message, 'error')) }, 'Download')));
  const isImageTask = ['Snapshot', 'SmartCover', 'Animation', 'PicProcess'].includes(task.Type);
  (async () => {
    try {
      if (IMAGE.test(key) || (isImageTask && !VIDEO.test(key))) {
        const url = await presign(bucket, key, [], 3600);
        const img = h('img', { src: url, alt: `${task.Type} output ${key.split('/').pop()}`, class: 'thumb', loading: 'lazy' });
        const open = h('button', { type: 'button', class: 'thumb-button', 'aria-label': `Open ${key}`, onclick: () => modal(key.split('/').pop(), h('img', { src: url, alt: key, class: 'full' }), { wide: true }) }, img);
        media.append(open);
      } else if (HLS.test(key)) {
        const url = await presign(bucket, key, [['ci-process', 'pm3u8'], ['expires', '3600']], 3600);
        media.append(await hlsPlayer(url, key));
      } else if (VIDEO.test(key)) {
        const url = await presign(bucket, key, [], 3600);
        media.append(h('video', { src: url, controls: true, preload: 'metadata', playsinline: true, class: 'player', 'aria-label': `Video ${key}` }));
      } else if (AUDIO.test(key)) {
        const url = await presign(bucket, key, [], 3600);
        media.append(h('audio', { src: url, controls: true, preload: 'metadata', 'aria-label': `Audio ${key}` }));
      }
    } catch (e) { media.append(errorBox(e)); }
  })();
  return li;
}

let hlsLoading = null;
function loadHls() {
  if (window.Hls) return Promise.resolve(window.Hls);
  hlsLoading ||= new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = 'vendor/hls.light.min.js';
    s.onload = () => resolve(window.Hls);
    s.onerror = () => reject(new Error('could not load hls.js'));
    document.head.append(s);
  });
  return hlsLoading;
}

async function hlsPlayer(url, key) {
  const video = h('video', { controls: true, preload: 'metadata', playsinline: true, class: 'player hls', 'aria-label': `HLS video ${key}` });
  if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;
    return video;
  }
  const Hls = await loadHls();
  if (Hls?.isSupported()) {
    const hls = new Hls({ enableWorker: true });
    hls.loadSource(new URL(url, location.href).href);
    hls.attachMedia(video);
    video._hls = hls;
  } else video.src = url;
  return video;
}
