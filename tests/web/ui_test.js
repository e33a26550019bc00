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
// opens the file chooser) and sees the failure reason, deletes that job; a second person sees
// none of the first one's jobs (on a phone-sized screen); signing out shows the sign-in form.
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

if (!baseUrl || !fixtures) {
  console.error('usage: ui_test.js BASE_URL FIXTURES_DIR [ARTIFACTS_DIR]');
  process.exit(2);
}
const video = path.join(fixtures, 'h264_aac.mp4');
if (!fs.existsSync(video)) {
  console.error(`ui_test: FAIL: no ${video} (generate the fixtures: tests/fixtures/generate.sh)`);
  process.exit(1);
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
        const banner = await currentPage.locator(sel('error-banner')).textContent({ timeout: 1000 });
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

    await step('the page loads under the CSP and shows the sign-in form', async () => {
      const res = await page.goto(`${baseUrl}/`, { waitUntil: 'load' });
      check(res && res.status() === 200, `GET / answered ${res && res.status()}`);
      const csp = res.headers()['content-security-policy'] || '';
      check(/script-src 'self'/.test(csp) && /default-src 'none'/.test(csp), `GET / has no strict CSP: ${JSON.stringify(csp)}`);
      await page.waitForSelector(sel('signin-form'), { state: 'visible', timeout: STEP_TIMEOUT });
      check(await page.isHidden(sel('dropzone')), 'the upload area is shown before signing in');
      return `CSP: ${csp.slice(0, 60)}…; ${path.basename(await screenshot(page, 'signin'))}`;
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

    await step('after a reload the session and the finished job are still there', async () => {
      await page.reload({ waitUntil: 'load' });
      await page.waitForSelector(jobSel(doneId, '[data-state="done"]'), { timeout: STEP_TIMEOUT });
      check((await page.locator(sel('job-item')).count()) === 1, 'the list does not hold exactly the one remaining job');
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
