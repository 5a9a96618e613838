// The connection: IRC over a WebSocket to the page's own host (IRCv3 "text.ircv3.net": one IRC
// line per message), registration with CAP and SASL PLAIN, and reconnecting with backoff.
// Each line that comes in goes to the handler app.js gives onLine (incoming.js). A server that
// says it is restarting is reconnected to; one that says it is shutting down is not.
import { buildLine, parseLine } from "./irc.js";
import { serverRoom } from "./rooms.js";
import { WANTED_CAPS, state } from "./state.js";
import { $, info, renderRoomList, setStatus, showLogin } from "./view.js";

let lineHandler = () => {};

// As farewells.py: an ERROR that says the server comes back, and one that says it is gone.
const COMES_BACK = /\bserver (is )?restarting\b|\bplease reconnect\b/i;
const GONE = /\bshutting down\b/i;

export function onLine(handler) {
  lineHandler = handler;
}

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/`;
}

export function connect() {
  clearTimers();
  state.registered = false;
  state.capsDone = false;
  state.offered = new Map();
  state.caps = new Set();
  state.batches.clear();
  state.farewell = "";
  setStatus("Connecting…");
  let ws;
  try {
    ws = new WebSocket(socketUrl(), ["text.ircv3.net"]);
  } catch (error) {
    onClosed(null);
    return;
  }
  state.ws = ws;
  ws.addEventListener("open", () => {
    sendRaw("CAP LS 302");
    sendRaw(buildLine("NICK", state.nick));
    sendRaw(buildLine("USER", state.nick, "0", "*", "tcpchat web client"));
  });
  ws.addEventListener("message", (event) => {
    if (typeof event.data !== "string") return; // we asked for text frames
    for (const text of event.data.split(/\r?\n/)) if (text) lineHandler(parseLine(text));
  });
  ws.addEventListener("close", () => onClosed(ws));
}

export function sendRaw(line) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(line);
    return true;
  }
  return false;
}

export function send(command, ...params) {
  return sendRaw(buildLine(command, ...params));
}

export function clearTimers() {
  clearTimeout(state.reconnectTimer);
  clearInterval(state.countdownTimer);
  state.reconnectTimer = state.countdownTimer = null;
}

function onClosed(ws) {
  if (ws && ws !== state.ws) return; // an older socket we already gave up on
  state.ws = null;
  const wasRegistered = state.registered;
  state.registered = false;
  for (const room of state.rooms.values()) {
    if (room.kind === "channel" && room.joined) room.wasJoined = true;
    room.joined = false;
  }
  renderRoomList();
  if (state.leaving) return;
  const farewell = state.farewell;
  const restarting = COMES_BACK.test(farewell);
  if (wasRegistered && !restarting && GONE.test(farewell)) {
    // Shut down for good (the operator's quit at the console): no coming back to wait for.
    state.leaving = true;
    info(null, `The server ended the chat: ${farewell}`, "error");
    setStatus("The server ended the chat.", true, { label: "Reconnect", run: reconnectNow });
    return;
  }
  if (!state.everRegistered) {
    showLogin("Could not reach the chat server. Is it running? Try again in a moment.");
    return;
  }
  if (wasRegistered) {
    state.backoff = 0;
    if (!restarting) info(null, "Lost the connection to the server.", "error");
  }
  scheduleReconnect(restarting ? "Server restarting; reconnecting" : "Reconnecting");
}

// The server's ERROR: what it says decides whether to come back (onClosed).
export function onError(msg) {
  state.farewell = msg.params[0] || "";
  if (COMES_BACK.test(state.farewell)) {
    info(null, "The server is restarting; this page reconnects and rejoins your rooms.");
  } else if (!GONE.test(state.farewell)) {
    info(null, "The server closed the connection: " + state.farewell, "error");
  }
}

function reconnectNow() {
  state.leaving = false;
  state.backoff = 0;
  connect();
}

// 1, 2, 4 ... 30 s, each with up to a fifth more or less so that many pages don't come back at once.
function scheduleReconnect(doing) {
  const base = Math.min(30, 2 ** state.backoff);
  state.backoff += 1;
  const delay = base * (0.8 + Math.random() * 0.4);
  const due = Date.now() + delay * 1000;
  const tick = () => {
    const left = Math.max(1, Math.ceil((due - Date.now()) / 1000));
    setStatus(`${doing} in ${left} s…`, true, { label: "Now", run: connect });
  };
  tick();
  state.countdownTimer = setInterval(tick, 1000);
  state.reconnectTimer = setTimeout(connect, delay * 1000);
}

// Close the connection and show the nickname prompt again, with why.
export function stopAndAsk(message) {
  state.leaving = true;
  const ws = state.ws;
  state.ws = null;
  if (ws) {
    if (ws.readyState === WebSocket.OPEN) ws.send("QUIT");
    ws.close();
  }
  clearTimers();
  showLogin(message);
}

// ---------------------------------------------------------------- registration, CAP and SASL

export function onCap(msg) {
  const sub = (msg.params[1] || "").toUpperCase();
  const last = msg.params[msg.params.length - 1] || "";
  if (sub === "LS" || sub === "NEW") {
    for (const item of last.split(" ").filter(Boolean)) {
      const eq = item.indexOf("=");
      state.offered.set(eq < 0 ? item : item.slice(0, eq), eq < 0 ? "" : item.slice(eq + 1));
    }
    const more = msg.params[2] === "*"; // "CAP * LS * :..." says another LS line follows
    if (more) return;
    const wanted = WANTED_CAPS.filter((c) => state.offered.has(c) && !state.caps.has(c));
    if (sub === "LS" && state.password && !state.offered.has("sasl")) {
      info(serverRoom(), "This server offers no account login; you are chatting without logging in.", "error");
    }
    const req = wanted.filter((c) => c !== "sasl" || state.password);
    if (req.length) send("CAP", "REQ", req.join(" "));
    else if (sub === "LS") endCap();
  } else if (sub === "ACK") {
    for (const cap of last.split(" ").filter(Boolean)) {
      if (cap.startsWith("-")) state.caps.delete(cap.slice(1));
      else state.caps.add(cap);
    }
    if (state.capsDone) return;
    if (state.caps.has("sasl") && state.password) send("AUTHENTICATE", "PLAIN");
    else endCap();
  } else if (sub === "NAK") {
    if (!state.capsDone) endCap();
  } else if (sub === "DEL") {
    for (const cap of last.split(" ").filter(Boolean)) {
      state.caps.delete(cap);
      state.offered.delete(cap);
    }
  }
}

export function endCap() {
  if (state.capsDone) return;
  state.capsDone = true;
  sendRaw("CAP END");
}

// SASL PLAIN: base64 of "account\0account\0password", sent in 400-byte pieces.
export function sendSaslPlain() {
  const bytes = new TextEncoder().encode(`${state.nick}\0${state.nick}\0${state.password}`);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  const encoded = btoa(binary);
  for (let i = 0; i < encoded.length; i += 400) send("AUTHENTICATE", encoded.slice(i, i + 400));
  if (encoded.length % 400 === 0) send("AUTHENTICATE", "+");
}

export function onSaslFailed(msg) {
  const why = msg.params[msg.params.length - 1] || "login failed";
  if (state.registered) {
    info(null, why, "error");
    return;
  }
  // Asked to log in: don't chat without the account; ask again.
  stopAndAsk(`Could not log in as ${state.nick}: ${why}`);
}

export function onWelcome(msg) {
  state.registered = true;
  state.everRegistered = true;
  state.backoff = 0;
  state.nickTries = 0;
  state.nick = msg.params[0] || state.nick;
  $("my-nick").textContent = state.nick;
  setStatus("");
  $("login").hidden = true;
  $("app").hidden = false;
  try {
    localStorage.setItem("tcpchat.nick", state.nick);
  } catch (error) {
    // private browsing: nothing to remember the nick in
  }
}

export function onNickError(msg) {
  const wanted = msg.params[1] || state.nick;
  const why = msg.params[msg.params.length - 1];
  if (state.registered) {
    info(null, msg.command === "433" ? `The nickname ${wanted} is taken.` : `You can't be ${wanted}: ${why}`, "error");
    return;
  }
  if (state.everRegistered && msg.command === "433" && state.nickTries < 5) {
    // Reconnecting: our old connection may still hold the nick for a while; take a similar one.
    state.nickTries += 1;
    state.nick = wanted + "_";
    send("NICK", state.nick);
    return;
  }
  stopAndAsk(msg.command === "433"
    ? `The nickname ${wanted} is already taken. Please choose another.`
    : `The nickname ${wanted} can't be used (${why}). Nicknames are letters, digits and -[]\\\`_^{|}.`);
}
