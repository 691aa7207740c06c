// The websocket to the server: JSON messages with a "type", dispatch by type, reconnection.
//
// A new connection is a new training session on the server, so `onOpen` handlers resend the
// page's state (main.js does that, and says so when it is a reconnection: the server's network
// starts afresh). A message larger than the server reads is not sent: `onRefused` hears why.

export class Connection {
  constructor(url, { maxBytes = Infinity } = {}) {
    this.url = url;
    this.maxBytes = maxBytes;
    this.refusedHandlers = [];
    this.closeHandlers = [];
    this.opens = 0;
    this.handlers = new Map();
    this.openHandlers = [];
    this.statusHandlers = [];
    this.delay = 500;
    this.ws = null;
    this.closedByPage = false;
  }

  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(fn);
    return this;
  }

  onOpen(fn) { this.openHandlers.push(fn); return this; }

  /** fn(status) with status "connecting" | "open" | "closed" */
  onStatus(fn) { this.statusHandlers.push(fn); return this; }

  /** fn(reason) when a message is not sent: "closed" (no connection) or "too big" */
  onRefused(fn) { this.refusedHandlers.push(fn); return this; }

  /** fn(CloseEvent) when the server closes the connection */
  onClose(fn) { this.closeHandlers.push(fn); return this; }

  get open() { return this.ws !== null && this.ws.readyState === WebSocket.OPEN; }

  /** Send one message; false (and the refused handlers told why) when it cannot go. */
  send(type, fields = {}) {
    if (!this.open) { this.refusedHandlers.forEach(fn => fn({ reason: "closed", type })); return false; }
    const text = JSON.stringify({ type, ...fields });
    if (text.length > this.maxBytes) {
      this.refusedHandlers.forEach(fn => fn({ reason: "too big", type, bytes: text.length, limit: this.maxBytes }));
      return false;
    }
    this.ws.send(text);
    return true;
  }

  connect() {
    this.statusHandlers.forEach(fn => fn("connecting"));
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 500;
      this.opens += 1;
      this.statusHandlers.forEach(fn => fn("open"));
      this.openHandlers.forEach(fn => fn({ reconnected: this.opens > 1 }));
    };
    ws.onmessage = event => {
      let msg;
      try { msg = JSON.parse(event.data); } catch (e) { console.error("bad message", e); return; }
      for (const fn of this.handlers.get(msg.type) || []) {
        try { fn(msg); } catch (e) { console.error(`handler for ${msg.type} failed`, e); }
      }
    };
    ws.onclose = event => {
      if (this.ws !== ws) return;
      this.statusHandlers.forEach(fn => fn("closed"));
      this.closeHandlers.forEach(fn => fn(event));
      if (this.closedByPage) return;
      setTimeout(() => this.connect(), this.delay);  // server restarted or network blip
      this.delay = Math.min(this.delay * 2, 5000);
    };
  }

  close() {
    this.closedByPage = true;
    if (this.ws) this.ws.close();
  }
}
