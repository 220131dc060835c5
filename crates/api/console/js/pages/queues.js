// Queues: state (pause/resume) and MaxConcurrent of the bucket's queue(s).

import { ci, arr, toXml, parseTime } from '../api.js';
import { h, clear, table, stateBadge, formatTime, loading, errorBox, busy, toast, href } from '../ui.js';

async function update(bucket, q, changes) {
  const body = toXml('Request', {
    Name: q.Name, QueueID: q.QueueId, State: changes.State ?? q.State,
    MaxConcurrent: changes.MaxConcurrent ?? q.MaxConcurrent,
  });
  return ci(bucket, 'PUT', `queue/${q.QueueId}`, { body });
}

export async function render(main, { app }) {
  const bucket = app.bucket;
  main.append(h('h1', {}, 'Queues'));
  if (!bucket) { main.append(h('p', {}, 'Create a bucket first.')); return; }
  const box = h('div', {}, loading());
  main.append(h('p', { class: 'muted' }, 'A paused queue holds new tasks; MaxConcurrent bounds the tasks it runs at once.'), box);
  try {
    const r = await ci(bucket, 'GET', 'queue', { query: { pageNumber: '1', pageSize: '100' } });
    const queues = arr(r.QueueList);
    clear(box, table([
      { label: 'Queue', cell: (q) => h('div', {}, q.Name, h('br'), h('span', { class: 'mono small' }, q.QueueId)) },
      { label: 'State', cell: (q) => stateBadge(q.State) },
      { label: 'MaxConcurrent', cell: (q) => {
        const input = h('input', { type: 'number', min: '1', max: '1000', value: q.MaxConcurrent, name: 'max_concurrent', 'aria-label': `MaxConcurrent of ${q.Name}`, class: 'narrow' });
        return h('form', {
          class: 'inline', onsubmit: (e) => {
            e.preventDefault();
            busy(e.submitter, async () => { await update(bucket, q, { MaxConcurrent: input.value }); toast('MaxConcurrent saved'); app.navigate(href('/queues')); });
          },
        }, input, h('button', { type: 'submit' }, 'Save'));
      } },
      { label: 'Updated', cell: (q) => formatTime(parseTime(q.UpdateTime)) },
      { label: 'Actions', cell: (q) => {
        const paused = q.State === 'Paused';
        return h('button', {
          type: 'button', class: paused ? 'primary' : '', 'aria-label': `${paused ? 'Resume' : 'Pause'} ${q.Name}`,
          onclick: (e) => busy(e.target, async () => { await update(bucket, q, { State: paused ? 'Active' : 'Paused' }); toast(`Queue ${paused ? 'resumed' : 'paused'}`); app.navigate(href('/queues')); }),
        }, paused ? 'Resume' : 'Pause');
      } },
    ], queues, { caption: `Queues of ${bucket}` }));
  } catch (e) { clear(box, errorBox(e)); }
}
