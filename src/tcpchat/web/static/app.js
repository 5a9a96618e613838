// tcpchat web client: IRC over a WebSocket (IRCv3 "text.ircv3.net": one IRC line per message).
// Plain JavaScript modules, no framework, no build step; this one wires them to the page:
//   irc.js        IRC lines: parsing, building, tags, case folding
//   state.js      what the page knows (connection, capabilities, ISUPPORT)
//   rooms.js      rooms and conversations, their members and unread counts
//   format.js     IRC formatting, links and nick colours as page nodes (never HTML)
//   view.js       drawing: messages, room list, header, members, status, nickname prompt
//   connection.js the WebSocket, CAP, SASL, registration, reconnecting with backoff
//   history.js    CHATHISTORY on join and when scrolling back; search results
//   tabs.js       switching between rooms and closing them
//   members.js    JOIN, PART, KICK, QUIT, NICK, MODE, AWAY, NAMES
//   incoming.js   every other line from the server, by command
//   commands.js   what the person types: messages and /commands
import { fold } from "./irc.js";
import { getRoom, markRead, onListChange } from "./rooms.js";
import { COMMANDS, handleTyped } from "./commands.js";
import { connect, onLine } from "./connection.js";
import { loadOlder } from "./history.js";
import { handleLine } from "./incoming.js";
import { isChannel, state } from "./state.js";
import { closeRoom, switchTo } from "./tabs.js";
import { $, closePanels, keepNewestInView, renderRoomList, showLogin, togglePanel } from "./view.js";

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
  state.joinedBefore = false;
  state.backoff = 0;
  state.nickTries = 0;
  $("login-error").hidden = true;
  $("login-submit").disabled = true;
  connect();
}

// ---------------------------------------------------------------- the message input

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

// ---------------------------------------------------------------- the room list and member list

function onJoinSubmit(event) {
  event.preventDefault();
  const input = $("join-input");
  const name = input.value.trim();
  input.value = "";
  if (!name) return;
  if (isChannel(name)) COMMANDS.join(name);
  else COMMANDS.query(name);
}

// A click on a room shows it; on its × closes it (leaving the room).
function onRoomListClick(event) {
  const item = event.target.closest(".room");
  const room = item && state.rooms.get(item.dataset.key);
  if (!room) return;
  if (event.target.closest(".room-close")) closeRoom(room);
  else switchTo(room);
}

// A click on a person opens the private conversation with them.
function onMemberListClick(event) {
  const item = event.target.closest(".member");
  if (item) switchTo(getRoom(item.dataset.nick, "query"));
}

function start() {
  try {
    $("login-nick").value = localStorage.getItem("tcpchat.nick") || "";
  } catch (error) {
    // no storage: the prompt starts empty
  }
  onLine(handleLine);
  onListChange(renderRoomList);
  $("login-form").addEventListener("submit", onLoginSubmit);
  $("input-form").addEventListener("submit", onInputSubmit);
  $("input").addEventListener("keydown", onInputKey);
  $("input").addEventListener("input", (event) => autoGrow(event.target));
  $("join-form").addEventListener("submit", onJoinSubmit);
  $("room-list").addEventListener("click", onRoomListClick);
  $("member-list").addEventListener("click", onMemberListClick);
  $("toggle-rooms").addEventListener("click", () => togglePanel("show-rooms"));
  $("toggle-members").addEventListener("click", () => togglePanel("show-members"));
  $("messages").addEventListener("click", closePanels);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closePanels();
  });
  $("messages").addEventListener("scroll", loadOlder, { passive: true });
  keepNewestInView();
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.current) {
      markRead(state.current);
      renderRoomList();
    }
  });
}

// Modules run after the page is parsed (like a deferred script): the elements are there.
start();
