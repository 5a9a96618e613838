// Drawing the page: the message view of each room, the room list, the header, the member list,
// the status line and the nickname prompt. Clicks on the lists are handled in app.js.
import { countUnread, markRead, serverRoom, sortedMembers, memberRank, totalUnread } from "./rooms.js";
import { el, formatText, nickClass, stripFormatting } from "./format.js";
import { state } from "./state.js";

export const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- the message view

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

export function nearBottom(box) {
  return box.scrollHeight - box.scrollTop - box.clientHeight < 40;
}

// A reader at the newest line stays there when the view changes size: a phone's keyboard
// opening, a smaller window, the input growing with a long message.
export function keepNewestInView() {
  const box = $("messages");
  let atBottom = true;
  box.addEventListener("scroll", () => {
    atBottom = nearBottom(box);
  }, { passive: true });
  new ResizeObserver(() => {
    if (atBottom) box.scrollTop = box.scrollHeight;
  }).observe(box);
}

// Show a line in a room. Returns false when its msgid is already shown there.
export function show(room, parts) {
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
    countUnread(room, parts.mention);
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

// Tell the person something: in that room, else the one they are looking at, else the server tab.
export function info(room, text, kind) {
  show(room || state.current || serverRoom(), { kind: kind || "info", text });
}

export function setStatus(text, problem, action) {
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

// Show a room's view in place of the current one (tabs.js also fetches older lines for it).
export function showRoom(room) {
  if (state.current && state.current !== room) state.current.scrollTop = $("messages").scrollTop;
  state.current = room;
  markRead(room);
  const box = $("messages");
  box.replaceChildren(room.view);
  box.scrollTop = room.scrollTop === null ? box.scrollHeight : room.scrollTop;
  renderHeader();
  renderRoomList();
  renderMembers();
  closePanels();
}

// On a phone the room list and the member list slide in over the messages, one at a time.
export function togglePanel(name) {
  const app = $("app");
  app.classList.remove(name === "show-rooms" ? "show-members" : "show-rooms");
  app.classList.toggle(name);
  panelsChanged();
}

export function closePanels() {
  $("app").classList.remove("show-rooms", "show-members");
  panelsChanged();
}

function panelsChanged() {
  const app = $("app");
  $("toggle-rooms").setAttribute("aria-expanded", String(app.classList.contains("show-rooms")));
  $("toggle-members").setAttribute("aria-expanded", String(app.classList.contains("show-members")));
}

// ---------------------------------------------------------------- the room list, header and members

export function roomLabel(room) {
  return room.kind === "server" ? "Server" : room.name;
}

export function renderRoomList() {
  const list = $("room-list");
  const order = { server: 0, channel: 1, query: 2 };
  const rooms = [...state.rooms.values()].sort((a, b) => order[a.kind] - order[b.kind] || a.key.localeCompare(b.key));
  list.replaceChildren(...rooms.map((room) => {
    // A button for the room (its name and unread count), and one to close it: both reachable
    // with the keyboard. app.js handles their clicks.
    const item = el("li", "room");
    item.dataset.key = room.key;
    const open = el("button", "room-open");
    open.type = "button";
    if (room === state.current) {
      item.classList.add("current");
      open.setAttribute("aria-current", "true");
    }
    if (room.kind === "channel" && !room.joined) item.classList.add("parted");
    open.append(el("span", "room-name", roomLabel(room)));
    if (room.unread) {
      const badge = el("span", room.mention ? "badge mention" : "badge", String(room.unread));
      badge.title = `${room.unread} unread`;
      open.append(badge);
    }
    item.append(open);
    if (room.kind !== "server") {
      const close = el("button", "room-close", "×");
      close.type = "button";
      close.title = room.kind === "channel" ? "Leave " + room.name : "Close";
      close.setAttribute("aria-label", close.title);
      item.append(close);
    }
    return item;
  }));
  const total = totalUnread();
  const badge = $("unread-total");
  badge.hidden = total === 0;
  badge.textContent = String(total);
  $("toggle-rooms").setAttribute("aria-label", total ? `Rooms (${total} unread)` : "Rooms");
  document.title = total ? `(${total}) tcpchat` : "tcpchat";
}

export function renderHeader() {
  const room = state.current;
  $("room-name").textContent = room ? roomLabel(room) : "tcpchat";
  const topic = $("room-topic");
  topic.replaceChildren();
  if (room && room.topic) topic.append(formatText(room.topic));
  topic.title = room ? stripFormatting(room.topic) : "";
  $("toggle-members").hidden = !room || room.kind !== "channel";
}

export function renderMembers() {
  const room = state.current;
  const aside = $("members");
  const isChan = room && room.kind === "channel";
  aside.classList.toggle("empty", !isChan);
  const members = isChan ? sortedMembers(room) : [];
  $("member-count").textContent = isChan ? `${members.length} ${members.length === 1 ? "person" : "people"}` : "";
  $("member-list").replaceChildren(...members.map((m) => {
    const button = el("button", "member");
    button.type = "button";
    button.dataset.nick = m.nick;
    if (m.away) button.classList.add("away");
    button.title = m.away ? `${m.nick} is away` : `Talk to ${m.nick} privately`;
    const rank = memberRank(m);
    button.append(el("span", "prefix", rank < state.isupport.prefixSymbols.length ? state.isupport.prefixSymbols[rank] : ""));
    button.append(el("span", "nick " + nickClass(m.nick), m.nick));
    const item = el("li");
    item.append(button);
    return item;
  }));
}

export function membersChanged(room) {
  if (room === state.current) renderMembers();
}

// ---------------------------------------------------------------- the nickname prompt

export function showLogin(message) {
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
