/**
 * The dashboard's script, run in the browser: polls `/api/state`, draws the
 * tables and the small SVG plots by hand (a few polylines need no library),
 * and asks for a confirmation before any management operation. Everything a
 * member reports is inserted as text, never as markup.
 */
export const CLIENT_SCRIPT = String.raw`'use strict';
(function () {
  var token = new URLSearchParams(location.search).get('token') || '';
  var q = '?token=' + encodeURIComponent(token);
  var $ = function (id) { return document.getElementById(id); };
  var intervalMs = 2000;
  var pending = null;

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) el.setAttribute(k, attrs[k]);
    (children || []).forEach(function (c) {
      el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    });
    return el;
  }
  var short = function (id) { return id.length > 16 ? id.slice(0, 6) + '…' + id.slice(-6) : id; };
  var pct = function (x) { return (x * 100).toFixed(1) + '%'; };
  var fixed = function (x) { return x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(3); };
  function duration(ms) {
    var s = Math.floor(ms / 1000);
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's';
    return Math.floor(s / 3600) + 'h' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + 'm';
  }
  function rateClass(x) { return x >= 0.8 ? 'ok' : x >= 0.5 ? 'warn' : 'bad'; }

  var SVG = 'http://www.w3.org/2000/svg';
  /** A sparkline of one or two series over the points' time span; null values leave a gap. */
  function spark(metric, points, pick, second, fixedMax) {
    var W = 230, H = 34, P = 2;
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('data-metric', metric);
    svg.setAttribute('data-points', String(points.length));
    if (points.length === 0) return svg;
    var t0 = points[0][0], t1 = points[points.length - 1][0];
    var values = points.map(pick).concat(second ? points.map(second) : []).filter(function (v) { return v !== null; });
    var max = fixedMax || Math.max.apply(null, values.concat([1e-9]));
    function line(get, cls) {
      var pts = [];
      points.forEach(function (p) {
        var v = get(p);
        if (v === null) return;
        var x = t1 === t0 ? W - P : P + ((p[0] - t0) / (t1 - t0)) * (W - 2 * P);
        var y = H - P - (v / max) * (H - 2 * P);
        pts.push(x.toFixed(1) + ',' + y.toFixed(1));
      });
      if (pts.length === 1) pts.push(pts[0].replace(/^[\d.]+/, function (x) { return String(Math.max(0, x - 4)); }));
      var pl = document.createElementNS(SVG, 'polyline');
      pl.setAttribute('points', pts.join(' '));
      if (cls) pl.setAttribute('class', cls);
      svg.appendChild(pl);
    }
    line(pick);
    if (second) line(second, 'second');
    var title = document.createElementNS(SVG, 'title');
    title.textContent = metric + ': max ' + fixed(max);
    svg.appendChild(title);
    return svg;
  }

  function members(state) {
    var body = $('members').tBodies[0];
    body.replaceChildren();
    var services = {};
    state.members.forEach(function (m) {
      m.cached.forEach(function (s) { services[s] = true; });
      var near = m.near
        ? m.near.mode + ' · ' + m.near.entries + ' entries · ' + m.near.flushes + ' flushes · ' + m.near.gaps + ' gaps'
        : '';
      var backends = h('td', {}, Object.keys(m.backends || {}).map(function (name) {
        var b = m.backends[name];
        var cls = b.available ? 'ok' : 'bad';
        var text = name + (b.available ? ' ✓' : ' breaker open') + (b.errors ? ' · ' + b.errors + ' errors' : '') +
          (b.entries !== undefined ? ' · ' + b.entries + ' entries' : '');
        return h('div', { class: cls }, [text]);
      }));
      var hit = m.totals && m.totals.hits + m.totals.misses > 0
        ? h('span', { class: rateClass(m.totals.hitRate) }, [pct(m.totals.hitRate)]) : h('span', {}, ['-']);
      var row = h('tr', { 'data-peer': m.peerId }, [
        h('td', { class: 'mono', title: m.peerId }, [short(m.peerId)]),
        h('td', {}, [m.services.join(', ') || '-']),
        h('td', {}, [m.cached.join(', ') || '-']),
        h('td', {}, [m.uptimeMs === undefined ? '?' : duration(m.uptimeMs)]),
        h('td', {}, [hit]),
        h('td', {}, m.error ? [h('span', { class: 'bad' }, [m.error.code + ': ' + m.error.message])] : [near]),
        backends,
      ]);
      body.appendChild(row);
    });
    var select = $('service');
    var chosen = select.value;
    var names = Object.keys(services).sort();
    if (names.join() !== Array.prototype.map.call(select.options, function (o) { return o.value; }).join()) {
      select.replaceChildren.apply(select, names.map(function (n) { return h('option', { value: n }, [n]); }));
      if (names.indexOf(chosen) >= 0) select.value = chosen;
    }
  }

  function actions(state) {
    var box = $('actions');
    box.replaceChildren.apply(box, state.actions.map(function (a) {
      var s = a.series;
      var last = s[s.length - 1] || [0, null, 0, 0, 0];
      return h('div', { class: 'action', 'data-path': a.path, 'data-peer': a.peerId }, [
        h('h3', {}, [h('span', { class: 'mono' }, [a.path]), h('span', { class: 'dim mono', title: a.peerId }, [short(a.peerId)])]),
        h('div', { class: 'figures' }, [
          h('span', {}, ['hit rate ', h('b', { class: a.hits + a.misses ? rateClass(a.hitRate) : '' }, [a.hits + a.misses ? pct(a.hitRate) : '-'])]),
          h('span', {}, [h('b', {}, [last[2].toFixed(1)]), ' req/s']),
          h('span', { class: 'dim' }, [a.hits + ' hits · ' + a.misses + ' misses']),
        ]),
        h('div', { class: 'plot' }, [h('span', {}, ['hit rate']), spark('hitRate', s, function (p) { return p[1]; }, null, 1)]),
        h('div', { class: 'plot' }, [h('span', {}, ['req/s']), spark('rps', s, function (p) { return p[2]; })]),
        h('div', { class: 'plot' }, [h('span', {}, ['ms p50/p99']),
          spark('latency', s, function (p) { return p[3]; }, function (p) { return p[4]; })]),
      ]);
    }));
    if (state.actions.length === 0) box.appendChild(h('p', { class: 'dim' }, ['no cached action has been called yet (or no member gave its stats)']));
  }

  function events(state) {
    var list = $('events');
    list.replaceChildren.apply(list, state.events.slice(0, 100).map(function (e) {
      return h('li', { 'data-kind': e.kind }, [
        h('time', {}, [new Date(e.t).toLocaleTimeString()]),
        e.peerId ? h('span', { class: 'mono dim' }, [short(e.peerId) + ' ']) : '',
        h('b', {}, [e.kind + ' ']), e.text,
      ]);
    }));
  }

  function refresh() {
    fetch('api/state' + q, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(function (state) {
      intervalMs = state.intervalMs || intervalMs;
      $('network').textContent = 'network ' + state.network;
      $('operator').textContent = 'as ' + short(state.operator);
      $('operator').title = state.operator;
      $('status').textContent = state.sampledAt ? 'sampled ' + new Date(state.sampledAt).toLocaleTimeString() : 'sampling…';
      $('status').className = 'dim';
      members(state);
      actions(state);
      events(state);
    }).catch(function (err) {
      $('status').textContent = 'disconnected: ' + err.message;
      $('status').className = 'bad';
    }).finally(function () { setTimeout(refresh, intervalMs); });
  }

  function describe(req) {
    var what = req.op === 'clear' ? 'Clear every entry of' : req.op === 'delete' ? 'Delete ' + req.arg + ' from'
      : req.op === 'revoke' ? 'Revoke ' + req.arg + ' from' : 'Invalidate tags ' + req.arg + ' in';
    return what + ' the cache of ' + req.service + ' on every member hosting it?';
  }

  $('manage').addEventListener('submit', function (ev) {
    ev.preventDefault();
    pending = { op: $('op').value, service: $('service').value, arg: $('arg').value.trim() };
    if (!pending.service) { $('result').textContent = 'no cached service to manage'; pending = null; return; }
    if (pending.op !== 'clear' && !pending.arg) { $('result').textContent = 'give a key, a pattern or tags'; pending = null; return; }
    $('confirm-text').textContent = describe(pending) + ' ';
    $('confirm').hidden = false;
  });
  $('confirm-no').addEventListener('click', function () { pending = null; $('confirm').hidden = true; });
  $('confirm-yes').addEventListener('click', function () {
    var req = pending;
    pending = null;
    $('confirm').hidden = true;
    if (!req) return;
    $('result').textContent = 'running…';
    fetch('api/manage' + q, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req) })
      .then(function (r) { return r.json(); })
      .then(function (res) {
        $('result').className = res.ok ? 'ok' : 'bad';
        $('result').textContent = (res.ok ? 'done: ' : 'refused: ' + (res.error ? res.error.code + ': ' + res.error.message : '') + '\n') +
          JSON.stringify(res.nodes || [], null, 1);
      })
      .catch(function (err) { $('result').className = 'bad'; $('result').textContent = 'failed: ' + err.message; });
  });
  $('op').addEventListener('change', function () {
    var op = $('op').value;
    $('arg').disabled = op === 'clear';
    $('arg').placeholder = op === 'delete' ? 'get_user:42' : op === 'revoke' ? 'get_user:*' : op === 'invalidate' ? 'user:42 team:7' : '';
  });
  refresh();
})();
`;
