/** The dashboard's page and style (served as they are: no build step, nothing fetched from elsewhere). */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meshcache dashboard</title>
<link rel="stylesheet" href="app.css?token={{token}}">
<script src="app.js?token={{token}}" defer></script>
</head>
<body>
<header>
  <h1>meshcache</h1>
  <span id="network"></span>
  <span id="operator"></span>
  <span id="status" class="dim">connecting…</span>
</header>
<main>
  <section>
    <h2>Members</h2>
    <table id="members"><thead><tr>
      <th>peer</th><th>services</th><th>cached</th><th>uptime</th><th>hit rate</th>
      <th>near tier</th><th>backends</th>
    </tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Cached actions <span class="dim">(last minutes; hit rate and requests/s per sample interval; latency: the node's sampled mean and max)</span></h2>
    <div id="actions"></div>
  </section>
  <section class="split">
    <div>
      <h2>Manage <span class="dim">(runs as the operator: nodes that do not list it in cache.access.peers refuse)</span></h2>
      <form id="manage" autocomplete="off">
        <select id="op" aria-label="operation">
          <option value="revoke">revoke (glob)</option>
          <option value="delete">delete (key)</option>
          <option value="clear">clear</option>
          <option value="invalidate">invalidate tags</option>
        </select>
        <select id="service" aria-label="service"></select>
        <input id="arg" placeholder="get_user:*" aria-label="key, pattern or tags">
        <button id="run" type="submit">Run…</button>
      </form>
      <div id="confirm" hidden>
        <span id="confirm-text"></span>
        <button id="confirm-yes" type="button">Confirm</button>
        <button id="confirm-no" type="button">Cancel</button>
      </div>
      <pre id="result"></pre>
    </div>
    <div>
      <h2>Invalidations and events <span class="dim">(derived from the nodes' counters, and this page's operations)</span></h2>
      <ol id="events"></ol>
    </div>
  </section>
</main>
</body>
</html>
`;

export const PAGE_STYLE = `
:root { color-scheme: light dark; --fg: #1d2330; --bg: #f6f7f9; --card: #fff; --line: #d9dde5; --dim: #6b7385;
  --ok: #1b8a4b; --warn: #b7791f; --bad: #c53030; --accent: #2b6cb0; }
@media (prefers-color-scheme: dark) { :root { --fg: #e4e7ee; --bg: #12151b; --card: #1b1f27; --line: #2d3340;
  --dim: #8a92a6; --accent: #63a4ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1.2em; align-items: baseline; padding: .6em 1.2em; border-bottom: 1px solid var(--line);
  background: var(--card); }
h1 { font-size: 1.2em; margin: 0; }
h2 { font-size: 1em; margin: 1.2em 0 .5em; }
main { padding: 0 1.2em 2em; }
.dim { color: var(--dim); font-weight: normal; }
table { border-collapse: collapse; width: 100%; background: var(--card); }
th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--dim); }
code, .mono { font-family: ui-monospace, monospace; font-size: .92em; }
.ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
#actions { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: .8em; }
.action { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .6em .8em; }
.action h3 { font-size: .95em; margin: 0 0 .3em; display: flex; justify-content: space-between; gap: .5em; }
.figures { display: flex; gap: 1em; margin-bottom: .3em; }
.figures b { font-size: 1.1em; }
.plot { display: flex; align-items: center; gap: .5em; margin: 3px 0; }
.plot span { width: 6.5em; color: var(--dim); font-size: .85em; }
svg.spark { width: 230px; height: 34px; background: var(--bg); border-radius: 3px; }
svg.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
svg.spark polyline.second { stroke: var(--warn); stroke-width: 1; }
.split { display: grid; grid-template-columns: minmax(320px, 1fr) minmax(320px, 1fr); gap: 1.5em; }
form { display: flex; gap: .4em; flex-wrap: wrap; }
input, select, button { font: inherit; padding: .3em .5em; border: 1px solid var(--line); border-radius: 4px;
  background: var(--card); color: var(--fg); }
input { flex: 1; min-width: 10em; }
button { cursor: pointer; }
#confirm { margin-top: .6em; padding: .6em; border: 1px solid var(--warn); border-radius: 4px; background: var(--card); }
#confirm-yes { border-color: var(--bad); color: var(--bad); }
#result { white-space: pre-wrap; background: var(--card); border: 1px solid var(--line); padding: .5em; min-height: 2.5em;
  max-height: 14em; overflow: auto; }
#events { list-style: none; padding: 0; margin: 0; max-height: 22em; overflow: auto; background: var(--card);
  border: 1px solid var(--line); }
#events li { padding: .25em .6em; border-bottom: 1px solid var(--line); font-size: .9em; }
#events time { color: var(--dim); margin-right: .6em; }
`;
