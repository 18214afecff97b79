// Screenshots of Superset dashboards in Debian's headless Chromium, driven by playwright-core.
//
// Usage: NODE_PATH=<prefix>/node_modules node screenshot.cjs <job.json>
// job.json: {baseUrl, username, password, outDir, dashboards: [{slug, charts}], timeoutMs}
// Prints one JSON object: {dashboards: [{slug, file, chartsRendered, errors: [...]}], blocked: [...]}.
//
// Why each choice: the browser is /usr/bin/chromium (never `npx playwright install`, nothing is
// downloaded); a fresh user-data-dir per run (no state from an earlier run can hide an error);
// every request to a host other than 127.0.0.1 is aborted and reported (a dashboard must render
// offline); a chart counts as failed if its data request fails, if Superset renders an error
// alert in it, or if it shows the empty "No results" state.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ERROR_SELECTOR = '.ant-alert-error, [data-test="error-tooltip"], .alert-danger, [role="alert"].ant-alert';

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const base = new URL(job.baseUrl);
  const timeout = job.timeoutMs || 90000;
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-chromium-'));
  const blocked = [];
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium', headless: true, args: ARGS,
    viewport: { width: 1600, height: 1000 }, deviceScaleFactor: 1,
  });
  try {
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.protocol === 'data:' || url.protocol === 'blob:' || url.hostname === base.hostname) {
        return route.continue();
      }
      blocked.push(url.href);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    page.setDefaultTimeout(timeout);
    await login(page, job);
    const results = [];
    for (const d of job.dashboards) {
      results.push(await shoot(page, job, d, timeout));
    }
    process.stdout.write(JSON.stringify({ dashboards: results, blocked }) + '\n');
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

const LOGIN_ATTEMPTS = 3;

// Superset keeps the login in Flask's cookie session, and gunicorn answers requests concurrently:
// a request the login page sent before the sign-in (CSRF token, bootstrap data) that answers after
// it sets the anonymous session cookie again, and the browser lands on /login/?next=... although
// the password was right. So the form is filled only once the login page's network is idle, the
// result is checked on the page the browser ends on, and a lost sign-in is tried again.
async function login(page, job) {
  const perAttempt = Math.min(job.timeoutMs || 90000, 60000);
  let last = '';
  for (let attempt = 1; attempt <= LOGIN_ATTEMPTS; attempt += 1) {
    await page.goto(`${job.baseUrl}/login/`, { waitUntil: 'networkidle' });
    if (!onLoginPage(page)) return; // the session is already signed in
    const before = page.url();
    await page.locator('input[name="username"], #username').first().fill(job.username);
    await page.locator('input[name="password"], #password').first().fill(job.password);
    await Promise.all([
      page.waitForURL((u) => u.href !== before, { timeout: perAttempt }).catch(() => {}),
      page.locator('input[name="password"], #password').first().press('Enter'),
    ]);
    await page.waitForLoadState('networkidle', { timeout: perAttempt }).catch(() => {});
    if (!onLoginPage(page)) return;
    const toast = await page.locator('[data-test="toast-container"], .ant-message, .toast')
      .first().innerText({ timeout: 2000 }).catch(() => '');
    last = `ended on ${page.url()}${toast.trim() ? `, showing "${toast.trim().slice(0, 200)}"` : ''}`;
    process.stderr.write(`sign-in attempt ${attempt} of ${LOGIN_ATTEMPTS} failed: ${last}\n`);
  }
  throw new Error(`could not sign in to ${job.baseUrl} as ${job.username} in ${LOGIN_ATTEMPTS} attempts `
    + `(last: ${last}); check the admin password (BEACON_SUPERSET_ADMIN_PASSWORD) and the Superset log`);
}

function onLoginPage(page) {
  return new URL(page.url()).pathname.startsWith('/login');
}

async function shoot(page, job, d, timeout) {
  const dataCalls = [];
  const onResponse = async (resp) => {
    if (!resp.url().includes('/api/v1/chart/data')) return;
    dataCalls.push({ url: resp.url(), status: resp.status() });
  };
  page.on('response', onResponse);
  const errors = [];
  try {
    await page.goto(`${job.baseUrl}/superset/dashboard/${d.slug}/`, { waitUntil: 'domcontentloaded' });
    if (onLoginPage(page)) throw new Error(`Superset sent the browser to its login page (${page.url()}): the session was lost`);
    const holders = page.locator('[data-test="dashboard-component-chart-holder"]');
    await page.waitForFunction(
      (n) => document.querySelectorAll('[data-test="dashboard-component-chart-holder"]').length >= n,
      d.charts, { timeout },
    );
    // Every chart finished loading: its container rendered or it shows an error / empty state.
    await page.waitForFunction(
      ([n, errSel]) => {
        const hs = [...document.querySelectorAll('[data-test="dashboard-component-chart-holder"]')];
        const done = hs.filter((h) => !h.querySelector('[data-test="loading-indicator"], .loading')
          && (h.querySelector('[data-test="chart-container"] canvas, [data-test="chart-container"] svg, '
            + '[data-test="chart-container"] table, .superset-legacy-chart-big-number, .big_number_total, '
            + '[data-test="chart-container"] .header-line')
            || h.querySelector(errSel) || /No results/i.test(h.innerText)));
        return done.length >= n;
      },
      [d.charts, ERROR_SELECTOR], { timeout, polling: 500 },
    );
    await page.waitForTimeout(800); // echarts animations settle before the picture
    const count = await holders.count();
    for (let i = 0; i < count; i += 1) {
      const h = holders.nth(i);
      const title = (await h.locator('.header-title, [data-test="editable-title"]').first().innerText()
        .catch(() => `chart ${i + 1}`)).trim();
      const errCount = await h.locator(ERROR_SELECTOR).count();
      if (errCount > 0) {
        const text = (await h.locator(ERROR_SELECTOR).first().innerText().catch(() => '')).trim();
        errors.push(`${title}: error shown: ${text.slice(0, 300)}`);
      }
      if (/No results were returned/i.test(await h.innerText())) errors.push(`${title}: no results`);
    }
    for (const c of dataCalls) {
      if (c.status >= 400) errors.push(`chart data request failed with HTTP ${c.status}`);
    }
    const file = path.join(job.outDir, `${d.slug}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return { slug: d.slug, file, chartsRendered: count, dataRequests: dataCalls.length, errors };
  } catch (e) {
    const file = path.join(job.outDir, `${d.slug}.failed.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    errors.push(`dashboard did not finish rendering: ${String(e.message || e).split('\n')[0]}`);
    return { slug: d.slug, file, chartsRendered: 0, dataRequests: dataCalls.length, errors };
  } finally {
    page.off('response', onResponse);
  }
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
