// civic-vault staff console: the few things a server-rendered page cannot do
// by itself. Passkey ceremonies (register, sign in, step-up), the webcam at
// the counter, the live requirements checklist and the policy editor's line
// numbers. Every form still works without this file except the passkey ones
// (WebAuthn exists only in script).
//
// Loaded as <script src defer> under a CSP without 'unsafe-inline' or eval:
// no inline handlers, no style attributes (visibility is the `hidden` class).
// The JSON the passkey endpoints speak is webauthn-rs's: binary fields are
// unpadded base64url strings (see notes/console-spec.md).

(() => {
  'use strict';

  // ------------------------------------------------------------ base64url

  /** ArrayBuffer / typed array / DataView → unpadded base64url string. */
  function bufToB64url(buf) {
    const bytes =
      buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  /** base64url (padded or not; plain base64 accepted too) → ArrayBuffer. */
  function b64urlToBuf(s) {
    if (typeof s !== 'string') throw new TypeError('expected a base64url string');
    let b64 = s.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
    if (b64.length % 4 === 1) throw new TypeError('malformed base64url');
    b64 += '='.repeat((4 - (b64.length % 4)) % 4);
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  // ------------------------------------------------ webauthn-rs JSON ⇄ DOM

  function descriptor(d) {
    return Object.assign({}, d, { id: b64urlToBuf(d.id) });
  }

  /** CreationChallengeResponse JSON → navigator.credentials.create() options. */
  function creationOptions(json) {
    const pk = Object.assign({}, json.publicKey);
    pk.challenge = b64urlToBuf(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: b64urlToBuf(pk.user.id) });
    if (Array.isArray(pk.excludeCredentials)) pk.excludeCredentials = pk.excludeCredentials.map(descriptor);
    return { publicKey: pk };
  }

  /** RequestChallengeResponse JSON → navigator.credentials.get() options. */
  function requestOptions(json) {
    const pk = Object.assign({}, json.publicKey);
    pk.challenge = b64urlToBuf(pk.challenge);
    if (Array.isArray(pk.allowCredentials)) pk.allowCredentials = pk.allowCredentials.map(descriptor);
    const out = { publicKey: pk };
    if (typeof json.mediation === 'string') out.mediation = json.mediation;
    return out;
  }

  function clientExtensions(cred) {
    try {
      return typeof cred.getClientExtensionResults === 'function' ? cred.getClientExtensionResults() || {} : {};
    } catch (_) {
      return {};
    }
  }

  // Only the unsigned extension outputs webauthn-rs models, in the JSON
  // shapes it expects; anything else (binary outputs, future extensions)
  // is dropped rather than risk a body the server cannot deserialize.
  function registrationExtensions(cred) {
    const ext = clientExtensions(cred);
    const out = {};
    if (typeof ext.appid === 'boolean') out.appid = ext.appid;
    if (ext.credProps && typeof ext.credProps.rk === 'boolean') out.credProps = { rk: ext.credProps.rk };
    return out;
  }

  function authenticationExtensions(cred) {
    const ext = clientExtensions(cred);
    return typeof ext.appid === 'boolean' ? { appid: ext.appid } : {};
  }

  /** A new PublicKeyCredential → webauthn-rs RegisterPublicKeyCredential JSON. */
  function registrationJSON(cred) {
    const r = cred.response;
    const response = {
      attestationObject: bufToB64url(r.attestationObject),
      clientDataJSON: bufToB64url(r.clientDataJSON),
    };
    try {
      if (typeof r.getTransports === 'function') response.transports = r.getTransports();
    } catch (_) {
      // transports are a hint; leave them out
    }
    return {
      id: cred.id,
      rawId: bufToB64url(cred.rawId),
      type: cred.type,
      extensions: registrationExtensions(cred),
      response,
    };
  }

  /** An assertion PublicKeyCredential → webauthn-rs PublicKeyCredential JSON. */
  function assertionJSON(cred) {
    const r = cred.response;
    const handle = r.userHandle && r.userHandle.byteLength > 0 ? bufToB64url(r.userHandle) : null;
    return {
      id: cred.id,
      rawId: bufToB64url(cred.rawId),
      type: cred.type,
      extensions: authenticationExtensions(cred),
      response: {
        authenticatorData: bufToB64url(r.authenticatorData),
        clientDataJSON: bufToB64url(r.clientDataJSON),
        signature: bufToB64url(r.signature),
        userHandle: handle,
      },
    };
  }

  // ------------------------------------------------------------ requests

  /** An error whose message is fit to show the person. */
  class Shown extends Error {}

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') || '' : '';
  }

  /** POSTs JSON; answers the parsed body, or throws a Shown with the server's words. */
  async function postJSON(url, body, csrf) {
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    if (csrf) headers['X-CSRF-Token'] = csrf;
    let res;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(body === undefined ? {} : body),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch (_) {
      throw new Shown('Could not reach the vault. Check the connection and try again.');
    }
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      // not JSON (a refusal page, a proxy error)
    }
    if (!res.ok || res.redirected) {
      const message = data && data.error && typeof data.error.message === 'string' ? data.error.message : '';
      throw new Shown(message || `The vault refused the request (HTTP ${res.status}). Reload the page and try again.`);
    }
    if (data === null || typeof data !== 'object') throw new Shown('The vault sent an answer this page does not understand.');
    return data;
  }

  /** Words for a failed passkey prompt (a DOMException from the browser). */
  function ceremonyMessage(err) {
    if (err instanceof Shown) return err.message;
    switch (err && err.name) {
      case 'NotAllowedError':
        return 'The passkey prompt was cancelled or timed out, or this device holds no passkey for this staff ID. Try again, or register a passkey with the link an admin gave you.';
      case 'AbortError':
        return 'The passkey prompt was cancelled. Try again.';
      case 'InvalidStateError':
        return 'This device already holds a passkey for this account. Sign in with it instead.';
      case 'SecurityError':
        return 'Passkeys do not work at this address. Open the console at the address the vault is configured for (for example http://localhost:8700/console/).';
      case 'NotSupportedError':
        return 'This browser or device cannot create the kind of passkey the vault asks for.';
      default:
        return (err && err.message) || 'The passkey check failed. Try again.';
    }
  }

  function passkeysSupported() {
    return (
      typeof window.PublicKeyCredential === 'function' &&
      !!navigator.credentials &&
      typeof navigator.credentials.create === 'function'
    );
  }

  /** Only a same-origin path: never follow an answer to another site. */
  function safeNext(next) {
    return typeof next === 'string' && /^\/(?![/\\])/.test(next) ? next : '/console/';
  }

  // -------------------------------------------------------------- alerts

  /** The [role=alert] of a form (made at its top if absent), or the page's. */
  function alertFor(scope) {
    let el = scope.querySelector('[role="alert"]');
    if (!el) {
      el = document.createElement('div');
      el.setAttribute('role', 'alert');
      el.className = 'alert hidden';
      scope.prepend(el);
    }
    return el;
  }

  function showAlert(el, message) {
    el.classList.remove('hidden');
    el.textContent = message;
  }

  function clearAlert(el) {
    el.textContent = '';
    el.classList.add('hidden');
  }

  function setBusy(el, busy) {
    if (busy) el.setAttribute('aria-busy', 'true');
    else el.removeAttribute('aria-busy');
  }

  /** Disables a form's buttons during a ceremony; answers how to undo it. */
  function freezeButtons(root) {
    const buttons = Array.from(root.querySelectorAll('button, input[type="submit"]')).filter((b) => !b.disabled);
    buttons.forEach((b) => {
      b.disabled = true;
    });
    return () =>
      buttons.forEach((b) => {
        b.disabled = false;
      });
  }

  // ------------------------------------------------------------ register

  function setupRegister() {
    const button = document.querySelector('[data-action="register"]');
    if (!button) return;
    const alertEl = alertFor(button.closest('form') || document.querySelector('main') || document.body);
    let code = '';

    // The one-time code rides in the fragment (never sent to a server in a
    // request line); take it, then wipe it from the address bar and history.
    const takeCode = () => {
      const raw = location.hash.replace(/^#/, '');
      if (!raw) return;
      try {
        code = decodeURIComponent(raw);
      } catch (_) {
        code = raw;
      }
      history.replaceState(history.state, '', location.pathname + location.search);
    };
    takeCode();
    window.addEventListener('hashchange', takeCode);

    if (!passkeysSupported()) {
      showAlert(alertEl, 'This browser does not support passkeys. Use a current browser to register.');
      button.disabled = true;
      return;
    }

    let busy = false;
    button.addEventListener('click', async (event) => {
      event.preventDefault();
      if (busy) return;
      if (!code) {
        showAlert(
          alertEl,
          'This page needs the one-time code from your registration link. Open the full link again (it ends with #…).',
        );
        return;
      }
      busy = true;
      button.disabled = true;
      setBusy(button, true);
      clearAlert(alertEl);
      try {
        const begun = await postJSON('/console/auth/register/begin', { code });
        const cred = await navigator.credentials.create(creationOptions(begun.options));
        if (!cred) throw new Shown('No passkey was created. Try again.');
        const done = await postJSON('/console/auth/register/finish', {
          ceremony: begun.ceremony,
          credential: registrationJSON(cred),
        });
        location.assign(safeNext(done.next));
        return; // stay busy while the next page loads
      } catch (err) {
        showAlert(alertEl, ceremonyMessage(err));
      }
      busy = false;
      button.disabled = false;
      setBusy(button, false);
    });
  }

  // --------------------------------------------------------------- login

  function setupLogin() {
    document.querySelectorAll('form[data-action="login"]').forEach((form) => {
      const alertEl = alertFor(form);
      if (!passkeysSupported()) {
        showAlert(alertEl, 'This browser does not support passkeys. Use a current browser to sign in.');
      }
      let busy = false;
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        if (busy) return;
        const input = form.elements.namedItem('id');
        const id = input && typeof input.value === 'string' ? input.value.trim() : '';
        if (!id) {
          showAlert(alertEl, 'Enter your staff ID.');
          if (input && input.focus) input.focus();
          return;
        }
        if (!passkeysSupported()) return;
        busy = true;
        setBusy(form, true);
        const thaw = freezeButtons(form);
        clearAlert(alertEl);
        try {
          const begun = await postJSON('/console/auth/login/begin', { id });
          const cred = await navigator.credentials.get(requestOptions(begun.options));
          if (!cred) throw new Shown('No passkey was used. Try again.');
          const done = await postJSON('/console/auth/login/finish', {
            ceremony: begun.ceremony,
            credential: assertionJSON(cred),
          });
          location.assign(safeNext(done.next));
          return;
        } catch (err) {
          showAlert(alertEl, ceremonyMessage(err));
        }
        busy = false;
        setBusy(form, false);
        thaw();
      });
    });
  }

  // ------------------------------------------------------------- step-up

  // Forms let through after a successful check (set only for the
  // synchronous span of requestSubmit, so a failed validation cannot leave
  // a form open).
  const steppedUp = new WeakSet();
  const steppingUp = new WeakSet();

  async function stepUp() {
    if (!passkeysSupported()) throw new Shown('This browser does not support passkeys, which this action needs.');
    const csrf = csrfToken();
    const begun = await postJSON('/console/auth/step-up/begin', {}, csrf);
    const cred = await navigator.credentials.get(requestOptions(begun.options));
    if (!cred) throw new Shown('No passkey was used. Try again.');
    await postJSON('/console/auth/step-up/finish', { ceremony: begun.ceremony, credential: assertionJSON(cred) }, csrf);
  }

  /** Submits natively, as if `submitter` had been pressed, without another check. */
  function submitAfterStepUp(form, submitter) {
    const usable = submitter && submitter.form === form && submitter.isConnected;
    if (typeof form.requestSubmit === 'function') {
      steppedUp.add(form);
      try {
        if (usable) form.requestSubmit(submitter);
        else form.requestSubmit();
      } finally {
        steppedUp.delete(form);
      }
      return;
    }
    // Older engines: carry the button's name/value in a hidden field.
    if (usable && submitter.name) {
      const carry = document.createElement('input');
      carry.type = 'hidden';
      carry.name = submitter.name;
      carry.value = submitter.value;
      form.append(carry);
    }
    HTMLFormElement.prototype.submit.call(form);
  }

  function setupStepUp() {
    document.addEventListener('submit', async (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-step-up')) return;
      if (steppedUp.has(form)) return; // the check passed: let the browser submit
      const submitter = event.submitter || null;
      // A button that only previews (e.g. "Check requirements") needs no fresh check.
      if (submitter && submitter.hasAttribute('data-skip-step-up')) return;
      event.preventDefault();
      if (steppingUp.has(form)) return;
      steppingUp.add(form);
      const alertEl = alertFor(form);
      clearAlert(alertEl);
      setBusy(form, true);
      const thaw = freezeButtons(form);
      let ok = false;
      try {
        await stepUp();
        ok = true;
      } catch (err) {
        showAlert(alertEl, ceremonyMessage(err));
      }
      thaw(); // a disabled submitter would lose its name/value
      setBusy(form, false);
      steppingUp.delete(form);
      if (ok) submitAfterStepUp(form, submitter);
    });
  }

  // -------------------------------------------------------------- webcam

  function cameraSupported() {
    if (!navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== 'function') return false;
    try {
      return typeof new DataTransfer().items.add === 'function';
    } catch (_) {
      return false;
    }
  }

  function setupWebcam(box) {
    const video = box.querySelector('video');
    const start = box.querySelector('[data-action="camera-start"]');
    const take = box.querySelector('[data-action="camera-take"]');
    const input = box.querySelector('input#photo') || document.getElementById('photo');
    const controls = [video, start, take].filter(Boolean);
    if (!video || !start || !take || !input || !cameraSupported()) {
      controls.forEach((el) => el.classList.add('hidden'));
      return;
    }
    start.classList.remove('hidden');
    take.classList.remove('hidden');
    take.disabled = true;
    video.classList.add('hidden');
    video.muted = true;
    video.playsInline = true;

    const alertScope = box.closest('form') || box;
    let stream = null;
    let previewUrl = null;

    const stop = () => {
      if (stream) stream.getTracks().forEach((t) => t.stop());
      stream = null;
      video.srcObject = null;
      video.classList.add('hidden');
      take.disabled = true;
    };

    const preview = (file) => {
      let img = box.querySelector('img.preview');
      if (!img) {
        img = document.createElement('img');
        img.className = 'preview';
        box.append(img);
      }
      img.alt = 'The photo that will be sent';
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = URL.createObjectURL(file);
      img.src = previewUrl;
      img.classList.remove('hidden');
    };

    start.addEventListener('click', async (event) => {
      event.preventDefault();
      stop();
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
        video.srcObject = stream;
        video.classList.remove('hidden');
        await video.play();
        take.disabled = false;
        take.focus();
      } catch (err) {
        stop();
        const words =
          err && err.name === 'NotAllowedError'
            ? 'Camera access was refused. Allow the camera, or choose a photo file instead.'
            : err && err.name === 'NotFoundError'
              ? 'No camera was found. Choose a photo file instead.'
              : `The camera could not start (${(err && err.message) || 'unknown error'}). Choose a photo file instead.`;
        showAlert(alertFor(alertScope), words);
      }
    });

    take.addEventListener('click', (event) => {
      event.preventDefault();
      if (!stream || !video.videoWidth) return;
      const canvas = document.createElement('canvas');
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const ctx = canvas.getContext('2d');
      if (!ctx) return;
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(
        (blob) => {
          if (!blob) {
            showAlert(alertFor(alertScope), 'The photo could not be taken. Try again, or choose a photo file.');
            return;
          }
          const file = new File([blob], 'photo.jpg', { type: 'image/jpeg', lastModified: Date.now() });
          const dt = new DataTransfer();
          dt.items.add(file);
          input.files = dt.files;
          input.dispatchEvent(new Event('input', { bubbles: true }));
          input.dispatchEvent(new Event('change', { bubbles: true }));
          preview(file);
          stop();
          start.focus();
        },
        'image/jpeg',
        0.9,
      );
    });

    // A file chosen by hand replaces the camera's preview.
    input.addEventListener('change', (event) => {
      if (!event.isTrusted) return;
      const file = input.files && input.files[0];
      const img = box.querySelector('img.preview');
      if (file && /^image\//.test(file.type)) preview(file);
      else if (img) img.classList.add('hidden');
    });

    window.addEventListener('pagehide', stop);
  }

  // ----------------------------------------------------- live checklist

  function setupChecklist(form) {
    const url = form.getAttribute('data-checklist-url');
    if (!url) return;
    const target = () => document.getElementById('checklist');
    const list = target();
    if (list && !list.hasAttribute('aria-live')) list.setAttribute('aria-live', 'polite');
    let timer = 0;
    let seq = 0;
    let inflight = null;

    const refresh = async () => {
      const mine = ++seq;
      if (inflight) inflight.abort();
      inflight = typeof AbortController === 'function' ? new AbortController() : null;
      const params = new URLSearchParams();
      for (const [name, value] of new FormData(form)) {
        // File fields stay out, and so does a photo kept from before (a data: URL).
        if (typeof value === 'string' && name !== 'photo_kept') params.append(name, value);
      }
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/x-www-form-urlencoded',
            'X-CSRF-Token': csrfToken(),
            Accept: 'text/html',
          },
          body: params,
          credentials: 'same-origin',
          cache: 'no-store',
          signal: inflight ? inflight.signal : undefined,
        });
        if (!res.ok || res.redirected) return; // e.g. the session ended: the button still works
        const html = await res.text();
        const el = target();
        if (el && mine === seq) el.innerHTML = html;
      } catch (_) {
        // aborted or offline: the no-JS "Check requirements" button is the fallback
      }
    };

    const triggers =
      'select, input[type="date"], [name^="document_type"], [name*="birth"], [name="dob"], [data-checklist-trigger]';
    form.addEventListener('change', (event) => {
      const el = event.target;
      if (!(el instanceof Element) || !el.matches(triggers) || el.type === 'file') return;
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    });
  }

  // ------------------------------------------------- policy editor gutter

  function setupGutter(gutter) {
    const area =
      (gutter.nextElementSibling && gutter.nextElementSibling.tagName === 'TEXTAREA' && gutter.nextElementSibling) ||
      (gutter.parentElement && gutter.parentElement.querySelector('textarea'));
    if (!area) return;
    let lines = 0;
    const renumber = () => {
      const n = area.value.split('\n').length;
      if (n === lines) return;
      lines = n;
      let text = '';
      for (let i = 1; i <= n; i += 1) text += i === n ? String(i) : `${i}\n`;
      gutter.textContent = text;
      gutter.scrollTop = area.scrollTop;
    };
    renumber();
    area.addEventListener('input', renumber);
    area.addEventListener('scroll', () => {
      gutter.scrollTop = area.scrollTop;
    });
  }

  // ------------------------------------------------- refreshed figures

  /** Replaces `el` with the same element of a fresh copy of the page every
   * `data-refresh` seconds (the operations dashboard), without a reload. */
  function setupRefresh(el) {
    const seconds = Number(el.dataset.refresh);
    if (!el.id || !(seconds >= 5)) return;
    let current = el;
    setInterval(async () => {
      if (document.hidden) return;
      try {
        const resp = await fetch(window.location.href, { credentials: 'same-origin' });
        if (!resp.ok || resp.redirected) return;
        const doc = new DOMParser().parseFromString(await resp.text(), 'text/html');
        const fresh = doc.getElementById(current.id);
        if (fresh) {
          const adopted = document.importNode(fresh, true);
          current.replaceWith(adopted);
          current = adopted;
        }
      } catch (_) {
        // Offline for a moment: the next tick tries again.
      }
    }, seconds * 1000);
  }

  // ------------------------------------------------------- confirmations

  /** A form with `data-confirm` asks before it is sent (revoke, erase). The
   * server needs a fresh passkey check or a typed confirmation as well; this
   * only stops a slip of the mouse. */
  function setupConfirm(form) {
    form.addEventListener('submit', (ev) => {
      if (!window.confirm(form.dataset.confirm)) {
        ev.preventDefault();
        ev.stopImmediatePropagation();
      }
    }, true);
  }

  // ---------------------------------------------------------------- start

  function start() {
    document.documentElement.classList.add('js');
    setupRegister();
    setupLogin();
    setupStepUp();
    document.querySelectorAll('[data-webcam]').forEach(setupWebcam);
    document.querySelectorAll('form[data-checklist]').forEach(setupChecklist);
    document.querySelectorAll('pre.gutter').forEach(setupGutter);
    document.querySelectorAll('[data-refresh]').forEach(setupRefresh);
    document.querySelectorAll('form[data-confirm]').forEach(setupConfirm);
    // A document picker's full description under it, as the choice changes.
    document.querySelectorAll('select[data-describe]').forEach((sel) => {
      const out = document.getElementById(sel.dataset.describe);
      if (!out) return;
      sel.addEventListener('change', () => {
        const opt = sel.selectedOptions[0];
        out.textContent = opt && opt.value ? opt.dataset.desc || '' : '';
      });
    });
    document.querySelectorAll('button[data-print]').forEach((b) => {
      b.classList.remove('hidden');
      b.addEventListener('click', () => window.print());
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
