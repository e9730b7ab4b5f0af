// flexgw dashboard: polls GET /api/v1/site and offers the write endpoints.
// Plain ES2020, no dependencies. Everything from the API reaches the DOM via
// textContent / createElement only (never as markup), and the CSP forbids
// inline scripts and styles anyway.
'use strict';

const API = '/api/v1';
const FAST_MS = 2000;   // refresh period while the API answers
const SLOW_MS = 10000;  // while it does not
const TOKEN_KEY = 'flexgw.token';

const $ = (id) => document.getElementById(id);

let token = '';
try { token = sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { token = ''; }
let readsNeedAuth = false;  // learnt from a 401 on a read (web.auth_reads)
let last = null;            // the last /api/v1/site answer

// ---- formatting -----------------------------------------------------------

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
const kw = (w) => (isNum(w) ? (w / 1000).toFixed(1).replace('-', '−') : '–');
const kwh = (wh) => (isNum(wh) ? (wh / 1000).toFixed(1) : '–');
const pad = (n) => String(n).padStart(2, '0');

function offsetText(min) {
  const m = Math.abs(min | 0);
  return 'UTC' + (min < 0 ? '−' : '+') + pad(Math.floor(m / 60)) + ':' + pad(m % 60);
}

// Site-local wall time of an epoch second (the API's clock, not the browser's).
function local(epoch, withDate, withSec) {
  if (!isNum(epoch) || !last) return '–';
  const d = new Date((epoch + ((last.site && last.site.utc_offset_min) || 0) * 60) * 1000);
  let hm = pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes());
  if (withSec) hm += ':' + pad(d.getUTCSeconds());
  if (!withDate) return hm;
  return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' + hm;
}

function duration(s) {
  if (!isNum(s)) return '–';
  if (s <= 0) return 'now';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h} h ${pad(m)} min` : m ? `${m} min ${pad(r)} s` : `${r} s`;
}

function bySource(by) {
  return by && typeof by === 'object' ? `${by.source} signal ${by.id}` : 'grid connection';
}

// ---- DOM helpers ----------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

// Column headings of a table, for data-label (the narrow-screen card view).
function headings(table) {
  return Array.from(table.tHead.rows[0].cells, (c) => c.textContent.trim());
}

function labelCells(tr, table) {
  const h = headings(table);
  Array.from(tr.cells).forEach((c, i) => c.setAttribute('data-label', h[i] || ''));
}

function setText(node, text) {
  text = String(text);
  if (node.textContent !== text) node.textContent = text;
}

function setClass(node, cls, on) {
  node.classList.toggle(cls, !!on);
}

// Message next to a form: ok (green), error (red) or plain.
function say(node, text, kind) {
  setText(node, text);
  setClass(node, 'ok', kind === 'ok');
  setClass(node, 'err', kind === 'err');
}

// Keep one <tr> per key so forms and buttons survive refreshes; `make`
// builds a new row, `fill` updates it. Rows for vanished keys go.
function syncRows(tbody, items, key, make, fill) {
  const old = new Map();
  for (const tr of tbody.rows) old.set(tr.dataset.key, tr);
  const want = items.map((it) => {
    let tr = old.get(key(it));
    if (!tr) {
      tr = make(it);
      tr.dataset.key = key(it);
    }
    old.delete(key(it));
    fill(tr, it);
    return tr;
  });
  for (const tr of old.values()) tr.remove();
  want.forEach((tr, i) => {
    if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] || null);
  });
}

// ---- HTTP -----------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(explain(status, body));
    this.status = status;
    this.body = body;
  }
}

class NetError extends Error {}

function explain(status, body) {
  const b = body && typeof body === 'object' ? body : {};
  const where = b.path ? ` (at ${b.path})` : '';
  if (status === 401) {
    return (token ? 'token rejected: enter the right token' : 'enter the token') +
      (b.error ? ` — ${b.error}` : '');
  }
  if (status === 403) return 'writes disabled: no credentials configured on the gateway' +
    ' (web.token / web.admin_password)';
  if (b.error) return `${status}: ${b.error}${where}`;
  return `HTTP ${status}`;
}

async function call(method, path, body, auth) {
  const headers = { Accept: 'application/json' };
  if (auth && token) headers.Authorization = 'Bearer ' + token;
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    throw new NetError(e && e.message ? e.message : String(e));
  }
  let data = null, text;
  try {
    text = await r.text();
  } catch (e) {
    throw new NetError(e && e.message ? e.message : String(e));
  }
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = { error: text.slice(0, 200) }; }
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

const read = (path) => call('GET', path, undefined, readsNeedAuth);
const write = (method, path, body) => call(method, path, body, true);

// ---- refresh loop ---------------------------------------------------------

let timer = 0;
let inFlight = false;

function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(refresh, ms);
}

async function refresh() {
  if (inFlight) return;  // never two requests at once
  inFlight = true;
  let next = FAST_MS;
  try {
    let data;
    try {
      data = await read(API + '/site');
    } catch (e) {
      if (e.status === 401 && !readsNeedAuth) {
        readsNeedAuth = true;        // web.auth_reads is on: send the token
        data = await read(API + '/site');
      } else {
        throw e;
      }
    }
    last = data;
    render(data);
    setConn('ok', 'ok');
    setText($('last-update'), new Date().toLocaleTimeString(undefined, { hourCycle: 'h23' }));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setConn('auth', 'reads need credentials: ' + e.message);
      next = token ? SLOW_MS : FAST_MS;
    } else if (e instanceof ApiError || e instanceof NetError) {
      setConn('unreachable', 'API unreachable: ' + e.message);
      next = SLOW_MS;
    } else {
      pageError(e);  // a bug in this page, not the gateway's fault
      next = SLOW_MS;
    }
  } finally {
    inFlight = false;
    schedule(next);
  }
}

function setConn(state, text) {
  document.body.dataset.state = state;
  const c = $('conn');
  setText(c, text);
  setClass(c, 'ok', state === 'ok');
  setClass(c, 'err', state !== 'ok');
}

// An exception in the page itself: show it, and mark <body data-js-error>
// so tests (and people) notice.
function pageError(e) {
  const text = e && e.message ? e.message : String(e);
  document.body.dataset.jsError = text;
  setConn('error', 'page error: ' + text);
}
window.addEventListener('error', (ev) => pageError(ev.error || ev.message));
window.addEventListener('unhandledrejection', (ev) => pageError(ev.reason));

// ---- rendering ------------------------------------------------------------

function render(d) {
  const s = d.site || {};
  const l = s.limits || {};
  setText($('site-name'), s.name || s.id || 'flexgw');
  setText($('site-id'), s.id ? `(${s.id})` : '');
  document.title = `${s.name || s.id || 'site'} · flexgw`;
  setText($('site-time'), `${local(d.time, true, true)} ${offsetText(s.utc_offset_min || 0)}`);

  setText($('site-power'), `${kw(s.power_w)} kW`);
  const limit = (w, by) => `${isNum(w) ? kw(w) + ' kW' : 'none'} · ${bySource(by)}`;
  setText($('import-limit'), limit(l.import_max_w, l.import_by));
  setText($('export-limit'), limit(l.export_max_w, l.export_by));
  const cur = s.currency || '';
  const price = isNum(l.price_import)
    ? `${l.price_import.toFixed(3)} ${cur}/kWh import` +
      (isNum(l.price_export) ? `, ${l.price_export.toFixed(3)} export` : '') +
      ` · ${l.price_by ? bySource(l.price_by) : 'tariff'}`
    : 'none';
  setText($('price'), price);
  setText($('dispatch'),
    isNum(l.dispatch_w) ? `${kw(l.dispatch_w)} kW · ${bySource(l.dispatch_by)}` : 'none');
  setText($('soc-target'), isNum(l.soc_target_pct)
    ? `${l.soc_target_pct.toFixed(0)} % · ${bySource(l.soc_target_by)}` : 'none');
  setText($('island'), l.island ? 'yes — islanded' : 'no');
  setClass($('island'), 'warn', l.island);

  renderAssets(d.assets || [], d.time);
  renderSignals(d.signals || [], d.time);
  refreshHealth(d.assets || []).catch(pageError);
  refreshPlan(d).catch(pageError);
}

const ASSET_COLS = ['id', 'name', 'kind', 'online', 'power', 'envelope', 'setpoint', 'details'];

function makeAssetRow(a) {
  const tr = el('tr');
  for (const c of ASSET_COLS) {
    const td = el(c === 'id' ? 'th' : 'td', { class: 'c-' + c });
    if (c === 'id') td.setAttribute('scope', 'row');
    if (c === 'power') td.classList.add('num');
    tr.append(td);
  }
  tr.append(el('td', { class: 'c-control' }, setpointForm(a.id)));
  labelCells(tr, $('assets-table'));
  return tr;
}

function setpointForm(id) {
  const kwIn = el('input', { type: 'number', step: '0.1', required: '', class: 'kw',
    'aria-label': `set-point for ${id} in kW` });
  const minIn = el('input', { type: 'number', min: '1', max: '10080', step: '1', value: '15',
    required: '', class: 'min', 'aria-label': `duration for ${id} in minutes` });
  const msg = el('span', { class: 'msg', role: 'status', 'aria-live': 'polite' });
  const release = el('button', { type: 'button', text: 'Release' });
  const form = el('form', { class: 'sp' },
    kwIn, el('span', { text: 'kW', 'aria-hidden': 'true' }),
    minIn, el('span', { text: 'min', 'aria-hidden': 'true' }),
    el('button', { type: 'submit', text: 'Set' }), release, msg);
  const path = `${API}/assets/${encodeURIComponent(id)}/setpoint`;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const w = Math.round(parseFloat(kwIn.value) * 1000);
    const dur = Math.round(parseFloat(minIn.value) * 60);
    if (!Number.isFinite(w) || !Number.isFinite(dur)) {
      say(msg, 'enter kW and minutes', 'err');
      return;
    }
    say(msg, 'sending…');
    try {
      const a = await write('PUT', path, { w, duration_s: dur });
      const sp = a && a.setpoint;
      const cl = sp && Array.isArray(sp.clamped) && sp.clamped.length
        ? ` (clamped: ${sp.clamped.join(', ')})` : '';
      say(msg, sp ? `applied ${kw(sp.w)} kW${cl}` : 'applied', 'ok');
      refreshSoon();
    } catch (e) { say(msg, e.message, 'err'); }
  });
  release.addEventListener('click', async () => {
    say(msg, 'sending…');
    try {
      await write('DELETE', path);
      say(msg, 'released', 'ok');
      refreshSoon();
    } catch (e) { say(msg, e.message, 'err'); }
  });
  return form;
}

function setpointText(sp, now) {
  if (!sp) return 'none';
  let t = `${kw(sp.w)} kW (${sp.source || '?'})`;
  if (isNum(sp.requested_w) && sp.requested_w !== sp.w) t += `, asked ${kw(sp.requested_w)}`;
  if (isNum(sp.expires_at)) t += ` · expires in ${duration(sp.expires_at - now)}`;
  if (Array.isArray(sp.clamped) && sp.clamped.length) t += ` · clamped: ${sp.clamped.join(', ')}`;
  return t;
}

function detailsText(a, now) {
  const parts = [];
  if (a.battery) {
    const b = a.battery;
    parts.push(`SoC ${isNum(b.soc) ? b.soc.toFixed(1) : '–'} %`);
    if (isNum(b.temperature_c)) parts.push(`${b.temperature_c.toFixed(1)} °C`);
    if (isNum(b.soh)) parts.push(`SoH ${b.soh.toFixed(0)} %`);
  }
  if (a.evse) {
    const e = a.evse;
    parts.push(e.state || '?');
    const ss = e.session;
    if (ss) {
      parts.push(`${kwh(ss.energy_wh)} / ${kwh(ss.energy_requested_wh)} kWh`);
      if (isNum(ss.departure)) {
        parts.push(`departs ${local(ss.departure, ss.departure - now > 86400)}`);
      }
      if (isNum(ss.ev_soc)) parts.push(`EV ${ss.ev_soc.toFixed(0)} %`);
    }
  }
  if (a.pv) {
    const p = a.pv;
    parts.push(`available ${kw(p.available_w)} kW`);
    parts.push(isNum(p.limit_w) ? `curtailed to ${kw(p.limit_w)} kW` : 'not curtailed');
  }
  if (a.load) {
    parts.push(a.load.type || '?');
    if (a.load.connected === false) parts.push('disconnected');
  }
  return parts.join(' · ');
}

function fillAssetRow(tr, a, now) {
  const c = tr.cells;
  setText(c[0], a.id);
  setText(c[1], a.name || '');
  setText(c[2], a.kind || '');
  setText(c[3], a.online ? 'online' : 'OFFLINE');
  setClass(c[3], 'err', !a.online);
  setClass(tr, 'offline', !a.online);
  setText(c[4], kw(a.power_w));
  const env = a.envelope || {};
  setText(c[5], `[${kw(env.min_w)}, ${kw(env.max_w)}]`);
  setText(c[6], setpointText(a.setpoint, now));
  setText(c[7], detailsText(a, now));
}

function renderAssets(assets, now) {
  syncRows($('assets-body'), assets, (a) => a.id, makeAssetRow,
    (tr, a) => fillAssetRow(tr, a, now));
}

function intervalValue(type, iv) {
  const v = iv.value, x = iv.export_value;
  switch (type) {
    case 'grid_limit':
      return `import ≤ ${isNum(v) ? kw(v) + ' kW' : 'none'}` + (isNum(x) ? `, export ≤ ${kw(x)} kW` : '');
    case 'price':
      return `${isNum(v) ? v.toFixed(3) : '–'}/kWh` + (isNum(x) ? `, export ${x.toFixed(3)}` : '');
    case 'dispatch':
      return `${kw(v)} kW`;
    case 'reactive':
      return `${isNum(v) ? (v / 1000).toFixed(1) : '–'} kvar`;
    case 'island':
      return v ? 'island' : 'grid';
    case 'charge_state':
      return `batteries at ${isNum(v) ? v.toFixed(0) : '–'} % SoC`;
    default:
      return String(v);
  }
}

function intervals(sig, now) {
  const ivs = Array.isArray(sig.intervals) ? sig.intervals : [];
  let cur = null, next = null;
  for (const iv of ivs) {
    if (iv.start <= now && now < iv.start + iv.duration_s) cur = iv;
    else if (iv.start > now && (!next || iv.start < next.start)) next = iv;
  }
  const withDate = (t) => t - now > 86400;
  const fmt = (iv) => iv
    ? `${intervalValue(sig.type, iv)} · ${local(iv.start, withDate(iv.start))}–${local(iv.start + iv.duration_s)}`
    : '–';
  return [fmt(cur), fmt(next)];
}

function makeSignalRow(s) {
  const tr = el('tr');
  tr.append(el('th', { scope: 'row' }));
  for (let i = 0; i < 7; i++) tr.append(el('td', i === 2 ? { class: 'num' } : {}));
  const td = el('td');
  if (s.source === 'api') {
    const b = el('button', { type: 'button', text: 'Cancel', 'aria-label': `cancel signal ${s.id}` });
    b.addEventListener('click', () => cancelSignal(s.id, b));
    td.append(b);
  }
  tr.append(td);
  labelCells(tr, $('signals-table'));
  return tr;
}

async function cancelSignal(id, button) {
  const msg = $('signals-msg');
  button.disabled = true;
  say(msg, `cancelling ${id}…`);
  try {
    await write('DELETE', `${API}/signals/${encodeURIComponent(id)}`);
    say(msg, `signal ${id} cancelled`, 'ok');
    refreshSoon();
  } catch (e) {
    say(msg, `cancel ${id}: ${e.message}`, 'err');
  } finally {
    button.disabled = false;
  }
}

function renderSignals(signals, now) {
  $('signals-empty').hidden = signals.length > 0;
  syncRows($('signals-body'), signals, (s) => s.source + '/' + s.id, makeSignalRow, (tr, s) => {
    const c = tr.cells;
    const [cur, next] = intervals(s, now);
    setText(c[0], s.id);
    setText(c[1], s.source || '');
    setText(c[2], s.type || '');
    setText(c[3], isNum(s.priority) ? s.priority : '');
    setText(c[4], s.status || '');
    setClass(c[4], 'active', s.status === 'active');
    setText(c[5], s.target || 'site');
    setText(c[6], cur);
    setText(c[7], next);
  });
}

// ---- battery health ---------------------------------------------------------

const HEALTH_MS = 60000;  // ageing is slow; the gateway predicts once a minute
let healthAt = -Infinity;
let healthBusy = false;

// One GET /assets/{id}/health per battery, at most once a minute.
async function refreshHealth(assets) {
  if (healthBusy || Date.now() - healthAt < HEALTH_MS) return;
  healthBusy = true;
  healthAt = Date.now();
  const rows = [];
  try {
    for (const a of assets.filter((x) => x.kind === 'battery')) {
      try {
        rows.push({ id: a.id, h: await read(`${API}/assets/${encodeURIComponent(a.id)}/health`) });
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        rows.push({ id: a.id, err: e.message });
      }
    }
    renderHealth(rows);
  } catch (e) {
    if (!(e instanceof NetError)) throw e;
    healthAt = -Infinity;  // the API is away: try again with the next refresh
  } finally {
    healthBusy = false;
  }
}

function makeHealthRow() {
  const tr = el('tr');
  tr.append(el('th', { scope: 'row' }));
  for (let i = 0; i < 5; i++) tr.append(el('td', i < 2 ? { class: 'num' } : {}));
  labelCells(tr, $('health-table'));
  return tr;
}

function eolText(fc) {
  if (!fc || fc.error) return fc && fc.error ? `no forecast: ${fc.error}` : '–';
  if (!fc.eol_date) return `not within ${fc.horizon_years} years`;
  const years = isNum(fc.days_left) ? (fc.days_left / 365.25).toFixed(1) : '–';
  return `${fc.eol_date.slice(0, 10)} (${years} years, at ${fc.eol_soh_pct} % SoH)`;
}

function mainCause(factors) {
  let best = null;
  for (const [name, f] of Object.entries(factors || {})) {
    if (isNum(f.loss_pct) && (!best || f.loss_pct > best[1].loss_pct)) best = [name, f];
  }
  return best && best[1].loss_pct > 0
    ? `${best[0]} (${best[1].share_pct.toFixed(0)} %)` : '–';
}

function renderHealth(rows) {
  $('health-empty').hidden = rows.length > 0;
  syncRows($('health-body'), rows, (r) => r.id, makeHealthRow, (tr, r) => {
    const c = tr.cells;
    const h = r.h || {};
    setText(c[0], r.id);
    setText(c[1], isNum(h.soh_pct) ? h.soh_pct.toFixed(2) : '–');
    setText(c[2], isNum(h.efc) ? h.efc.toFixed(1) : '–');
    setText(c[3], r.err ? r.err : eolText(h.forecast));
    setClass(c[3], 'err', !!r.err);
    setText(c[4], r.err ? '' : mainCause(h.factors));
    setText(c[5], h.model ? `${h.model.name} (${h.model.chemistry})` : '');
  });
}

// ---- the plan -----------------------------------------------------------------

const PLAN_MS = 60000;  // the plan changes at most every few seconds; its ISPs every 15 min
const PLAN_ROWS = 16;   // ISPs shown
let planAt = -Infinity;
let planCreated = null;
let planBusy = false;

// GET /plan when the site says a new plan is in force, else once a minute.
async function refreshPlan(d) {
  const created = d.plan && isNum(d.plan.created) ? d.plan.created : null;
  if (planBusy || (created === planCreated && Date.now() - planAt < PLAN_MS)) return;
  planBusy = true;
  planAt = Date.now();
  try {
    const p = await read(`${API}/plan`);
    planCreated = created;
    renderPlan(p, d);
  } catch (e) {
    if (!(e instanceof NetError) && !(e instanceof ApiError)) throw e;
    planAt = -Infinity;
  } finally {
    planBusy = false;
  }
}

function makePlanRow() {
  const tr = el('tr');
  tr.append(el('th', { scope: 'row' }));
  for (let i = 0; i < 7; i++) tr.append(el('td', i < 6 ? { class: 'num' } : {}));
  labelCells(tr, $('plan-table'));
  return tr;
}

function renderPlan(p, d) {
  const body = $('plan-body');
  const slack = $('plan-slack');
  if (!p || !isNum(p.created)) {
    setText($('plan-summary'), p && p.reason ? `No plan: ${p.reason}.` : 'No plan yet.');
    syncRows(body, [], (r) => r.start, makePlanRow, () => {});
    slack.replaceChildren();
    return;
  }
  const cur = (d.site && d.site.currency) || '';
  const c = p.cost || {};
  const money = (v) => (isNum(v) ? v.toFixed(2) : '–');
  setText($('plan-summary'),
    `By ${p.producer} at ${local(p.created, true)} (${p.reason}), ${p.n_isp} periods from ` +
    `${local(p.start, true)}: expected cost ${money(c.total)} ${cur} (energy ` +
    `${money(c.energy)}, wear ${money(c.wear)}, demand ${money(c.demand)}, penalties ` +
    `${money(c.penalty)}). Serves: ${(p.services || '').split(',').join(', ')}.`);
  slack.replaceChildren(...(p.slack || []).map((x) => el('li', { class: 'warn' },
    `gave way: ${x.constraint}${x.at ? ' at ' + local(x.at) : ''} by ` +
    `${isNum(x.amount) ? Math.round(x.amount) : '–'} ${x.unit}`)));
  const kind = new Map((d.assets || []).map((a) => [a.id, a.kind]));
  const now = d.time || 0;
  const rows = [];
  (p.isps || []).forEach((x, i) => {
    if (x.start + p.isp_s <= now || rows.length >= PLAN_ROWS) return;
    const sum = { battery: 0, evse: 0, pv: 0 };
    for (const a of p.assets || []) {
      const k = kind.get(a.id);
      if (k in sum && isNum(a.w[i])) sum[k] += a.w[i];
    }
    rows.push({ x, sum });
  });
  syncRows(body, rows, (r) => String(r.x.start), makePlanRow, (tr, r) => {
    const t = tr.cells;
    setText(t[0], local(r.x.start));
    setText(t[1], isNum(r.x.price_import) ? r.x.price_import.toFixed(3) : '–');
    setText(t[2], kw(r.x.site_w));
    setText(t[3], kw(r.x.import_max_w));
    setText(t[4], kw(r.sum.battery));
    setText(t[5], kw(r.sum.evse));
    setText(t[6], kw(r.sum.pv));
    setText(t[7], (r.x.shaped_by || []).join(', ') || '–');
    setClass(t[7], 'warn', (r.x.shaped_by || []).some((s) => s.startsWith('slack:')));
  });
}

function refreshSoon() {
  if (!inFlight) schedule(100);
}

// ---- credentials ----------------------------------------------------------

function showToken() {
  say($('token-state'), token ? 'token set for this tab' : 'no token: writes will be refused',
    token ? 'ok' : undefined);
}

$('cred-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  token = $('token').value.trim();
  $('token').value = '';
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch (e) { /* storage disabled: keep it in memory only */ }
  showToken();
  refreshSoon();
});

$('token-forget').addEventListener('click', () => {
  token = '';
  try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* ignore */ }
  showToken();
});

// ---- grid-limit signal ----------------------------------------------------

$('limit-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const msg = $('limit-msg');
  if (!last) { say(msg, 'no site data yet: the start time is taken from the gateway clock', 'err'); return; }
  const id = $('lim-id').value.trim();
  const value = Math.round(parseFloat($('lim-kw').value) * 1000);
  const start = last.time + Math.round(parseFloat($('lim-start').value) * 60);
  const dur = Math.round(parseFloat($('lim-dur').value) * 60);
  const prio = parseInt($('lim-prio').value, 10);
  if (![value, start, dur, prio].every(Number.isFinite)) { say(msg, 'fill in every field', 'err'); return; }
  say(msg, 'sending…');
  try {
    const s = await write('POST', API + '/signals', {
      id, type: 'grid_limit', priority: prio,
      intervals: [{ start, duration_s: dur, value, export_value: null }],
    });
    say(msg, `signal ${s && s.id ? s.id : id} accepted (${s && s.status ? s.status : 'ok'})`, 'ok');
    refreshSoon();
  } catch (e) { say(msg, e.message, 'err'); }
});

// ---- configuration --------------------------------------------------------

function showConfigErrors(list) {
  const ul = $('cfg-errors');
  ul.replaceChildren(...list.map((e) => el('li', {},
    el('code', { text: e.path || '/' }), ' ', document.createTextNode(e.error || ''))));
  ul.hidden = list.length === 0;
}

$('cfg-load').addEventListener('click', async () => {
  const msg = $('cfg-msg');
  showConfigErrors([]);
  say(msg, 'loading…');
  try {
    const cfg = await call('GET', API + '/config', undefined, true);
    $('cfg-text').value = JSON.stringify(cfg, null, 2);
    $('cfg-save').disabled = false;
    say(msg, 'loaded', 'ok');
  } catch (e) { say(msg, e.message, 'err'); }
});

$('cfg-save').addEventListener('click', async () => {
  const msg = $('cfg-msg');
  showConfigErrors([]);
  const text = $('cfg-text').value;
  try {
    JSON.parse(text);
  } catch (e) {
    say(msg, 'not valid JSON: ' + e.message, 'err');
    return;
  }
  say(msg, 'saving…');
  try {
    await write('PUT', API + '/config', text);
    say(msg, 'saved and applied', 'ok');
    refreshSoon();
  } catch (e) {
    const errs = e.body && Array.isArray(e.body.errors) ? e.body.errors : [];
    say(msg, e.status === 422 ? `not saved: ${errs.length} error(s)` : e.message, 'err');
    showConfigErrors(errs);
  }
});

// ---- start ----------------------------------------------------------------

showToken();
refresh();
