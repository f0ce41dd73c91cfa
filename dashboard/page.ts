// The cluster page at `/`: one HTML document; its script polls /api/overview every 1.5 s and redraws
// the topology, barman's state, the flows and the events. Every text goes in through textContent.

/**
 * A script for the head of every dashboard page (the cluster page and Bull Board's): a page opened as
 * http://user:token@host/ has a base URL that carries the credentials, and fetch refuses every URL
 * resolved against it ("Request cannot be constructed from a URL that includes credentials"): Bull
 * Board then showed its raw translation keys (MENU.QUEUES) for 11 s, its locale never loaded. fetch is
 * given the same URL without them; the browser keeps the login for the origin and sends it anyway.
 */
export const FETCH_WITHOUT_URL_CREDENTIALS = `<script>(() => {
  const f = window.fetch;
  window.fetch = function (input, init) {
    if (typeof input === 'string' || input instanceof URL) {
      const u = new URL(String(input), document.baseURI);
      if (u.username || u.password) {
        u.username = '';
        u.password = '';
        input = u.href;
      }
    }
    return f.call(this, input, init);
  };
})();</script>`;

/** The dashboard's title for a cluster (pure): "pgha · NAME", or "pgha" alone for the default cluster name (not "pgha · pgha"). */
export const dashboardTitle = (cluster: string) => (cluster === 'pgha' ? 'pgha' : `pgha · ${cluster}`);

/** The page (pure: the cluster name and whether writes are allowed are the only inputs). */
export function clusterPage(o: { cluster: string; readOnly: boolean }): string {
  const cluster = o.cluster.replace(/[^A-Za-z0-9_-]/g, '');
  const title = dashboardTitle(cluster);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
${FETCH_WITHOUT_URL_CREDENTIALS}
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 20px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header a { color: #9cc3ff; }
  #updated { margin-left: auto; font-size: 12px; color: #aab; }
  main { display: grid; grid-template-columns: 2fr 1fr; gap: 16px; padding: 16px 20px; }
  section { background: #fff; border-radius: 6px; padding: 12px 16px; box-shadow: 0 1px 2px #0002; }
  section h2 { font-size: 15px; margin: 0 0 8px; }
  #topology svg { width: 100%; height: 300px; }
  .node rect { fill: #fff; stroke: #607080; stroke-width: 1.5; rx: 6; }
  .node.primary rect { fill: #e5f6e8; stroke: #1f8a3b; stroke-width: 3; }
  .node.standby rect { fill: #eaf1fd; stroke: #2d6bd4; }
  .node.down rect, .node.unknown rect { fill: #e3e3e3; stroke: #999; stroke-dasharray: 4 3; }
  .node.down text, .node.unknown text { fill: #888; }
  .node .name { font-weight: 600; font-size: 15px; }
  .node .role { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; }
  .node .detail { font-size: 11px; fill: #556; }
  .edge { stroke: #2d6bd4; stroke-width: 2; marker-end: url(#arrow); }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eee; vertical-align: top; }
  .state-failed, .bad { color: #b3261e; font-weight: 600; }
  .state-completed, .ok { color: #1f8a3b; }
  .state-running { color: #2d6bd4; font-weight: 600; }
  .wide { grid-column: 1 / -1; }
  #error { color: #b3261e; }
  .banner { background: #fdecea; color: #b3261e; border: 2px solid #b3261e; padding: 8px 12px; margin: 8px 16px; font-weight: 600; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
  dt { color: #667; }
  .actions { display: flex; flex-wrap: wrap; gap: 8px 18px; align-items: center; }
  .actions label { display: inline-flex; gap: 6px; align-items: center; }
  button { font: inherit; padding: 3px 10px; }
  #action-result { margin-top: 8px; font-size: 13px; }
  #lag svg { width: 100%; height: 140px; }
  #lag .axis { stroke: #ccd; }
  #lag polyline { fill: none; stroke-width: 2; }
</style>
</head>
<body>
<header><h1>${title}</h1>
  <a href="queues">Bull Board (steps, logs, retry)</a><a href="api/status">API</a><a href="metrics">metrics</a>
  <span>${o.readOnly ? 'read-only' : ''}</span><span id="updated">loading…</span>
  <form method="post" action="logout"><button type="submit">log out</button></form></header>
<div id="failover-paused" class="banner" role="alert" hidden></div>
<main>
  <section id="topology"><h2>Topology</h2><div id="error"></div>
    <svg id="graph" viewBox="0 0 720 300" role="img" aria-label="cluster topology">
      <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#2d6bd4"/></marker></defs>
      <g id="edges"></g><g id="nodes"></g>
    </svg>
  </section>
  <section id="barman"><h2>Barman</h2><dl id="barman-state"></dl></section>
  ${
    o.readOnly
      ? ''
      : `<section id="actions" class="wide"><h2>Operations</h2>
    <div class="actions">
      <label>to <select id="switchover-to" aria-label="switch over to"></select></label><button id="do-switchover">Switch over</button>
      <button id="do-backup">Back up now</button>
      <label><select id="restart-node" aria-label="node to restart"></select></label><button id="do-restart">Restart</button>
      <label><select id="reinit-node" aria-label="standby to re-clone"></select></label><button id="do-reinit">Reinit</button>
      <input id="pause-reason" placeholder="why (shown to all)" maxlength="500"><button id="do-pause">Pause automatic failover</button><button id="do-resume">Resume automatic failover</button>
    </div>
    <div id="action-result" role="status"></div>
  </section>`
  }
  <section id="lag" class="wide"><h2>Replication lag, last 15 minutes</h2>
    <svg id="lag-chart" viewBox="0 0 720 140" role="img" aria-label="replication lag of each standby over the last 15 minutes"><g id="lag-lines"></g></svg>
    <div id="lag-legend"></div>
  </section>
  <section id="flows" class="wide"><h2>Flows</h2>
    <table><thead><tr><th>flow</th><th>scenario</th><th>state</th><th>step</th><th>progress</th><th>started</th></tr></thead><tbody id="flow-rows"></tbody></table>
  </section>
  <section id="history" class="wide"><h2>Timelines</h2>
    <table><thead><tr><th>timeline</th><th>forked from</th><th>at LSN</th><th>when</th><th>promoted</th><th>why</th><th>by</th></tr></thead><tbody id="timeline-rows"></tbody></table>
  </section>
  <section id="events" class="wide"><h2>Cluster events</h2>
    <table><thead><tr><th>when</th><th>node</th><th>event</th><th>result</th><th>flow</th></tr></thead><tbody id="event-rows"></tbody></table>
  </section>
</main>
<script>
const SVG = 'http://www.w3.org/2000/svg';
const el = (tag, attrs = {}, text) => {
  const e = tag === 'tr' || tag === 'td' || tag === 'dt' || tag === 'dd' || tag === 'span' ? document.createElement(tag) : document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};
const row = (cells, cls = []) => { const tr = el('tr'); cells.forEach((c, i) => tr.append(el('td', cls[i] ? { class: cls[i] } : {}, c))); return tr; };
const ago = (iso) => { if (!iso) return '-'; const s = Math.round((Date.now() - Date.parse(iso)) / 1000); return s < 90 ? s + ' s ago' : s < 5400 ? Math.round(s / 60) + ' min ago' : Math.round(s / 3600) + ' h ago'; };
const mib = (b) => b == null ? '?' : (b / 1048576).toFixed(1) + ' MiB';

function drawTopology(nodes) {
  const W = 720, BW = 150, BH = 80;
  const primary = nodes.filter((n) => n.role === 'primary');
  const rest = nodes.filter((n) => n.role !== 'primary');
  const place = (list, y) => list.forEach((n, i) => { n.x = (W / (list.length + 1)) * (i + 1) - BW / 2; n.y = y; });
  place(primary, 20); place(rest, primary.length ? 190 : 100);
  const byName = Object.fromEntries(nodes.map((n) => [n.name, n]));
  const edges = document.getElementById('edges'); edges.replaceChildren();
  for (const n of nodes) {
    const up = n.upstream && byName[n.upstream];
    if (n.role !== 'standby' || !up) continue;
    edges.append(el('line', { class: 'edge', 'data-from': n.name, 'data-to': up.name, x1: n.x + BW / 2, y1: n.y, x2: up.x + BW / 2, y2: up.y + BH + 2 }));
  }
  const g = document.getElementById('nodes'); g.replaceChildren();
  for (const n of nodes) {
    const box = el('g', { class: 'node ' + n.role, 'data-node': n.name, 'data-role': n.role, transform: 'translate(' + n.x + ',' + n.y + ')' });
    box.append(el('rect', { width: BW, height: BH, rx: 6 }));
    box.append(el('text', { class: 'name', x: 10, y: 20 }, n.name));
    box.append(el('text', { class: 'role', x: BW - 10, y: 20, 'text-anchor': 'end' }, n.role));
    box.append(el('text', { class: 'detail', x: 10, y: 40 }, n.host + ':' + n.port));
    const tl = n.timeline == null ? 'TL -' : 'TL ' + n.timeline;
    const lag = n.role === 'standby' ? ' · lag ' + (n.lagBytes == null ? '?' : n.lagBytes + ' B') : '';
    box.append(el('text', { class: 'detail', x: 10, y: 58 }, tl + lag));
    const pending = n.pendingRestart || [];
    if (pending.length) box.append(el('text', { class: 'detail bad', x: 10, y: 72, 'data-pending-restart': pending.join(',') }, 'pending restart: ' + pending.join(', ')));
    const title = el('title', {}, n.error ? n.name + ': ' + n.error : n.name + ' ' + n.role + (n.upstream ? ' from ' + n.upstream : '') + (pending.length ? '; pending restart: ' + pending.join(', ') : ''));
    box.append(title);
    g.append(box);
  }
}

function drawBarman(b, nodes) {
  const dl = document.getElementById('barman-state'); dl.replaceChildren();
  const add = (k, v, cls) => { dl.append(el('dt', {}, k)); dl.append(el('dd', cls ? { class: cls } : {}, v)); };
  const primary = nodes.find((n) => n.role === 'primary');
  if (b.error) add('state', b.error, 'bad');
  add('streams from', b.walStreaming === false ? 'not streaming (' + (primary ? primary.name : 'no primary') + ')' : primary ? primary.name : 'no primary', b.walStreaming === false ? 'bad' : '');
  add('last backup', b.lastBackup ? b.lastBackup.id + ', ' + mib(b.lastBackup.sizeBytes) + ', ' + ago(b.lastBackup.endTime) : 'none yet', b.lastBackup ? '' : 'bad');
  add('next backup', b.nextBackupAt ? new Date(b.nextBackupAt).toISOString().replace('.000', '') : '-');
  add('last check', b.lastCheck ? (b.lastCheck.ok ? 'OK' : 'FAILED' + (b.lastCheck.failed.length ? ': ' + b.lastCheck.failed.join('; ') : '')) + ', ' + ago(b.lastCheck.at) : '-', b.lastCheck && !b.lastCheck.ok ? 'bad' : b.lastCheck ? 'ok' : '');
  add('backups', String((b.backups || []).length));
}

function drawFailover(f) {
  const b = document.getElementById('failover-paused');
  const on = Boolean(f && (f.paused || f.maintenance));
  b.hidden = !on;
  b.textContent = on ? f.message : '';
}

function drawFlows(flows) {
  const body = document.getElementById('flow-rows'); body.replaceChildren();
  for (const f of flows) {
    const tr = row([f.flowId, f.scenario, f.state, f.currentStep || '-', f.done + '/' + f.total, ago(f.createdAt)], [null, null, 'state-' + f.state]);
    tr.setAttribute('data-flow', f.flowId); tr.setAttribute('data-state', f.state);
    body.append(tr);
  }
}

function drawEvents(events) {
  const body = document.getElementById('event-rows'); body.replaceChildren();
  for (const e of events) body.append(row([e.at, e.node, e.event, e.success ? 'ok' : 'FAILED', e.followUp || ''], [null, null, null, e.success ? 'ok' : 'bad']));
}

function drawHistory(h) {
  const body = document.getElementById('timeline-rows'); body.replaceChildren();
  for (const t of h.timelines.slice().reverse()) {
    const mark = t.timeline === h.currentTimeline ? ' (current)' : t.current ? '' : ' (left)';
    const tr = row([t.timeline + mark, t.parent == null ? '-' : String(t.parent), t.forkLsn || '-', t.at || '-', t.node || '-', t.why || 'not recorded by pgha', t.by || '-'], [t.timeline === h.currentTimeline ? 'ok' : null]);
    tr.setAttribute('data-timeline', String(t.timeline)); tr.setAttribute('data-why', t.why || '');
    body.append(tr);
  }
}
let historyAt = 0;
async function refreshHistory() {
  if (Date.now() - historyAt < 10000) return;
  historyAt = Date.now();
  const res = await fetch('api/history', { credentials: 'same-origin', cache: 'no-store' });
  if (res.ok) drawHistory(await res.json());
}

let current = { nodes: [] };
const fill = (id, names) => {
  const sel = document.getElementById(id);
  if (!sel) return;
  const keep = sel.value;
  if ([...sel.options].map((x) => x.value).join() === names.join()) return;
  sel.replaceChildren(...names.map((n) => { const opt = document.createElement('option'); opt.value = n; opt.textContent = n; return opt; }));
  if (names.includes(keep)) sel.value = keep;
};
function drawActions(nodes) {
  current.nodes = nodes;
  const standbys = nodes.filter((n) => n.role === 'standby').map((n) => n.name);
  fill('switchover-to', standbys); fill('reinit-node', standbys); fill('restart-node', nodes.map((n) => n.name));
}
const primaryName = () => (current.nodes.find((n) => n.role === 'primary') || { name: 'the primary' }).name;
async function act(request, question) {
  if (!window.confirm(question)) return;
  const out = document.getElementById('action-result');
  out.className = ''; out.textContent = 'starting…';
  try {
    const res = await fetch('api/flows', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
    const body = await res.json();
    if (!res.ok) { out.className = 'bad'; out.textContent = 'refused: ' + body.error; return; }
    out.className = 'ok'; out.textContent = 'started flow ' + body.flowId + ': ' + body.summary;
    out.setAttribute('data-flow', body.flowId);
  } catch (err) {
    out.className = 'bad'; out.textContent = 'failed: ' + err.message;
  }
}
const on = (id, fn) => { const b = document.getElementById(id); if (b) b.addEventListener('click', fn); };
const picked = (id) => document.getElementById(id).value;
on('do-switchover', () => { const to = picked('switchover-to'); act({ scenario: 'switchover', node: to }, 'Switch over to ' + to + '? ' + primaryName() + ' stops cleanly, ' + to + ' is promoted once it has replayed every commit, and ' + primaryName() + ' rejoins as its standby. Writes stop for about a second.'); });
on('do-backup', () => act({ scenario: 'backup' }, 'Take a full backup now? barman copies the data of the primary while the cluster keeps serving.'));
on('do-restart', () => { const n = picked('restart-node'); act({ scenario: 'restart', node: n }, 'Restart ' + n + '? Automatic failover is paused meanwhile; ' + (n === primaryName() ? 'writes stop until it is back.' : 'it serves no reads until it is back.')); });
on('do-reinit', () => { const n = picked('reinit-node'); act({ scenario: 'reinit', node: n }, 'Reinit ' + n + '? Its data directory is moved aside and ' + n + ' is cloned again from ' + primaryName() + '; the old copy is removed once the new one streams.'); });
on('do-pause', () => { const reason = document.getElementById('pause-reason').value; act({ scenario: 'pause', params: { by: 'the cluster page', ...(reason ? { reason } : {}) } }, 'Pause automatic failover cluster-wide? If the primary fails, no standby is promoted until you resume.'); });
on('do-resume', () => act({ scenario: 'resume', params: { by: 'the cluster page' } }, 'Resume automatic failover? repmgrd acts on failures again (unless a flow still holds it paused).'));

const COLORS = ['#2d6bd4', '#d4632d', '#1f8a3b', '#8a1f7a', '#7a6a1f'];
function drawLag(l) {
  const W = 720, H = 140, P = 24;
  const g = document.getElementById('lag-lines'); g.replaceChildren();
  const end = Date.now(), start = end - l.spanMs;
  const names = [...new Set(l.samples.flatMap((s) => Object.keys(s.lag).filter((k) => s.lag[k] !== null)))].sort();
  const max = Math.max(1, ...l.samples.flatMap((s) => Object.values(s.lag).filter((v) => v !== null)));
  g.append(el('line', { class: 'axis', x1: P, y1: H - P, x2: W, y2: H - P }), el('text', { x: 2, y: 12, 'font-size': 10 }, max + ' B'), el('text', { x: 2, y: H - P, 'font-size': 10 }, '0'));
  const legend = document.getElementById('lag-legend'); legend.replaceChildren();
  names.forEach((name, i) => {
    const pts = l.samples.filter((s) => s.lag[name] != null).map((s) => (P + ((s.at - start) / l.spanMs) * (W - P)).toFixed(1) + ',' + (H - P - (s.lag[name] / max) * (H - 2 * P)).toFixed(1));
    g.append(el('polyline', { 'data-node': name, 'data-points': String(pts.length), points: pts.join(' '), stroke: COLORS[i % COLORS.length] }));
    const last = l.samples.length ? l.samples[l.samples.length - 1].lag[name] : null;
    const item = el('span', { style: 'color:' + COLORS[i % COLORS.length] + ';margin-right:16px' }, name + ': ' + (last == null ? '-' : last + ' B now'));
    legend.append(item);
  });
}
let lagAt = 0;
async function refreshLag() {
  if (Date.now() - lagAt < 5000) return;
  lagAt = Date.now();
  const res = await fetch('api/lag', { credentials: 'same-origin', cache: 'no-store' });
  if (res.ok) drawLag(await res.json());
}

async function refresh() {
  try {
    // resolved against the page's address without the user:token@ a user may have opened it with:
    const res = await fetch('api/overview', { credentials: 'same-origin', cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const o = await res.json();
    drawTopology(o.status.nodes); drawFailover(o.status.automaticFailover); drawBarman(o.status.barman, o.status.nodes); drawFlows(o.flows); drawEvents(o.events);
    drawActions(o.status.nodes);
    // slower, rarer reads: never in the way of the overview's refresh
    refreshHistory().catch(() => {});
    refreshLag().catch(() => {});
    document.getElementById('error').textContent = '';
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (err) {
    document.getElementById('error').textContent = 'cannot read the cluster: ' + err.message;
  }
}
refresh();
setInterval(refresh, 1500);
</script>
</body>
</html>`;
}

/** The login form (pure): the token for a session cookie; `error` after a wrong one. */
export function loginPage(o: { cluster: string; error?: string }): string {
  const title = dashboardTitle(o.cluster.replace(/[^A-Za-z0-9_-]/g, ''));
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${title}: log in</title><meta name="viewport" content="width=device-width, initial-scale=1">
<style>body { font: 14px/1.4 system-ui, sans-serif; background: #f5f6f8; display: grid; place-items: center; height: 100vh; margin: 0; }
form { background: #fff; padding: 24px; border-radius: 6px; box-shadow: 0 1px 3px #0003; display: grid; gap: 10px; min-width: 320px; }
.bad { color: #b3261e; font-weight: 600; }</style></head>
<body><form method="post" action="login">
<h1 style="font-size:18px;margin:0">${title}</h1>
<label>Dashboard token <input id="token" name="token" type="password" autocomplete="current-password" required autofocus style="width:100%"></label>
${o.error ? `<div id="login-error" class="bad" role="alert">${o.error === 'wrong token' ? 'wrong token' : 'cannot log in'}</div>` : ''}
<button type="submit">Log in</button>
<small>The token is dashboard.token (or the file dashboard.tokenFile names). Scripts send it as Authorization: Bearer.</small>
</form></body></html>`;
}
