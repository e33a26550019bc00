#!/usr/bin/env node
// The web app in a real browser (Debian's Chromium driven by playwright-core), against a running
// `video2mp3 all` with open registration:
//
//   node tests/web/ui_test.js BASE_URL FIXTURES_DIR ARTIFACTS_DIR
//   (or V2M_UI_BASE_URL, V2M_UI_FIXTURES, V2M_UI_ARTIFACTS; CHROMIUM overrides /usr/bin/chromium)
//
// A person registers and signs in through the page, uploads a video (file input) and watches
// its job reach `done` in the live list, downloads the MP3 (a valid MP3 as long as the video),
// plays it through the <audio> element, uploads a text file named .mp4 (keyboard: the drop zone
// opens the file chooser) and sees the failure reason, deletes that job; a long input (made here
// with ffmpeg) goes queued → converting with a rising percentage → done; a file over the server's
// upload limit, a video without audio and a busy server (a simulated 503) each get a clear
// message; the controls have accessible names, the keyboard reaches them with a visible focus,
// and job changes are announced in a live region; a second person sees none of the first one's
// jobs (on a phone-sized screen); signing out shows the sign-in form.
// The server must take uploads up to V2M_UI_MAX_UPLOAD_BYTES (default 16 MiB; run.sh starts it
// with V2M_MAX_UPLOAD_BYTES set to that). ffmpeg and ffprobe must be on the PATH.
// Every step is printed as it passes; full-page screenshots go to ARTIFACTS_DIR. Exit 1 on a failure.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (_) {
  console.error('ui_test: FAIL: playwright-core is not installed: run scripts/install-deps.sh (npm ci in tests/web)');
  process.exit(1);
}

const baseUrl = (process.argv[2] || process.env.V2M_UI_BASE_URL || '').replace(/\/+$/, '');
const fixtures = process.argv[3] || process.env.V2M_UI_FIXTURES || '';
const artifacts = path.resolve(process.argv[4] || process.env.V2M_UI_ARTIFACTS || 'ui-artifacts');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const CONVERSION_TIMEOUT = Number(process.env.V2M_UI_CONVERSION_TIMEOUT_MS || 180000);
const STEP_TIMEOUT = 20000;
const MAX_UPLOAD = Number(process.env.V2M_UI_MAX_UPLOAD_BYTES || 16 * 1024 * 1024);
// The long input: a 440 Hz stereo tone as FLAC (~11 MB, a few seconds to convert), as
// tests/e2e/e2e_client.hpp's LongInput makes it.
const LONG_SECONDS = 900;

if (!baseUrl || !fixtures) {
  console.error('usage: ui_test.js BASE_URL FIXTURES_DIR [ARTIFACTS_DIR]');
  process.exit(2);
}
const video = path.join(fixtures, 'h264_aac.mp4');
const noAudio = path.join(fixtures, 'no_audio.mp4');
for (const f of [video, noAudio]) {
  if (!fs.existsSync(f)) {
    console.error(`ui_test: FAIL: no ${f} (generate the fixtures: tests/fixtures/generate.sh)`);
    process.exit(1);
  }
}
if (!(MAX_UPLOAD > 0)) {
  console.error(`ui_test: FAIL: V2M_UI_MAX_UPLOAD_BYTES is ${JSON.stringify(process.env.V2M_UI_MAX_UPLOAD_BYTES)}, not a size`);
  process.exit(2);
}
if (!fs.existsSync(chromiumPath)) {
  console.error(`ui_test: FAIL: no browser at ${chromiumPath}: run scripts/install-deps.sh (Debian's chromium)`);
  process.exit(1);
}
fs.mkdirSync(artifacts, { recursive: true });
// What an earlier run left here would be mistaken for this run's.
for (const f of fs.readdirSync(artifacts)) {
  if (/\.png$/.test(f) || f === 'downloaded.mp3') fs.rmSync(path.join(artifacts, f), { force: true });
}
const scratch = fs.mkdtempSync(path.join(require('os').tmpdir(), 'v2m-ui-test-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

class Failure extends Error {}
function check(cond, message) {
  if (!cond) throw new Failure(message);
}

// Every file the test means to be accepted must be under the server's limit.
function underLimit(file) {
  const size = fs.statSync(file).size;
  check(size < MAX_UPLOAD, `${file} is ${size} bytes, not under the server's upload limit of ${MAX_UPLOAD} bytes`);
  return size;
}

function ffprobe(file, entries) {
  return execFileSync('ffprobe', ['-v', 'error', '-show_entries', entries, '-of', 'csv=p=0', file], {
    encoding: 'utf8',
  }).trim();
}

const sel = (id, extra = '') => `[data-testid="${id}"]${extra}`;
const jobSel = (id, extra = '') => `[data-testid="job-item"][data-job-id="${id}"]${extra}`;

let stepNo = 0;
let shotNo = 0;
let currentPage = null;
const problems = []; // CSP violations and uncaught page errors, from every page

async function step(name, fn) {
  stepNo += 1;
  const started = Date.now();
  try {
    const detail = await fn();
    const ms = Date.now() - started;
    console.log(`ok ${stepNo} - ${name} (${ms} ms)${detail ? `: ${detail}` : ''}`);
  } catch (err) {
    console.error(`not ok ${stepNo} - ${name}`);
    console.error(`ui_test: FAIL: ${name}: ${err instanceof Failure ? err.message : err.stack || err}`);
    if (currentPage) {
      try {
        const banner = (await currentPage.isVisible(sel('error-banner')))
          ? await currentPage.locator(sel('error-text')).textContent({ timeout: 1000 })
          : '';
        if (banner && banner.trim()) console.error(`ui_test: the page's error banner says: ${banner.trim()}`);
      } catch (_) {
        // no banner
      }
      try {
        const file = path.join(artifacts, `failure-step${stepNo}.png`);
        await currentPage.screenshot({ path: file, fullPage: true });
        console.error(`ui_test: screenshot of the failure: ${file}`);
      } catch (_) {
        // the page is gone
      }
    }
    if (problems.length) console.error(`ui_test: the browser also reported:\n  ${problems.join('\n  ')}`);
    err.reported = true;
    throw err;
  }
}

// The controls in `scope` a person can see or reach (hidden ones are skipped), each with its
// accessible name as a browser computes it for these cases: aria-labelledby, aria-label, an
// associated <label>, a button's or link's text, a button input's value, a title.
async function controlNames(scope) {
  return scope.evaluate((root) => {
    const text = (n) => (n ? n.textContent.replace(/\s+/g, ' ').trim() : '');
    const nameOf = (e) => {
      const by = e.getAttribute('aria-labelledby');
      if (by) {
        const t = by.split(/\s+/).map((id) => text(document.getElementById(id))).join(' ').trim();
        if (t) return t;
      }
      const label = (e.getAttribute('aria-label') || '').trim();
      if (label) return label;
      if (e.labels && e.labels.length) {
        const t = [...e.labels].map(text).join(' ').trim();
        if (t) return t;
      }
      if (e.tagName === 'BUTTON' || e.tagName === 'A' || e.getAttribute('role') === 'button') {
        const t = text(e);
        if (t) return t;
      }
      if (e.tagName === 'INPUT' && /^(submit|button|reset)$/.test(e.type) && e.value.trim()) return e.value.trim();
      return (e.getAttribute('title') || '').trim();
    };
    const controls = root.querySelectorAll(
      'input, select, textarea, button, a[href], audio[controls], video[controls], [role="button"], [tabindex]:not([tabindex="-1"])',
    );
    return [...controls]
      .filter((e) => (e.checkVisibility ? e.checkVisibility() : e.getClientRects().length > 0))
      .map((e) => ({
        what: `<${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.dataset.testid ? ` data-testid=${e.dataset.testid}` : ''}>`,
        name: nameOf(e),
      }));
  });
}

async function checkNamed(scope, where) {
  const controls = await controlNames(scope);
  check(controls.length > 0, `no control found in ${where}`);
  const unnamed = controls.filter((c) => !c.name).map((c) => c.what);
  check(unnamed.length === 0, `controls in ${where} without an accessible name: ${unnamed.join(', ')}`);
  return controls;
}

// The focus indicator of the focused element, and of the same element unfocused: they must differ
// visibly (an outline of at least 2px, or a different box shadow).
async function focusLook(page) {
  return page.evaluate(() => {
    const e = document.activeElement;
    const cs = getComputedStyle(e);
    return {
      testid: (e && e.dataset && e.dataset.testid) || (e && e.tagName) || '',
      focusVisible: e.matches(':focus-visible'),
      outline: `${cs.outlineStyle} ${cs.outlineWidth} ${cs.outlineColor}`,
      outlineStyle: cs.outlineStyle,
      outlineWidth: parseFloat(cs.outlineWidth) || 0,
      boxShadow: cs.boxShadow,
    };
  });
}

function styleOf(locator) {
  return locator.evaluate((e) => {
    const cs = getComputedStyle(e);
    return { outline: `${cs.outlineStyle} ${cs.outlineWidth} ${cs.outlineColor}`, boxShadow: cs.boxShadow };
  });
}

function focusShows(focused, unfocused) {
  const outline = focused.outlineStyle !== 'none' && focused.outlineWidth >= 2 && focused.outline !== unfocused.outline;
  const shadow = focused.boxShadow !== 'none' && focused.boxShadow !== unfocused.boxShadow;
  return outline || shadow;
}

// Waits for the upload item of `name` to settle (done or failed; also cancelled) and returns it.
async function settledUpload(page, name) {
  await page.waitForFunction(
    (n) => {
      const item = [...document.querySelectorAll('[data-testid="upload-item"]')].find(
        (x) => x.querySelector('[data-testid="upload-name"]').textContent === n,
      );
      return item && ['done', 'failed', 'cancelled'].includes(item.dataset.state);
    },
    name,
    { timeout: STEP_TIMEOUT },
  );
  return page.locator(sel('upload-item')).filter({ has: page.locator(sel('upload-name'), { hasText: name }) });
}

async function serverJobs(page) {
  const res = await page.request.get(`${baseUrl}/v1/jobs?limit=50`);
  check(res.status() === 200, `GET /v1/jobs answered ${res.status()}`);
  return (await res.json()).jobs;
}

async function screenshot(page, name) {
  shotNo += 1;
  const file = path.join(artifacts, `${String(shotNo).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

function watch(page, who) {
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content Security Policy|Refused to (load|execute|apply|connect|frame)/i.test(text)) {
      problems.push(`${who}: CSP: ${text}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`${who}: uncaught: ${err.message}`));
  // Playwright intercepts file choosers only while a 'filechooser' listener exists, and turns the
  // interception on without waiting for it: a chooser opened right after waitForEvent('filechooser')
  // can come before it and be lost (seen about half the time after a Tab and a screenshot).
  // A listener from the start keeps the interception on; the steps still use waitForEvent.
  page.on('filechooser', () => {});
}

// Registers (the page signs in right after) and waits for the signed-in view.
async function register(page, email, password) {
  await page.fill(sel('email'), email);
  await page.fill(sel('password'), password);
  await page.click(sel('register-button'));
  await page.waitForSelector(sel('dropzone'), { state: 'visible', timeout: STEP_TIMEOUT });
  const shown = (await page.textContent(sel('user-email'))).trim();
  check(shown === email, `the page shows ${JSON.stringify(shown)} as the signed-in user, not ${email}`);
}

async function main() {
  const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const alice = `ui-alice-${stamp}@example.com`;
  const bob = `ui-bob-${stamp}@example.com`;
  const password = 'a long ui test password';
  const sourceDuration = Number(ffprobe(video, 'format=duration'));
  const videoSize = fs.statSync(video).size;
  const notVideo = path.join(scratch, 'not-a-video.mp4');
  fs.writeFileSync(notVideo, 'This is a text file, not a video.\n'.repeat(200));

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  console.log(`ui_test: ${baseUrl} with Chromium ${browser.version()}; artifacts in ${artifacts}`);
  try {
    const ctxA = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
    const page = await ctxA.newPage();
    currentPage = page;
    watch(page, 'alice');
    let doneId = '';
    let failedId = '';
    const kept = []; // the jobs alice keeps to the end, besides doneId

    await step('the page loads under the CSP and shows the sign-in form', async () => {
      const res = await page.goto(`${baseUrl}/`, { waitUntil: 'load' });
      check(res && res.status() === 200, `GET / answered ${res && res.status()}`);
      const csp = res.headers()['content-security-policy'] || '';
      check(/script-src 'self'/.test(csp) && /default-src 'none'/.test(csp), `GET / has no strict CSP: ${JSON.stringify(csp)}`);
      await page.waitForSelector(sel('signin-form'), { state: 'visible', timeout: STEP_TIMEOUT });
      check(await page.isHidden(sel('dropzone')), 'the upload area is shown before signing in');
      return `CSP: ${csp.slice(0, 60)}…; ${path.basename(await screenshot(page, 'signin'))}`;
    });

    await step('accessibility: the sign-in form\'s controls are named, Tab walks them with a visible focus', async () => {
      const controls = await checkNamed(page.locator(sel('signin-form')), 'the sign-in form');
      // From the email field, Tab goes through the form in order; each stop shows its focus.
      await page.focus(sel('email'));
      const stops = [];
      for (const expected of ['password', 'signin-button', 'register-button']) {
        const unfocused = await styleOf(page.locator(sel(expected)));
        await page.keyboard.press('Tab');
        const look = await focusLook(page);
        check(look.testid === expected, `Tab reached ${look.testid}, not ${expected}`);
        check(look.focusVisible, `${expected} does not match :focus-visible after Tab`);
        check(focusShows(look, unfocused), `${expected} shows no focus: ${look.outline}, box-shadow ${look.boxShadow} (unfocused: ${unfocused.outline}, ${unfocused.boxShadow})`);
        stops.push(expected);
      }
      return `${controls.map((c) => JSON.stringify(c.name)).join(', ')}; Tab: email → ${stops.join(' → ')}`;
    });

    await step(`registration through the page signs ${alice} in`, async () => {
      await register(page, alice, password);
      await screenshot(page, 'registered');
    });

    await step('signing out shows the sign-in form again', async () => {
      await page.click(sel('signout-button'));
      await page.waitForSelector(sel('signin-form'), { state: 'visible', timeout: STEP_TIMEOUT });
      check(await page.isHidden(sel('dropzone')), 'the upload area is still shown');
    });

    await step('registering the same email again shows the server\'s error', async () => {
      await page.fill(sel('email'), alice);
      await page.fill(sel('password'), password);
      await page.click(sel('register-button'));
      await page.waitForSelector(sel('error-banner'), { state: 'visible', timeout: STEP_TIMEOUT });
      const text = (await page.textContent(sel('error-text'))).trim();
      check(text.length > 0, 'the error banner is empty');
      check(await page.isVisible(sel('signin-form')), 'the sign-in form went away');
      await page.click(sel('error-close'));
      await page.waitForSelector(sel('error-banner'), { state: 'hidden', timeout: STEP_TIMEOUT });
      return JSON.stringify(text);
    });

    await step('a wrong password shows the server\'s error in the banner', async () => {
      await page.fill(sel('email'), alice);
      await page.fill(sel('password'), 'not the password at all');
      await page.click(sel('signin-button'));
      await page.waitForSelector(sel('error-banner'), { state: 'visible', timeout: STEP_TIMEOUT });
      const text = (await page.textContent(sel('error-text'))).trim();
      check(text.length > 0, 'the error banner is empty');
      check(await page.isVisible(sel('signin-form')), 'the sign-in form went away');
      await screenshot(page, 'wrong-password');
      return JSON.stringify(text);
    });

    await step('signing in with the right password shows the upload area and a live event stream', async () => {
      await page.fill(sel('password'), password);
      await page.click(sel('signin-button'));
      await page.waitForSelector(sel('dropzone'), { state: 'visible', timeout: STEP_TIMEOUT });
      check(await page.isHidden(sel('error-banner')), 'the error banner is still shown after signing in');
      await page.waitForSelector(sel('jobs', '[data-loaded="true"]'), { state: 'attached', timeout: STEP_TIMEOUT });
      await page.waitForSelector(sel('live', '[data-events="open"]'), { state: 'attached', timeout: STEP_TIMEOUT });
      const q = await page.inputValue(sel('quality'));
      check(q === '2', `the default quality is ${q}, not 2`);
      check((await page.inputValue(sel('bitrate'))) === '', 'a constant bitrate is chosen by default');
      check((await page.locator(sel('job-item')).count()) === 0, 'a new user already has jobs');
    });

    await step('accessibility: the upload area is named, Tab reaches the drop zone with a visible focus, a live region', async () => {
      const upload = page.locator('section', { has: page.locator(sel('dropzone')) });
      const controls = await checkNamed(upload, 'the upload area');
      check(controls.some((c) => /dropzone/.test(c.what)), 'the drop zone is not among the upload area\'s controls');
      const signout = await controlNames(page.locator('#account'));
      check(signout.length === 1 && signout[0].name, `the account bar's controls: ${JSON.stringify(signout)}`);
      // The drop zone is the next Tab stop after the bitrate menu; its focus ring must show.
      const dropzone = page.locator(sel('dropzone'));
      await page.focus(sel('bitrate'));
      const unfocused = await styleOf(dropzone);
      await page.keyboard.press('Tab');
      const look = await focusLook(page);
      check(look.testid === 'dropzone', `Tab from the bitrate menu reached ${look.testid}, not the drop zone`);
      check(look.focusVisible, 'the drop zone does not match :focus-visible after Tab');
      check(focusShows(look, unfocused), `the focused drop zone looks the same: ${look.outline}, box-shadow ${look.boxShadow} (unfocused: ${unfocused.outline}, ${unfocused.boxShadow})`);
      await screenshot(page, 'dropzone-focused');
      // Job changes are told to screen readers through a polite live region (the list itself is
      // not live: each percentage would be read out); the job list is named by its heading.
      const live = await page.evaluate(() =>
        [...document.querySelectorAll('[aria-live], [role="status"], [role="alert"], [role="log"]')].map((e) => ({
          testid: e.dataset.testid || e.id,
          live: e.getAttribute('aria-live') || { status: 'polite', log: 'polite', alert: 'assertive' }[e.getAttribute('role')],
          rendered: getComputedStyle(e).display !== 'none' && getComputedStyle(e).visibility !== 'hidden',
        })));
      const status = live.find((r) => r.testid === 'status');
      check(status && status.live === 'polite' && status.rendered, `no rendered polite live region for status messages: ${JSON.stringify(live)}`);
      const listName = await page.locator(sel('jobs')).evaluate((e) => {
        const by = e.getAttribute('aria-labelledby');
        return by ? document.getElementById(by).textContent.trim() : e.getAttribute('aria-label') || '';
      });
      check(listName, 'the job list has no accessible name');
      return `${controls.length} named controls (${controls.map((c) => JSON.stringify(c.name)).join(', ')}); focus ring ${look.outline}; live regions: ${live.map((r) => `${r.testid} (${r.live})`).join(', ')}; job list ${JSON.stringify(listName)}`;
    });

    await step('uploading a video through the file input shows its progress and a new job', async () => {
      // Record every state each job item goes through, from the DOM, as it happens.
      await page.evaluate(() => {
        window.__jobStates = {};
        const note = (node) => {
          if (!(node instanceof HTMLElement) || node.dataset.testid !== 'job-item') return;
          const list = (window.__jobStates[node.dataset.jobId] ||= []);
          const label = node.querySelector('[data-testid="job-state"]').textContent;
          if (list[list.length - 1] !== label) list.push(label);
        };
        new MutationObserver((records) => {
          for (const r of records) {
            if (r.type === 'attributes' || r.type === 'characterData') {
              const item = (r.target.nodeType === 1 ? r.target : r.target.parentElement).closest('[data-testid="job-item"]');
              if (item) note(item);
            }
            for (const n of r.addedNodes || []) note(n);
          }
        }).observe(document.getElementById('jobs'), {
          subtree: true, childList: true, attributes: true, characterData: true,
          attributeFilter: ['data-state'],
        });
      });
      await page.setInputFiles(sel('file-input'), video);
      const item = page.locator(sel('upload-item')).first();
      await item.waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
      check((await item.locator(sel('upload-progress')).count()) === 1, 'the upload has no progress bar');
      await page.waitForSelector(sel('upload-item', '[data-state="done"]'), { timeout: STEP_TIMEOUT });
      const bar = await item.locator(sel('upload-progress')).evaluate((p) => ({ max: p.max, value: p.value }));
      check(bar.max === videoSize && bar.value === videoSize, `the progress bar ends at ${bar.value}/${bar.max}, not ${videoSize}/${videoSize}`);
      doneId = await item.getAttribute('data-job-id');
      check(doneId, 'the finished upload names no job');
      await page.waitForSelector(jobSel(doneId), { state: 'visible', timeout: STEP_TIMEOUT });
      const status = (await item.locator(sel('upload-status')).textContent()).trim();
      return `job ${doneId}; ${JSON.stringify(status)}`;
    });

    await step('a slow upload shows bytes and speed as it goes, and Cancel aborts it', async () => {
      // 3 MB at 512 KB/s (the browser's own network throttling) takes ~6 s: time to see it move.
      const big = path.join(scratch, 'slow-upload.mp4');
      fs.writeFileSync(big, Buffer.alloc(3 * 1024 * 1024, 7));
      const cdp = await ctxA.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 512 * 1024,
      });
      const jobsBefore = await page.locator(sel('job-item')).count();
      try {
        await page.setInputFiles(sel('file-input'), big);
        const item = page.locator(sel('upload-item'), { hasText: 'slow-upload.mp4' });
        await page.waitForFunction(
          () => {
            const n = [...document.querySelectorAll('[data-testid="upload-item"]')].find((x) =>
              x.textContent.includes('slow-upload.mp4'));
            if (!n || n.dataset.state !== 'uploading') return false;
            const p = n.querySelector('[data-testid="upload-progress"]');
            return p.value > 0 && p.value < p.max && /\/s/.test(n.textContent);
          },
          null,
          { timeout: STEP_TIMEOUT },
        );
        const status = (await item.locator(sel('upload-status')).textContent()).trim();
        await screenshot(page, 'uploading');
        await item.locator(sel('upload-cancel')).click();
        await page.waitForSelector(sel('upload-item', '[data-state="cancelled"]'), { timeout: STEP_TIMEOUT });
        check(await item.locator(sel('upload-cancel')).isHidden(), 'Cancel is still offered after cancelling');
        const list = await (await page.request.get(`${baseUrl}/v1/jobs?limit=50`)).json();
        check((await page.locator(sel('job-item')).count()) === jobsBefore, 'a job appeared for the cancelled upload');
        check(list.jobs.every((j) => j.filename !== 'slow-upload.mp4'), 'the server lists a job for the cancelled upload');
        return `while uploading: ${JSON.stringify(status)}`;
      } finally {
        await cdp.send('Network.emulateNetworkConditions', {
          offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
        });
        await cdp.detach();
      }
    });

    await step('the job reaches done in the live list, without a reload', async () => {
      await page.waitForSelector(jobSel(doneId, '[data-state="done"]'), { timeout: CONVERSION_TIMEOUT });
      const job = page.locator(jobSel(doneId));
      check((await job.locator(sel('job-state')).textContent()).trim() === 'Done', 'the state label is not "Done"');
      check(await job.locator(sel('job-download')).isVisible(), 'no Download link');
      check(await job.locator(sel('job-audio')).isVisible(), 'no audio player');
      check(await job.locator(sel('job-error')).isHidden(), 'a done job shows an error');
      const meta = (await job.locator(sel('job-meta')).textContent()).trim();
      check(/\d:\d\d/.test(meta) && /\d (B|KB|MB)/.test(meta), `the job shows no duration and size: ${JSON.stringify(meta)}`);
      const seen = await page.evaluate((id) => (window.__jobStates[id] || []).join(' → '), doneId);
      check(await page.isVisible(sel('live', '[data-events="open"]')), 'the event stream is no longer open (the list was polled)');
      await screenshot(page, 'job-done');
      return `states seen: ${seen}; ${JSON.stringify(meta)}`;
    });

    await step('a job made and deleted elsewhere (the API, as another tab would) comes and goes live', async () => {
      const s = await (await page.request.get(`${baseUrl}/v1/session`)).json();
      check(s.csrf_token && s.email === alice, `GET /v1/session gave ${JSON.stringify(s)}`);
      const res = await page.request.post(`${baseUrl}/v1/jobs?filename=elsewhere.mp4&bitrate=128k`, {
        headers: { 'X-CSRF-Token': s.csrf_token, 'Content-Type': 'application/octet-stream' },
        data: fs.readFileSync(video),
      });
      check(res.status() === 202, `POST /v1/jobs answered ${res.status()}: ${await res.text()}`);
      const id = (await res.json()).job_id;
      await page.waitForSelector(jobSel(id, '[data-state="done"]'), { timeout: CONVERSION_TIMEOUT });
      const meta = (await page.locator(jobSel(id)).locator(sel('job-meta')).textContent()).trim();
      check(/128 kbit\/s CBR/.test(meta), `the job does not show its constant bitrate: ${JSON.stringify(meta)}`);
      check((await page.locator(sel('job-item')).first().getAttribute('data-job-id')) === id, 'the newest job is not listed first');
      const del = await page.request.delete(`${baseUrl}/v1/jobs/${id}`, { headers: { 'X-CSRF-Token': s.csrf_token } });
      check(del.status() === 204, `DELETE /v1/jobs/${id} answered ${del.status()}`);
      await page.waitForSelector(jobSel(id), { state: 'detached', timeout: STEP_TIMEOUT });
      check(await page.isVisible(sel('live', '[data-events="open"]')), 'the event stream is no longer open (the list was polled)');
      return `job ${id}: ${JSON.stringify(meta)}`;
    });

    let mp3File = '';
    await step('Download saves a valid MP3 as long as the video', async () => {
      const link = page.locator(jobSel(doneId)).locator(sel('job-download'));
      const href = await link.getAttribute('href');
      check(href === `/v1/jobs/${doneId}/audio`, `the Download link points at ${href}`);
      check((await link.getAttribute('download')) !== null, 'the Download link has no download attribute');
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: STEP_TIMEOUT }), link.click()]);
      const failure = await download.failure();
      check(!failure, `the download failed: ${failure}`);
      const name = download.suggestedFilename();
      check(/\.mp3$/i.test(name), `the download is named ${name}`);
      mp3File = path.join(artifacts, 'downloaded.mp3');
      await download.saveAs(mp3File);
      const codec = ffprobe(mp3File, 'stream=codec_name');
      check(codec === 'mp3', `ffprobe says the download's codec is ${JSON.stringify(codec)}`);
      const duration = Number(ffprobe(mp3File, 'format=duration'));
      check(Math.abs(duration - sourceDuration) < 0.5, `the MP3 lasts ${duration} s, the video ${sourceDuration} s`);
      return `${name}, ${fs.statSync(mp3File).size} bytes, ${duration.toFixed(2)} s (video ${sourceDuration.toFixed(2)} s)`;
    });

    await step('the audio element\'s source serves audio/mpeg (with ranges) and plays in the browser', async () => {
      const audio = page.locator(jobSel(doneId)).locator(sel('job-audio'));
      const src = await audio.getAttribute('src');
      check(src, 'the audio element has no src');
      const url = new URL(src, `${baseUrl}/`).toString();
      const whole = await page.request.get(url);
      check(whole.status() === 200, `GET ${src} answered ${whole.status()}`);
      check(/^audio\/mpeg/.test(whole.headers()['content-type'] || ''), `GET ${src} is ${whole.headers()['content-type']}`);
      const size = (await whole.body()).length;
      check(size === fs.statSync(mp3File).size, `GET ${src} gave ${size} bytes, the download ${fs.statSync(mp3File).size}`);
      const part = await page.request.get(url, { headers: { Range: 'bytes=0-99' } });
      check(part.status() === 206, `a Range request for ${src} answered ${part.status()}`);
      check((await part.body()).length === 100, 'the Range request did not give 100 bytes');
      const media = await audio.evaluate(
        (a) =>
          new Promise((resolve) => {
            const t = setTimeout(() => resolve({ error: `no metadata after 15 s (networkState ${a.networkState})` }), 15000);
            const ok = () => { clearTimeout(t); resolve({ duration: a.duration }); };
            if (a.readyState >= 1) { ok(); return; }
            a.addEventListener('loadedmetadata', ok, { once: true });
            a.addEventListener('error', () => { clearTimeout(t); resolve({ error: `media error ${a.error && a.error.code}` }); }, { once: true });
            a.load();
          }),
      );
      check(!media.error, `the <audio> element cannot load its source: ${media.error}`);
      check(Math.abs(media.duration - sourceDuration) < 0.6, `the player says ${media.duration} s`);
      return `${size} bytes; the player reads ${media.duration.toFixed(2)} s`;
    });

    await step('a state-changing request without the CSRF header is refused', async () => {
      const res = await page.request.delete(`${baseUrl}/v1/jobs/${doneId}`);
      check(res.status() === 403, `DELETE without X-CSRF-Token answered ${res.status()}`);
      const again = await page.request.get(`${baseUrl}/v1/jobs/${doneId}`);
      check(again.status() === 200, `the job is gone after a refused DELETE (${again.status()})`);
    });

    await step('a text file named .mp4, chosen from the keyboard, fails with the reason shown', async () => {
      await page.focus(sel('dropzone'));
      const [chooser] = await Promise.all([
        page.waitForEvent('filechooser', { timeout: STEP_TIMEOUT }),
        page.keyboard.press('Enter'),
      ]);
      check(chooser.isMultiple(), 'the file chooser takes one file only');
      await chooser.setFiles(notVideo);
      const item = page.locator(sel('upload-item'), { hasText: 'not-a-video.mp4' });
      await page.waitForFunction(
        () => {
          const n = [...document.querySelectorAll('[data-testid="upload-item"]')].find((x) =>
            x.textContent.includes('not-a-video.mp4'));
          return n && (n.dataset.state === 'done' || n.dataset.state === 'failed');
        },
        null,
        { timeout: STEP_TIMEOUT },
      );
      const upState = await item.getAttribute('data-state');
      if (upState === 'failed') {
        const said = (await item.locator(sel('upload-status')).textContent()).trim();
        throw new Failure(`the server refused the upload itself instead of failing the job: ${said}`);
      }
      failedId = await item.getAttribute('data-job-id');
      await page.waitForSelector(jobSel(failedId, '[data-state="failed"]'), { timeout: CONVERSION_TIMEOUT });
      const job = page.locator(jobSel(failedId));
      const reason = (await job.locator(sel('job-error')).textContent()).trim();
      check(reason.length > 0 && (await job.locator(sel('job-error')).isVisible()), 'the failed job shows no reason');
      check(await job.locator(sel('job-download')).isHidden(), 'a failed job offers a download');
      const api = await (await page.request.get(`${baseUrl}/v1/jobs/${failedId}`)).json();
      check(api.error && api.error.message === reason, `the page says ${JSON.stringify(reason)}, the API ${JSON.stringify(api.error)}`);
      check((await page.locator(sel('job-item')).first().getAttribute('data-job-id')) === failedId, 'the newest job is not listed first');
      await screenshot(page, 'job-failed');
      return `job ${failedId}: ${JSON.stringify(reason)} (${api.error.code})`;
    });

    await step('deleting the failed job (confirmed) removes it from the list and the server', async () => {
      let asked = '';
      page.once('dialog', (d) => { asked = d.message(); d.accept(); });
      await page.locator(jobSel(failedId)).locator(sel('job-delete')).click();
      await page.waitForSelector(jobSel(failedId), { state: 'detached', timeout: STEP_TIMEOUT });
      check(asked, 'no confirmation was asked');
      const res = await page.request.get(`${baseUrl}/v1/jobs/${failedId}`);
      check(res.status() === 404, `GET of the deleted job answered ${res.status()}`);
    });

    await step('a long input goes queued → converting with a rising percentage → done, announced when done', async () => {
      const long = path.join(scratch, 'long.flac');
      execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i',
        `sine=frequency=440:sample_rate=44100:duration=${LONG_SECONDS}`, '-ac', '2', '-c:a', 'flac', long]);
      const size = underLimit(long);
      // Record, from the DOM as it changes, what the long job's item shows: its state, the
      // percentage in its label, its progress bar (value, aria-label, shown or not); and every
      // text of the live region.
      await page.evaluate(() => {
        window.__long = [];
        window.__said = [];
        const look = () => {
          const item = [...document.querySelectorAll('[data-testid="job-item"]')].find(
            (x) => x.querySelector('[data-testid="job-name"]').textContent === 'long.flac',
          );
          if (!item) return;
          const label = item.querySelector('[data-testid="job-state"]');
          const bar = item.querySelector('[data-testid="job-progress"]');
          const m = /(\d+)\s*%/.exec(label.textContent);
          const seen = {
            id: item.dataset.jobId,
            state: item.dataset.state,
            label: label.textContent,
            pct: m ? Number(m[1]) : null,
            bar: bar.hasAttribute('value') ? bar.value * 100 : null,
            barName: bar.getAttribute('aria-label') || '',
            shown: !bar.hidden && bar.getClientRects().length > 0 && label.getClientRects().length > 0,
          };
          const last = window.__long[window.__long.length - 1];
          if (!last || last.state !== seen.state || last.label !== seen.label || last.bar !== seen.bar) window.__long.push(seen);
        };
        window.__longObserver = new MutationObserver(look);
        window.__longObserver.observe(document.getElementById('jobs'), {
          subtree: true, childList: true, attributes: true, characterData: true,
        });
        window.__saidObserver = new MutationObserver(() => {
          const t = document.getElementById('status').textContent;
          if (t) window.__said.push(t);
        });
        window.__saidObserver.observe(document.getElementById('status'), { childList: true, characterData: true, subtree: true });
      });
      await page.setInputFiles(sel('file-input'), long);
      await page.waitForFunction(
        () => window.__long.some((x) => x.state === 'processing' && x.pct > 0 && x.pct < 100),
        null,
        { timeout: CONVERSION_TIMEOUT },
      );
      const shot = path.basename(await screenshot(page, 'job-converting'));
      const stillConverting = await page.evaluate(() => window.__long[window.__long.length - 1].state === 'processing');
      await page.waitForFunction(
        () => window.__long.some((x) => x.state === 'done' || x.state === 'failed'),
        null,
        { timeout: CONVERSION_TIMEOUT },
      );
      const seen = await page.evaluate(() => window.__long);
      const id = seen[0].id;
      const last = seen[seen.length - 1];
      check(last.state === 'done', `the long job ended ${last.state}: ${JSON.stringify(last.label)}`);
      const converting = seen.filter((x) => x.state === 'processing');
      for (const x of converting) {
        check(x.pct !== null, `a converting job shows no percentage: ${JSON.stringify(x.label)}`);
        check(x.shown, `the progress bar or the label is not shown at ${x.pct}%`);
        check(x.bar !== null && Math.floor(x.bar + 1e-9) === x.pct, `the label says ${x.pct}%, the progress bar ${x.bar}%`);
        check(x.barName.includes(`${x.pct}%`), `the progress bar's name ${JSON.stringify(x.barName)} does not say ${x.pct}%`);
      }
      const pcts = converting.map((x) => x.pct);
      for (let i = 1; i < pcts.length; i += 1) check(pcts[i] >= pcts[i - 1], `the percentage went back: ${pcts.join(', ')}`);
      const first = converting.findIndex((x) => x.pct > 0 && x.pct < 100);
      check(converting.slice(first + 1).some((x) => x.pct > converting[first].pct),
        `no percentage after ${converting[first].pct}% was higher: ${pcts.join(', ')}`);
      const states = seen.map((x) => x.state);
      check(states.indexOf('processing') < states.indexOf('done'), `the states came in this order: ${states.join(', ')}`);
      // Done: the Done label, no bar, the named Download and player, and the live region said so.
      const job = page.locator(jobSel(id));
      check((await job.locator(sel('job-state')).textContent()).trim() === 'Done', 'the state label is not "Done"');
      check(await job.locator(sel('job-progress')).isHidden(), 'a done job still shows a progress bar');
      const named = await checkNamed(job, 'the done job');
      await page.waitForFunction(() => window.__said.some((t) => /long\.flac/.test(t) && /ready/i.test(t)), null, { timeout: STEP_TIMEOUT });
      const said = await page.evaluate(() => window.__said.filter((t) => /long\.flac/.test(t)).pop());
      await page.evaluate(() => { window.__longObserver.disconnect(); window.__saidObserver.disconnect(); });
      const api = await (await page.request.get(`${baseUrl}/v1/jobs/${id}`)).json();
      check(api.state === 'done' && Math.abs(api.duration_s - LONG_SECONDS) < 1, `the API says ${JSON.stringify(api)}`);
      kept.push(id);
      const labels = seen.map((x) => x.label).filter((t, i, a) => a.indexOf(t) === i);
      return `${size} bytes; ${labels.join(' → ')}; percentages ${pcts.join(', ')}; ` +
        `${named.map((c) => JSON.stringify(c.name)).join(', ')}; announced ${JSON.stringify(said)}; ` +
        `${shot}${stillConverting ? '' : ' (the job had finished by the screenshot)'}`;
    });

    await step(`a file over the server's upload limit (${MAX_UPLOAD} bytes) is refused with a clear message, and no job is made`, async () => {
      const big = path.join(scratch, 'big.mp4');
      fs.writeFileSync(big, require('crypto').randomBytes(MAX_UPLOAD + 8 * 1024 * 1024));
      const jobsBefore = await page.locator(sel('job-item')).count();
      await page.setInputFiles(sel('file-input'), big);
      const item = await settledUpload(page, 'big.mp4');
      check((await item.getAttribute('data-state')) === 'failed', `the upload ended ${await item.getAttribute('data-state')}`);
      const status = (await item.locator(sel('upload-status')).textContent()).trim();
      const mb = `${MAX_UPLOAD / 1024 / 1024}`;
      const limitShown = (t) => t.includes(String(MAX_UPLOAD)) || new RegExp(`\\b${mb}(\\.0)? ?(MB|MiB)\\b`).test(t);
      check(/too large/i.test(status) && limitShown(status), `the upload says ${JSON.stringify(status)}`);
      await page.waitForSelector(sel('error-banner'), { state: 'visible', timeout: STEP_TIMEOUT });
      const banner = (await page.textContent(sel('error-text'))).trim();
      check(/^big\.mp4: /.test(banner) && /too large/i.test(banner) && limitShown(banner), `the banner says ${JSON.stringify(banner)}`);
      check(/[.!?]$/.test(status) && /[.!?]$/.test(banner), `the message is not a finished sentence: ${JSON.stringify(banner)}`);
      // The file's name shows as it is (no capital forced on its first letter).
      const firstLetter = await page.locator(sel('error-text')).evaluate((e) => getComputedStyle(e, '::first-letter').textTransform);
      check(firstLetter === 'none', `the banner's first letter is shown with text-transform ${firstLetter}`);
      check(await item.locator(sel('upload-cancel')).isHidden(), 'Cancel is still offered');
      const shot = path.basename(await screenshot(page, 'too-large'));
      check((await serverJobs(page)).every((j) => j.filename !== 'big.mp4'), 'the server made a job of the refused upload');
      check((await page.locator(sel('job-item')).count()) === jobsBefore, 'a job appeared in the list for the refused upload');
      await page.click(sel('error-close'));
      await page.waitForSelector(sel('error-banner'), { state: 'hidden', timeout: STEP_TIMEOUT });
      return `${JSON.stringify(banner)}; ${shot}`;
    });

    await step('a video without an audio track fails with the server\'s reason (no_audio)', async () => {
      underLimit(noAudio);
      await page.setInputFiles(sel('file-input'), noAudio);
      const item = await settledUpload(page, 'no_audio.mp4');
      const upState = await item.getAttribute('data-state');
      check(upState === 'done', `the upload ended ${upState}: ${(await item.locator(sel('upload-status')).textContent()).trim()}`);
      const id = await item.getAttribute('data-job-id');
      await page.waitForSelector(jobSel(id, '[data-state="failed"]'), { timeout: CONVERSION_TIMEOUT });
      const job = page.locator(jobSel(id));
      const reason = (await job.locator(sel('job-error')).textContent()).trim();
      check(await job.locator(sel('job-error')).isVisible(), 'the failed job shows no reason');
      check(/no audio/i.test(reason), `the reason shown is ${JSON.stringify(reason)}`);
      check((await job.locator(sel('job-state')).textContent()).trim() === 'Failed', 'the state label is not "Failed"');
      check(await job.locator(sel('job-download')).isHidden(), 'a failed job offers a download');
      const api = await (await page.request.get(`${baseUrl}/v1/jobs/${id}`)).json();
      check(api.error && api.error.code === 'no_audio', `the API says ${JSON.stringify(api.error)}`);
      check(api.error.message === reason, `the page says ${JSON.stringify(reason)}, the API ${JSON.stringify(api.error.message)}`);
      kept.push(id);
      return `job ${id}: ${JSON.stringify(reason)} (${api.error.code})`;
    });

    await step('a busy server (503 with Retry-After) gets a clear message, and no job is made', async () => {
      // The one simulated answer in this test: everything else runs against the real server,
      // which cannot easily be made busy on demand. page.route answers the next POST /v1/jobs
      // as the server does when a service it needs is down (503, unavailable, Retry-After).
      const busy = path.join(scratch, 'busy.mp4');
      fs.copyFileSync(video, busy);
      let answered = 0;
      const isJobs = (url) => url.pathname === '/v1/jobs';
      const handler = async (route) => {
        if (route.request().method() !== 'POST' || answered > 0) {
          await route.fallback();
          return;
        }
        answered += 1;
        await route.fulfill({
          status: 503,
          headers: { 'Content-Type': 'application/json', 'Retry-After': '5' },
          body: JSON.stringify({ error: { code: 'unavailable', message: 'a service this needs is unavailable; try again shortly' } }),
        });
      };
      const jobsBefore = await page.locator(sel('job-item')).count();
      await page.route(isJobs, handler);
      let status;
      let banner;
      try {
        await page.setInputFiles(sel('file-input'), busy);
        const item = await settledUpload(page, 'busy.mp4');
        check((await item.getAttribute('data-state')) === 'failed', `the upload ended ${await item.getAttribute('data-state')}`);
        status = (await item.locator(sel('upload-status')).textContent()).trim();
        check(/busy/i.test(status) && /try again in 5 seconds/i.test(status), `the upload says ${JSON.stringify(status)}`);
        await page.waitForSelector(sel('error-banner'), { state: 'visible', timeout: STEP_TIMEOUT });
        banner = (await page.textContent(sel('error-text'))).trim();
        check(/^busy\.mp4: /.test(banner) && /busy/i.test(banner) && /5 seconds\.$/.test(banner), `the banner says ${JSON.stringify(banner)}`);
        check(!/\) Please/.test(banner), `a sentence in the banner is not ended: ${JSON.stringify(banner)}`);
        check(answered === 1, `the simulated 503 answered ${answered} requests`);
      } finally {
        await page.unroute(isJobs, handler);
      }
      // The route is gone: the real server answers a POST /v1/jobs again (without the CSRF
      // header it refuses it with 403, and no job is made).
      const code = await page.evaluate(async () => (await fetch('/v1/jobs?filename=x.mp4', { method: 'POST', body: 'x' })).status);
      check(code === 403 && answered === 1, `after unroute a POST /v1/jobs answered ${code} (simulated answers: ${answered})`);
      check((await serverJobs(page)).every((j) => j.filename !== 'busy.mp4'), 'the server lists a job for busy.mp4');
      check((await page.locator(sel('job-item')).count()) === jobsBefore, 'a job appeared in the list for the refused upload');
      await page.click(sel('error-close'));
      await page.waitForSelector(sel('error-banner'), { state: 'hidden', timeout: STEP_TIMEOUT });
      return `${JSON.stringify(status)}; the route is removed (a real answer: ${code})`;
    });

    await step('after a reload the session and the finished job are still there', async () => {
      await page.reload({ waitUntil: 'load' });
      await page.waitForSelector(jobSel(doneId, '[data-state="done"]'), { timeout: STEP_TIMEOUT });
      const ids = await page.locator(sel('job-item')).evaluateAll((items) => items.map((n) => n.dataset.jobId).sort());
      const want = [doneId, ...kept].sort();
      check(JSON.stringify(ids) === JSON.stringify(want), `the list holds ${ids.join(', ')}, not the remaining ${want.join(', ')}`);
      check(await page.isHidden(sel('signin-form')), 'the sign-in form is shown after a reload');
    });

    await step(`a second person (${bob}, on a phone-sized screen) sees none of the first one's jobs`, async () => {
      const ctxB = await browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
      const pageB = await ctxB.newPage();
      currentPage = pageB;
      watch(pageB, 'bob');
      await pageB.goto(`${baseUrl}/`, { waitUntil: 'load' });
      await pageB.waitForSelector(sel('signin-form'), { state: 'visible', timeout: STEP_TIMEOUT });
      await screenshot(pageB, 'phone-signin');
      await register(pageB, bob, password);
      await pageB.waitForSelector(sel('jobs', '[data-loaded="true"]'), { state: 'attached', timeout: STEP_TIMEOUT });
      check((await pageB.locator(sel('job-item')).count()) === 0, 'the second user sees jobs');
      check(await pageB.isVisible(sel('jobs-empty')), 'no "nothing yet" text for an empty list');
      for (const p of [`/v1/jobs/${doneId}`, `/v1/jobs/${doneId}/audio`]) {
        const res = await pageB.request.get(`${baseUrl}${p}`);
        check(res.status() === 404 || res.status() === 403, `the second user's GET ${p} answered ${res.status()}`);
      }
      const list = await (await pageB.request.get(`${baseUrl}/v1/jobs?limit=50`)).json();
      check(Array.isArray(list.jobs) && list.jobs.length === 0, `the second user's GET /v1/jobs lists ${JSON.stringify(list.jobs)}`);
      const overflow = await pageB.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 0, `the page is ${overflow}px wider than a phone's screen`);
      await screenshot(pageB, 'phone-second-user');
      await ctxB.close();
      currentPage = page;
    });

    await step('when the session is gone (401), the page goes back to the sign-in form and says why', async () => {
      await ctxA.clearCookies();
      await page.setInputFiles(sel('file-input'), video);
      await page.waitForSelector(sel('signin-form'), { state: 'visible', timeout: STEP_TIMEOUT });
      const text = (await page.textContent(sel('error-text'))).trim();
      check(/sign in/i.test(text), `the banner says ${JSON.stringify(text)}`);
      check((await page.locator(sel('job-item')).count()) === 0, 'jobs are still listed');
      await screenshot(page, 'session-ended');
      await page.fill(sel('email'), alice);
      await page.fill(sel('password'), password);
      await page.click(sel('signin-button'));
      await page.waitForSelector(jobSel(doneId, '[data-state="done"]'), { timeout: STEP_TIMEOUT });
      return JSON.stringify(text);
    });

    await step('signing out shows the sign-in form and ends the session', async () => {
      await page.click(sel('signout-button'));
      await page.waitForSelector(sel('signin-form'), { state: 'visible', timeout: STEP_TIMEOUT });
      check((await page.locator(sel('job-item')).count()) === 0, 'jobs are still listed after signing out');
      const res = await page.request.get(`${baseUrl}/v1/session`);
      check(res.status() === 401, `GET /v1/session after signing out answered ${res.status()}`);
      const audio = await page.request.get(`${baseUrl}/v1/jobs/${doneId}/audio`);
      check(audio.status() === 401, `the audio after signing out answered ${audio.status()}`);
      await screenshot(page, 'signed-out');
    });

    await step('the browser reported no CSP violation and no script error', async () => {
      check(problems.length === 0, problems.join('; '));
    });
    await ctxA.close();
  } finally {
    await browser.close();
  }
  console.log(`ui_test: ok (${stepNo} steps; screenshots in ${artifacts})`);
}

main().catch((err) => {
  if (!err || !err.reported) console.error(`ui_test: FAIL: ${(err && err.stack) || err}`);
  process.exit(1);
});
