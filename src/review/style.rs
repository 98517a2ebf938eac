//! The page's stylesheet, inlined into `<style>`: calm colours, system fonts (with the
//! usual Chinese UI fonts before the generic fallback), priority colours P0 red, P1
//! orange, P2 amber, P3 grey, and print rules that keep the colours and drop the
//! navigation.

pub const CSS: &str = r#"
:root {
  --ink: #1f2933; --muted: #5f6b7a; --line: #d9dee5; --paper: #ffffff; --bg: #f3f5f8;
  --brand: #1f4e79; --brand-dark: #173b5c;
  --p0: #c62828; --p1: #e65100; --p2: #f2a900; --p3: #78808a;
  --ok: #2e7d5b; --bad: #c0562b;
}
* { box-sizing: border-box; }
html { background: var(--bg); }
body {
  margin: 0; color: var(--ink); font-size: 14px; line-height: 1.5;
  font-family: -apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB",
    "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
    "Helvetica Neue", Arial, sans-serif;
}
header.masthead {
  background: var(--brand); color: #fff; padding: 18px 32px 14px;
  border-bottom: 4px solid var(--brand-dark);
}
header.masthead h1 { margin: 0; font-size: 22px; font-weight: 600; letter-spacing: .02em; }
header.masthead .sub { margin-top: 4px; color: #d6e2ee; font-size: 13px; }
nav.toc { background: var(--paper); border-bottom: 1px solid var(--line); padding: 8px 32px; }
nav.toc a { color: var(--brand); text-decoration: none; margin-right: 18px; font-size: 13px; }
nav.toc a:hover { text-decoration: underline; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 24px 40px; }
section {
  background: var(--paper); border: 1px solid var(--line); border-radius: 6px;
  padding: 16px 20px 18px; margin: 16px 0;
}
section > h2 {
  margin: 0 0 12px; font-size: 17px; font-weight: 600; color: var(--brand-dark);
  padding-bottom: 8px; border-bottom: 1px solid var(--line);
}
h3 { font-size: 14px; margin: 16px 0 8px; color: var(--ink); }
p.note, .muted { color: var(--muted); font-size: 12.5px; }
p.none {
  color: var(--muted); font-style: italic; margin: 6px 0; padding: 10px 12px;
  background: var(--bg); border-radius: 4px;
}
code { font-family: ui-monospace, "SFMono-Regular", Consolas, "Liberation Mono", monospace;
  font-size: 12px; background: #eef1f5; padding: 0 4px; border-radius: 3px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 14px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; font-weight: 500; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin: 8px 0 14px; }
.card { border: 1px solid var(--line); border-left: 6px solid var(--p3); border-radius: 4px;
  padding: 10px 14px; }
.card .count { font-size: 26px; font-weight: 600; line-height: 1.1; }
.card .what { color: var(--muted); font-size: 12.5px; }
.card.p0 { border-left-color: var(--p0); } .card.p0 .count { color: var(--p0); }
.card.p1 { border-left-color: var(--p1); } .card.p1 .count { color: var(--p1); }
.card.p2 { border-left-color: var(--p2); } .card.p2 .count { color: #9a6b00; }
.card.p3 { border-left-color: var(--p3); } .card.p3 .count { color: var(--p3); }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; color: #34414f; white-space: nowrap; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: 600; background: #f7f9fb; }
table.matrix { max-width: 720px; }
table.compact { font-size: 12px; }
table.compact th, table.compact td { padding: 4px 6px; }
.scroll { overflow-x: auto; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
  font-weight: 600; line-height: 18px; white-space: nowrap; }
.badge.p0 { background: var(--p0); color: #fff; }
.badge.p1 { background: var(--p1); color: #fff; }
.badge.p2 { background: var(--p2); color: #2b2100; }
.badge.p3 { background: var(--p3); color: #fff; }
.badge.status { background: #fff; border: 1px solid currentColor; font-weight: 500; }
.badge.status.new { color: #0b5cad; }
.badge.status.reopened { color: #8a3ffc; }
.badge.status.escalated { color: var(--p0); }
.badge.status.ongoing { color: var(--muted); }
.badge.status.resolved { color: var(--ok); }
.chip { display: inline-block; font-size: 11px; padding: 0 6px; margin: 1px 2px 1px 0;
  border-radius: 3px; background: #e8eef6; color: var(--brand-dark); white-space: nowrap; }
.group { margin-top: 14px; }
.group > h3 { display: flex; align-items: center; gap: 8px; }
article.alert { border: 1px solid var(--line); border-left: 5px solid var(--p3);
  border-radius: 4px; padding: 10px 14px; margin: 8px 0; break-inside: avoid; }
article.alert.p0 { border-left-color: var(--p0); }
article.alert.p1 { border-left-color: var(--p1); }
article.alert.p2 { border-left-color: var(--p2); }
article.alert .head { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; }
article.alert .kind { font-weight: 600; }
article.alert .id { margin-left: auto; color: var(--muted); font-size: 11.5px;
  font-family: ui-monospace, Consolas, monospace; }
article.alert > div:nth-child(2) { margin: 6px 0 2px; }
.subject > .part + .part::before { content: " · "; color: var(--muted); }
article.alert .message { margin: 4px 0 6px; }
article.alert .basis { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 16px; }
article.alert .rule { font-size: 12.5px; color: var(--muted); }
article.alert .rule b { color: var(--ink); font-weight: 600; }
table.alert-table { margin-top: 4px; }
table.alert-table td { padding: 6px 8px; }
table.alert-table td:first-child { width: 1%; white-space: nowrap; }
table.alert-table td:nth-child(2) { width: 12em; }
table.alert-table .id { font-size: 11px; color: var(--muted);
  font-family: ui-monospace, Consolas, monospace; }
table.alert-table .message { margin: 2px 0 4px; }
table.alert-table .basis { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 16px; }
table.alert-table .rule { font-size: 12.5px; color: var(--muted); }
table.alert-table.p0 td:first-child { border-left: 4px solid var(--p0); }
table.alert-table.p1 td:first-child { border-left: 4px solid var(--p1); }
table.alert-table.p2 td:first-child { border-left: 4px solid var(--p2); }
table.alert-table.p3 td:first-child { border-left: 4px solid var(--p3); }
ul.numbers { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 4px 8px; }
ul.numbers li { background: var(--bg); border-radius: 3px; padding: 1px 8px; font-size: 12.5px; }
ul.numbers li span { color: var(--muted); margin-right: 4px; }
svg.chart { width: 100%; height: auto; display: block; margin: 6px 0 4px; }
svg.chart text { font-size: 12px; fill: var(--ink); }
svg.chart .band { fill: #f4f6f9; }
svg.chart .grid { stroke: #e3e7ec; stroke-width: 1; }
svg.chart .axis { stroke: #9aa5b1; stroke-width: 1; }
svg.chart text.tick { fill: var(--muted); font-size: 11px; }
svg.chart text.axis-title { fill: var(--muted); font-size: 11.5px; }
svg.chart .bar.met { fill: var(--ok); }
svg.chart .bar.below { fill: var(--bad); }
svg.chart .bar.nodata { fill: #b8c0ca; }
svg.chart text.value { font-size: 11.5px; }
svg.chart text.value.nodata { fill: var(--muted); font-style: italic; }
svg.chart .target { stroke: var(--brand-dark); stroke-width: 1.5; stroke-dasharray: 5 3; }
svg.chart text.target-label { fill: var(--brand-dark); font-size: 11.5px; font-weight: 600; }
svg.chart .reference { stroke: #7b8794; stroke-width: 1.2; }
svg.chart .ci { stroke: var(--brand); stroke-width: 1.6; }
svg.chart .point { fill: var(--brand-dark); }
.legend { font-size: 12px; color: var(--muted); margin: 0 0 4px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px;
  vertical-align: -1px; border-radius: 2px; }
.legend i.met { background: var(--ok); } .legend i.below { background: var(--bad); }
.legend i.nodata { background: #b8c0ca; }
.att.met { color: var(--ok); font-weight: 600; } .att.below { color: var(--bad); font-weight: 600; }
.up { color: var(--bad); } .down { color: var(--ok); } .flat, .none { color: var(--muted); }
.trend { white-space: nowrap; }
table.screening th { white-space: normal; vertical-align: bottom; word-break: keep-all; }
table.screening td.cls { word-break: keep-all; }
table.screening td.product { min-width: 10em; }
table.screening td.holder { min-width: 7em; }
table.screening td.events { min-width: 12em; font-size: 11.5px; }
ul.changes { margin: 4px 0 8px; padding-left: 0; list-style: none; }
ul.changes li { padding: 4px 0; border-bottom: 1px dashed var(--line); }
.ok { color: var(--ok); } .bad { color: var(--bad); }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 8px 0 24px; }
@media (max-width: 800px) { .cards { grid-template-columns: repeat(2, 1fr); } }
@media print {
  html, body { background: #fff; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  nav.toc { display: none; }
  main { max-width: none; padding: 0; }
  header.masthead { padding: 10px 0; }
  section { border: none; border-radius: 0; padding: 8px 0; margin: 8px 0; break-inside: auto; }
  section > h2 { break-after: avoid; }
  table, svg.chart, article.alert, tr { break-inside: avoid; }
  .scroll { overflow: visible; }
  a { color: inherit; text-decoration: none; }
}
"#;
