//! The one layout every page shares: navigation, the API banner, the styles and the few lines
//! of optional script. No external asset is referenced.

use leptos::prelude::*;

/// Shown when the API is down, slow or answering garbage.
#[derive(Debug, Clone)]
pub struct Banner {
    /// The API's address.
    pub api: String,
    pub reason: String,
    /// Whether the page shows the last good data instead of nothing.
    pub stale: bool,
}

/// A page's frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub title: String,
    /// The navigation key of the page (`overview`, `predict`, ...).
    pub active: &'static str,
    pub banner: Option<Banner>,
}

const NAV: [(&str, &str, &str); 6] = [
    ("/", "Overview", "overview"),
    ("/predict", "Predict", "predict"),
    ("/batch", "Batch", "batch"),
    ("/forecast", "Forecast", "forecast"),
    ("/models", "Models", "models"),
    ("/monitoring", "Monitoring", "monitoring"),
];

/// Readable from 360 px up: one column on phones, wide tables scroll inside their box.
pub const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#f6f8fa;line-height:1.45}
a{color:#0550ae}
header{background:#0b3d5c;color:#fff;padding:8px 16px}
header .brand{font-weight:700;font-size:18px;color:#fff;text-decoration:none;margin-right:16px}
nav ul{list-style:none;margin:6px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:4px 14px}
nav a{color:#fff;text-decoration:none;padding:2px 0;border-bottom:2px solid transparent}
nav a[aria-current=page]{border-bottom-color:#f0b429;font-weight:600}
main{max-width:1100px;margin:0 auto;padding:12px 16px 40px}
h1{font-size:24px;margin:12px 0}
h2{font-size:19px;margin:22px 0 8px}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px 14px;margin:14px 0}
.skip{position:absolute;left:-9999px}.skip:focus{left:8px;top:8px;background:#fff;color:#000;padding:4px}
.banner{background:#fff4e5;border:2px solid #b35900;color:#3d1f00;padding:10px 14px;border-radius:6px;margin:12px 0}
.error{color:#a40e26;font-weight:600}
.field-error{display:block;color:#a40e26;font-size:14px;margin-top:2px}
.muted{color:#57606a;font-size:14px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px}
.kpi{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px}
.kpi .v{font-size:22px;font-weight:700}
.up{color:#116329}.down{color:#a40e26}
form.controls{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-end}
form.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(210px,1fr));gap:10px 16px}
label{display:block;font-size:14px;font-weight:600}
input,select,button{font:inherit;padding:5px 6px;border:1px solid #8c959f;border-radius:4px;max-width:100%;background:#fff;color:#1f2328}
input[type=number],input[type=date],select{min-width:9em}
button{background:#0b3d5c;color:#fff;border-color:#0b3d5c;cursor:pointer;padding:6px 14px}
.wrap{overflow-x:auto;max-width:100%}
caption{text-align:left;padding:2px 0}
table{border-collapse:collapse;width:100%;font-size:14px;background:#fff}
th,td{border-bottom:1px solid #d8dee4;padding:4px 8px;text-align:left;white-space:nowrap}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#eef1f4}
tr.row-error td{background:#ffebe9}
svg.chart{width:100%;height:auto;display:block;background:#fff}
svg.chart text{font-size:12px;fill:#1f2328}
svg.chart .grid{stroke:#d8dee4}
svg.chart .axis{stroke:#57606a}
svg.chart .label{font-size:13px;fill:#424a53}
svg.chart circle:hover,svg.chart rect.bar:hover{stroke:#000;stroke-width:1.5}
.result{font-size:28px;font-weight:700}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:13px;color:#fff;background:#57606a}
.badge.ok{background:#116329}.badge.alert{background:#a40e26}.badge.champion{background:#0550ae}
.readout{min-height:1.4em;font-size:14px;color:#424a53}
dd{margin-left:1em;overflow-wrap:anywhere}
details summary{cursor:pointer;font-weight:600}
footer{max-width:1100px;margin:0 auto;padding:0 16px 20px;font-size:13px;color:#57606a}
@media (max-width:520px){h1{font-size:20px}main{padding:8px}section{padding:8px}.result{font-size:22px}}
"#;

/// Optional: sorts a table by a clicked header and shows a chart point's value below the chart.
/// Nothing depends on it; the numbers are in the tables and in each point's `<title>`.
pub const SCRIPT: &str = r#"
(function(){
function val(td){var t=td.getAttribute('data-v');if(t===null)t=td.textContent;var n=parseFloat(t.replace(/,/g,''));return isNaN(n)?t:n}
document.querySelectorAll('table.sortable').forEach(function(tb){
 tb.querySelectorAll('th').forEach(function(th,i){
  th.tabIndex=0;th.title='Sort';
  function go(){var body=tb.tBodies[0];if(!body)return;var asc=th.getAttribute('aria-sort')!=='ascending';
   tb.querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort')});
   th.setAttribute('aria-sort',asc?'ascending':'descending');
   var rows=Array.prototype.slice.call(body.rows);
   rows.sort(function(a,b){var x=val(a.cells[i]),y=val(b.cells[i]);return (x<y?-1:x>y?1:0)*(asc?1:-1)});
   rows.forEach(function(r){body.appendChild(r)})}
  th.addEventListener('click',go);th.addEventListener('keydown',function(e){if(e.key==='Enter')go()})})});
document.querySelectorAll('figure').forEach(function(f){
 var out=f.querySelector('.readout');if(!out)return;
 f.querySelectorAll('svg circle, svg rect.bar').forEach(function(c){
  c.addEventListener('mouseenter',function(){var t=c.querySelector('title');if(t)out.textContent=t.textContent})})});
})();
"#;

/// The whole HTML document of a page.
pub fn document(frame: Frame, body: AnyView) -> String {
    let Frame {
        title,
        active,
        banner,
    } = frame;
    let nav = NAV
        .iter()
        .map(|(href, label, key)| {
            let current = (*key == active).then_some("page");
            view! { <li><a href=*href aria-current=current>{*label}</a></li> }
        })
        .collect_view();
    let banner = banner.map(|b| {
        let stale = if b.stale {
            "Showing the last data received from it."
        } else {
            "No earlier data to show for this view."
        };
        view! {
            <div class="banner" role="alert" id="api-banner">
                <strong>"The prediction service is not answering. "</strong>
                "Address: " <code>{b.api}</code> " (" {b.reason} "). " {stale}
                " Try again in a moment; an operator can check it at its /health route."
            </div>
        }
    });
    let page_title = format!("{title} · Salescast");
    let html = view! {
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <title>{page_title}</title>
                <style inner_html=CSS></style>
            </head>
            <body>
                <a class="skip" href="#main">"Skip to content"</a>
                <header>
                    <a class="brand" href="/">"Salescast"</a>
                    <nav aria-label="Main"><ul>{nav}</ul></nav>
                </header>
                <main id="main">
                    {banner}
                    <h1>{title}</h1>
                    {body}
                </main>
                <footer>"Salescast: sales forecasts from the models salescast-api serves."</footer>
                <script inner_html=SCRIPT></script>
            </body>
        </html>
    }
    .to_html();
    format!("<!DOCTYPE html>{html}")
}
