// tcpchat web client: IRC over a WebSocket (IRCv3 "text.ircv3.net": one IRC line per message).
// Plain JavaScript, no framework, no build step. Text from the server only ever reaches the
// page through textContent (or an <a> whose href we checked is http/https), never as HTML.
"use strict";

// ---------------------------------------------------------------- IRC lines

const TAG_UNESCAPES = { ":": ";", s: " ", "\\": "\\", r: "\r", n: "\n" };

function unescapeTag(value) {
  // "\:" is ";", "\s" a space...; a backslash before anything else is dropped (IRCv3).
  return value.replace(/\\(.?)/g, (_, c) => (c in TAG_UNESCAPES ? TAG_UNESCAPES[c] : c));
}

function escapeTag(value) {
  return value.replace(/[\\; \r\n]/g, (c) => ({ "\\": "\\\\", ";": "\\:", " ": "\\s", "\r": "\\r", "\n": "\\n" })[c]);
}

// "@a=b;c :nick!user@host CMD p1 p2 :trailing words" -> {tags, source, nick, command, params}
function parseLine(line) {
  const msg = { tags: {}, source: "", nick: "", command: "", params: [] };
  let rest = line.replace(/[\r\n]+$/, "");
  if (rest.startsWith("@")) {
    const space = rest.indexOf(" ");
    const raw = space < 0 ? rest.slice(1) : rest.slice(1, space);
    rest = space < 0 ? "" : rest.slice(space + 1);
    for (const item of raw.split(";")) {
      if (!item) continue;
      const eq = item.indexOf("=");
      if (eq < 0) msg.tags[item] = "";
      else msg.tags[item.slice(0, eq)] = unescapeTag(item.slice(eq + 1));
    }
  }
  rest = rest.replace(/^ +/, "");
  if (rest.startsWith(":")) {
    const space = rest.indexOf(" ");
    msg.source = space < 0 ? rest.slice(1) : rest.slice(1, space);
    rest = space < 0 ? "" : rest.slice(space + 1);
    msg.nick = msg.source.split("!")[0].split("@")[0];
  }
  while (rest.length) {
    rest = rest.replace(/^ +/, "");
    if (!rest.length) break;
    if (rest.startsWith(":")) {
      msg.params.push(rest.slice(1));
      break;
    }
    const space = rest.indexOf(" ");
    if (space < 0) {
      msg.params.push(rest);
      break;
    }
    msg.params.push(rest.slice(0, space));
    rest = rest.slice(space + 1);
  }
  msg.command = (msg.params.shift() || "").toUpperCase();
  return msg;
}

// buildLine("PRIVMSG", "#a", "hi there") -> "PRIVMSG #a :hi there". Line breaks never go out.
function buildLine(command, ...params) {
  const clean = params.filter((p) => p !== undefined && p !== null).map((p) => String(p).replace(/[\r\n\0]+/g, " "));
  const last = clean.length - 1;
  const parts = clean.map((p, i) => (i === last && (p === "" || p.includes(" ") || p.startsWith(":")) ? ":" + p : p));
  return [command, ...parts].join(" ");
}

// Nicks and channels compare under CASEMAPPING=rfc1459: []\~ are the capitals of {}|^.
function fold(name) {
  return name.toLowerCase().replace(/[[\]\\~]/g, (c) => ({ "[": "{", "]": "}", "\\": "|", "~": "^" })[c]);
}

// ---------------------------------------------------------------- state

const WANTED_CAPS = [
  "sasl", "server-time", "message-tags", "echo-message", "batch", "draft/chathistory",
  "multi-prefix", "away-notify", "account-notify", "extended-join",
];
const DEFAULT_ROOM = "#lobby";
const HISTORY_PAGE = 50;
const SERVER_TAB = "*server*";

const state = {
  ws: null,
  nick: "",
  password: "",
  registered: false,
  everRegistered: false,
  leaving: false, // the person asked to quit: no reconnecting
  offered: new Map(), // capability -> value, from CAP LS
  caps: new Set(), // acknowledged
  capsDone: false,
  isupport: { prefixModes: "ov", prefixSymbols: "@+", chantypes: "#&", chanmodes: ["beI", "k", "l", "imnpst"] },
  rooms: new Map(), // folded name -> room
  current: null,
  batches: new Map(), // ref -> {type, params, lines}
  backoff: 0,
  reconnectTimer: null,
  countdownTimer: null,
  nickTries: 0,
  sentHistory: [],
  historyIndex: 0,
};

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function isChannel(name) {
  return name.length > 0 && state.isupport.chantypes.includes(name[0]);
}

// ---------------------------------------------------------------- rooms

function getRoom(name, kind) {
  const key = fold(name);
  let room = state.rooms.get(key);
  if (!room) {
    room = {
      key, name, kind: kind || (isChannel(name) ? "channel" : "query"),
      joined: false, members: new Map(), pendingNames: null, showNames: false,
      topic: "", unread: 0, mention: false, msgids: new Set(),
      view: el("div", "room-view"), historyLoading: false, historyDone: false, scrollTop: null,
    };
    state.rooms.set(key, room);
    renderRoomList();
  }
  return room;
}

function findRoom(name) {
  return state.rooms.get(fold(name)) || null;
}

function serverRoom() {
  return getRoom(SERVER_TAB, "server");
}

function switchTo(room) {
  if (state.current && state.current !== room) state.current.scrollTop = $("messages").scrollTop;
  state.current = room;
  room.unread = 0;
  room.mention = false;
  const box = $("messages");
  box.replaceChildren(room.view);
  box.scrollTop = room.scrollTop === null ? box.scrollHeight : room.scrollTop;
  renderHeader();
  renderRoomList();
  renderMembers();
  $("app").classList.remove("show-rooms", "show-members");
  maybeLoadOlder();
}

function closeRoom(room) {
  if (room.kind === "channel" && room.joined) send("PART", room.name);
  state.rooms.delete(room.key);
  if (state.current === room) {
    const next = findRoom(DEFAULT_ROOM) || [...state.rooms.values()][0] || serverRoom();
    switchTo(next);
  }
  renderRoomList();
}

function roomLabel(room) {
  return room.kind === "server" ? "Server" : room.name;
}

function renderRoomList() {
  const list = $("room-list");
  const order = { server: 0, channel: 1, query: 2 };
  const rooms = [...state.rooms.values()].sort((a, b) => order[a.kind] - order[b.kind] || a.key.localeCompare(b.key));
  let total = 0;
  list.replaceChildren(...rooms.map((room) => {
    total += room.unread;
    const item = el("li", "room");
    if (room === state.current) item.classList.add("current");
    if (room.kind === "channel" && !room.joined) item.classList.add("parted");
    item.append(el("span", "room-name", roomLabel(room)));
    if (room.unread) item.append(el("span", room.mention ? "badge mention" : "badge", String(room.unread)));
    if (room.kind !== "server") {
      const close = el("button", "room-close", "×");
      close.type = "button";
      close.title = room.kind === "channel" ? "Leave " + room.name : "Close";
      close.addEventListener("click", (event) => {
        event.stopPropagation();
        closeRoom(room);
      });
      item.append(close);
    }
    item.addEventListener("click", () => switchTo(room));
    return item;
  }));
  const badge = $("unread-total");
  badge.hidden = total === 0;
  badge.textContent = String(total);
  document.title = total ? `(${total}) tcpchat` : "tcpchat";
}

function renderHeader() {
  const room = state.current;
  $("room-name").textContent = room ? roomLabel(room) : "tcpchat";
  const topic = $("room-topic");
  topic.replaceChildren();
  if (room && room.topic) topic.append(formatText(room.topic));
  topic.title = room ? stripFormatting(room.topic) : "";
  $("toggle-members").hidden = !room || room.kind !== "channel";
}

function memberRank(member) {
  const symbols = state.isupport.prefixSymbols;
  for (let i = 0; i < symbols.length; i++) if (member.prefixes.includes(symbols[i])) return i;
  return symbols.length;
}

function renderMembers() {
  const room = state.current;
  const aside = $("members");
  const isChan = room && room.kind === "channel";
  aside.classList.toggle("empty", !isChan);
  const members = isChan ? [...room.members.values()] : [];
  members.sort((a, b) => memberRank(a) - memberRank(b) || fold(a.nick).localeCompare(fold(b.nick)));
  $("member-count").textContent = isChan ? `${members.length} ${members.length === 1 ? "person" : "people"}` : "";
  $("member-list").replaceChildren(...members.map((m) => {
    const item = el("li", "member");
    if (m.away) item.classList.add("away");
    item.title = m.away ? `${m.nick} is away` : `Talk to ${m.nick} privately`;
    const rank = memberRank(m);
    item.append(el("span", "prefix", rank < state.isupport.prefixSymbols.length ? state.isupport.prefixSymbols[rank] : ""));
    item.append(el("span", "nick " + nickClass(m.nick), m.nick));
    item.addEventListener("click", () => switchTo(getRoom(m.nick, "query")));
    return item;
  }));
}

function membersChanged(room) {
  if (room === state.current) renderMembers();
}

// ---------------------------------------------------------------- text: formatting and links

// Nick colours: a small hash of the nick picks one of twelve classes (themed in style.css).
function nickClass(nick) {
  let h = 0;
  for (const c of fold(nick)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return "n" + (h % 12);
}

const FORMAT_RE = /\x02|\x1d|\x1f|\x1e|\x11|\x16|\x0f|\x03(\d{1,2})?(?:,(\d{1,2}))?|\x04(?:[0-9a-fA-F]{6})?(?:,[0-9a-fA-F]{6})?/g;

function stripFormatting(text) {
  return (text || "").replace(FORMAT_RE, "");
}

// IRC text -> DOM nodes: formatting codes become classed spans, links become <a>, the rest text.
function formatText(text) {
  const out = document.createDocumentFragment();
  const style = { b: false, i: false, u: false, s: false, m: false, fg: null, bg: null };
  let last = 0;
  const flush = (end) => {
    if (end > last) out.append(styled(text.slice(last, end), style));
  };
  for (const match of text.matchAll(FORMAT_RE)) {
    flush(match.index);
    last = match.index + match[0].length;
    const code = match[0][0];
    if (code === "\x02") style.b = !style.b;
    else if (code === "\x1d") style.i = !style.i;
    else if (code === "\x1f") style.u = !style.u;
    else if (code === "\x1e") style.s = !style.s;
    else if (code === "\x11") style.m = !style.m;
    else if (code === "\x0f") Object.assign(style, { b: false, i: false, u: false, s: false, m: false, fg: null, bg: null });
    else if (code === "\x03") {
      // \x03 alone resets colours; 99 means "default"; 16-98 are extended colours we leave out.
      if (match[1] === undefined) style.fg = style.bg = null;
      else {
        style.fg = colourIndex(match[1]);
        if (match[2] !== undefined) style.bg = colourIndex(match[2]);
      }
    }
    // \x16 (reverse) and \x04 (hex colours) are dropped.
  }
  flush(text.length);
  return out;
}

function colourIndex(digits) {
  const n = parseInt(digits, 10);
  return n >= 0 && n < 16 ? n : null;
}

function styled(text, style) {
  const classes = [];
  for (const flag of ["b", "i", "u", "s", "m"]) if (style[flag]) classes.push("f-" + flag);
  if (style.fg !== null) classes.push("fg" + style.fg);
  if (style.bg !== null) classes.push("bg" + style.bg);
  const nodes = linkify(text);
  if (!classes.length) return nodes;
  const span = el("span", classes.join(" "));
  span.append(nodes);
  return span;
}

const URL_RE = /\bhttps?:\/\/[^\s<>"'`\x00-\x1f]+/gi;

function linkify(text) {
  const out = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let url = match[0];
    // Leave out punctuation that ends a sentence, and a ")" closing a parenthesis around the link.
    url = url.replace(/[.,;:!?]+$/, "");
    if (url.endsWith(")") && !url.includes("(")) url = url.slice(0, -1);
    if (match.index > last) out.append(document.createTextNode(text.slice(last, match.index)));
    const a = el("a", "", url);
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    out.append(a);
    last = match.index + url.length;
  }
  if (last < text.length) out.append(document.createTextNode(text.slice(last)));
  return out;
}

// ---------------------------------------------------------------- the message view

function lineTime(tags) {
  const parsed = tags && tags.time ? Date.parse(tags.time) : NaN;
  return Number.isNaN(parsed) ? Date.now() : parsed;
}

function formatTime(ms) {
  const date = new Date(ms);
  const hm = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const today = new Date().toDateString() === date.toDateString();
  return today ? hm : date.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + hm;
}

// One line of the view. parts: {time, kind, nick, text, msgid, history, action, self, mention}
function makeLine(parts) {
  const line = el("div", "line " + (parts.kind || "message"));
  line.dataset.time = String(parts.time);
  if (parts.msgid) line.dataset.msgid = parts.msgid;
  if (parts.history) line.classList.add("history");
  if (parts.mention) line.classList.add("mention");
  const time = el("span", "time", formatTime(parts.time));
  time.title = new Date(parts.time).toLocaleString();
  const body = el("span", "body");
  if (parts.kind === "message" || parts.kind === "notice") {
    if (parts.action) {
      body.append("* ", el("span", "nick " + nickClass(parts.nick), parts.nick), " ");
    } else {
      const who = parts.kind === "notice" ? `-${parts.nick}-` : `${parts.nick}:`;
      body.append(el("span", "nick " + nickClass(parts.nick), who), " ");
    }
  }
  body.append(formatText(parts.text));
  line.append(time, body);
  return line;
}

function nearBottom(box) {
  return box.scrollHeight - box.scrollTop - box.clientHeight < 40;
}

// Show a line in a room. Returns false when its msgid is already shown there.
function show(room, parts) {
  if (parts.msgid) {
    if (room.msgids.has(parts.msgid)) return false;
    room.msgids.add(parts.msgid);
  }
  parts.time = parts.time || Date.now();
  const line = makeLine(parts);
  const box = $("messages");
  const visible = room === state.current;
  const stick = visible && nearBottom(box);
  if (parts.append) room.view.append(line);
  else insertByTime(room.view, line, parts.time);
  if (visible && stick) box.scrollTop = box.scrollHeight;
  const counts = parts.kind === "message" || (parts.kind === "notice" && room.kind !== "server");
  if (counts && !parts.history && !parts.self && (!visible || document.hidden)) {
    room.unread += 1;
    room.mention = room.mention || parts.mention || room.kind === "query";
    renderRoomList();
  }
  return true;
}

// Lines normally arrive in order and go at the end; history fills in older places.
function insertByTime(view, line, time) {
  let before = null;
  for (let node = view.lastElementChild; node; node = node.previousElementSibling) {
    if (node.dataset.time === undefined) continue;
    if (Number(node.dataset.time) <= time) break;
    before = node;
  }
  if (before && before.previousElementSibling && before.previousElementSibling.classList.contains("marker")) {
    before = before.previousElementSibling;
  }
  view.insertBefore(line, before);
}

function info(room, text, kind) {
  show(room || state.current || serverRoom(), { kind: kind || "info", text });
}

function setStatus(text, problem, action) {
  const status = $("status");
  status.classList.toggle("problem", Boolean(problem));
  status.replaceChildren(text || "");
  if (action) {
    const button = el("button", "", action.label);
    button.type = "button";
    button.addEventListener("click", action.run);
    status.append(button);
  }
}

// ---------------------------------------------------------------- connection

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/`;
}

function connect() {
  clearTimers();
  state.registered = false;
  state.capsDone = false;
  state.offered = new Map();
  state.caps = new Set();
  state.batches.clear();
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
    for (const text of event.data.split(/\r?\n/)) if (text) handleLine(parseLine(text));
  });
  ws.addEventListener("close", () => onClosed(ws));
}

function sendRaw(line) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(line);
    return true;
  }
  return false;
}

function send(command, ...params) {
  return sendRaw(buildLine(command, ...params));
}

function clearTimers() {
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
  if (!state.everRegistered) {
    showLogin("Could not reach the chat server. Is it running? Try again in a moment.");
    return;
  }
  if (wasRegistered) {
    state.backoff = 0;
    info(null, "Lost the connection to the server.", "error");
  }
  scheduleReconnect();
}

// 1, 2, 4 ... 30 s, each with up to a fifth more or less so that many pages don't come back at once.
function scheduleReconnect() {
  const base = Math.min(30, 2 ** state.backoff);
  state.backoff += 1;
  const delay = base * (0.8 + Math.random() * 0.4);
  const due = Date.now() + delay * 1000;
  const tick = () => {
    const left = Math.max(1, Math.ceil((due - Date.now()) / 1000));
    setStatus(`Reconnecting in ${left} s…`, true, { label: "Now", run: connect });
  };
  tick();
  state.countdownTimer = setInterval(tick, 1000);
  state.reconnectTimer = setTimeout(connect, delay * 1000);
}

// ---------------------------------------------------------------- registration, CAP and SASL

function onCap(msg) {
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

function endCap() {
  if (state.capsDone) return;
  state.capsDone = true;
  sendRaw("CAP END");
}

// SASL PLAIN: base64 of "account\0account\0password", sent in 400-byte pieces.
function sendSaslPlain() {
  const bytes = new TextEncoder().encode(`${state.nick}\0${state.nick}\0${state.password}`);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  const encoded = btoa(binary);
  for (let i = 0; i < encoded.length; i += 400) send("AUTHENTICATE", encoded.slice(i, i + 400));
  if (encoded.length % 400 === 0) send("AUTHENTICATE", "+");
}

function onWelcome(msg) {
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

// After the MOTD (376) or its absence (422): join #lobby the first time, the open rooms after.
function joinRooms() {
  if (state.joinedOnce && state.joinedOnce === state.ws) return;
  state.joinedOnce = state.ws;
  const names = [...state.rooms.values()].filter((r) => r.kind === "channel" && (r.wasJoined || r.joined)).map((r) => r.name);
  if (!names.length) names.push(DEFAULT_ROOM);
  state.switchOnJoin = state.current && state.current.kind !== "server" ? state.current.key : fold(names[0]);
  send("JOIN", names.join(","));
  if (!state.current) switchTo(serverRoom());
  info(serverRoom(), `Connected as ${state.nick}.`);
}

function onNickError(msg) {
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

function stopAndAsk(message) {
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

// ---------------------------------------------------------------- incoming lines

// Lines inside a batch wait for its end (chathistory and search are shown as blocks).
function handleLine(msg) {
  const ref = msg.tags.batch;
  if (ref && state.batches.has(ref) && msg.command !== "BATCH") {
    state.batches.get(ref).lines.push(msg);
    return;
  }
  dispatch(msg);
}

function dispatch(msg, context) {
  const handler = HANDLERS[msg.command];
  if (handler) handler(msg, context || {});
  else if (/^\d{3}$/.test(msg.command)) onNumeric(msg);
}

const HANDLERS = {
  PING: (msg) => send("PONG", ...msg.params),
  CAP: onCap,
  AUTHENTICATE: (msg) => {
    if (msg.params[0] === "+") sendSaslPlain();
  },
  "001": (msg) => {
    onWelcome(msg);
    onNumeric(msg);
  },
  "005": (msg) => {
    onIsupport(msg);
  },
  "376": (msg) => {
    onNumeric(msg);
    joinRooms();
  },
  "422": () => joinRooms(),
  "432": onNickError,
  "433": onNickError,
  "900": (msg) => info(serverRoom(), msg.params[msg.params.length - 1]),
  "903": () => {
    if (!state.registered) endCap();
  },
  "904": onSaslFailed,
  "905": onSaslFailed,
  "906": onSaslFailed,
  "902": onSaslFailed,
  "908": () => {},
  BATCH: onBatch,
  JOIN: onJoin,
  PART: onPart,
  KICK: onKick,
  QUIT: onQuit,
  NICK: onNick,
  MODE: onMode,
  TOPIC: onTopic,
  PRIVMSG: onMessage,
  NOTICE: onMessage,
  AWAY: onAway,
  ACCOUNT: () => {},
  ERROR: (msg) => info(null, "The server closed the connection: " + (msg.params[0] || ""), "error"),
  FAIL: onStandardReply,
  WARN: onStandardReply,
  NOTE: onStandardReply,
  "353": onNames,
  "366": onEndOfNames,
  "331": (msg) => setTopic(msg.params[1], "", false),
  "332": (msg) => setTopic(msg.params[1], msg.params[2] || "", true),
  "333": () => {},
  "324": (msg) => info(null, `Modes of ${msg.params[1]}: ${msg.params.slice(2).join(" ")}`),
  "352": (msg) => {
    // WHO: "me #room user host server nick flags :hops realname"
    const [, channel, user, host, , nick, flags, tail] = msg.params;
    const realname = (tail || "").replace(/^\d+ /, "");
    info(null, `${nick} (${user}@${host}) ${flags} ${channel !== "*" ? channel : ""} — ${realname}`);
  },
  "311": (msg) => info(null, `${msg.params[1]} is ${msg.params[2]}@${msg.params[3]} (${msg.params[5] || ""})`),
  "319": (msg) => info(null, `${msg.params[1]} is in ${msg.params[2]}`),
  "330": (msg) => info(null, `${msg.params[1]} is logged in as ${msg.params[2]}`),
  "301": (msg) => info(null, `${msg.params[1]} is away: ${msg.params[2] || ""}`),
  "317": (msg) => info(null, `${msg.params[1]} has been idle ${msg.params[2]} s`),
};

function onSaslFailed(msg) {
  const why = msg.params[msg.params.length - 1] || "login failed";
  if (state.registered) {
    info(null, why, "error");
    return;
  }
  // Asked to log in: don't chat without the account; ask again.
  stopAndAsk(`Could not log in as ${state.nick}: ${why}`);
}

// Welcome and MOTD lines go to the server tab; replies to what you did, to the room you are in.
const SERVER_TAB_NUMERICS = new Set([
  "001", "002", "003", "004", "005", "250", "251", "252", "253", "254", "255", "265", "266",
  "372", "375", "376", "396",
]);
const QUIET_NUMERICS = new Set(["315", "318", "329", "369", "004", "005"]);

function onNumeric(msg) {
  if (QUIET_NUMERICS.has(msg.command)) return;
  const text = msg.params.slice(1).join(" ");
  const room = SERVER_TAB_NUMERICS.has(msg.command) || !state.registered ? serverRoom() : state.current;
  const error = msg.command[0] === "4" || msg.command[0] === "5";
  info(room, text, error ? "error" : "info");
}

function onStandardReply(msg) {
  const text = msg.params[msg.params.length - 1] || msg.params.join(" ");
  info(null, `${msg.command === "FAIL" ? "Failed" : msg.command === "WARN" ? "Warning" : "Note"}: ${text}`,
    msg.command === "FAIL" ? "error" : "info");
}

function onIsupport(msg) {
  for (const token of msg.params.slice(1, -1)) {
    const [key, value = ""] = token.split("=");
    if (key === "PREFIX") {
      const m = /^\(([^)]*)\)(.*)$/.exec(value);
      if (m) Object.assign(state.isupport, { prefixModes: m[1], prefixSymbols: m[2] });
    } else if (key === "CHANTYPES") state.isupport.chantypes = value;
    else if (key === "CHANMODES") state.isupport.chanmodes = value.split(",");
  }
}

function isMe(nick) {
  return fold(nick) === fold(state.nick);
}

// Which room a PRIVMSG/NOTICE belongs to: the channel, or the conversation with the other person.
function roomForMessage(msg, target, context) {
  if (context.target) return getRoom(context.target);
  const bare = target.replace(new RegExp("^[" + escapeRegExp(state.isupport.prefixSymbols) + "]+"), "");
  if (isChannel(bare)) return getRoom(bare);
  if (!msg.nick || !msg.source.includes("!") || target === "*") return null; // the server speaking
  return getRoom(isMe(msg.nick) ? target : msg.nick, "query");
}

function escapeRegExp(text) {
  return text.replace(/[\\^$.*+?()[\]{}|-]/g, "\\$&");
}

function onMessage(msg, context) {
  const [target = "", text = ""] = msg.params;
  const notice = msg.command === "NOTICE";
  let room = roomForMessage(msg, target, context);
  if (!room) {
    // Server notices (and notices before we are registered) go to the server tab.
    const where = state.registered && state.current ? state.current : serverRoom();
    show(where, { kind: "notice", nick: msg.nick || "server", text, time: lineTime(msg.tags), msgid: msg.tags.msgid });
    return;
  }
  let body = text;
  let action = false;
  if (body.startsWith("\x01")) {
    const inner = body.replace(/^\x01|\x01$/g, "");
    if (inner.toUpperCase().startsWith("ACTION ") || inner.toUpperCase() === "ACTION") {
      action = true;
      body = inner.slice(7);
    } else {
      return; // other CTCP requests (VERSION, PING...) are not for people
    }
  }
  const self = isMe(msg.nick);
  const mention = !self && !context.history && new RegExp("(^|\\W)" + escapeRegExp(state.nick) + "(\\W|$)", "i").test(body);
  show(room, {
    kind: notice ? "notice" : "message", nick: msg.nick, text: body, action, self, mention,
    time: lineTime(msg.tags), msgid: msg.tags.msgid, history: context.history,
  });
}

function onJoin(msg, context) {
  const name = msg.params[0];
  const room = getRoom(name, "channel");
  const time = lineTime(msg.tags);
  if (isMe(msg.nick) && !context.history) {
    room.joined = true;
    room.wasJoined = false;
    room.members.clear();
    room.historyDone = false;
    renderRoomList();
    if (state.switchOnJoin === room.key || state.current === null || state.current.kind === "server") {
      state.switchOnJoin = null;
      switchTo(room);
    }
    show(room, { kind: "event", text: `You joined ${room.name}.`, time });
    requestLatest(room);
    return;
  }
  if (!context.history) room.members.set(fold(msg.nick), { nick: msg.nick, prefixes: "", away: false });
  show(room, { kind: "event", text: `→ ${msg.nick} joined.`, time, history: context.history, msgid: msg.tags.msgid });
  membersChanged(room);
}

function onPart(msg, context) {
  const room = findRoom(msg.params[0]);
  if (!room) return;
  const reason = msg.params[1] ? ` (${msg.params[1]})` : "";
  if (isMe(msg.nick) && !context.history) {
    room.joined = false;
    room.members.clear();
    show(room, { kind: "event", text: `You left ${room.name}.`, time: lineTime(msg.tags) });
    renderRoomList();
  } else {
    room.members.delete(fold(msg.nick));
    show(room, { kind: "event", text: `← ${msg.nick} left${reason}.`, time: lineTime(msg.tags), history: context.history });
  }
  membersChanged(room);
}

function onKick(msg, context) {
  const [channel, victim, reason] = msg.params;
  const room = findRoom(channel);
  if (!room) return;
  const why = reason ? ` (${reason})` : "";
  if (isMe(victim) && !context.history) {
    room.joined = false;
    room.members.clear();
    show(room, { kind: "error", text: `${msg.nick} put you out of ${channel}${why}.`, time: lineTime(msg.tags) });
    renderRoomList();
  } else {
    room.members.delete(fold(victim));
    show(room, { kind: "event", text: `← ${msg.nick} put ${victim} out${why}.`, time: lineTime(msg.tags), history: context.history });
  }
  membersChanged(room);
}

function onQuit(msg) {
  const reason = msg.params[0] ? ` (${msg.params[0]})` : "";
  const key = fold(msg.nick);
  for (const room of state.rooms.values()) {
    if (room.members.delete(key) || (room.kind === "query" && room.key === key)) {
      show(room, { kind: "event", text: `← ${msg.nick} quit${reason}.`, time: lineTime(msg.tags) });
      membersChanged(room);
    }
  }
}

function onNick(msg) {
  const old = msg.nick;
  const now = msg.params[0];
  const key = fold(old);
  const text = isMe(old) ? `You are now known as ${now}.` : `${old} is now known as ${now}.`;
  if (isMe(old)) {
    state.nick = now;
    $("my-nick").textContent = now;
  }
  for (const room of [...state.rooms.values()]) {
    const member = room.members.get(key);
    if (member) {
      room.members.delete(key);
      member.nick = now;
      room.members.set(fold(now), member);
    }
    if (room.kind === "query" && room.key === key) {
      // The conversation follows the person to their new nick.
      state.rooms.delete(room.key);
      room.key = fold(now);
      room.name = now;
      state.rooms.set(room.key, room);
    }
    if (member || room.key === fold(now) || (isMe(now) && room.kind === "server")) {
      show(room, { kind: "event", text, time: lineTime(msg.tags) });
      membersChanged(room);
    }
  }
  renderRoomList();
  renderHeader();
}

// MODE #room +o-v alice bob: walk the letters, taking an argument for the modes that have one.
function onMode(msg) {
  const [target, ...rest] = msg.params;
  if (!isChannel(target)) return;
  const room = findRoom(target);
  if (!room) return;
  const { prefixModes, prefixSymbols, chanmodes } = state.isupport;
  const args = rest.slice(1);
  let adding = true;
  for (const letter of rest[0] || "") {
    if (letter === "+" || letter === "-") {
      adding = letter === "+";
      continue;
    }
    const rank = prefixModes.indexOf(letter);
    const takesArg = rank >= 0 || (chanmodes[0] || "").includes(letter) || (chanmodes[1] || "").includes(letter)
      || (adding && (chanmodes[2] || "").includes(letter));
    const arg = takesArg ? args.shift() : undefined;
    if (rank < 0 || arg === undefined) continue;
    const member = room.members.get(fold(arg));
    if (!member) continue;
    const symbol = prefixSymbols[rank];
    member.prefixes = member.prefixes.replace(symbol, "");
    if (adding) member.prefixes += symbol;
  }
  show(room, { kind: "event", text: `${msg.nick || msg.source} sets mode ${rest.join(" ")}`, time: lineTime(msg.tags) });
  membersChanged(room);
}

function setTopic(channel, topic, announce) {
  const room = findRoom(channel || "");
  if (!room) return;
  room.topic = topic;
  if (room === state.current) renderHeader();
  if (announce || room.showTopic) show(room, { kind: "event", text: topic ? `Topic: ${topic}` : "No topic is set." });
  room.showTopic = false;
}

function onTopic(msg) {
  const [channel, topic = ""] = msg.params;
  setTopic(channel, topic, false);
  const room = findRoom(channel);
  if (room) show(room, { kind: "event", text: `${msg.nick} set the topic: ${topic}`, time: lineTime(msg.tags) });
}

function onAway(msg) {
  const key = fold(msg.nick);
  for (const room of state.rooms.values()) {
    const member = room.members.get(key);
    if (member) {
      member.away = msg.params.length > 0;
      membersChanged(room);
    }
  }
}

// 353 "me = #room :@alice +bob carol": names arrive in pieces, replaced at the 366.
function onNames(msg) {
  const channel = msg.params[2];
  const room = findRoom(channel || "");
  if (!room) {
    info(null, `${channel}: ${msg.params[3] || ""}`);
    return;
  }
  room.pendingNames = room.pendingNames || new Map();
  const symbols = state.isupport.prefixSymbols;
  for (const word of (msg.params[3] || "").split(" ").filter(Boolean)) {
    let i = 0;
    while (i < word.length && symbols.includes(word[i])) i++;
    const nick = word.slice(i).split("!")[0];
    room.pendingNames.set(fold(nick), { nick, prefixes: word.slice(0, i), away: false });
  }
}

function onEndOfNames(msg) {
  for (const name of (msg.params[1] || "").split(",")) {
    const room = findRoom(name);
    if (!room || !room.pendingNames) continue;
    for (const [key, member] of room.pendingNames) {
      const known = room.members.get(key);
      if (known) member.away = known.away;
    }
    room.members = room.pendingNames;
    room.pendingNames = null;
    if (room.showNames) {
      room.showNames = false;
      const list = [...room.members.values()].map((m) => m.prefixes.slice(0, 1) + m.nick).sort();
      info(room, `People in ${room.name}: ${list.join(", ")}`);
    }
    membersChanged(room);
  }
}

// ---------------------------------------------------------------- batches and history

function onBatch(msg) {
  const ref = msg.params[0] || "";
  if (ref.startsWith("+")) {
    const batch = { type: msg.params[1] || "", params: msg.params.slice(2), lines: [], tags: msg.tags };
    // A batch inside a batch (a multiline message in history) is kept with its parent.
    state.batches.set(ref.slice(1), batch);
    return;
  }
  const batch = state.batches.get(ref.slice(1));
  state.batches.delete(ref.slice(1));
  if (!batch) return;
  if (batch.type === "chathistory") {
    // Which request a batch answers: a BEFORE we sent for that room (one at a time per room).
    if (state.pendingBefore === fold(batch.params[0] || "")) {
      batch.before = true;
      state.pendingBefore = null;
    }
    endHistoryBatch(batch);
  }
  else if (batch.type === "search") showSearchResults(batch);
  else for (const line of batch.lines) dispatch(line);
}

function requestLatest(room) {
  if (!state.caps.has("draft/chathistory")) return;
  // After a reconnect, only what came after the newest line we have.
  const newest = [...room.view.querySelectorAll("[data-msgid]")].pop();
  const ref = newest ? "msgid=" + newest.dataset.msgid : "*";
  room.historyLoading = true;
  send("CHATHISTORY", "LATEST", room.name, ref, String(HISTORY_PAGE));
}

function oldestMsgid(room) {
  const first = room.view.querySelector("[data-msgid]");
  return first ? first.dataset.msgid : null;
}

function endHistoryBatch(batch) {
  const room = getRoom(batch.params[0] || SERVER_TAB);
  const box = $("messages");
  const visible = room === state.current;
  const atBottom = visible && nearBottom(box);
  const heightBefore = box.scrollHeight;
  const topBefore = box.scrollTop;
  for (const line of batch.lines) dispatch(line, { history: true, target: room.name });
  room.historyLoading = false;
  if (batch.before && batch.lines.length < HISTORY_PAGE) {
    room.historyDone = true;
    room.view.prepend(el("div", "marker", "The beginning of what the server kept."));
  }
  if (visible) {
    // Keep what the reader was looking at in place when older lines go in above it.
    box.scrollTop = atBottom ? box.scrollHeight : topBefore + (box.scrollHeight - heightBefore);
  }
}

// Scrolled to the top: ask for the page before the oldest line shown.
function maybeLoadOlder() {
  const room = state.current;
  const box = $("messages");
  if (!room || room.kind === "server" || box.scrollTop > 60) return;
  if (!state.caps.has("draft/chathistory") || room.historyLoading || room.historyDone) return;
  if (room.kind === "channel" && !room.joined) return;
  const msgid = oldestMsgid(room);
  if (!msgid) return;
  room.historyLoading = true;
  state.pendingBefore = room.key;
  send("CHATHISTORY", "BEFORE", room.name, "msgid=" + msgid, String(HISTORY_PAGE));
}

function showSearchResults(batch) {
  const room = state.current || serverRoom();
  info(room, batch.lines.length ? `Found ${batch.lines.length} message(s):` : "Nothing found.");
  for (const msg of batch.lines) {
    const where = isChannel(msg.params[0] || "") ? msg.params[0] + " " : "";
    let text = msg.params[1] || "";
    if (text.startsWith("\x01ACTION ")) text = `* ${msg.nick} ${text.slice(8).replace(/\x01$/, "")}`;
    else text = `${msg.nick}: ${text}`;
    show(room, { kind: "info", text: where + text, time: lineTime(msg.tags), append: true });
  }
}

// ---------------------------------------------------------------- sending messages

// Cut a long message into pieces of at most `limit` UTF-8 bytes, at a space when there is one.
function chunkText(text, limit) {
  const encoder = new TextEncoder();
  const pieces = [];
  let rest = text;
  while (encoder.encode(rest).length > limit) {
    let cut = 0;
    let bytes = 0;
    for (const ch of rest) {
      bytes += encoder.encode(ch).length;
      if (bytes > limit) break;
      cut += ch.length;
    }
    const space = rest.lastIndexOf(" ", cut);
    if (space > cut / 2) cut = space + 1;
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest) pieces.push(rest);
  return pieces;
}

function say(target, text, action) {
  if (!state.registered) {
    info(null, "Not connected to the server right now; that was not sent.", "error");
    return;
  }
  const room = isChannel(target) ? findRoom(target) || getRoom(target) : getRoom(target, "query");
  for (const piece of chunkText(text, action ? 380 : 400)) {
    send("PRIVMSG", target, action ? `\x01ACTION ${piece}\x01` : piece);
    // With echo-message the server's copy is shown when it comes back, with its time and msgid.
    if (!state.caps.has("echo-message")) show(room, { kind: "message", nick: state.nick, text: piece, action, self: true });
  }
}

// ---------------------------------------------------------------- slash commands

const HELP = [
  "/join #room [key] — join a room (and switch to it)",
  "/part [#room] [reason] — leave a room",
  "/msg nick text — private message; /query nick — open a conversation",
  "/me action — * you do something",
  "/nick name — change your nickname",
  "/topic [#room] [text] — show or set the topic",
  "/names [#room], /who [#room|nick], /whois nick, /list — who is where",
  "/away [message] — mark yourself away, or back",
  "/history [N] — load the last N (50) messages here; scroll up for more",
  "/search [#room] words — find past messages (where the server offers it)",
  "/switch #room, /close — change tab, close this tab",
  "/kick, /op, /deop, /voice, /devoice, /ban, /unban, /invite, /key, /mode, /cs, /notify — as in the terminal client",
  "/quit [reason] — leave the chat",
  "//text sends a message that starts with /; any other /command args is sent to the server as it is.",
];

function currentTarget() {
  const room = state.current;
  return room && room.kind !== "server" ? room.name : null;
}

function currentChannel() {
  const room = state.current;
  return room && room.kind === "channel" ? room.name : null;
}

// "#room rest" -> ["#room", "rest"]; otherwise the current channel and everything.
function roomFirst(args) {
  const [first = "", ...rest] = args.split(" ");
  if (isChannel(first)) return [first, rest.join(" ").trim()];
  return [currentChannel(), args.trim()];
}

function needRoom(room) {
  if (!room) info(null, "That needs a room: give #room, or use it in a room's tab.", "error");
  return Boolean(room);
}

const COMMANDS = {
  help: () => HELP.forEach((line) => info(null, line)),
  join: (args) => {
    const [name, key] = args.split(" ").filter(Boolean);
    if (!name) return info(null, "Usage: /join #room [key]", "error");
    const channel = isChannel(name) ? name : "#" + name;
    state.switchOnJoin = fold(channel);
    const existing = findRoom(channel);
    if (existing && existing.joined) return switchTo(existing);
    send("JOIN", channel, key);
  },
  part: (args) => {
    const [room, reason] = roomFirst(args);
    if (needRoom(room)) send("PART", room, reason || undefined);
  },
  msg: (args) => {
    const [target, ...words] = args.split(" ");
    const text = words.join(" ");
    if (!target || !text) return info(null, "Usage: /msg nick text", "error");
    if (!isChannel(target)) switchTo(getRoom(target, "query"));
    say(target, text, false);
  },
  query: (args) => {
    const [nick, ...words] = args.split(" ").filter(Boolean);
    if (!nick || isChannel(nick)) return info(null, "Usage: /query nick [text]", "error");
    switchTo(getRoom(nick, "query"));
    if (words.length) say(nick, words.join(" "), false);
  },
  me: (args) => {
    const target = currentTarget();
    if (!target) return info(null, "/me works in a room or a conversation.", "error");
    if (args) say(target, args, true);
  },
  nick: (args) => (args ? send("NICK", args.split(" ")[0]) : info(null, `You are ${state.nick}.`)),
  topic: (args) => {
    const [room, text] = roomFirst(args);
    if (!needRoom(room)) return;
    if (text) send("TOPIC", room, text);
    else {
      getRoom(room).showTopic = true;
      send("TOPIC", room);
    }
  },
  names: (args) => {
    const room = args.trim() || currentChannel();
    if (!needRoom(room)) return;
    const known = findRoom(room);
    if (known) known.showNames = true;
    send("NAMES", room);
  },
  who: (args) => {
    const mask = args.trim() || currentTarget();
    if (mask) send("WHO", mask);
    else info(null, "Usage: /who #room|nick", "error");
  },
  whois: (args) => (args.trim() ? send("WHOIS", args.trim().split(" ")[0]) : info(null, "Usage: /whois nick", "error")),
  list: () => send("LIST"),
  away: (args) => (args.trim() ? send("AWAY", args.trim()) : send("AWAY")),
  quit: (args) => {
    state.leaving = true;
    clearTimers();
    send("QUIT", args.trim() || "Leaving");
    showLogin("You left the chat. Come back any time.");
  },
  history: (args) => {
    if (!state.caps.has("draft/chathistory")) return info(null, "This server can't send earlier messages.", "error");
    const words = args.split(" ").filter(Boolean);
    const count = /^\d+$/.test(words[words.length - 1] || "") ? words.pop() : String(HISTORY_PAGE);
    const target = words[0] || currentTarget();
    if (!target) return info(null, "Usage: /history [#room|nick] [N]", "error");
    getRoom(target).historyLoading = true;
    send("CHATHISTORY", "LATEST", target, "*", count);
  },
  search: (args) => {
    if (!state.offered.has("draft/search")) return info(null, "This server does not offer search.", "error");
    const [first = "", ...rest] = args.trim().split(" ");
    const inRoom = isChannel(first) ? first : null;
    const words = (inRoom ? rest.join(" ") : args).trim();
    if (!words) return info(null, "Usage: /search [#room] words", "error");
    const attrs = [`text=${escapeTag(words)}`];
    if (inRoom) attrs.push(`in=${escapeTag(inRoom)}`);
    sendRaw("SEARCH " + attrs.join(";"));
  },
  switch: (args) => {
    const room = findRoom(args.trim());
    if (room) switchTo(room);
    else info(null, `No tab ${args.trim()} is open.`, "error");
  },
  close: () => state.current && state.current.kind !== "server" && closeRoom(state.current),
  kick: (args) => {
    const [room, rest] = roomFirst(args);
    const [nick, ...reason] = rest.split(" ");
    if (needRoom(room) && nick) send("KICK", room, nick, reason.join(" ") || undefined);
  },
  op: (args) => modeOnNick(args, "+o"),
  deop: (args) => modeOnNick(args, "-o"),
  voice: (args) => modeOnNick(args, "+v"),
  devoice: (args) => modeOnNick(args, "-v"),
  ban: (args) => {
    const [room, mask] = roomFirst(args);
    if (!needRoom(room)) return;
    if (!mask) return send("MODE", room, "+b");
    send("MODE", room, "+b", /[!@*]/.test(mask) ? mask : `${mask}!*@*`);
  },
  unban: (args) => {
    const [room, mask] = roomFirst(args);
    if (needRoom(room) && mask) send("MODE", room, "-b", mask);
  },
  invite: (args) => {
    const [nick, room = currentChannel()] = args.split(" ").filter(Boolean);
    if (nick && needRoom(room)) send("INVITE", nick, room);
  },
  key: (args) => {
    const [room, key] = roomFirst(args);
    if (needRoom(room)) send("MODE", room, key ? "+k" : "-k", key || "*");
  },
  mode: (args) => {
    const [room, rest] = roomFirst(args);
    if (needRoom(room)) sendRaw(["MODE", room, rest].filter(Boolean).join(" "));
  },
  kill: (args) => {
    const [nick, ...reason] = args.split(" ");
    if (nick) send("KILL", nick, reason.join(" ") || "No reason given");
  },
  cs: (args) => sendRaw(("CS " + args).trim()),
  notify: (args) => (args.trim() ? send("MONITOR", "+", args.trim()) : send("MONITOR", "L")),
  unnotify: (args) => args.trim() && send("MONITOR", "-", args.trim()),
  raw: (args) => sendRaw(args),
  quote: (args) => sendRaw(args),
};

function modeOnNick(args, change) {
  const [room, nick] = roomFirst(args);
  if (needRoom(room) && nick) send("MODE", room, change, nick.split(" ")[0]);
  else if (room) info(null, `Usage: /${change === "+o" ? "op" : change === "-o" ? "deop" : change === "+v" ? "voice" : "devoice"} nick`, "error");
}

// One typed line: a /command, or words said in the current room.
function handleTyped(line) {
  if (!line.trim()) return;
  if (line.startsWith("/") && !line.startsWith("//")) {
    const space = line.indexOf(" ");
    const name = (space < 0 ? line.slice(1) : line.slice(1, space)).toLowerCase();
    const args = space < 0 ? "" : line.slice(space + 1).trim();
    const command = COMMANDS[name];
    if (command) command(args);
    else if (!state.registered) info(null, "Not connected to the server right now; that was not sent.", "error");
    else sendRaw(name.toUpperCase() + (args ? " " + args : "")); // unknown: the server may know it
    return;
  }
  const text = line.startsWith("//") ? line.slice(1) : line;
  const target = currentTarget();
  if (!target) return info(null, "This is the server tab: switch to a room to talk, or /join #room.", "error");
  say(target, text, false);
}

// ---------------------------------------------------------------- the page

function showLogin(message) {
  $("login").hidden = false;
  $("app").hidden = true;
  const error = $("login-error");
  error.hidden = !message;
  error.textContent = message || "";
  $("login-nick").value = state.nick || $("login-nick").value;
  $("login-password").value = "";
  $("login-submit").disabled = false;
  $("login-nick").focus();
}

function onLoginSubmit(event) {
  event.preventDefault();
  const nick = $("login-nick").value.trim();
  if (!/^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]*$/.test(nick)) {
    showLogin("A nickname is letters, digits and -[]\\`_^{|}, and does not start with a digit or -.");
    return;
  }
  state.nick = nick;
  state.password = $("login-password").value;
  state.leaving = false;
  state.everRegistered = false;
  state.backoff = 0;
  state.nickTries = 0;
  $("login-error").hidden = true;
  $("login-submit").disabled = true;
  connect();
}

function onInputKey(event) {
  const input = event.target;
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("input-form").requestSubmit();
  } else if ((event.key === "ArrowUp" || event.key === "ArrowDown") && !input.value.includes("\n")) {
    // Up and Down recall earlier lines, as in the terminal client.
    const list = state.sentHistory;
    if (!list.length) return;
    event.preventDefault();
    state.historyIndex = Math.max(0, Math.min(list.length, state.historyIndex + (event.key === "ArrowUp" ? -1 : 1)));
    input.value = list[state.historyIndex] || "";
  } else if (event.key === "Tab" && input.value) {
    event.preventDefault();
    completeNick(input);
  }
}

// Tab completes the nick (or /command, or #room) being typed at the end of the line.
function completeNick(input) {
  const match = /(\S+)$/.exec(input.value);
  if (!match) return;
  const word = match[1];
  const lower = fold(word);
  let candidates;
  if (word.startsWith("/") && match.index === 0) candidates = Object.keys(COMMANDS).map((c) => "/" + c);
  else if (isChannel(word)) candidates = [...state.rooms.values()].filter((r) => r.kind === "channel").map((r) => r.name);
  else candidates = state.current ? [...state.current.members.values()].map((m) => m.nick) : [];
  const found = candidates.filter((c) => fold(c).startsWith(lower)).sort();
  if (!found.length) return;
  const suffix = match.index === 0 && !word.startsWith("/") && !isChannel(word) ? ": " : " ";
  input.value = input.value.slice(0, match.index) + found[0] + suffix;
}

function onInputSubmit(event) {
  event.preventDefault();
  const input = $("input");
  const text = input.value;
  input.value = "";
  autoGrow(input);
  // A pasted block: each line is sent on its own, in order.
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    state.sentHistory.push(line);
    handleTyped(line);
  }
  if (state.sentHistory.length > 200) state.sentHistory.splice(0, state.sentHistory.length - 200);
  state.historyIndex = state.sentHistory.length;
}

function autoGrow(input) {
  input.style.height = "auto";
  input.style.height = Math.min(input.scrollHeight + 2, 160) + "px";
}

function onJoinSubmit(event) {
  event.preventDefault();
  const input = $("join-input");
  const name = input.value.trim();
  input.value = "";
  if (!name) return;
  if (isChannel(name)) COMMANDS.join(name);
  else COMMANDS.query(name);
}

function togglePanel(name) {
  const app = $("app");
  const other = name === "show-rooms" ? "show-members" : "show-rooms";
  app.classList.remove(other);
  const open = app.classList.toggle(name);
  $("toggle-rooms").setAttribute("aria-expanded", String(app.classList.contains("show-rooms")));
  $("toggle-members").setAttribute("aria-expanded", String(app.classList.contains("show-members")));
  return open;
}

function start() {
  try {
    $("login-nick").value = localStorage.getItem("tcpchat.nick") || "";
  } catch (error) {
    // no storage: the prompt starts empty
  }
  $("login-form").addEventListener("submit", onLoginSubmit);
  $("input-form").addEventListener("submit", onInputSubmit);
  $("input").addEventListener("keydown", onInputKey);
  $("input").addEventListener("input", (event) => autoGrow(event.target));
  $("join-form").addEventListener("submit", onJoinSubmit);
  $("toggle-rooms").addEventListener("click", () => togglePanel("show-rooms"));
  $("toggle-members").addEventListener("click", () => togglePanel("show-members"));
  $("messages").addEventListener("click", () => $("app").classList.remove("show-rooms", "show-members"));
  $("messages").addEventListener("scroll", maybeLoadOlder, { passive: true });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.current) {
      state.current.unread = 0;
      state.current.mention = false;
      renderRoomList();
    }
  });
}

if (typeof document !== "undefined") document.addEventListener("DOMContentLoaded", start);
if (typeof module !== "undefined") module.exports = { parseLine, buildLine, unescapeTag, escapeTag, fold, chunkText, stripFormatting };
