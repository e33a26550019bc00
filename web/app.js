// video2mp3 web app: sign in, upload videos, watch the conversions live, download the MP3s.
// Plain JavaScript, no build step; loaded with `defer` under a strict CSP (no inline code or styles).
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const el = {
    loading: $('loading'),
    signinSection: $('signin-section'),
    appSection: $('app-section'),
    signinForm: $('signin-form'),
    email: $('email'),
    password: $('password'),
    signinButton: $('signin-button'),
    registerButton: $('register-button'),
    account: $('account'),
    userEmail: $('user-email'),
    signoutButton: $('signout-button'),
    banner: $('error-banner'),
    bannerText: $('error-text'),
    bannerClose: $('error-close'),
    status: $('status'),
    quality: $('quality'),
    bitrate: $('bitrate'),
    dropzone: $('dropzone'),
    fileInput: $('file-input'),
    uploads: $('uploads'),
    uploadsHead: $('uploads-head'),
    uploadsClear: $('uploads-clear'),
    jobs: $('jobs'),
    jobsEmpty: $('jobs-empty'),
    live: $('live'),
    liveText: $('live-text'),
    main: $('main'),
  };
  const uploadTemplate = $('upload-template');
  const jobTemplate = $('job-template');

  const MAX_PARALLEL_UPLOADS = 2;
  const POLL_MS = 4000;

  // The CSRF token lives only in this closure (never in storage).
  let session = null; // {email, admin, csrf_token, expires_at}
  let events = null; // EventSource
  let eventsRetry = null;
  let pollTimer = null;
  let generation = 0; // bumped on every sign-in/out: stale callbacks check it
  const jobs = new Map(); // job_id -> {job, node}
  const uploadQueue = [];
  let uploadsActive = 0;

  // ---------------------------------------------------------------- helpers

  function formatBytes(n) {
    if (n === null || n === undefined || !Number.isFinite(n)) return '';
    if (n < 1024) return `${n} B`;
    const units = ['KB', 'MB', 'GB', 'TB'];
    let v = n / 1024;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i += 1;
    }
    return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
  }

  function formatDuration(s) {
    if (s === null || s === undefined || !Number.isFinite(s)) return '';
    const total = Math.round(s);
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const sec = String(total % 60).padStart(2, '0');
    return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
  }

  function formatTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return '';
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

  function mp3Name(filename) {
    const base = (filename || 'audio').replace(/\.[^./\\]*$/, '');
    return `${base || 'audio'}.mp3`;
  }

  function announce(text) {
    // Re-set so that the same message twice is still announced.
    el.status.textContent = '';
    window.setTimeout(() => {
      el.status.textContent = text;
    }, 30);
  }

  function showError(text) {
    el.bannerText.textContent = text;
    el.banner.hidden = false;
  }

  function clearError() {
    el.banner.hidden = true;
    el.bannerText.textContent = '';
  }

  function retryAfterText(value) {
    if (!value) return '';
    const secs = Number.parseInt(value, 10);
    if (Number.isFinite(secs) && String(secs) === value.trim()) {
      return secs <= 1 ? ' Please try again in a second.' : ` Please try again in ${secs} seconds.`;
    }
    const when = Date.parse(value);
    if (!Number.isNaN(when)) {
      const left = Math.max(1, Math.round((when - Date.now()) / 1000));
      return ` Please try again in ${left} seconds.`;
    }
    return '';
  }

  // An API failure as {status, code, message, retryAfter}; message is plain words for a person.
  class ApiError extends Error {
    constructor(status, code, message, retryAfter) {
      super(message);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter || '';
    }
  }

  function parseErrorBody(text) {
    try {
      const body = JSON.parse(text);
      if (body && body.error) {
        if (typeof body.error === 'object') return { code: body.error.code || '', message: body.error.message || '' };
        if (typeof body.error === 'string') return { code: body.error, message: body.message || '' };
      }
    } catch (_) {
      // not JSON
    }
    return { code: '', message: '' };
  }

  // What to tell a person about an error; `context` is 'upload', 'signin', 'register' or ''.
  function describeError(err, context) {
    const text = describeErrorRaw(err, context);
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function describeErrorRaw(err, context) {
    if (!(err instanceof ApiError)) {
      return 'The server could not be reached. Check your connection and try again.';
    }
    // The server's own words, without a closing period: end() closes every sentence, also one
    // that ends with the server's words in parentheses.
    const server = err.message ? err.message.replace(/[\s.]+$/, '') : '';
    const withServer = (lead) => (server && server !== lead ? `${lead} (${server})` : lead);
    const end = (s) => (/[.!?]$/.test(s) ? s : `${s}.`);
    switch (err.status) {
      case 413: {
        // The server names its limit in bytes ("… larger than the limit of 16777216 bytes").
        const limit = /limit of (\d+) bytes/.exec(server);
        if (limit) {
          const size = formatBytes(Number(limit[1])).replace(/\.0 /, ' ');
          return `This file is too large: the server takes files up to ${size}.`;
        }
        return end(withServer('This file is too large for the server'));
      }
      case 415:
        return end(withServer('This file does not look like a video'));
      case 400:
        if (context === 'upload' && err.code !== 'invalid_options') {
          return end(withServer('This file could not be accepted as a video'));
        }
        return end(server || 'The request was not accepted');
      case 401:
        if (context === 'signin') return end(server || 'Wrong email or password');
        return 'You are signed out. Please sign in again.';
      case 403:
        if (err.code === 'registration_closed') return end(server || 'Registration is closed on this server');
        if (err.code === 'csrf') return 'Your session is out of date. Please reload the page.';
        return end(server || 'This is not allowed');
      case 409:
        return end(server || 'An account with this email already exists');
      case 429:
        return end(server || 'Too many attempts') + retryAfterText(err.retryAfter);
      case 503:
        return end(withServer('The server is busy')) + retryAfterText(err.retryAfter);
      case 0:
        return 'The server could not be reached. Check your connection and try again.';
      default:
        return end(server || `The server answered with an error (HTTP ${err.status})`);
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (method !== 'GET' && method !== 'HEAD' && session) headers['X-CSRF-Token'] = session.csrf_token;
    let res;
    try {
      res = await fetch(path, init);
    } catch (_) {
      throw new ApiError(0, 'network', '', '');
    }
    const text = await res.text();
    if (!res.ok) {
      const { code, message } = parseErrorBody(text);
      throw new ApiError(res.status, code, message, res.headers.get('Retry-After'));
    }
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch (_) {
      return null;
    }
  }

  // A 401 anywhere but the sign-in form means the session is gone.
  function handleApiFailure(err, context) {
    if (err instanceof ApiError && err.status === 401 && context !== 'signin') {
      signedOut('Your session has ended. Please sign in again.');
      return;
    }
    showError(describeError(err, context));
  }

  // ---------------------------------------------------------------- session

  function setBusy(busy) {
    el.signinButton.disabled = busy;
    el.registerButton.disabled = busy;
    el.signinForm.setAttribute('aria-busy', busy ? 'true' : 'false');
  }

  function readCredentials() {
    const email = el.email.value.trim();
    const password = el.password.value;
    if (!email) {
      showError('Please enter your email.');
      el.email.focus();
      return null;
    }
    if (!password) {
      showError('Please enter your password.');
      el.password.focus();
      return null;
    }
    return { email, password };
  }

  async function signIn(creds) {
    const s = await api('POST', '/v1/session', creds);
    if (!s || !s.csrf_token) throw new ApiError(502, 'bad_gateway', 'The server sent an unexpected answer.', '');
    signedIn(s, true);
  }

  async function onSignin(ev) {
    ev.preventDefault();
    clearError();
    const creds = readCredentials();
    if (!creds) return;
    setBusy(true);
    try {
      await signIn(creds);
    } catch (err) {
      showError(describeError(err, 'signin'));
      el.password.focus();
    } finally {
      setBusy(false);
    }
  }

  async function onRegister() {
    clearError();
    const creds = readCredentials();
    if (!creds) return;
    setBusy(true);
    try {
      await api('POST', '/v1/users', creds);
    } catch (err) {
      setBusy(false);
      showError(describeError(err, 'register'));
      return;
    }
    try {
      await signIn(creds);
      announce('Your account was created and you are signed in.');
    } catch (err) {
      showError(`Your account was created, but signing in failed: ${describeError(err, 'signin')}`);
    } finally {
      setBusy(false);
    }
  }

  async function onSignout() {
    clearError();
    el.signoutButton.disabled = true;
    try {
      await api('DELETE', '/v1/session');
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) {
        el.signoutButton.disabled = false;
        showError(describeError(err, ''));
        return;
      }
    }
    el.signoutButton.disabled = false;
    signedOut('');
    announce('You are signed out.');
  }

  function signedIn(s, fromForm) {
    generation += 1;
    session = s;
    el.password.value = '';
    el.userEmail.textContent = s.email || '';
    el.account.hidden = false;
    el.loading.hidden = true;
    el.signinSection.hidden = true;
    el.appSection.hidden = false;
    document.body.dataset.auth = 'signed-in';
    resetJobs();
    startEvents();
    loadJobs();
    if (fromForm) {
      announce(`Signed in as ${s.email}.`);
      el.dropzone.focus();
    }
  }

  function signedOut(message) {
    generation += 1;
    session = null;
    stopEvents();
    cancelAllUploads();
    resetJobs();
    clearUploads();
    el.account.hidden = true;
    el.userEmail.textContent = '';
    el.loading.hidden = true;
    el.appSection.hidden = true;
    el.signinSection.hidden = false;
    document.body.dataset.auth = 'signed-out';
    if (message) showError(message);
    el.email.focus();
  }

  async function boot() {
    try {
      const s = await api('GET', '/v1/session');
      if (s && s.csrf_token) {
        signedIn(s, false);
        return;
      }
      signedOut('');
    } catch (err) {
      signedOut('');
      if (!(err instanceof ApiError && err.status === 401)) showError(describeError(err, ''));
    }
  }

  // ---------------------------------------------------------------- jobs

  const STATE_LABEL = { queued: 'Queued', processing: 'Converting', done: 'Done', failed: 'Failed' };
  const STATE_RANK = { queued: 0, processing: 1, done: 2, failed: 2 };

  function createdMs(job) {
    const t = Date.parse(job.created_at || '');
    return Number.isNaN(t) ? 0 : t;
  }

  function resetJobs() {
    jobs.clear();
    el.jobs.replaceChildren();
    delete el.jobs.dataset.loaded;
    el.jobsEmpty.hidden = true;
  }

  function renderJob(node, job) {
    const state = STATE_LABEL[job.state] ? job.state : 'queued';
    node.dataset.jobId = job.job_id;
    node.dataset.state = state;
    const q = (sel) => node.querySelector(`[data-testid="${sel}"]`);
    q('job-name').textContent = job.filename || 'video';
    const progress = Math.max(0, Math.min(1, Number(job.progress) || 0));
    const stateEl = q('job-state');
    stateEl.textContent =
      state === 'processing' ? `Converting ${Math.floor(progress * 100)}%` : STATE_LABEL[state];
    const bar = q('job-progress');
    if (state === 'queued') {
      bar.removeAttribute('value'); // indeterminate while waiting
    } else {
      bar.value = state === 'done' ? 1 : progress;
    }
    bar.hidden = state === 'done' || state === 'failed';
    bar.setAttribute('aria-label', `${job.filename || 'video'}: ${stateEl.textContent}`);

    const errEl = q('job-error');
    if (state === 'failed') {
      const msg = job.error && job.error.message ? job.error.message : 'The conversion failed.';
      errEl.textContent = msg;
      errEl.hidden = false;
    } else {
      errEl.hidden = true;
      errEl.textContent = '';
    }

    const done = q('job-done');
    const link = q('job-download');
    const audio = q('job-audio');
    const audioUrl = `/v1/jobs/${encodeURIComponent(job.job_id)}/audio`;
    if (state === 'done') {
      const parts = [];
      if (job.duration_s !== null && job.duration_s !== undefined) parts.push(formatDuration(job.duration_s));
      if (job.mp3_bytes !== null && job.mp3_bytes !== undefined) parts.push(formatBytes(job.mp3_bytes));
      const opts = job.options || {};
      if (opts.bitrate_kbps) parts.push(`${opts.bitrate_kbps} kbit/s CBR`);
      else if (opts.bitrate) parts.push(`${String(opts.bitrate).replace(/k$/i, '')} kbit/s CBR`);
      else if (opts.quality !== undefined && opts.quality !== null) parts.push(`VBR quality ${opts.quality}`);
      q('job-meta').textContent = parts.join(' · ');
      if (link.getAttribute('href') !== audioUrl) link.setAttribute('href', audioUrl);
      link.setAttribute('download', mp3Name(job.filename));
      link.setAttribute('aria-label', `Download ${mp3Name(job.filename)}`);
      link.hidden = false;
      if (audio.getAttribute('src') !== audioUrl) audio.setAttribute('src', audioUrl);
      audio.setAttribute('aria-label', `Play ${mp3Name(job.filename)}`);
      done.hidden = false;
    } else {
      done.hidden = true;
      link.hidden = true;
      link.removeAttribute('href');
      if (audio.hasAttribute('src')) audio.removeAttribute('src');
    }
    const finished = job.finished_at ? ` · finished ${formatTime(job.finished_at)}` : '';
    q('job-time').textContent = `Uploaded ${formatTime(job.created_at)}${finished}`;
    q('job-delete').setAttribute('aria-label', `Delete ${job.filename || 'this job'}`);
  }

  function placeJob(node, job) {
    // Newest first: before the first job created earlier than this one.
    const t = createdMs(job);
    let before = null;
    for (const child of el.jobs.children) {
      if (child === node) continue;
      const other = jobs.get(child.dataset.jobId);
      if (other && createdMs(other.job) < t) {
        before = child;
        break;
      }
    }
    if (before) {
      if (node.nextSibling !== before) el.jobs.insertBefore(node, before);
    } else if (node.parentNode !== el.jobs || node.nextSibling !== null) {
      el.jobs.appendChild(node);
    }
  }

  function upsertJob(job, { mayBeStale = false } = {}) {
    if (!job || !job.job_id) return;
    const entry = jobs.get(job.job_id);
    if (entry) {
      if (mayBeStale) {
        // A list fetched while events arrive, or an upload's answer (a fast job can fail before
        // it arrives), may be older than what the events already said.
        const a = entry.job;
        const older =
          STATE_RANK[job.state] < STATE_RANK[a.state] ||
          (job.state === a.state && (Number(job.progress) || 0) < (Number(a.progress) || 0));
        if (older) return;
      }
      const before = entry.job.state;
      entry.job = job;
      renderJob(entry.node, job);
      if (before !== job.state) {
        if (job.state === 'done') announce(`${job.filename || 'A video'} is converted and ready to download.`);
        if (job.state === 'failed') announce(`${job.filename || 'A video'} could not be converted.`);
      }
      return;
    }
    const node = jobTemplate.content.firstElementChild.cloneNode(true);
    node.querySelector('[data-testid="job-delete"]').addEventListener('click', () => deleteJob(job.job_id));
    jobs.set(job.job_id, { job, node });
    renderJob(node, job);
    placeJob(node, job);
    el.jobsEmpty.hidden = true;
  }

  function removeJob(id) {
    const entry = jobs.get(id);
    if (!entry) return;
    jobs.delete(id);
    entry.node.remove();
    el.jobsEmpty.hidden = jobs.size > 0;
  }

  async function loadJobs() {
    const gen = generation;
    try {
      const res = await api('GET', '/v1/jobs?limit=50');
      if (gen !== generation) return;
      const list = (res && Array.isArray(res.jobs) ? res.jobs : []);
      for (const job of list) upsertJob(job, { mayBeStale: true });
      el.jobsEmpty.hidden = jobs.size > 0;
      el.jobs.dataset.loaded = 'true';
    } catch (err) {
      if (gen !== generation) return;
      handleApiFailure(err, '');
    }
  }

  async function deleteJob(id) {
    const entry = jobs.get(id);
    if (!entry) return;
    const name = entry.job.filename || 'this conversion';
    if (!window.confirm(`Delete “${name}” and its MP3? This cannot be undone.`)) return;
    const button = entry.node.querySelector('[data-testid="job-delete"]');
    button.disabled = true;
    try {
      await api('DELETE', `/v1/jobs/${encodeURIComponent(id)}`);
      removeJob(id);
      announce(`${name} was deleted.`);
      el.jobs.focus();
    } catch (err) {
      button.disabled = false;
      if (err instanceof ApiError && err.status === 404) {
        removeJob(id);
        return;
      }
      handleApiFailure(err, '');
    }
  }

  // ---------------------------------------------------------------- live updates

  function setLive(state) {
    el.live.dataset.events = state;
    el.liveText.textContent = state === 'open' ? 'live' : state === 'error' ? 'reconnecting' : 'connecting';
  }

  function startEvents() {
    stopEvents();
    const gen = generation;
    setLive('connecting');
    let es;
    try {
      es = new EventSource('/v1/events');
    } catch (_) {
      setLive('error');
      startPolling();
      return;
    }
    events = es;
    let opened = false;
    es.addEventListener('open', () => {
      if (gen !== generation) return;
      setLive('open');
      stopPolling();
      // After a reconnect the server replays from Last-Event-ID; a fresh list covers anything older.
      if (opened) loadJobs();
      opened = true;
    });
    es.addEventListener('job', (ev) => {
      if (gen !== generation) return;
      try {
        upsertJob(JSON.parse(ev.data));
      } catch (_) {
        // ignore a malformed event
      }
    });
    es.addEventListener('job_deleted', (ev) => {
      if (gen !== generation) return;
      try {
        const data = JSON.parse(ev.data);
        if (data && data.job_id) removeJob(data.job_id);
      } catch (_) {
        // ignore
      }
    });
    es.addEventListener('error', () => {
      if (gen !== generation) return;
      setLive('error');
      startPolling();
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. a 401 or a non-event-stream answer): find out why.
        events = null;
        checkSessionThenReconnect(gen);
      }
    });
  }

  async function checkSessionThenReconnect(gen) {
    try {
      const s = await api('GET', '/v1/session');
      if (gen !== generation) return;
      if (s && s.csrf_token) session = s;
      window.clearTimeout(eventsRetry);
      eventsRetry = window.setTimeout(() => {
        if (gen === generation) {
          startEvents();
          loadJobs();
        }
      }, 3000);
    } catch (err) {
      if (gen !== generation) return;
      if (err instanceof ApiError && err.status === 401) {
        signedOut('Your session has ended. Please sign in again.');
        return;
      }
      window.clearTimeout(eventsRetry);
      eventsRetry = window.setTimeout(() => {
        if (gen === generation) checkSessionThenReconnect(gen);
      }, 5000);
    }
  }

  function stopEvents() {
    window.clearTimeout(eventsRetry);
    eventsRetry = null;
    stopPolling();
    if (events) {
      events.close();
      events = null;
    }
    setLive('off');
    el.liveText.textContent = 'offline';
  }

  // While the event stream is down, the list is refreshed now and then instead.
  function startPolling() {
    if (pollTimer) return;
    pollTimer = window.setInterval(() => {
      if (session) loadJobs();
    }, POLL_MS);
  }

  function stopPolling() {
    if (pollTimer) window.clearInterval(pollTimer);
    pollTimer = null;
  }

  // ---------------------------------------------------------------- uploads

  function conversionQuery() {
    const bitrate = el.bitrate.value;
    if (bitrate) return `bitrate=${encodeURIComponent(bitrate)}`;
    return `quality=${encodeURIComponent(el.quality.value || '2')}`;
  }

  function addFiles(fileList) {
    const files = Array.from(fileList || []);
    if (files.length === 0) return;
    clearError();
    const query = conversionQuery();
    for (const file of files) {
      const node = uploadTemplate.content.firstElementChild.cloneNode(true);
      const item = { file, query, node, xhr: null, state: 'waiting', gen: generation };
      node.querySelector('[data-testid="upload-name"]').textContent = file.name;
      node.querySelector('[data-testid="upload-progress"]').setAttribute('aria-label', `Upload of ${file.name}`);
      const cancel = node.querySelector('[data-testid="upload-cancel"]');
      cancel.setAttribute('aria-label', `Cancel the upload of ${file.name}`);
      cancel.addEventListener('click', () => cancelUpload(item));
      el.uploads.prepend(node);
      uploadQueue.push(item);
    }
    el.uploadsHead.hidden = false;
    announce(files.length === 1 ? `Uploading ${files[0].name}.` : `Uploading ${files.length} files.`);
    pumpUploads();
  }

  function setUploadState(item, state, text) {
    item.state = state;
    item.node.dataset.state = state;
    item.node.querySelector('[data-testid="upload-status"]').textContent = text;
    const cancel = item.node.querySelector('[data-testid="upload-cancel"]');
    cancel.hidden = !(state === 'waiting' || state === 'uploading');
  }

  function pumpUploads() {
    while (uploadsActive < MAX_PARALLEL_UPLOADS && uploadQueue.length > 0) {
      const item = uploadQueue.shift();
      if (item.state !== 'waiting') continue;
      startUpload(item);
    }
  }

  function startUpload(item) {
    uploadsActive += 1;
    const { file } = item;
    const xhr = new XMLHttpRequest();
    item.xhr = xhr;
    const bar = item.node.querySelector('[data-testid="upload-progress"]');
    const started = performance.now();
    let lastLoaded = 0;
    let lastTime = started;
    let speed = 0;
    bar.max = file.size || 1;
    bar.value = 0;
    setUploadState(item, 'uploading', `0 B of ${formatBytes(file.size)}`);

    xhr.open('POST', `/v1/jobs?filename=${encodeURIComponent(file.name)}&${item.query}`);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    if (session) xhr.setRequestHeader('X-CSRF-Token', session.csrf_token);
    xhr.responseType = 'text';

    xhr.upload.addEventListener('progress', (ev) => {
      if (item.state !== 'uploading') return;
      const total = ev.lengthComputable ? ev.total : file.size;
      const now = performance.now();
      const dt = (now - lastTime) / 1000;
      if (dt >= 0.25 || ev.loaded === total) {
        const instant = dt > 0 ? (ev.loaded - lastLoaded) / dt : 0;
        speed = speed ? speed * 0.6 + instant * 0.4 : instant;
        if (ev.loaded === total) speed = ev.loaded / Math.max(0.001, (now - started) / 1000);
        lastLoaded = ev.loaded;
        lastTime = now;
      }
      bar.max = total || 1;
      bar.value = ev.loaded;
      const rate = speed > 0 ? ` · ${formatBytes(Math.round(speed))}/s` : '';
      const status = item.node.querySelector('[data-testid="upload-status"]');
      status.textContent =
        ev.loaded >= total
          ? `${formatBytes(total)} sent${rate} · waiting for the server…`
          : `${formatBytes(ev.loaded)} of ${formatBytes(total)}${rate}`;
    });

    const finish = () => {
      uploadsActive -= 1;
      item.xhr = null;
      pumpUploads();
    };

    xhr.addEventListener('load', () => {
      finish();
      if (item.gen !== generation) return;
      if (xhr.status === 202 || xhr.status === 201 || xhr.status === 200) {
        bar.value = bar.max;
        let job = null;
        try {
          job = JSON.parse(xhr.responseText);
        } catch (_) {
          job = null;
        }
        const secs = (performance.now() - started) / 1000;
        setUploadState(
          item,
          'done',
          `Uploaded ${formatBytes(file.size)} in ${secs < 10 ? secs.toFixed(1) : Math.round(secs)} s — converting below.`,
        );
        if (job && job.job_id) {
          item.node.dataset.jobId = job.job_id;
          upsertJob(job, { mayBeStale: true });
        }
        return;
      }
      const { code, message } = parseErrorBody(xhr.responseText);
      const err = new ApiError(xhr.status, code, message, xhr.getResponseHeader('Retry-After'));
      setUploadState(item, 'failed', describeError(err, 'upload'));
      if (xhr.status === 401) {
        signedOut('Your session has ended. Please sign in again.');
        return;
      }
      showError(`${file.name}: ${describeError(err, 'upload')}`);
    });
    xhr.addEventListener('error', () => {
      finish();
      if (item.gen !== generation) return;
      const text = describeError(new ApiError(0, 'network', '', ''), 'upload');
      setUploadState(item, 'failed', text);
      showError(`${file.name}: ${text}`);
    });
    xhr.addEventListener('abort', () => {
      finish();
      setUploadState(item, 'cancelled', 'Cancelled.');
    });
    xhr.send(file);
  }

  function cancelUpload(item) {
    if (item.state === 'uploading' && item.xhr) {
      item.xhr.abort();
      announce(`The upload of ${item.file.name} was cancelled.`);
    } else if (item.state === 'waiting') {
      const i = uploadQueue.indexOf(item);
      if (i >= 0) uploadQueue.splice(i, 1);
      setUploadState(item, 'cancelled', 'Cancelled.');
      announce(`The upload of ${item.file.name} was cancelled.`);
    }
  }

  function cancelAllUploads() {
    for (const item of uploadQueue.splice(0)) setUploadState(item, 'cancelled', 'Cancelled.');
    for (const node of el.uploads.children) {
      if (node.dataset.state === 'uploading') node.querySelector('[data-testid="upload-cancel"]').click();
    }
  }

  function clearUploads() {
    el.uploads.replaceChildren();
    el.uploadsHead.hidden = true;
  }

  function clearFinishedUploads() {
    for (const node of Array.from(el.uploads.children)) {
      if (node.dataset.state !== 'uploading' && node.dataset.state !== 'waiting') node.remove();
    }
    el.uploadsHead.hidden = el.uploads.children.length === 0;
    el.dropzone.focus();
  }

  // ---------------------------------------------------------------- wiring

  el.signinForm.addEventListener('submit', onSignin);
  el.registerButton.addEventListener('click', onRegister);
  el.signoutButton.addEventListener('click', onSignout);
  el.bannerClose.addEventListener('click', () => {
    clearError();
  });
  el.uploadsClear.addEventListener('click', clearFinishedUploads);
  el.jobs.tabIndex = -1;

  const syncOptions = () => {
    el.quality.disabled = el.bitrate.value !== '';
  };
  el.bitrate.addEventListener('change', syncOptions);
  syncOptions();

  el.dropzone.addEventListener('click', () => el.fileInput.click());
  el.fileInput.addEventListener('change', () => {
    addFiles(el.fileInput.files);
    el.fileInput.value = '';
  });
  let dragDepth = 0;
  el.dropzone.addEventListener('dragenter', (ev) => {
    ev.preventDefault();
    dragDepth += 1;
    el.dropzone.classList.add('dragover');
  });
  el.dropzone.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    if (ev.dataTransfer) ev.dataTransfer.dropEffect = 'copy';
  });
  el.dropzone.addEventListener('dragleave', () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) el.dropzone.classList.remove('dragover');
  });
  el.dropzone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    dragDepth = 0;
    el.dropzone.classList.remove('dragover');
    if (ev.dataTransfer) addFiles(ev.dataTransfer.files);
  });
  // A file dropped beside the zone must not make the browser navigate away to it.
  window.addEventListener('dragover', (ev) => ev.preventDefault());
  window.addEventListener('drop', (ev) => ev.preventDefault());

  boot();
})();
