// The rooms and conversations the page has open (state.rooms, by folded name), the people in
// each, and their unread counts. State only: view.js draws it, and is told when the list of
// rooms changes (onListChange, wired by app.js).
import { fold } from "./irc.js";
import { SERVER_TAB, isChannel, state } from "./state.js";

let listChanged = () => {};

// Call `draw` whenever a room is added, removed or gets a new unread line.
export function onListChange(draw) {
  listChanged = draw;
}

// The room by that name, made (and listed) the first time. kind: "channel", "query" or "server".
export function getRoom(name, kind) {
  const key = fold(name);
  let room = state.rooms.get(key);
  if (!room) {
    const view = document.createElement("div");
    view.className = "room-view";
    room = {
      key, name, kind: kind || (isChannel(name) ? "channel" : "query"),
      joined: false, wasJoined: false, members: new Map(), pendingNames: null, showNames: false,
      topic: "", showTopic: false, unread: 0, mention: false, msgids: new Set(),
      view, historyLoading: false, historyDone: false, scrollTop: null,
    };
    state.rooms.set(key, room);
    listChanged();
  }
  return room;
}

export function findRoom(name) {
  return state.rooms.get(fold(name)) || null;
}

export function serverRoom() {
  return getRoom(SERVER_TAB, "server");
}

export function forgetRoom(room) {
  state.rooms.delete(room.key);
  listChanged();
}

// A conversation follows the person to their new nick.
export function renameRoom(room, name) {
  state.rooms.delete(room.key);
  room.key = fold(name);
  room.name = name;
  state.rooms.set(room.key, room);
}

// ---------------------------------------------------------------- unread counts

// A line nobody has seen yet; a private one, or one naming you, counts as a mention.
export function countUnread(room, mention) {
  room.unread += 1;
  room.mention = room.mention || mention || room.kind === "query";
  listChanged();
}

export function markRead(room) {
  room.unread = 0;
  room.mention = false;
}

export function totalUnread() {
  let total = 0;
  for (const room of state.rooms.values()) total += room.unread;
  return total;
}

// ---------------------------------------------------------------- members

// 0 for the highest prefix (@), then +..., and the prefix count for no prefix at all.
export function memberRank(member) {
  const symbols = state.isupport.prefixSymbols;
  for (let i = 0; i < symbols.length; i++) if (member.prefixes.includes(symbols[i])) return i;
  return symbols.length;
}

// Operators first, then voiced people, then everyone else; by nick within each.
export function sortedMembers(room) {
  const members = [...room.members.values()];
  members.sort((a, b) => memberRank(a) - memberRank(b) || fold(a.nick).localeCompare(fold(b.nick)));
  return members;
}
