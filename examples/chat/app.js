// rtcli chat: the official Appwrite Web SDK (appwrite 27) against `rtcli serve`, no bundler.
//
// Query parameters: endpoint (default http://localhost:8787/v1), project (default "default"),
// db (default "chat"), table (default "messages") and typing (default "typing": the ephemeral
// topic of the typing indicator).
import { Account, Channel, Client, ID, Permission, Query, Realtime, Role, TablesDB } from 'appwrite';
import { TopicPublisher } from 'rtcli-publish';

const params = new URLSearchParams(location.search);
const config = {
  endpoint: (params.get('endpoint') || 'http://localhost:8787/v1').replace(/\/+$/, ''),
  project: params.get('project') || 'default',
  db: params.get('db') || 'chat',
  table: params.get('table') || 'messages',
  typing: params.get('typing') || 'typing',
};

const client = new Client().setEndpoint(config.endpoint).setProject(config.project);
const account = new Account(client);
const tablesDB = new TablesDB(client);

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
const ui = {
  connection: $('connection'),
  who: $('who'),
  whoami: $('whoami'),
  signOut: $('sign-out'),
  auth: $('auth'),
  authForm: $('auth-form'),
  authError: $('auth-error'),
  chat: $('chat'),
  empty: $('empty'),
  list: $('messages'),
  sendForm: $('send-form'),
  noteForm: $('note-form'),
  chatError: $('chat-error'),
  typing: $('typing'),
};

let me = null; // the signed-in Account
let realtime = null; // one Realtime per signed-in session
const rows = new Map(); // row id -> { row, el }

$('endpoint').textContent = config.endpoint;
$('project').textContent = config.project;

// --- connection state -----------------------------------------------------------------------

const STATES = { offline: 'Offline', connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…' };

function setConnection(state) {
  ui.connection.dataset.state = state;
  ui.connection.querySelector('.label').textContent = STATES[state];
}

function showError(el, err) {
  el.textContent = err ? (err.message || String(err)) : '';
}

// --- messages ---------------------------------------------------------------------------------

function isPrivate(row) {
  const perms = row.$permissions || [];
  return !perms.includes('read("users")') && !perms.includes('read("any")');
}

function sortKey(row) {
  return [row.$createdAt || '', Number(row.$sequence || 0)];
}

function before(a, b) {
  const [ta, sa] = sortKey(a);
  const [tb, sb] = sortKey(b);
  return ta < tb || (ta === tb && sa < sb);
}

function fill(el, row) {
  const priv = isPrivate(row);
  el.className = 'message' + (priv ? ' private' : '') + (me && row.authorId === me.$id ? ' mine' : '');
  el.dataset.id = row.$id;
  el.dataset.private = String(priv);
  el.replaceChildren();

  const meta = document.createElement('p');
  meta.className = 'meta';
  const author = document.createElement('span');
  author.className = 'author';
  author.textContent = row.author || 'someone';
  const time = document.createElement('time');
  time.dateTime = row.$createdAt;
  time.textContent = new Date(row.$createdAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  meta.append(author, ' ', time);
  if (priv) {
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = 'Private note';
    meta.append(' ', badge);
  }

  const text = document.createElement('p');
  text.className = 'text';
  text.dataset.testid = 'message-text';
  text.textContent = row.text;
  el.append(meta, text);
}

function upsertRow(row) {
  const known = rows.get(row.$id);
  if (known) {
    known.row = row;
    fill(known.el, row);
    return;
  }
  const el = document.createElement('li');
  el.dataset.testid = 'message';
  fill(el, row);
  // Keep the list in creation order; a live event and the initial list may arrive in any order.
  let next = null;
  for (const other of rows.values()) {
    if (before(row, other.row) && (!next || before(other.row, next.row))) next = other;
  }
  ui.list.insertBefore(el, next ? next.el : null);
  rows.set(row.$id, { row, el });
  ui.empty.hidden = true;
  if (!next) ui.list.scrollTop = ui.list.scrollHeight;
}

function removeRow(id) {
  const known = rows.get(id);
  if (!known) return;
  known.el.remove();
  rows.delete(id);
  ui.empty.hidden = rows.size > 0;
}

function onEvent(event) {
  const row = event.payload;
  if (!row || !row.$id) return;
  if (event.events.some((e) => e.endsWith('.delete'))) removeRow(row.$id);
  else upsertRow(row);
  if (row.authorId) stoppedTyping(row.authorId); // their message is here: they are done typing
}

// --- typing indicator: an ephemeral topic, live only and never stored ---------------------------

const TYPING_EVERY_MS = 2000; // publish at most this often while typing
const TYPING_SHOWN_MS = 4000; // show someone as typing this long after their last message
const typers = new Map(); // user id -> { name, timer }
let publisher = null; // our own socket for publishing (the Web SDK cannot publish)
let lastTyping = 0;

function renderTyping() {
  const names = [...typers.values()].map((t) => t.name);
  ui.typing.textContent = names.length === 0 ? ''
    : names.length === 1 ? `${names[0]} is typing…` : `${names.join(', ')} are typing…`;
}

function stoppedTyping(userId) {
  const t = typers.get(userId);
  if (!t) return;
  clearTimeout(t.timer);
  typers.delete(userId);
  renderTyping();
}

function onTyping(event) {
  const p = event.payload;
  if (!p || !p.$userId || (me && p.$userId === me.$id)) return; // not ourselves (another tab, say)
  clearTimeout(typers.get(p.$userId)?.timer);
  typers.set(p.$userId, { name: p.name || 'someone', timer: setTimeout(() => stoppedTyping(p.$userId), TYPING_SHOWN_MS) });
  renderTyping();
}

function typing() {
  const now = Date.now();
  if (!me || !publisher || now - lastTyping < TYPING_EVERY_MS) return;
  lastTyping = now;
  // self: false, we never show ourselves typing. A refusal (no such topic, say) costs the
  // indicator only, never the chat.
  publisher.publish(config.typing, { name: me.name || me.email }, { self: false })
    .catch((err) => console.warn(`typing indicator: ${err.message}`));
}

// --- session ----------------------------------------------------------------------------------

async function enterChat(user) {
  me = user;
  ui.whoami.textContent = user.name || user.email;
  ui.whoami.dataset.userId = user.$id;
  ui.who.hidden = false;
  ui.auth.hidden = true;
  ui.chat.hidden = false;
  showError(ui.chatError, null);

  // Subscribe first, then list, so nothing created in between is missed (rows merge by $id).
  setConnection('connecting');
  realtime = new Realtime(client);
  realtime.onOpen(() => setConnection('live'));
  realtime.onClose(() => setConnection(realtime ? 'reconnecting' : 'offline'));
  realtime.onError((err) => showError(ui.chatError, err));
  const channel = Channel.tablesdb(config.db).table(config.table).row().toString();
  try {
    await realtime.subscribe(channel, onEvent);
    await realtime.subscribe(`topics.${config.typing}`, onTyping);
    const list = await tablesDB.listRows({
      databaseId: config.db,
      tableId: config.table,
      queries: [Query.orderDesc('$createdAt'), Query.limit(100)],
    });
    list.rows.reverse().forEach(upsertRow);
  } catch (err) {
    showError(ui.chatError, err);
  }
  publisher = new TopicPublisher({ endpoint: config.endpoint, project: config.project });
  ui.sendForm.elements.text.focus();
}

function leaveChat() {
  me = null;
  const rt = realtime;
  realtime = null;
  if (rt) rt.disconnect();
  publisher?.close();
  publisher = null;
  for (const id of [...typers.keys()]) stoppedTyping(id);
  setConnection('offline');
  rows.clear();
  ui.list.replaceChildren();
  ui.empty.hidden = false;
  ui.chat.hidden = true;
  ui.who.hidden = true;
  ui.auth.hidden = false;
}

async function withBusy(form, fn) {
  const buttons = form.querySelectorAll('button');
  buttons.forEach((b) => { b.disabled = true; });
  form.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    form.removeAttribute('aria-busy');
  }
}

ui.authForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = ui.authForm;
  const action = e.submitter ? e.submitter.value : 'signin';
  const email = form.elements.email.value.trim();
  const password = form.elements.password.value;
  const name = form.elements.name.value.trim();
  if (!email || password.length < 8) {
    showError(ui.authError, new Error('Enter an email and a password of at least 8 characters.'));
    return;
  }
  showError(ui.authError, null);
  await withBusy(form, async () => {
    try {
      if (action === 'signup') {
        await account.create({ userId: ID.unique(), email, password, name: name || undefined });
      }
      await account.createEmailPasswordSession({ email, password });
      const user = await account.get();
      form.reset();
      await enterChat(user);
    } catch (err) {
      showError(ui.authError, err);
    }
  });
});

ui.signOut.addEventListener('click', async () => {
  try {
    await account.deleteSession({ sessionId: 'current' });
  } catch (err) {
    // The session may already be gone; sign out locally anyway.
  }
  leaveChat();
});

// --- sending ----------------------------------------------------------------------------------

function composer(form, permissions) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = form.elements.text;
    const text = input.value.trim();
    if (!text || !me) return;
    showError(ui.chatError, null);
    await withBusy(form, async () => {
      try {
        const row = await tablesDB.createRow({
          databaseId: config.db,
          tableId: config.table,
          rowId: ID.unique(),
          data: { text, author: me.name || me.email, authorId: me.$id },
          permissions: permissions(),
        });
        upsertRow(row); // the live event for it may come first or later; both merge by $id
        input.value = '';
      } catch (err) {
        showError(ui.chatError, err);
      }
    });
    input.focus();
  });
}

ui.sendForm.elements.text.addEventListener('input', typing);

// A message: every signed-in user may read it.
composer(ui.sendForm, () => [Permission.read(Role.users())]);
// A private note: no permissions, so the server grants read/update/delete to its creator only.
composer(ui.noteForm, () => undefined);

// --- start ------------------------------------------------------------------------------------

try {
  await enterChat(await account.get());
} catch (err) {
  ui.auth.hidden = false;
  if (err.code !== 401) showError(ui.authError, err); // 401 is just "a guest"; anything else is worth showing
}
