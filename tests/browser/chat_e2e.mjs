// End-to-end: examples/chat in headless Chromium (Debian's /usr/bin/chromium via playwright-core),
// two browser contexts, two users, against a running `rtcli serve`. Run by test_chat_e2e.py.
//
//   node tests/browser/chat_e2e.mjs '<json config>'
//
// config: { chromium, out, liveTimeoutMs, absentWaitMs,
//           users: [{ key, name, email, password, url, apiOrigin, auth: "cookie"|"fallback" }, x2] }
//
// Prints one JSON summary line prefixed "SUMMARY " and exits 0, or prints "FAIL: <reason>" and
// exits 1. Screenshots (<key>.png) and frame/console traces (<key>-trace.json) go to `out`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.argv[2]);
const liveTimeout = cfg.liveTimeoutMs ?? 10_000;
const absentWait = cfg.absentWaitMs ?? 3_000;
mkdirSync(cfg.out, { recursive: true });

// Debian's chromium, headless, quiet and sandbox-free (containers). Playwright adds its own
// defaults as well, and launch() gets a fresh temporary user-data-dir (under TMPDIR, which
// test_chat_e2e.py points at the test's tmp_path).
// --test-third-party-cookie-phaseout blocks third-party cookies, so the cross-site user (API on
// 127.0.0.1 while the page is on localhost) deterministically takes the X-Fallback-Cookies path
// whatever this Chromium's default cookie policy is; the same-site user is unaffected.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--test-third-party-cookie-phaseout'];

class Failure extends Error {}
const fail = (msg) => { throw new Failure(msg); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function short(v, n = 600) {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > n ? s.slice(0, n) + '…' : s;
}

// Everything the page does that helps explain a failure: console, errors, HTTP >= 400 and
// failed requests, and every WebSocket frame (parsed).
async function instrument(context, page, key, apiOrigin) {
  const t = { key, console: [], errors: [], http: [], sockets: [], blockedCookies: [] };
  // Chromium's own reason when it refuses to store a cookie (e.g. UserPreferences: third-party).
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.responseReceivedExtraInfo', (e) => {
    for (const b of e.blockedCookies || []) {
      const entry = `${b.cookie?.name ?? b.cookieLine}: ${b.blockedReasons.join(', ')}`;
      if (!t.blockedCookies.includes(entry)) t.blockedCookies.push(entry);
    }
  });
  page.on('console', (m) => t.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => t.errors.push(String(e && e.stack || e)));
  page.on('requestfailed', (r) => t.http.push({ url: r.url(), method: r.method(), failure: r.failure()?.errorText }));
  page.on('response', (r) => {
    if (r.status() >= 400) t.http.push({ url: r.url(), method: r.request().method(), status: r.status() });
  });
  // What the browser put on each REST call to the API: the session cookie, the fallback header?
  t.restAuth = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(apiOrigin + '/v1/')) return;
    t.restAuth.push(r.allHeaders().then((h) => ({
      call: `${r.method()} ${new URL(r.url()).pathname}`,
      cookie: /(^|;\s*)a_session_/.test(h.cookie || ''),
      fallbackHeader: /a_session_/.test(h['x-fallback-cookies'] || ''),
    }), () => null));
  });
  page.on('websocket', (ws) => {
    const s = { url: ws.url(), frames: [], closed: false };
    t.sockets.push(s);
    const parse = (p) => { try { return JSON.parse(p); } catch { return p; } };
    ws.on('framesent', (f) => s.frames.push({ dir: 'sent', at: Date.now(), msg: parse(f.payload) }));
    ws.on('framereceived', (f) => s.frames.push({ dir: 'recv', at: Date.now(), msg: parse(f.payload) }));
    ws.on('socketerror', (e) => s.frames.push({ dir: 'error', at: Date.now(), msg: String(e) }));
    ws.on('close', () => { s.closed = true; });
  });
  return t;
}

const frames = (t) => t.sockets.flatMap((s) => s.frames);
const sent = (t, type) => frames(t).filter((f) => f.dir === 'sent' && f.msg?.type === type);
const recv = (t, type) => frames(t).filter((f) => f.dir === 'recv' && f.msg?.type === type);

async function waitFor(what, cond, timeout = liveTimeout) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) fail(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function listTexts(page) {
  return page.locator('[data-testid="message"]').evaluateAll((els) => els.map((el) => ({
    id: el.dataset.id, private: el.dataset.private === 'true',
    text: el.querySelector('[data-testid="message-text"]')?.textContent ?? '',
  })));
}

async function hasText(page, text) {
  return (await listTexts(page)).find((m) => m.text === text);
}

async function visibleError(page) {
  const parts = [];
  for (const id of ['auth-error', 'chat-error']) {
    const s = (await page.locator(`[data-testid="${id}"]`).textContent())?.trim();
    if (s) parts.push(`${id}: ${s}`);
  }
  return parts.join('; ');
}

async function signUp(u) {
  const { page, trace } = u;
  await page.goto(u.url, { waitUntil: 'load' });
  await page.evaluate(() => { window.__e2eLoadMarker = 'first-load'; });
  await page.getByTestId('auth-form').waitFor({ state: 'visible', timeout: liveTimeout })
    .catch(async () => fail(`${u.key}: sign-in form never showed (${await visibleError(page)})`));
  await page.getByLabel('Email').fill(u.email);
  await page.getByLabel('Password').fill(u.password);
  await page.getByLabel(/Display name/).fill(u.name);
  await page.getByTestId('sign-up').click();
  await waitFor(`${u.key} signed in as ${u.name}`, async () => {
    const err = await visibleError(page);
    if (err) fail(`${u.key}: sign-up/sign-in failed on the page: ${err}`);
    return (await page.getByTestId('whoami').textContent()) === u.name;
  });
  await waitFor(`${u.key}'s realtime connection to be live`,
    async () => (await page.getByTestId('connection').getAttribute('data-state')) === 'live');
  // The SDK resolves subscribe() on socket open; the server's ack says the subscription exists.
  await waitFor(`${u.key}'s subscribe to be acknowledged by the server`,
    async () => recv(trace, 'response').some((f) => f.msg.data?.to === 'subscribe' && f.msg.data?.success));
  u.userId = await page.getByTestId('whoami').getAttribute('data-user-id');
}

// Which authentication path did the browser take? Cookie: the WebSocket handshake carried the
// a_session cookie, so `connected.user` is the user and the SDK sends no `authentication`.
// Fallback: no cookie reached the server (third-party cookie blocked), `connected.user` is
// null, and the SDK sends `authentication` with the token from localStorage.cookieFallback.
async function authPath(u) {
  const connected = recv(u.trace, 'connected')[0];
  const authSent = sent(u.trace, 'authentication');
  const authOk = recv(u.trace, 'response').some((f) => f.msg.data?.to === 'authentication' && f.msg.data?.success);
  const apiCookies = (await u.context.cookies(u.apiOrigin)).map((c) => c.name);
  const fallback = await u.page.evaluate(() => localStorage.getItem('cookieFallback'));
  const rest = (await Promise.all(u.trace.restAuth)).filter(Boolean);
  return {
    restCalls: rest.length,
    restCallsWithSessionCookie: rest.filter((r) => r.cookie).length,
    restCallsWithFallbackHeader: rest.filter((r) => r.fallbackHeader).length,
    blockedCookies: u.trace.blockedCookies,
    path: connected?.msg?.data?.user ? 'cookie' : (authSent.length ? 'fallback' : 'none'),
    connectedUser: connected?.msg?.data?.user?.$id ?? null,
    authenticationFramesSent: authSent.length,
    authenticationAcknowledged: authOk,
    cookiesStoredForApi: apiCookies,
    localStorageCookieFallback: fallback ? Object.keys(JSON.parse(fallback)) : null,
  };
}

async function send(u, kind, text) {
  const [input, button] = kind === 'note' ? ['note-text', 'save-note'] : ['send-text', 'send'];
  await u.page.getByTestId(input).fill(text);
  await u.page.getByTestId(button).click();
  await waitFor(`${u.key}'s own "${text}" in its list`, async () => {
    const err = await visibleError(u.page);
    if (err) fail(`${u.key}: sending "${text}" failed on the page: ${err}`);
    return hasText(u.page, text);
  });
}

async function waitLive(u, text, from) {
  await waitFor(`"${text}" (sent by ${from}) to appear live in ${u.key}'s list`, () => hasText(u.page, text))
    .catch(async (e) => fail(`${e.message}; ${u.key}'s list: ${short(await listTexts(u.page))}`));
  const viaEvent = recv(u.trace, 'event').some((f) => f.msg.data?.payload?.text === text);
  if (!viaEvent) fail(`"${text}" is in ${u.key}'s list but no realtime event frame carried it`);
}

async function main() {
  const browser = await chromium.launch({ executablePath: cfg.chromium, headless: true, args: FLAGS });
  const users = cfg.users.map((u) => ({ ...u }));
  const summary = { chromium: browser.version(), users: {}, steps: [] };
  const step = (s) => { summary.steps.push(s); process.stderr.write(`step: ${s}\n`); };
  try {
    for (const u of users) {
      u.context = await browser.newContext({ viewport: { width: 760, height: 860 }, locale: 'en-US' });
      u.page = await u.context.newPage();
      u.trace = await instrument(u.context, u.page, u.key, u.apiOrigin);
    }
    const [a, b] = users;
    try {
      for (const u of users) {
        await signUp(u);
        step(`${u.key} signed up and signed in (${u.userId}), realtime live`);
      }
      for (const u of users) {
        const p = await authPath(u);
        summary.users[u.key] = { userId: u.userId, url: u.url, ...p };
        if (p.path !== u.auth) {
          fail(`${u.key} was expected to take the ${u.auth} path but took ${p.path}: ${short(p)}`);
        }
        if (p.connectedUser && p.connectedUser !== u.userId) fail(`${u.key}: connected.user is ${p.connectedUser}`);
        if (u.auth === 'cookie' && !p.restCallsWithSessionCookie) {
          fail(`${u.key}: no REST call carried the session cookie: ${short(p)}`);
        }
        if (u.auth === 'fallback' && p.restCallsWithSessionCookie) {
          fail(`${u.key}: a REST call carried the session cookie: ${short(p)}`);
        }
        if (u.auth === 'fallback' && !p.restCallsWithFallbackHeader) {
          fail(`${u.key}: no REST call carried X-Fallback-Cookies: ${short(p)}`);
        }
        if (u.auth === 'fallback' && !p.authenticationAcknowledged) {
          fail(`${u.key}: the server did not acknowledge the authentication frame: ${short(frames(u.trace))}`);
        }
      }
      step(`auth paths: ${users.map((u) => `${u.key}=${summary.users[u.key].path}`).join(', ')}`);

      // Typing indicator: typing publishes to the ephemeral topic over the page's own socket
      // (examples/publish.js); the other page hears it through the Web SDK's subscription.
      const typingText = (u) => u.page.getByTestId('typing').textContent();
      for (const [writer, reader] of [[a, b], [b, a]]) {
        await writer.page.getByTestId('send-text').fill('Hel');
        await waitFor(`${reader.key} to show "${writer.name} is typing…"`,
          async () => (await typingText(reader)) === `${writer.name} is typing…`)
          .catch(async (e) => fail(`${e.message}; it shows ${short(await typingText(reader))}`));
        const heard = recv(reader.trace, 'event').find((f) => f.msg.data?.channels?.includes('topics.typing')
          && f.msg.data.payload?.$userId === writer.userId);
        if (!heard || 'cursor' in heard.msg.data) {
          fail(`${reader.key}: no cursor-less topics.typing event from ${writer.key}: ${short(heard)}`);
        }
        const acks = recv(writer.trace, 'response').filter((f) => f.msg.data?.to === 'publish');
        if (!acks.length || acks[0].msg.data.message?.cursor !== null) {
          fail(`${writer.key}: the publish was not acknowledged as ephemeral: ${short(acks)}`);
        }
        if ((await typingText(writer)).includes(writer.name)) {
          fail(`${writer.key} shows itself typing: ${await typingText(writer)}`);
        }
        // self: false keeps the message from the socket that published it (the page's other
        // socket, the SDK's, does receive it, and the page ignores its own user).
        const publishing = writer.trace.sockets.find((s) => s.frames.some((f) => f.dir === 'sent' && f.msg?.type === 'publish'));
        if (!publishing || publishing.frames.some((f) => f.dir === 'recv' && f.msg?.type === 'event')) {
          fail(`${writer.key}'s publishing socket received its own message despite self: false: ${short(publishing)}`);
        }
      }
      step('typing: each page shows the other typing (ephemeral topic, no cursor), never itself');

      const nonce = Math.random().toString(36).slice(2, 8);
      const helloA = `Hello from ${a.name} ${nonce}`;
      const helloB = `Hi ${a.name}, ${b.name} here ${nonce}`;
      const note = `${a.name}'s private note ${nonce}`;
      const after = `${a.name} again, after the note ${nonce}`;

      await send(a, 'message', helloA);
      await waitLive(b, helloA, a.key);
      step(`${a.key}'s message appeared live in ${b.key}`);
      // Its message is here: A is no longer shown typing (well before the indicator would expire).
      await waitFor(`${b.key} to stop showing ${a.name} typing once the message is in`,
        async () => !(await typingText(b)).includes(a.name), 1500);
      step(`${b.key} stopped showing ${a.key} typing when ${a.key}'s message arrived`);

      await send(b, 'message', helloB);
      await waitLive(a, helloB, b.key);
      step(`${b.key}'s message appeared live in ${a.key}`);

      await send(a, 'note', note);
      const mine = await hasText(a.page, note);
      if (!mine.private) fail(`${a.key}'s note is not marked private in its own list: ${short(mine)}`);
      step(`${a.key}'s private note is in ${a.key}'s list, marked private`);
      // Events on one connection arrive in commit order: once a later public message reached B,
      // the note would already have arrived if the server had (wrongly) delivered it.
      await send(a, 'message', after);
      await waitLive(b, after, a.key);
      await sleep(absentWait);
      if (await hasText(b.page, note)) fail(`${a.key}'s private note appeared in ${b.key}'s list`);
      const leaked = frames(b.trace).filter((f) => JSON.stringify(f.msg).includes(note));
      if (leaked.length) fail(`${a.key}'s private note reached ${b.key}'s WebSocket: ${short(leaked)}`);
      step(`${a.key}'s private note never reached ${b.key} (waited for a later message + ${absentWait} ms)`);

      for (const u of users) {
        const marker = await u.page.evaluate(() => window.__e2eLoadMarker);
        if (marker !== 'first-load') fail(`${u.key}'s page was reloaded during the live steps`);
      }
      step('no page was reloaded during the live steps');

      // A reload: the session survives (cookie or localStorage fallback) and listRows obeys
      // the row permissions too.
      for (const u of users) {
        await u.page.reload({ waitUntil: 'load' });
        await waitFor(`${u.key} to be signed in again after a reload`,
          async () => (await u.page.getByTestId('whoami').textContent()) === u.name);
        await waitFor(`${u.key}'s list after reload`, () => hasText(u.page, after));
      }
      if (await hasText(b.page, note)) fail(`${a.key}'s private note is in ${b.key}'s list after a reload (listRows)`);
      if (!(await hasText(a.page, note))) fail(`${a.key}'s private note is missing from its own list after a reload`);
      step('after a reload both are still signed in; listRows shows the note to its author only');

      // Sign out (the server clears the cookie / the fallback), reload: still signed out; then
      // the "Sign in" button with the same credentials brings the same list back.
      for (const u of users) {
        await u.page.getByTestId('sign-out').click();
        await u.page.getByTestId('auth-form').waitFor({ state: 'visible', timeout: liveTimeout });
        await u.page.reload({ waitUntil: 'load' });
        await u.page.getByTestId('auth-form').waitFor({ state: 'visible', timeout: liveTimeout })
          .catch(() => fail(`${u.key} is still signed in after signing out and reloading`));
        await u.page.getByLabel('Email').fill(u.email);
        await u.page.getByLabel('Password').fill(u.password);
        await u.page.getByTestId('sign-in').click();
        await waitFor(`${u.key} signed in again with the Sign in button`, async () => {
          const err = await visibleError(u.page);
          if (err) fail(`${u.key}: sign-in failed on the page: ${err}`);
          return (await u.page.getByTestId('whoami').textContent()) === u.name;
        });
        await waitFor(`${u.key}'s list after signing in again`, () => hasText(u.page, after));
        await waitFor(`${u.key}'s realtime connection to be live again`,
          async () => (await u.page.getByTestId('connection').getAttribute('data-state')) === 'live');
      }
      if (await hasText(b.page, note)) fail(`${a.key}'s private note is in ${b.key}'s list after signing in again`);
      if (!(await hasText(a.page, note))) {
        fail(`${a.key}'s private note is missing from its list after signing in again`);
      }
      for (const u of users) summary.users[u.key].finalList = await listTexts(u.page);
      step('sign out clears the session (still signed out after a reload); Sign in brings the same lists back');
      summary.ok = true;
    } finally {
      for (const u of users) {
        if (!u.page) continue;
        const shot = join(cfg.out, `${u.key}.png`);
        await u.page.screenshot({ path: shot, fullPage: true }).catch(() => {});
        const trace = { ...u.trace, restAuth: undefined };
        writeFileSync(join(cfg.out, `${u.key}-trace.json`), JSON.stringify(trace, null, 1));
        summary.users[u.key] = { ...summary.users[u.key], screenshot: shot, trace: join(cfg.out, `${u.key}-trace.json`),
          consoleErrors: u.trace.console.filter((c) => c.startsWith('error')), pageErrors: u.trace.errors };
      }
      writeFileSync(join(cfg.out, 'summary.json'), JSON.stringify(summary, null, 1));
    }
  } catch (e) {
    summary.ok = false;
    summary.failure = e instanceof Failure ? e.message : String(e && e.stack || e);
  } finally {
    await browser.close().catch(() => {});
  }
  writeFileSync(join(cfg.out, 'summary.json'), JSON.stringify(summary, null, 1));
  if (summary.ok) {
    console.log('SUMMARY ' + JSON.stringify(summary));
    process.exit(0);
  }
  console.log('SUMMARY ' + JSON.stringify(summary));
  console.log('FAIL: ' + summary.failure);
  process.exit(1);
}

await main();
