// The websocket to the server: JSON messages with a "type", dispatch by type, reconnection.
//
// A new connection is a new training session on the server, so `onOpen` handlers resend the
// page's state (main.js does that).

export class Connection {
  constructor(url) {
    this.url = url;
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

  get open() { return this.ws !== null && this.ws.readyState === WebSocket.OPEN; }

  send(type, fields = {}) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify({ type, ...fields }));
    return true;
  }

  connect() {
    this.statusHandlers.forEach(fn => fn("connecting"));
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 500;
      this.statusHandlers.forEach(fn => fn("open"));
      this.openHandlers.forEach(fn => fn());
    };
    ws.onmessage = event => {
      let msg;
      try { msg = JSON.parse(event.data); } catch (e) { console.error("bad message", e); return; }
      for (const fn of this.handlers.get(msg.type) || []) {
        try { fn(msg); } catch (e) { console.error(`handler for ${msg.type} failed`, e); }
      }
    };
    ws.onclose = () => {
      this.statusHandlers.forEach(fn => fn("closed"));
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
