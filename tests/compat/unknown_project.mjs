// Scenario 6: the Web SDK connecting to an unknown project. The server accepts the upgrade,
// sends an error frame with code 1008 and closes with 1008; `onError` gets code 1008 and the
// SDK does not reconnect. The deprecated client.subscribe path must not reconnect either.
import { check, env, run, sleep, sockets, waitFor } from './harness.mjs';
import * as web from 'appwrite';

const cfg = env();
const project = 'no-such-project-4711';

run('unknown_project', async () => {
  // --- Realtime class
  const client = new web.Client().setEndpoint(cfg.endpoint).setProject(project);
  const realtime = new web.Realtime(client);
  const errors = [];
  let closes = 0;
  let opens = 0;
  realtime.onError((error, code) => errors.push({ message: error?.message, code }));
  realtime.onClose(() => { closes++; });
  realtime.onOpen(() => { opens++; });
  const calls = [];

  // subscribe() resolves once the socket opens; a refused upgrade would reject it.
  await realtime.subscribe('rows', (m) => calls.push(m));
  check.equal(sockets.length, 1, 'one socket opened');
  check.match(sockets[0].url, new RegExp(`/v1/realtime\\?project=${project}$`), 'realtime URL');
  check.equal(opens, 1, 'the upgrade was accepted (onOpen)');

  await waitFor(() => errors.length > 0, 5000, 'onError');
  check.equal(errors[0].code, 1008, `onError status code (error: ${JSON.stringify(errors[0])})`);
  check.equal(typeof errors[0].message, 'string', 'onError message');
  const errFrame = sockets[0].frames.find((f) => f.dir === 'in' && f.msg?.type === 'error');
  check.ok(errFrame, 'an error frame was received');
  check.equal(errFrame.msg.data.code, 1008, `error frame code: ${errFrame.raw}`);
  check.ok(!sockets[0].frames.some((f) => f.dir === 'in' && f.msg?.type === 'connected'), 'no "connected" frame for an unknown project');

  await waitFor(() => sockets[0].closeCode !== null, 5000, 'the server to close the socket');
  check.equal(sockets[0].closeCode, 1008, 'close code');
  await waitFor(() => closes > 0, 2000, 'onClose');
  check.ok(!sockets[0].frames.some((f) => f.dir === 'out' && f.msg?.type === 'subscribe'), 'the SDK sent no subscribe (it never got "connected")');

  // --- Deprecated client.subscribe on its own client.
  const oldClient = new web.Client().setEndpoint(cfg.endpoint).setProject(project);
  const unsubscribe = oldClient.subscribe('rows', (m) => calls.push(m));
  await waitFor(() => sockets.length === 2, 3000, 'the deprecated path to open a socket');
  await waitFor(() => sockets[1].closeCode !== null, 5000, 'the server to close the deprecated socket');
  check.equal(sockets[1].closeCode, 1008, 'deprecated path: close code');
  const oldErr = sockets[1].frames.find((f) => f.dir === 'in' && f.msg?.type === 'error');
  check.equal(oldErr?.msg?.data?.code, 1008, `deprecated path: error frame code (${oldErr?.raw})`);

  // The SDKs would reconnect after 1 s; give them 2.5 s.
  await sleep(2500);
  check.equal(sockets.length, 2, 'neither SDK path reconnected');
  check.equal(errors.length, 1, 'onError called once');
  check.equal(closes, 1, 'onClose called once');
  check.equal(calls.length, 0, 'no event callbacks');
  unsubscribe();
  await realtime.disconnect();
});
