// Publish to an rtcli topic from a browser. The Appwrite Web SDK subscribes (Realtime.subscribe
// on 'topics.<id>' works as for any channel) but cannot publish: these two functions do, with the
// session the SDK already holds. No dependencies; an ES module.
//
//   import { TopicPublisher, publishOverRest } from './publish.js';
//
//   // Over the realtime socket: one socket of its own, opened on the first publish; each
//   // publish resolves with the acknowledgement { $id, topicId, cursor, $createdAt } (cursor
//   // is null for an ephemeral topic) or rejects with an Error carrying code and type.
//   const topics = new TopicPublisher({ endpoint: 'http://localhost:8787/v1', project: 'default' });
//   await topics.publish('typing', { name: 'Alice' }, { self: false });
//
//   // Over REST, one request per message (same answer):
//   await publishOverRest({ endpoint, project, topic: 'chat', data: { text: 'hi' }, event: 'say' });
//
// Who publishes: the signed-in user. On the same site as the API the browser sends the session
// cookie itself; across sites the SDK keeps the session in localStorage.cookieFallback, which
// these functions send (an `authentication` frame on the socket, the X-Fallback-Cookies header
// over REST), as the SDK does.

const sessionOf = (project) => {
  try {
    return JSON.parse(localStorage.getItem('cookieFallback') || '{}')[`a_session_${project}`] || null;
  } catch {
    return null;
  }
};

const newId = () => Array.from(crypto.getRandomValues(new Uint8Array(10)), (b) => b.toString(16).padStart(2, '0')).join('');

function refusal(data) {
  const err = new Error(data?.message || 'publish refused');
  err.code = data?.code;
  err.type = data?.type;
  return err;
}

export class TopicPublisher {
  constructor({ endpoint, project, session = undefined, timeoutMs = 10_000 }) {
    this.url = `${endpoint.replace(/^http/, 'ws').replace(/\/+$/, '')}/realtime?project=${encodeURIComponent(project)}`;
    this.project = project;
    this.session = session; // a session token; undefined: the SDK's, when it has one
    this.timeoutMs = timeoutMs;
    this.pending = new Map(); // messageId -> { resolve, reject, timer }
    this.ready = null; // a promise of the open, authenticated socket
  }

  // Resolves with the acknowledgement; rejects with the server's refusal (err.code, err.type).
  async publish(topic, data, { event = undefined, self = true, messageId = newId() } = {}) {
    const ws = await this.connect();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.settle(messageId, null, new Error('no acknowledgement in time')), this.timeoutMs);
      this.pending.set(messageId, { resolve, reject, timer });
      ws.send(JSON.stringify({ type: 'publish', data: { topic, data, event, self, messageId } }));
    });
  }

  connect() {
    if (!this.ready) {
      this.ready = new Promise((resolve, reject) => {
        const ws = new WebSocket(this.url);
        ws.onmessage = (e) => this.receive(ws, JSON.parse(e.data), resolve, reject);
        ws.onerror = () => reject(new Error(`cannot connect to ${this.url}`));
        ws.onclose = () => {
          this.ready = null; // the next publish opens a new socket
          for (const id of [...this.pending.keys()]) this.settle(id, null, new Error('the connection closed'));
        };
      });
      this.ready.catch(() => { this.ready = null; });
    }
    return this.ready;
  }

  receive(ws, msg, opened, failed) {
    const data = msg.data || {};
    if (msg.type === 'connected') {
      const token = this.session === undefined ? sessionOf(this.project) : this.session;
      if (data.user || !token) opened(ws); // a cookie made it the user, or it publishes as a guest
      else ws.send(JSON.stringify({ type: 'authentication', data: { session: token } }));
    } else if (msg.type === 'response' && data.to === 'authentication') {
      opened(ws);
    } else if (msg.type === 'response' && data.to === 'publish') {
      this.settle(data.message?.$id, data.message, null);
    } else if (msg.type === 'error' && data.to === 'publish') {
      this.settle(data.messageId, null, refusal(data));
    } else if (msg.type === 'error') {
      failed(refusal(data)); // before it opened: a bad project, origin or session
    }
  }

  settle(messageId, ack, error) {
    const p = this.pending.get(messageId);
    if (!p) return;
    this.pending.delete(messageId);
    clearTimeout(p.timer);
    if (error) p.reject(error);
    else p.resolve(ack);
  }

  close() {
    this.ready?.then((ws) => ws.close(), () => {});
  }
}

export async function publishOverRest({ endpoint, project, topic, data, event = undefined, session = undefined }) {
  const headers = { 'Content-Type': 'application/json', 'X-Appwrite-Project': project };
  const token = session === undefined ? sessionOf(project) : session;
  if (token) headers['X-Fallback-Cookies'] = JSON.stringify({ [`a_session_${project}`]: token });
  const r = await fetch(`${endpoint.replace(/\/+$/, '')}/topics/${encodeURIComponent(topic)}/messages`, {
    method: 'POST', credentials: 'include', headers, body: JSON.stringify({ data, event }),
  });
  const body = await r.json();
  if (!r.ok) throw refusal(body);
  return body;
}
