// The `photos ui` page: plain JavaScript, no framework. State comes from the server as Server-Sent Events
// (api/events: `state` on every change, `progress` while importing); the grid is virtualised: only the rows in
// view (plus a margin) are in the DOM, so a 50,000-photo library scrolls as fast as a small one.
'use strict';

const $ = (id) => document.getElementById(id);
const TILE = 128;
const GAP = 4;
const DAY_H = 40;
const ROW_H = TILE + GAP;
const OVERSCAN = 600; // px above and below the view
const PAGE = 10000;

const ui = {
  state: null, // last `state` event
  udid: null, // the device shown
  gen: null, // listing generation shown
  items: [], // [id, t, size, flags, name] in display order (newest first)
  total: 0,
  rows: [], // { top, h, day?: {key, label, from, to}, from, to }
  height: 0,
  cols: 1,
  selected: new Set(),
  anchor: null, // last clicked id (shift-click range start)
  rendered: new Map(), // row index → element
  loading: false,
  lastJobDone: null, // job id whose end was handled
  askedFor: null,
};

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  const u = ['KB', 'MB', 'GB', 'TB'];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
  return `${n.toFixed(n < 10 ? 1 : 0)} ${u[i]}`;
}
function fmtEta(s) {
  if (s === undefined || !isFinite(s)) return '';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m} min ${Math.round(s % 60)} s left` : `${Math.max(0, Math.round(s))} s left`;
}
/** The local day of a time, as a number (YYYYMMDD): cheap enough for 50,000 items. */
function dayKey(t) {
  const d = new Date(t);
  return d.getFullYear() * 10000 + (d.getMonth() + 1) * 100 + d.getDate();
}
const DAY_FORMAT = new Intl.DateTimeFormat(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
/** The heading of a day (made only for rows on screen: formatting is slow). */
function dayLabel(t) {
  return DAY_FORMAT.format(new Date(t));
}

function showMessage(text, isError) {
  const m = $('message');
  if (!text) { m.hidden = true; m.textContent = ''; return; }
  m.hidden = false;
  m.textContent = text;
  m.className = isError ? 'error' : '';
}

async function api(method, path, body) {
  const res = await fetch(`api/${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(data.error?.message ?? `request failed (${res.status})`), { code: data.error?.code });
  return data;
}

// ---- devices ------------------------------------------------------------------------------------------------

function renderDevices(s) {
  const box = $('devices');
  box.textContent = '';
  if (s.muxError) {
    const p = document.createElement('p');
    p.className = 'error-text';
    p.textContent = s.muxError;
    box.append(p);
    return;
  }
  if (s.devices.length === 0) {
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = 'No iPhone connected. Plug one in with a USB cable.';
    box.append(p);
    return;
  }
  for (const d of s.devices) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = `device ${d.state}${d.udid === ui.udid ? ' current' : ''}`;
    b.dataset.udid = d.udid;
    const name = document.createElement('div');
    name.className = 'name';
    name.textContent = d.name ?? d.udid;
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.textContent = [d.model, d.ios ? `iOS ${d.ios}` : null, d.state === 'trusted' ? 'trusted' : d.state].filter(Boolean).join(' · ');
    const st = document.createElement('div');
    st.className = 'state';
    st.textContent = d.message;
    b.append(name, meta, st);
    if (d.state === 'denied' || d.state === 'error') {
      const r = document.createElement('button');
      r.type = 'button';
      r.textContent = 'Retry';
      r.addEventListener('click', (ev) => { ev.stopPropagation(); api('POST', 'retry', { udid: d.udid }).catch((e) => showMessage(e.message, true)); });
      b.append(r);
    }
    b.addEventListener('click', () => { if (ui.udid !== d.udid) { ui.udid = d.udid; ui.gen = null; onState(ui.state); } });
    box.append(b);
  }
}

// ---- state and listing ---------------------------------------------------------------------------------------

function onState(s) {
  ui.state = s;
  const devs = s.devices;
  if (!devs.some((d) => d.udid === ui.udid)) {
    const pick = devs.find((d) => d.state === 'trusted') ?? devs[0];
    ui.udid = pick ? pick.udid : null;
    ui.gen = null;
  }
  renderDevices(s);
  renderSettings(s.settings);
  const lib = ui.udid ? s.libraries[ui.udid] : undefined;
  if (!ui.udid) setItems([], null, 'Connect an iPhone to see its photos.');
  else if (!lib) setItems([], null, devs.find((d) => d.udid === ui.udid)?.message ?? '');
  else if (lib.state === 'loading') setItems([], null, 'Listing the photos on the iPhone…');
  else if (lib.state === 'error') setItems([], null, lib.message);
  else if (lib.gen !== ui.gen) void loadLibrary(ui.udid, lib.gen);
  if (s.job) onProgress(s.job);
}

function renderSettings(st) {
  for (const [id, key] of [['dest', 'dest'], ['event', 'event']]) {
    const el = $(id);
    if (document.activeElement !== el) el.value = st[key];
  }
  $('split').checked = st.splitByDate;
  $('delete').checked = st.deleteAfterImport;
}

async function loadLibrary(udid, gen) {
  if (ui.loading) return;
  ui.loading = true;
  try {
    const items = [];
    let total = Infinity;
    while (items.length < total) {
      const page = await api('GET', `library?udid=${encodeURIComponent(udid)}&offset=${items.length}&limit=${PAGE}`);
      if (page.gen !== gen) { gen = page.gen; items.length = 0; }
      total = page.total;
      items.push(...page.items);
      if (page.items.length === 0) break;
    }
    if (ui.udid !== udid) return;
    if (ui.gen !== gen) ui.selected.clear();
    ui.gen = gen;
    setItems(items, gen, items.length === 0 ? 'This iPhone has no photos or videos.' : '');
  } catch (e) {
    // the list is not there (yet, or any more: the iPhone was unplugged): said in the grid, so that it never
    // covers the outcome of an import in the message bar
    if (e.code === 'ERR_UI_NOT_READY' || e.code === 'ERR_UI_STALE') {
      if (ui.udid === udid) setItems([], null, e.message);
    } else showMessage(e.message, true);
  } finally {
    ui.loading = false;
  }
  const lib = ui.state?.libraries[ui.udid];
  if (lib && lib.state === 'ready' && lib.gen !== ui.gen) void loadLibrary(ui.udid, lib.gen);
}

function setItems(items, gen, emptyText) {
  if (gen === null && ui.items.length === 0 && $('grid').dataset.empty === emptyText) return;
  ui.items = items;
  ui.gen = gen;
  ui.byId = new Map(items.map((it, i) => [it[0], i]));
  for (const id of ui.selected) if (!ui.byId.has(id)) ui.selected.delete(id);
  $('grid').dataset.empty = emptyText;
  const t0 = performance.now();
  layout(true);
  document.body.dataset.layoutMs = String(Math.round(performance.now() - t0));
  updateToolbar();
}

// ---- virtualised grid ----------------------------------------------------------------------------------------

function layout(force) {
  const grid = $('grid');
  const cols = Math.max(1, Math.floor((grid.clientWidth - 24 + GAP) / (TILE + GAP)));
  if (!force && cols === ui.cols) return render();
  ui.cols = cols;
  const rows = [];
  let top = 8;
  let i = 0;
  const items = ui.items;
  let next = items.length > 0 ? dayKey(items[0][1]) : 0;
  while (i < items.length) {
    const key = next;
    let j = i + 1;
    while (j < items.length && (next = dayKey(items[j][1])) === key) j++;
    rows.push({ top, h: DAY_H, day: { key, t: items[i][1], from: i, to: j } });
    top += DAY_H + 6;
    for (let k = i; k < j; k += cols) {
      rows.push({ top, h: ROW_H, from: k, to: Math.min(j, k + cols) });
      top += ROW_H;
    }
    top += 10;
    i = j;
  }
  ui.rows = rows;
  ui.height = top;
  $('sizer').style.height = `${top}px`;
  for (const el of ui.rendered.values()) el.remove();
  ui.rendered.clear();
  const empty = grid.querySelector('.empty');
  if (items.length === 0) {
    if (!empty) { const e = document.createElement('div'); e.className = 'empty'; $('sizer').append(e); }
    grid.querySelector('.empty').textContent = grid.dataset.empty || '';
  } else if (empty) empty.remove();
  render();
}

function firstRowAt(y) {
  let lo = 0;
  let hi = ui.rows.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const r = ui.rows[mid];
    if (r.top + r.h < y) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function render() {
  const grid = $('grid');
  const y0 = grid.scrollTop - OVERSCAN;
  const y1 = grid.scrollTop + grid.clientHeight + OVERSCAN;
  const want = new Set();
  if (ui.rows.length > 0) {
    for (let r = firstRowAt(y0); r < ui.rows.length && ui.rows[r].top < y1; r++) want.add(r);
  }
  for (const [r, el] of ui.rendered) if (!want.has(r)) { el.remove(); ui.rendered.delete(r); }
  const sizer = $('sizer');
  for (const r of want) {
    if (ui.rendered.has(r)) continue;
    const el = makeRow(ui.rows[r]);
    ui.rendered.set(r, el);
    sizer.append(el);
  }
}

function makeRow(row) {
  const el = document.createElement('div');
  el.className = row.day ? 'row day' : 'row';
  el.style.top = `${row.top}px`;
  el.style.height = `${row.h}px`;
  if (row.day) {
    el.dataset.day = String(row.day.key);
    const label = document.createElement('span');
    label.textContent = `${dayLabel(row.day.t)} · ${row.day.to - row.day.from}`;
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'select-day';
    b.textContent = 'Select day';
    b.addEventListener('click', () => selectDay(row.day));
    el.append(label, b);
    return el;
  }
  for (let i = row.from; i < row.to; i++) el.append(makeTile(ui.items[i]));
  return el;
}

function makeTile(it) {
  const [id, , size, flags, name] = it;
  const t = document.createElement('div');
  t.className = ui.selected.has(id) ? 'tile selected' : 'tile';
  t.dataset.id = String(id);
  t.title = `${name} · ${fmtBytes(size)}`;
  const img = document.createElement('img');
  img.alt = name;
  img.decoding = 'async';
  img.src = `api/thumb?udid=${encodeURIComponent(ui.udid)}&gen=${ui.gen}&id=${id}`;
  img.addEventListener('error', () => {
    img.remove();
    const n = document.createElement('div');
    n.className = 'noimg';
    n.textContent = flags & 1 ? `▶ ${name}` : name;
    t.prepend(n);
  });
  t.append(img);
  if (flags & 1 || flags & 4) {
    const b = document.createElement('span');
    b.className = 'badge';
    b.textContent = flags & 1 ? '▶ video' : 'LIVE';
    t.append(b);
  }
  if (flags & 2) {
    const d = document.createElement('span');
    d.className = 'done';
    d.textContent = '✓ imported';
    t.append(d);
  }
  const c = document.createElement('span');
  c.className = 'check';
  t.append(c);
  return t;
}

function refreshTiles() {
  for (const el of document.querySelectorAll('.tile')) el.classList.toggle('selected', ui.selected.has(Number(el.dataset.id)));
  updateToolbar();
}

function selectDay(day) {
  const ids = ui.items.slice(day.from, day.to).map((it) => it[0]);
  const all = ids.every((id) => ui.selected.has(id));
  for (const id of ids) { if (all) ui.selected.delete(id); else ui.selected.add(id); }
  refreshTiles();
}

function onTileClick(ev) {
  const tile = ev.target.closest('.tile');
  if (!tile) return;
  const id = Number(tile.dataset.id);
  if (ev.shiftKey && ui.anchor !== null && ui.byId.has(ui.anchor)) {
    const a = ui.byId.get(ui.anchor);
    const b = ui.byId.get(id);
    const [from, to] = a < b ? [a, b] : [b, a];
    for (let i = from; i <= to; i++) ui.selected.add(ui.items[i][0]);
  } else if (ui.selected.has(id)) ui.selected.delete(id);
  else ui.selected.add(id);
  ui.anchor = id;
  ev.preventDefault();
  refreshTiles();
}

function updateToolbar() {
  const n = ui.items.length;
  const busy = ui.state?.job && ui.state.job.state !== 'done';
  const done = ui.items.filter((it) => it[3] & 2).length;
  $('count').textContent = n === 0 ? 'No photos' : `${n} items${done ? ` (${done} already imported)` : ''} · ${ui.selected.size} selected`;
  $('select-all').disabled = n === 0;
  $('select-none').disabled = ui.selected.size === 0;
  $('import-selected').disabled = ui.selected.size === 0 || !!busy;
  $('import-all').disabled = n === 0 || !!busy;
}

// ---- import ------------------------------------------------------------------------------------------------

async function startImport(all) {
  showMessage('');
  try {
    await saveSettings();
    const body = all ? { udid: ui.udid, gen: ui.gen, all: true } : { udid: ui.udid, gen: ui.gen, ids: [...ui.selected] };
    const p = await api('POST', 'import', body);
    onProgress(p);
  } catch (e) {
    showMessage(e.message, true);
  }
}

function onProgress(p) {
  const box = $('progress');
  box.hidden = false;
  const pct = p.bytesTotal > 0 ? Math.floor((p.bytesDone / p.bytesTotal) * 100) : p.state === 'done' ? 100 : 0;
  const shown = p.state === 'done' && p.result && (p.result.status === 'complete' || p.result.status === 'partial') ? Math.max(pct, p.filesDone === p.filesTotal ? 100 : pct) : pct;
  $('bar').value = shown;
  $('percent').textContent = `${shown}%`;
  $('progress-title').textContent = p.state === 'running' ? 'Importing…' : p.state === 'cancelling' ? 'Cancelling…' : 'Import finished';
  $('progress-files').textContent = `${p.filesDone} of ${p.filesTotal} files`;
  $('progress-bytes').textContent = `${fmtBytes(p.bytesDone)} of ${fmtBytes(p.bytesTotal)}`;
  $('progress-rate').textContent = p.state === 'running' && p.rate > 0 ? `${fmtBytes(p.rate)}/s · ${fmtEta(p.etaSec)}` : '';
  $('cancel').hidden = p.state !== 'running';
  box.dataset.state = p.state;
  box.dataset.job = String(p.id);
  if (ui.state) ui.state.job = p;
  updateToolbar();
  if (p.state === 'done' && p.result && ui.lastJobDone !== p.id) {
    ui.lastJobDone = p.id;
    onDone(p);
  }
}

function onDone(p) {
  const r = p.result;
  showMessage(r.message, r.status !== 'complete' && r.status !== 'interrupted');
  ui.gen = null; // reload the listing: the backed-up marks changed
  if (ui.state) onState(ui.state);
  if (r.status !== 'error' && r.verified > 0 && ui.askedFor !== p.id) {
    ui.askedFor = p.id;
    ask(p);
  }
}

function ask(p) {
  const r = p.result;
  const d = $('ask');
  $('ask-text').textContent = `${r.verified} imported ${r.verified === 1 ? 'file is' : 'files are'} verified in the destination${r.notVerified ? ` (${r.notVerified} not verified: those stay on the iPhone in any case)` : ''}. Keep them on the iPhone, or remove them from it?`;
  const w = $('ask-warning');
  w.hidden = !r.photosLibrary;
  w.textContent = r.photosLibrary ? 'This iPhone keeps a Photos library: removing the files over USB would leave broken grey tiles in the Photos app, so they stay on the iPhone. Delete them in the Photos app when you are ready.' : '';
  $('ask-remove').hidden = !!r.photosLibrary;
  d.returnValue = '';
  d.showModal();
  d.addEventListener('close', async () => {
    const answer = d.returnValue === 'remove' ? 'remove' : 'keep';
    try {
      const res = await api('POST', 'answer', { id: p.id, answer });
      if (answer === 'remove') showMessage(res.message, false);
    } catch (e) {
      showMessage(e.message, true);
    }
  }, { once: true });
}

async function saveSettings() {
  const st = await api('POST', 'settings', {
    dest: $('dest').value, event: $('event').value, splitByDate: $('split').checked, deleteAfterImport: $('delete').checked,
  });
  if (ui.state) ui.state.settings = st;
}

// ---- wiring ------------------------------------------------------------------------------------------------

function connect() {
  const es = new EventSource('api/events');
  es.addEventListener('state', (ev) => onState(JSON.parse(ev.data)));
  es.addEventListener('progress', (ev) => onProgress(JSON.parse(ev.data)));
  es.addEventListener('error', () => {
    if (es.readyState === EventSource.CLOSED) showMessage('Lost the connection to iosdevice (was it stopped?). Reload the page after starting it again.', true);
  });
}

document.addEventListener('DOMContentLoaded', () => {
  const grid = $('grid');
  grid.addEventListener('scroll', () => requestAnimationFrame(render), { passive: true });
  grid.addEventListener('click', onTileClick);
  grid.addEventListener('mousedown', (ev) => { if (ev.shiftKey) ev.preventDefault(); }); // no text selection on shift-click
  new ResizeObserver(() => layout(false)).observe(grid);
  $('select-all').addEventListener('click', () => { for (const it of ui.items) ui.selected.add(it[0]); refreshTiles(); });
  $('select-none').addEventListener('click', () => { ui.selected.clear(); refreshTiles(); });
  $('import-selected').addEventListener('click', () => startImport(false));
  $('import-all').addEventListener('click', () => startImport(true));
  $('cancel').addEventListener('click', () => api('POST', 'cancel', {}).catch((e) => showMessage(e.message, true)));
  for (const id of ['dest', 'event', 'split', 'delete']) {
    $(id).addEventListener('change', () => saveSettings().then(() => showMessage(''), (e) => showMessage(e.message, true)));
  }
  $('settings').addEventListener('submit', (ev) => ev.preventDefault());
  connect();
});
