// The workflow DAG as an SVG picture, from a Topology (Dependencies + Nodes).

import { svg, h } from './ui.js';

const COLORS = {
  Start: '#2e7d32', End: '#555', Transcode: '#1f5fbf', VideoStream: '#1f5fbf', Snapshot: '#8e44ad',
  SmartCover: '#8e44ad', Animation: '#b9770e', Concat: '#117a65', StreamPackConfig: '#5d6d7e',
  StreamPack: '#5d6d7e', Segment: '#117a65', MediaInfo: '#7b7d7d', PicProcess: '#a93226', Watermark: '#a93226',
};

/** Graph of a topology object (xmlToObj of <Topology>). */
export function graphOf(topology, templateNames = {}) {
  const deps = topology?.Dependencies || {};
  const nodesXml = topology?.Nodes || {};
  const nodes = new Map();
  const edges = [];
  const add = (name) => {
    if (!nodes.has(name)) {
      const n = nodesXml[name] || {};
      const type = name === 'End' ? 'End' : (n.Type || name);
      const op = n.Operation || {};
      const tpl = op.TemplateId || '';
      const output = op.Output?.Object || '';
      const prefix = n.Input?.ObjectPrefix;
      nodes.set(name, { name, type, template: tpl, templateName: templateNames[tpl] || '', output, prefix });
    }
    return nodes.get(name);
  };
  add('Start');
  for (const [from, to] of Object.entries(deps)) {
    add(from);
    for (const t of String(to || '').split(',').map((s) => s.trim()).filter(Boolean)) {
      add(t);
      edges.push([from, t]);
    }
  }
  for (const name of Object.keys(nodesXml)) add(name);
  // Column = longest path from Start (cycle-safe: at most |nodes| rounds).
  const depth = new Map([...nodes.keys()].map((k) => [k, 0]));
  for (let i = 0; i < nodes.size; i++) {
    let changed = false;
    for (const [a, b] of edges) if (depth.get(b) < depth.get(a) + 1) { depth.set(b, depth.get(a) + 1); changed = true; }
    if (!changed) break;
  }
  if (nodes.has('End')) depth.set('End', Math.max(...depth.values()));
  return { nodes: [...nodes.values()].map((n) => ({ ...n, depth: depth.get(n.name) })), edges };
}

/**
 * Layered layout (Sugiyama-style): columns by longest path, a dummy slot in every column a long
 * edge crosses (so it never runs behind a node), rows ordered by the mean row of each node's
 * predecessors to keep crossings down.
 */
function layout(nodes, edges, W, H, GX, GY) {
  const DUMMY = 18;
  const cols = new Map();
  const put = (d, item) => { if (!cols.has(d)) cols.set(d, []); cols.get(d).push(item); };
  const items = new Map();
  for (const n of nodes) { const it = { id: n.name, depth: n.depth, h: H, preds: [] }; items.set(n.name, it); put(n.depth, it); }
  const routes = [];
  edges.forEach(([a, b], i) => {
    const A = items.get(a), B = items.get(b);
    if (!A || !B) return;
    const chain = [A];
    for (let d = A.depth + 1; d < B.depth; d++) {
      const dummy = { id: `~${i}-${d}`, depth: d, h: DUMMY, preds: [chain[chain.length - 1]], dummy: true };
      put(d, dummy);
      chain.push(dummy);
    }
    chain.push(B);
    if (B.depth > A.depth) B.preds.push(chain[chain.length - 2]);
    routes.push(chain);
  });
  const depths = [...cols.keys()].sort((x, y) => x - y);
  for (let sweep = 0; sweep < 2; sweep++) {
    for (const d of depths) {
      const col = cols.get(d);
      col.forEach((it, i) => { it.row = i; });
      col.forEach((it) => { it.key = it.preds.length ? it.preds.reduce((s, p) => s + p.row, 0) / it.preds.length : it.row; });
      col.sort((x, y) => x.key - y.key);
      col.forEach((it, i) => { it.row = i; });
    }
  }
  const colHeight = (col) => col.reduce((s, it) => s + it.h + GY, -GY);
  const height = Math.max(H, ...[...cols.values()].map(colHeight)) + 2 * GY;
  for (const d of depths) {
    const col = cols.get(d);
    let y = (height - colHeight(col)) / 2;
    for (const it of col) { it.x = GX / 2 + d * (W + GX); it.y = y; y += it.h + GY; }
  }
  const width = (Math.max(...depths) + 1) * (W + GX);
  return { items, routes, width, height };
}

/** An <svg> of the graph; `states` maps node name → task state (for runs). */
export function dagSvg(topology, { templateNames = {}, states = {}, title = 'Workflow graph' } = {}) {
  const { nodes, edges } = graphOf(topology, templateNames);
  const W = 190, H = 74, GX = 46, GY = 22;
  const { items, routes, width, height } = layout(nodes, edges, W, H, GX, GY);
  const pos = items;
  const summary = nodes.filter((n) => n.type !== 'Start' && n.type !== 'End').map((n) => `${n.name} (${n.type})`).join(', ');
  const id = `dag-${Math.random().toString(36).slice(2, 8)}`;
  const root = svg('svg', {
    class: 'dag', viewBox: `0 0 ${width} ${height}`, width: String(width), height: String(height),
    role: 'img', 'aria-labelledby': `${id}-t ${id}-d`,
  },
  svg('title', { id: `${id}-t` }, title),
  svg('desc', { id: `${id}-d` }, `Start → ${summary || 'End'} → End; ${edges.length} edges`),
  svg('defs', {}, svg('marker', { id: `${id}-arrow`, viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' },
    svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#667' }))));
  for (const chain of routes) {
    // Through each dummy slot horizontally, curving between columns.
    const pts = [];
    chain.forEach((it, i) => {
      const cy = it.y + it.h / 2;
      if (i > 0) pts.push([it.x, cy]);
      if (i < chain.length - 1) pts.push([it.x + W, cy]);
    });
    let d = `M ${pts[0][0]} ${pts[0][1]}`;
    for (let i = 1; i < pts.length; i++) {
      const [x0, y0] = pts[i - 1];
      const [x1, y1] = pts[i];
      if (i % 2 === 1) { const mx = (x0 + x1) / 2; d += ` C ${mx} ${y0}, ${mx} ${y1}, ${x1} ${y1}`; } else d += ` L ${x1} ${y1}`;
    }
    root.append(svg('path', { class: 'edge', d, fill: 'none', stroke: '#667', 'stroke-width': '1.5', 'marker-end': `url(#${id}-arrow)` }));
  }
  for (const n of nodes) {
    const p = pos.get(n.name);
    const color = COLORS[n.type] || '#34495e';
    const state = states[n.name];
    const g = svg('g', { class: `node${state ? ` state-${state.toLowerCase()}` : ''}`, transform: `translate(${p.x} ${p.y})`, 'data-node': n.name, 'data-type': n.type });
    g.append(svg('title', {}, [
      `${n.name} — ${n.type}`, n.template && `template ${n.template}${n.templateName ? ` (${n.templateName})` : ''}`,
      n.output && `output ${n.output}`, n.prefix && `prefix ${n.prefix}`, state && `state ${state}`,
    ].filter(Boolean).join('\n')));
    g.append(svg('rect', { width: String(W), height: String(H), rx: '8', fill: '#fff', stroke: color, 'stroke-width': state ? '3' : '2' }));
    g.append(svg('rect', { width: '6', height: String(H), rx: '3', fill: color }));
    const lines = [
      [n.type, 'type'],
      [n.type === n.name ? '' : n.name, 'name'],
      [n.type === 'Start' ? (n.prefix !== undefined ? `prefix: ${n.prefix || '/'}` : '') : (n.templateName || n.template ? `tpl: ${n.templateName || n.template}` : ''), 'meta'],
      [n.output ? `→ ${n.output}` : (state ? state : ''), 'meta'],
    ].filter(([t]) => t);
    lines.slice(0, 4).forEach(([t, cls], i) => {
      const text = t.length > 28 ? `${t.slice(0, 27)}…` : t;
      g.append(svg('text', { x: '14', y: String(18 + i * 16), class: `dag-${cls}` }, text));
    });
    if (state) g.append(svg('circle', { cx: String(W - 12), cy: '12', r: '6', class: `dot state-${state.toLowerCase()}` }));
    root.append(g);
  }
  return h('div', { class: 'dag-wrap', tabindex: '0', 'aria-label': `${title} (scrollable)` }, root);
}
