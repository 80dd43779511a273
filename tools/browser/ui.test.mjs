// Browser tests of salescast-ui: real salescast-api serving freshly trained models, real
// salescast-ui, real salescast-monitor output, Debian's headless Chromium driven by
// playwright-core, and axe-core for accessibility.
//
// Usage: node tools/browser/ui.test.mjs [--bin DIR] [--screenshots DIR]
//   --bin          where the salescast binaries are (default: target/debug, or $CARGO_TARGET_DIR/debug)
//   --screenshots  where a screenshot of every page goes (default: target/ui-screenshots)
// Exit code 0 when every check passed; 1 otherwise (each failure is printed).

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const targetDir = process.env.CARGO_TARGET_DIR || join(root, 'target');
const bin = resolve(arg('--bin', join(targetDir, 'debug')));
const shots = resolve(arg('--screenshots', join(targetDir, 'ui-screenshots')));
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const axeSource = readFileSync(join(here, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

const failures = [];
const results = [];
function check(name, ok, detail = '') {
  results.push({ name, ok });
  if (ok) {
    console.log(`ok    ${name}`);
  } else {
    console.log(`FAIL  ${name}${detail ? `: ${detail}` : ''}`);
    failures.push(name);
  }
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', ...opts });
  if (r.status !== 0 && !(opts.okCodes || []).includes(r.status)) {
    throw new Error(`${cmd} ${argv.join(' ')} exited with ${r.status}:\n${r.stderr}`);
  }
  return r;
}

const children = [];
function start(cmd, argv, env, logFile) {
  const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  child.stdout.on('data', (d) => log.push(d));
  child.stderr.on('data', (d) => log.push(d));
  child.on('exit', () => writeFileSync(logFile, Buffer.concat(log)));
  children.push(child);
  return child;
}

async function waitFor(url, ms = 60000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${ms} ms`);
}

function cleanup() {
  for (const c of children) {
    if (c.exitCode === null) c.kill('SIGTERM');
  }
}
process.on('exit', cleanup);

// ---------------------------------------------------------------- setup
const work = mkdtempSync(join(tmpdir(), 'salescast-ui-test-'));
const params = join(here, 'params-small.yaml');
mkdirSync(shots, { recursive: true });
console.log(`work dir: ${work}`);
console.log(`screenshots: ${shots}`);
const salescast = join(bin, 'salescast');
const env = { MLFLOW_TRACKING_URI: '', RUST_LOG: 'warn', SALESCAST_NO_PROGRESS: '1' };
const quiet = { env: { ...process.env, ...env }, cwd: work };
run(salescast, ['generate', '--params', params, '--out', join(work, 'raw.csv')], quiet);
run(salescast, ['pipeline', '--params', params, '--input', join(work, 'raw.csv'), '--workdir', join(work, 'w')], quiet);
const models = join(work, 'w', 'models');
// New days after the training data, from another seed, for the monitor.
const manifest = JSON.parse(readFileSync(join(models, 'manifest.json'), 'utf8'));
const lastDay = JSON.stringify(manifest).match(/"last":"(\d{4}-\d{2}-\d{2})"/g)
  .map((m) => m.slice(8, 18)).sort().pop();
const next = new Date(`${lastDay}T00:00:00Z`);
next.setUTCDate(next.getUTCDate() + 1);
const nextDay = next.toISOString().slice(0, 10);
run(salescast, ['generate', '--params', params, '--seed', '7', '--start', nextDay, '--days', '28',
  '--rows', '3000', '--out', join(work, 'new.csv')], quiet);
const reports = join(work, 'reports');
run(join(bin, 'salescast-monitor'), ['--new-data', join(work, 'new.csv'), '--models-dir', models,
  '--report-dir', reports, '--no-mlflow'], { ...quiet, okCodes: [1] });

const apiPort = await freePort();
const uiPort = await freePort();
const apiUrl = `http://127.0.0.1:${apiPort}`;
const ui = `http://127.0.0.1:${uiPort}`;
const api = start(join(bin, 'salescast-api'), ['--models-dir', models, '--addr', `127.0.0.1:${apiPort}`],
  env, join(work, 'api.log'));
start(join(bin, 'salescast-ui'), ['--api-url', apiUrl, '--addr', `127.0.0.1:${uiPort}`,
  '--reports-dir', reports, '--api-timeout-secs', '3'], env, join(work, 'ui.log'));
await waitFor(`${apiUrl}/ready`);
await waitFor(`${ui}/health`);

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

const pages = [
  ['overview', '/'],
  ['predict', '/predict'],
  ['batch', '/batch'],
  ['forecast', '/forecast'],
  ['models', '/models'],
  ['monitoring', '/monitoring'],
];

// A page with a console listener and a dialog trap (any alert() is a failure).
async function openPage(context) {
  const page = await context.newPage();
  page.consoleErrors = [];
  page.dialogs = [];
  page.on('console', (m) => { if (m.type() === 'error') page.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => page.consoleErrors.push(String(e)));
  page.on('dialog', async (d) => { page.dialogs.push(d.message()); await d.dismiss(); });
  return page;
}

async function axe(page) {
  await page.evaluate(axeSource);
  const r = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const out = await axe.run(document, { resultTypes: ['violations'] });
    return out.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  });
  return r.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

try {
  // bypassCSP lets axe's script run next to the page's own policy.
  const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await openPage(context);
  const sizes = {};

  // Every page: loads, no console error, axe clean, a screenshot, its transferred size.
  for (const [name, path] of pages) {
    page.consoleErrors.length = 0;
    const resp = await page.goto(ui + path);
    const body = await resp.body();
    sizes[name] = body.length;
    check(`${name}: loads with 200`, resp.status() === 200, `status ${resp.status()}`);
    check(`${name}: no console error`, page.consoleErrors.length === 0, page.consoleErrors.join(' | '));
    const external = await page.evaluate(() => [...document.querySelectorAll('[src],link[href]')]
      .map((e) => e.getAttribute('src') || e.getAttribute('href')).filter((u) => /^(https?:)?\/\//.test(u)));
    check(`${name}: no external assets`, external.length === 0, external.join(' '));
    const violations = await axe(page);
    check(`${name}: axe reports no serious or critical violation`, violations.length === 0, JSON.stringify(violations));
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  }
  writeFileSync(join(shots, 'sizes.json'), JSON.stringify(sizes, null, 2));
  console.log(`page sizes (bytes): ${JSON.stringify(sizes)}`);

  // Narrow screens: nothing wider than 360 px outside its scrolling box.
  const phone = await browser.newContext({ viewport: { width: 360, height: 740 } });
  const small = await openPage(phone);
  for (const [name, path] of pages) {
    await small.goto(ui + path);
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(`${name}: fits 360 px`, overflow <= 0, `${overflow}px too wide`);
    await small.screenshot({ path: join(shots, `${name}-360.png`), fullPage: true });
  }
  await phone.close();

  // Models: the daily selection's backtest, one row per candidate in sarima.json.
  await page.goto(ui + '/models');
  const daily = JSON.parse(readFileSync(join(models, 'sarima.json'), 'utf8'));
  const candidates = (daily.payload ?? daily).candidates ?? [];
  const backtestRows = await page.locator('#backtest tbody tr').count();
  check('models: the backtest table has a row per daily candidate', candidates.length > 0 && backtestRows === candidates.length,
    `${backtestRows} rows, ${candidates.length} candidates`);

  // Predict: the page's number equals POST /predict's for the same fields.
  await page.goto(`${ui}/predict`);
  await page.click('#predict-form button[type=submit]');
  await page.waitForSelector('#prediction');
  const shown = Number(await page.getAttribute('#prediction', 'data-value'));
  const fields = await page.evaluate(() => {
    const f = document.querySelector('#predict-form');
    const v = (n) => f.elements[n].value;
    return {
      date: v('date'), store_id: v('store_id'), product_id: v('product_id'), category: v('category'),
      unit_price: Number(v('unit_price')), discount: Number(v('discount')),
      promotion: f.elements.promotion.checked, customer_segment: v('customer_segment'),
      payment_method: v('payment_method'),
    };
  });
  const direct = await (await fetch(`${apiUrl}/predict`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fields),
  })).json();
  check('predict: the page shows what POST /predict returns', shown === direct.predicted_revenue,
    `${shown} vs ${direct.predicted_revenue}`);
  const modelText = await page.textContent('#prediction-model');
  check('predict: the model and its version are shown', modelText.includes(direct.model) && modelText.includes(direct.model_version), modelText);
  // Why this number: the waterfall is drawn and the API's contributions add up to it.
  const explained = await (await fetch(`${apiUrl}/predict?explain=true`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fields),
  })).json();
  const bars = await page.locator('#explain-chart rect.bar').count();
  check('predict: the waterfall has a bar per field plus start and end',
    bars === explained.explanation.contributions.length + 2, `${bars} bars`);
  const total = explained.explanation.expected_value
    + explained.explanation.contributions.reduce((a, c) => a + c.contribution, 0);
  check('predict: expected value plus contributions is the prediction',
    Math.abs(total - shown) < 1e-6, `${total} vs ${shown}`);
  await page.screenshot({ path: join(shots, 'predict-result.png'), fullPage: true });

  // The API's validation message beside the field at fault.
  await page.goto(`${ui}/predict`);
  await page.fill('#unit_price', '-5');
  await page.click('#predict-form button[type=submit]');
  await page.waitForURL(/go=1/);
  const priceError = await page.textContent('#unit_price-error').catch(() => '');
  check('predict: the API validation message sits beside the field', /unit_price/i.test(priceError || ''), priceError);

  // What-if: the curve has the number of points asked for.
  await page.goto(`${ui}/predict`);
  await page.selectOption('#whatif', 'unit_price');
  await page.fill('#points', '17');
  await page.click('#predict-form button[type=submit]');
  await page.waitForSelector('circle.whatif-pt');
  const curve = await page.locator('circle.whatif-pt').count();
  check('what-if: 17 points asked, 17 drawn', curve === 17, `${curve} points`);
  const whatifRows = await page.locator('#whatif-table tbody tr').count();
  check('what-if: the table has the same points', whatifRows === 17, `${whatifRows} rows`);

  // Batch: rows, flagged bad rows, and a download equal to the API's answer.
  const raw = readFileSync(join(work, 'raw.csv'), 'utf8').split('\n');
  const header = raw[0].split(',');
  const priceCol = header.indexOf('unit_price');
  const productCol = header.indexOf('product_id');
  const body = raw.slice(1, 31).map((line, i) => {
    const cells = line.split(',');
    if (i === 3 || i === 11) cells[priceCol] = 'abc';
    if (i === 5) cells[productCol] = '"<script>alert(1)</script>"';
    return cells.join(',');
  });
  const csvText = [raw[0], ...body].join('\n') + '\n';
  const csvPath = join(work, 'upload.csv');
  writeFileSync(csvPath, csvText);
  await page.goto(`${ui}/batch`);
  await page.setInputFiles('#file', csvPath);
  await Promise.all([page.waitForURL(/\/batch\?job=/), page.click('#batch-form button[type=submit]')]);
  const rows = Number(await page.textContent('#batch-rows'));
  const errors = Number(await page.textContent('#batch-errors'));
  const flagged = await page.locator('#batch-table tr.row-error').count();
  check('batch: every row counted', rows === 30, `${rows}`);
  check('batch: the two bad prices are failures', errors === 2, `${errors}`);
  check('batch: the bad rows are highlighted', flagged === 2, `${flagged}`);
  check('escaping: the script field shows as text', (await page.textContent('#batch-table')).includes('<script>alert(1)</script>'));
  check('escaping: the script did not run', page.dialogs.length === 0, page.dialogs.join(','));
  const scriptTags = await page.evaluate(() => document.querySelectorAll('#batch-table script').length);
  check('escaping: no script element in the table', scriptTags === 0);
  await page.screenshot({ path: join(shots, 'batch-result.png'), fullPage: true });
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#batch-download')]);
  const downloaded = readFileSync(await download.path());
  const form = new FormData();
  form.append('file', new Blob([csvText], { type: 'text/csv' }), 'upload.csv');
  const apiAnswer = Buffer.from(await (await fetch(`${apiUrl}/predict_batch_csv`, { method: 'POST', body: form })).arrayBuffer());
  check('batch: the download equals the API answer', downloaded.equals(apiAnswer),
    `${downloaded.length} vs ${apiAnswer.length} bytes`);

  // Forecast: one point per requested day.
  const fStart = nextDay;
  const fEndDate = new Date(`${nextDay}T00:00:00Z`);
  fEndDate.setUTCDate(fEndDate.getUTCDate() + 13);
  const fEnd = fEndDate.toISOString().slice(0, 10);
  await page.goto(`${ui}/forecast?start=${fStart}&end=${fEnd}&level=80`);
  const fcPoints = await page.locator('circle.fc-pt').count();
  check('forecast: one point per requested day (14)', fcPoints === 14, `${fcPoints}`);
  const fcRows = await page.locator('#forecast-table tbody tr').count();
  check('forecast: the table has the same 14 days', fcRows === 14, `${fcRows}`);
  const csvHref = await page.getAttribute('#forecast-csv', 'href');
  const fcCsv = await (await fetch(ui + csvHref)).text();
  check('forecast: the CSV download has the 14 days', fcCsv.trim().split('\n').length === 15);

  // Controls are query parameters: the URL changes, and reloading it shows the same view.
  await page.goto(`${ui}/`);
  const store = await page.evaluate(() => document.querySelector('#store option:nth-child(3)').value);
  await page.selectOption('#store', store);
  await Promise.all([page.waitForURL(/store=/), page.click('#overview-controls button[type=submit]')]);
  const url = page.url();
  check('controls: choosing a store changes the URL', url.includes(`store=${encodeURIComponent(store)}`), url);
  const before = await page.textContent('#kpi-revenue');
  await page.reload();
  const after = await page.textContent('#kpi-revenue');
  const selected = await page.inputValue('#store');
  check('controls: reloading the URL shows the same view', before === after && selected === store, `${before} / ${after} / ${selected}`);
  await page.goBack();
  check('controls: Back returns to the previous view', !page.url().includes('store='), page.url());

  // JavaScript off: every page is used once.
  const nojs = await browser.newContext({ javaScriptEnabled: false });
  const p2 = await openPage(nojs);
  for (const [name, path] of pages) {
    const r = await p2.goto(ui + path);
    check(`no JS: ${name} renders`, r.status() === 200 && (await p2.locator('h1').count()) === 1);
  }
  await p2.goto(`${ui}/predict`);
  await p2.click('#predict-form button[type=submit]');
  check('no JS: the predict form answers', (await p2.locator('#prediction').count()) === 1);
  await p2.goto(`${ui}/batch`);
  await p2.setInputFiles('#file', csvPath);
  await Promise.all([p2.waitForURL(/\/batch\?job=/), p2.click('#batch-form button[type=submit]')]);
  check('no JS: the batch upload answers', Number(await p2.textContent('#batch-rows')) === 30);
  await p2.goto(`${ui}/forecast`);
  await p2.fill('#level', '90');
  await p2.click('#forecast-controls button[type=submit]');
  check('no JS: the forecast form answers', p2.url().includes('level=90') && (await p2.locator('circle.fc-pt').count()) > 0);
  await p2.goto(`${ui}/`);
  await p2.selectOption('#category', { index: 1 });
  await p2.click('#overview-controls button[type=submit]');
  check('no JS: the overview controls answer', p2.url().includes('category='));
  await p2.goto(`${ui}/monitoring`);
  check('no JS: the monitoring page links the full report', (await p2.locator('#full-report').count()) === 1);
  const report = await p2.goto(`${ui}/monitoring/report`);
  check('no JS: the full report opens', report.status() === 200);
  await nojs.close();

  // Stopping the API brings up the banner, and the UI answers without a 5xx.
  api.kill('SIGTERM');
  await new Promise((r) => api.once('exit', r));
  for (const [name, path] of pages.filter(([n]) => n !== 'monitoring')) {
    const r = await page.goto(ui + path);
    const banner = await page.locator('#api-banner').count();
    const text = banner ? await page.textContent('#api-banner') : '';
    check(`API down: ${name} shows the banner with the API address`, banner === 1 && text.includes(apiUrl), text);
    check(`API down: ${name} is not a 5xx`, r.status() < 500, `${r.status()}`);
    if (name === 'overview') {
      await page.screenshot({ path: join(shots, 'overview-api-down.png'), fullPage: true });
    }
  }
  await browser.close();
} catch (e) {
  console.log(`FAIL  the browser test stopped: ${e.stack || e}`);
  failures.push('exception');
  await browser.close().catch(() => {});
}

cleanup();
console.log(`\n${results.filter((r) => r.ok).length} passed, ${failures.length} failed; screenshots in ${shots}`);
if (existsSync(join(work, 'ui.log')) && failures.length) {
  console.log(`UI log: ${join(work, 'ui.log')}; API log: ${join(work, 'api.log')}`);
}
process.exit(failures.length ? 1 : 0);
