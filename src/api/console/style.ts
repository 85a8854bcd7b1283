/**
 * The console's one stylesheet, served by the app at `CONSOLE_CSS_PATH`
 * (console/assets.ts): the system font stack, nothing fetched from another
 * site. Kept as a string so the build needs no asset copy.
 */
import { createHash } from 'node:crypto';

export const CONSOLE_CSS = `:root{
  --bg:#f5f6f8;--panel:#fff;--text:#1f2430;--muted:#5d6676;--line:#e2e5eb;--head:#f0f2f5;
  --accent:#1f5fbf;--accent-soft:#e8f0fc;--ok:#17753a;--ok-soft:#e5f5ea;--warn:#8a5a00;
  --warn-soft:#fff3d6;--bad:#b42318;--bad-soft:#fde8e6;--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;
  color-scheme:light;
}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--text);
  font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
a{color:var(--accent);text-decoration:none}
a:hover{text-decoration:underline}
header.top{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.5rem;padding:.7rem 1.5rem;
  background:#172033;color:#fff}
header.top .brand{font-weight:650;letter-spacing:.01em;white-space:nowrap}
header.top nav{display:flex;flex-wrap:wrap;gap:.25rem .9rem}
header.top nav a{color:#c9d4e8;padding:.15rem 0}
header.top nav a:hover{color:#fff}
main{max-width:1240px;margin:0 auto;padding:1.25rem 1.5rem 3rem}
h1{font-size:1.45rem;margin:.4rem 0 1rem;overflow-wrap:anywhere}
h2{font-size:1.1rem;margin:1.8rem 0 .6rem}
h3{font-size:.95rem;margin:1.2rem 0 .4rem;color:var(--muted)}
p{margin:.5rem 0}
code,pre{font-family:var(--mono);font-size:.86em}
code{overflow-wrap:anywhere}
pre{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:.8rem;
  white-space:pre-wrap;overflow-wrap:anywhere;max-width:100%}
small,.muted{color:var(--muted)}
.table-wrap{max-width:100%;overflow-x:auto;background:var(--panel);border:1px solid var(--line);
  border-radius:8px;margin:.4rem 0 1rem}
table{border-collapse:collapse;width:100%}
th,td{padding:.45rem .7rem;text-align:left;vertical-align:top;border-bottom:1px solid var(--line);
  overflow-wrap:anywhere}
thead th{background:var(--head);font-weight:600;font-size:.85em;color:var(--muted);
  text-transform:uppercase;letter-spacing:.03em;white-space:nowrap}
tbody tr:last-child>*{border-bottom:0}
tbody tr:hover{background:#fafbfd}
table.facts{width:auto;min-width:50%}
table.facts th{width:16rem;background:var(--head);font-weight:600;color:var(--muted)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.85em;
  font-weight:600;background:var(--head);color:var(--muted);white-space:nowrap}
.badge.ok{background:var(--ok-soft);color:var(--ok)}
.badge.warn{background:var(--warn-soft);color:var(--warn)}
.badge.bad{background:var(--bad-soft);color:var(--bad)}
.badge.info{background:var(--accent-soft);color:var(--accent)}
button,input,select{font:inherit}
input,select{padding:.35rem .5rem;border:1px solid #c8cdd6;border-radius:6px;background:#fff;
  max-width:100%}
button{padding:.38rem .85rem;border:1px solid var(--accent);border-radius:6px;background:var(--accent);
  color:#fff;cursor:pointer;font-weight:550}
button:hover{filter:brightness(1.08)}
form.inline{display:inline-flex;flex-wrap:wrap;align-items:center;gap:.4rem;margin:.3rem .8rem .3rem 0}
td form.inline{margin:0}
td button{padding:.2rem .6rem;font-size:.85em}
form.filters{display:flex;flex-wrap:wrap;align-items:flex-end;gap:.6rem 1rem;margin:.2rem 0 .6rem;
  padding:.7rem .9rem;background:var(--panel);border:1px solid var(--line);border-radius:8px}
form.filters label{display:flex;flex-direction:column;gap:.15rem;font-size:.85em;color:var(--muted)}
form.filters .count{margin-left:auto;color:var(--muted);font-size:.9em;align-self:center}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:1rem;margin:.6rem 0 1rem}
.card{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:.9rem 1rem;min-width:0}
.card h2{margin:0 0 .5rem;font-size:1rem}
.card .figure{font-size:1.8rem;font-weight:650;line-height:1.2}
.chart{display:block;width:100%;height:auto;max-width:100%}
.chart text{font:11px system-ui,sans-serif;fill:#5d6676}
.chart .bar{fill:#4a7fd1}.chart .bar.refused{fill:#d9534f}.chart .line{fill:none;stroke:#1f5fbf;stroke-width:2}
.chart .dot{fill:#1f5fbf}.chart .grid{stroke:#e2e5eb;stroke-width:1}
ol.timeline{list-style:none;margin:.4rem 0 1rem;padding:0;background:var(--panel);border:1px solid var(--line);
  border-radius:8px}
ol.timeline li{display:grid;grid-template-columns:6.5rem 1fr auto;gap:.8rem;padding:.5rem .8rem;
  border-bottom:1px solid var(--line);align-items:baseline}
ol.timeline li:last-child{border-bottom:0}
ol.timeline time{font-family:var(--mono);color:var(--muted);font-size:.86em}
ol.timeline .sentence{overflow-wrap:anywhere}
ol.timeline code.kind{color:var(--muted);font-size:.78em}
ol.timeline li.status .sentence{font-weight:600}
tr.differs>td{background:var(--warn-soft)}
.marker{font-weight:700;color:var(--bad);white-space:nowrap}
details{margin:.6rem 0}
summary{cursor:pointer;color:var(--accent)}
.actions{display:flex;flex-wrap:wrap;gap:.2rem .4rem;margin:.6rem 0 1rem;padding:.7rem .9rem;
  background:var(--panel);border:1px solid var(--line);border-radius:8px}
ul.links{padding-left:1.2rem}
.login{max-width:28rem;margin:3rem auto;background:var(--panel);border:1px solid var(--line);
  border-radius:10px;padding:1.2rem 1.4rem}
`;

/** Where the stylesheet is served, with a digest of its text so a change is never cached. */
export const CONSOLE_CSS_PATH = `/ops/assets/console.css?v=${createHash('sha256')
  .update(CONSOLE_CSS)
  .digest('hex')
  .slice(0, 12)}`;
