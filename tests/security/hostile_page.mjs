// A hostile page in a real browser, against a running `rtcli serve`: run by test_browser.py.
//
//   node tests/security/hostile_page.mjs '<json config>'
//
// config: { chromium, playwright (path of playwright-core's index.mjs), api (http://localhost:PORT),
//           project, email, password, pages: { name: host }, view: URL of an uploaded HTML file }
//
// The pages come from a small HTTP server of this script on 127.0.0.1; each host of `pages` is
// mapped to it (evil.example too), so every page is a real page on its own origin.
//
// The victim signs in on the API's own origin (the browser keeps the session cookie). Then a page
// on each origin of `pages` runs the same script: a text/plain POST with the cookie (a row), a
// WebSocket to the realtime endpoint, and the same WebSocket from a sandboxed iframe (Origin:
// null). Finally the victim opens the uploaded HTML file's /view link. Prints one line
// "RESULT <json>" with what each page saw, and exits 0 (the test judges).
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

const cfg = JSON.parse(process.argv[2]);
const { chromium } = await import(pathToFileURL(cfg.playwright).href);
const hosts = Object.values(cfg.pages).filter((h) => h !== 'localhost');
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', `--host-resolver-rules=${hosts.map((h) => `MAP ${h} 127.0.0.1`).join(', ')}`];

// What the hostile (or friendly) page does, run in its own origin.
const ATTACK = (api, project) => `<!doctype html><title>page</title><script>
const api = ${JSON.stringify(api)}, project = ${JSON.stringify(project)};
function socket(win, api, project) {
  return new Promise((done) => {
    const ws = new win.WebSocket(api.replace('http', 'ws') + '/v1/realtime?project=' + project + '&channels[]=account');
    const seen = [];
    const t = setTimeout(() => done({ seen, timeout: true }), 4000);
    ws.onmessage = (m) => { seen.push(JSON.parse(m.data)); if (seen.length === 1) { clearTimeout(t); ws.close(); done({ seen }); } };
    ws.onclose = (e) => { clearTimeout(t); done({ seen, closed: e.code }); };
  });
}
window.attack = async () => {
  const out = {};
  try {
    const r = await fetch(api + '/v1/tablesdb/db/tables/t/rows?project=' + project, { method: 'POST',
      credentials: 'include', headers: { 'Content-Type': 'text/plain' },
      body: JSON.stringify({ rowId: 'unique()', data: { text: location.origin } }) });
    out.post = { status: r.status, body: await r.text() };
  } catch (e) { out.post = { error: String(e) }; }  // CORS refused the answer: the request may still have gone
  out.socket = await socket(window, api, project);
  out.sandboxed = await new Promise((done) => {
    const f = document.createElement('iframe');
    f.sandbox = 'allow-scripts';
    f.srcdoc = '<script>(' + socket.toString() + ')(window, ' + JSON.stringify(api) + ', ' + JSON.stringify(project)
      + ').then((r) => parent.postMessage(JSON.stringify(r), "*"))<\\/script>';
    window.addEventListener('message', (m) => done(JSON.parse(m.data)));
    document.body.appendChild(f);
  });
  return out;
};
</script><body></body>`;

const pages = createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html' });
  res.end(ATTACK(cfg.api, cfg.project));
});
await new Promise((ready) => pages.listen(0, '127.0.0.1', ready));
const origins = Object.fromEntries(Object.entries(cfg.pages).map(([name, host]) => [name, `http://${host}:${pages.address().port}`]));

const browser = await chromium.launch({ executablePath: cfg.chromium, headless: true, args: FLAGS });
const result = { origins, pages: {} };
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  // The victim signs in on the API's origin: the browser stores the session cookie.
  await page.goto(cfg.api + '/v1/health');
  result.signIn = await page.evaluate(async ({ project, email, password }) => {
    const r = await fetch('/v1/account/sessions/email', { method: 'POST', credentials: 'include',
      headers: { 'Content-Type': 'application/json', 'X-Appwrite-Project': project }, body: JSON.stringify({ email, password }) });
    return r.status;
  }, cfg);
  result.cookies = (await context.cookies(cfg.api)).map((c) => ({ name: c.name, sameSite: c.sameSite, secure: c.secure }));
  for (const [name, origin] of Object.entries(origins)) {
    await page.goto(origin + '/');
    result.pages[name] = await page.evaluate(() => window.attack());
  }
  // The victim follows a link to an uploaded HTML file: it must not run on the API's origin.
  const opened = await page.goto(cfg.view).then((r) => ({ status: r.status(), url: page.url() }), (e) => ({ error: String(e).split('\n')[0] }));
  await page.waitForTimeout(1000);  // time for a script to run, had the browser rendered it
  result.view = { ...opened, title: await page.title().catch(() => null) };
} finally {
  await browser.close();
  pages.close();
}
console.log('RESULT ' + JSON.stringify(result));
