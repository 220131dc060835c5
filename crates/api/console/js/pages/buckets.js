// Buckets and objects: browse by prefix, multipart upload with progress, download, delete.

import { listObjects, deleteObject, uploadMultipart, presign, createBucket } from '../api.js';
import { h, clear, table, toast, formatBytes, formatTime, field, busy, confirmDialog, loading, href, errorBox } from '../ui.js';

export async function render(main, { app, query, stale }) {
  await app.refreshBuckets().catch(() => {});
  if (stale?.()) return;
  const bucket = query.bucket || app.bucket;
  if (query.bucket && query.bucket !== app.bucket && app.buckets.includes(query.bucket)) {
    app.bucket = query.bucket;
    document.getElementById('bucket-picker').value = query.bucket;
  }
  const prefix = query.prefix || '';
  const newName = h('input', { name: 'bucket', placeholder: 'examplebucket-1250000000', pattern: '[a-z0-9][a-z0-9-]*-[0-9]+', spellcheck: 'false' });
  const createForm = h('form', {
    class: 'inline-form',
    onsubmit: (e) => {
      e.preventDefault();
      busy(e.submitter, async () => {
        await createBucket(newName.value.trim());
        toast(`Bucket ${newName.value.trim()} created`);
        app.bucket = newName.value.trim();
        await app.refreshBuckets();
        app.navigate(href('/buckets', { bucket: app.bucket }));
      });
    },
  }, field('New bucket', newName, 'name-APPID, e.g. media-1250000000'), h('button', { type: 'submit' }, 'Create bucket'));

  main.append(h('h1', {}, 'Buckets & objects'));
  if (!bucket) {
    main.append(h('p', {}, 'There is no bucket yet.'), createForm);
    return;
  }
  // Breadcrumbs of the prefix.
  const crumbs = [h('a', { href: href('/buckets', { bucket }) }, bucket)];
  let acc = '';
  for (const part of prefix.split('/').filter(Boolean)) {
    acc += `${part}/`;
    crumbs.push(' / ', h('a', { href: href('/buckets', { bucket, prefix: acc }) }, part));
  }

  const fileInput = h('input', { type: 'file', name: 'file', multiple: true });
  const keyPrefix = h('input', { name: 'key_prefix', value: prefix, spellcheck: 'false' });
  const uploads = h('div', { class: 'uploads', 'aria-live': 'polite' });
  const listing = h('section', { 'aria-labelledby': 'objects-h' }, h('h2', { id: 'objects-h' }, 'Objects'), loading());

  const uploadForm = h('form', {
    class: 'card upload-form', 'aria-labelledby': 'upload-h',
    onsubmit: (e) => {
      e.preventDefault();
      const files = [...fileInput.files];
      if (!files.length) { toast('Choose a file first', 'error'); return; }
      busy(e.submitter, async () => {
        for (const file of files) {
          const key = `${keyPrefix.value}${file.name}`;
          const bar = h('progress', { max: String(file.size || 1), value: '0', 'aria-label': `Uploading ${key}` });
          const pct = h('span', { class: 'pct' }, '0%');
          const row = h('div', { class: 'upload-row' }, h('span', { class: 'mono' }, key), bar, pct);
          uploads.append(row);
          await uploadMultipart(bucket, key, file, (sent, total) => {
            bar.value = sent;
            pct.textContent = `${Math.floor((sent / Math.max(total, 1)) * 100)}%`;
          });
          bar.value = file.size || 1;
          pct.textContent = 'done';
          row.classList.add('done');
          toast(`Uploaded ${key}`);
        }
        fileInput.value = '';
        await refresh();
      });
    },
  },
  h('h2', { id: 'upload-h' }, 'Upload'),
  h('div', { class: 'row' }, field('Key prefix', keyPrefix, 'uploads go to prefix + file name'), field('Files', fileInput)),
  h('button', { type: 'submit', class: 'primary', id: 'upload-button' }, 'Upload'),
  uploads);

  main.append(h('nav', { class: 'crumbs', 'aria-label': 'Prefix' }, crumbs), uploadForm, listing,
    h('details', { class: 'card' }, h('summary', {}, 'Create a bucket'), createForm));

  let token = null;
  async function refresh(more = false) {
    try {
      const page = await listObjects(bucket, prefix, more ? token : null);
      token = page.next;
      const rows = [
        ...page.prefixes.map((p) => ({ dir: true, key: p })),
        ...page.objects.map((o) => ({ dir: false, key: o.Key, size: o.Size, modified: o.LastModified })),
      ];
      const tbl = table([
        { label: 'Name', cell: (r) => (r.dir
          ? h('a', { href: href('/buckets', { bucket, prefix: r.key }), class: 'folder' }, `${r.key.slice(prefix.length)}`)
          : h('span', { class: 'mono' }, r.key.slice(prefix.length))) },
        { label: 'Size', class: 'num', cell: (r) => (r.dir ? '' : formatBytes(r.size)) },
        { label: 'Modified', cell: (r) => (r.dir ? '' : formatTime(r.modified)) },
        { label: 'Actions', cell: (r) => (r.dir ? '' : h('div', { class: 'actions' },
          h('button', { type: 'button', onclick: (e) => busy(e.target, () => download(bucket, r.key)), 'aria-label': `Download ${r.key}` }, 'Download'),
          h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${r.key}`,
            onclick: async (e) => {
              if (!(await confirmDialog(`Delete ${r.key}?`))) return;
              busy(e.target, async () => { await deleteObject(bucket, r.key); toast(`Deleted ${r.key}`); await refresh(); });
            } }, 'Delete'))) },
      ], rows, { caption: `${bucket}/${prefix}`, empty: 'No objects under this prefix.' });
      clear(listing, h('h2', { id: 'objects-h' }, 'Objects'), tbl,
        token ? h('button', { type: 'button', onclick: () => refresh(true) }, 'More') : null);
    } catch (e) {
      clear(listing, h('h2', { id: 'objects-h' }, 'Objects'), errorBox(e));
    }
  }
  await refresh();
}

/** Downloads an object under its exact name: the server turns any name beyond plain ASCII
 *  (or with `%`) into RFC 6266 `filename*=UTF-8''…`, so browsers keep it byte for byte. */
export async function download(bucket, key) {
  const name = key.split('/').pop();
  const url = await presign(bucket, key, [['response-content-disposition', `attachment; filename="${name.replace(/["\\]/g, '\\$&')}"`]], 300);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
}
