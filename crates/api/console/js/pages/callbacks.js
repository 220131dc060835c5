// Callbacks: messages with every attempt (status, latency, response body), redeliver, recover.
// Uses the /_reelflow/v1/callbacks admin JSON API.

import { admin } from '../api.js';
import { h, clear, table, field, select, stateBadge, formatTime, formatDuration, href, loading, errorBox, busy, toast } from '../ui.js';

export async function render(main, ctx) {
  if (ctx.args[0]) return detail(main, ctx, ctx.args[0]);
  return list(main, ctx);
}

async function list(main, { app, query }) {
  const bucket = query.bucket ?? app.bucket;
  const state = select([['', 'Any state'], 'Pending', 'Sending', 'Delivered', 'Exhausted'], query.state || '', { name: 'state' });
  const kind = select([['', 'Any kind'], 'WorkflowFinish', 'TaskFinish'], query.kind || '', { name: 'kind' });
  const run = h('input', { name: 'run', value: query.run || '', spellcheck: 'false', placeholder: 'RunId' });
  const onlyBucket = h('input', { type: 'checkbox', id: 'cb-only-bucket', checked: query.bucket !== '' });
  const form = h('form', {
    class: 'filters', role: 'search', 'aria-label': 'Filter callbacks',
    onsubmit: (e) => {
      e.preventDefault();
      app.navigate(href('/callbacks', { state: state.value, kind: kind.value, run: run.value.trim(), bucket: onlyBucket.checked ? undefined : '' }));
    },
  }, field('State', state), field('Kind', kind), field('Run', run),
  h('div', { class: 'field checkbox' }, onlyBucket, h('label', { for: 'cb-only-bucket' }, `Only ${app.bucket || 'this bucket'}`)),
  h('button', { type: 'submit' }, 'Apply'));

  const since = h('input', { type: 'datetime-local', name: 'recover_since', required: true });
  const until = h('input', { type: 'datetime-local', name: 'recover_until' });
  const recover = h('form', {
    class: 'card inline-form', 'aria-labelledby': 'recover-h',
    onsubmit: (e) => {
      e.preventDefault();
      busy(e.submitter, async () => {
        const q = { since: new Date(since.value).toISOString() };
        if (until.value) q.until = new Date(until.value).toISOString();
        if (app.bucket) q.bucket = app.bucket;
        const r = await admin('POST', '/callbacks/recover', { query: q });
        toast(`${r.recovered} exhausted message(s) sent again`);
        await refresh();
      });
    },
  }, h('h2', { id: 'recover-h' }, 'Recover'), h('p', { class: 'muted' }, 'Send again every Exhausted message created in a time range.'),
  field('Created from', since), field('Created until', until), h('button', { type: 'submit' }, 'Recover'));

  const box = h('div', {}, loading());
  main.append(h('h1', {}, 'Callbacks'), form, box, recover);
  let after = null;
  async function refresh(more = false) {
    try {
      const q = { limit: '50', state: query.state || undefined, kind: query.kind || undefined, run: query.run || undefined, bucket: bucket || undefined, after: more ? after : undefined };
      const r = await admin('GET', '/callbacks', { query: q });
      after = r.next_after;
      const rows = r.callbacks || [];
      const tbl = table([
        { label: 'Message', cell: (m) => h('a', { href: href(`/callbacks/${m.id}`), class: 'mono small' }, m.id) },
        { label: 'Kind', cell: (m) => m.kind },
        { label: 'State', cell: (m) => stateBadge(m.state) },
        { label: 'Attempts', class: 'num', cell: (m) => String(m.attempt_count) },
        { label: 'Last status', cell: (m) => (m.last_status ? String(m.last_status) : m.last_error || '–') },
        { label: 'URL', cell: (m) => h('span', { class: 'mono small' }, m.url) },
        { label: 'Created', cell: (m) => formatTime(m.created_at) },
        { label: 'Actions', cell: (m) => redeliverButton(m, () => refresh()) },
      ], rows, { caption: 'Callback messages, newest first', empty: 'No callback messages.' });
      clear(box, tbl, after ? h('button', { type: 'button', onclick: () => refresh(true) }, 'More') : null);
    } catch (e) { clear(box, errorBox(e)); }
  }
  await refresh();
}

function redeliverButton(m, after) {
  return h('button', {
    type: 'button', 'aria-label': `Redeliver ${m.id}`,
    onclick: (e) => busy(e.target, async () => { await admin('POST', `/callbacks/${encodeURIComponent(m.id)}/redeliver`); toast('Redelivery queued'); after(); }),
  }, 'Redeliver');
}

async function detail(main, { app }, id) {
  const box = h('div', {}, loading());
  main.append(h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: href('/callbacks') }, 'Callbacks'), ' / ', h('span', { class: 'mono' }, id)), box);
  async function refresh() {
    const m = await admin('GET', `/callbacks/${encodeURIComponent(id)}`);
    clear(box,
      h('div', { class: 'page-head' }, h('h1', {}, `${m.kind} callback`), stateBadge(m.state)),
      h('div', { class: 'actions' }, redeliverButton(m, () => refresh()),
        m.run_id ? h('a', { class: 'button', href: href(`/runs/${m.run_id}`, { bucket: m.bucket }) }, 'Open run') : null),
      h('dl', { class: 'props' },
        ...[['Id', m.id], ['URL', m.url], ['Bucket', m.bucket], ['Workflow', m.workflow_id], ['Run', m.run_id], ['Job', m.job_id],
          ['Round', m.round], ['Created', formatTime(m.created_at)], ['Next attempt', m.next_attempt_at ? formatTime(m.next_attempt_at) : '–'],
          ['Delivered', m.delivered_at ? formatTime(m.delivered_at) : '–']]
          .filter(([, v]) => v !== null && v !== undefined && v !== '')
          .flatMap(([k, v]) => [h('dt', {}, k), h('dd', { class: 'mono' }, String(v))])),
      h('h2', {}, 'Attempts'),
      table([
        { label: '#', class: 'num', cell: (a) => String(a.number) },
        { label: 'Round', class: 'num', cell: (a) => String(a.round) },
        { label: 'Trigger', cell: (a) => a.trigger },
        { label: 'Started', cell: (a) => formatTime(a.started_at) },
        { label: 'Status', cell: (a) => (a.status ? String(a.status) : h('span', { class: 'error-text' }, a.error_kind || 'error')) },
        { label: 'Latency', class: 'num', cell: (a) => formatDuration(a.duration_ms) },
        { label: 'Verdict', cell: (a) => stateBadge(a.verdict) },
        { label: 'Response / error', cell: (a) => h('pre', { class: 'small' }, a.response_body || a.error || '') },
      ], m.attempts || [], { caption: 'Every delivery attempt', empty: 'No attempt yet.' }),
      h('h2', {}, 'Body'), h('pre', { class: 'xml' }, m.body || ''));
  }
  try { await refresh(); } catch (e) { clear(box, errorBox(e)); }
}
