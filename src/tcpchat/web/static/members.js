// Who is in each room, as the server tells it: JOIN, PART, KICK, QUIT, NICK, MODE, AWAY and
// the NAMES list. Each keeps the room's members up to date and shows the event in the room.
import { fold, lineTime } from "./irc.js";
import { findRoom, getRoom, renameRoom } from "./rooms.js";
import { requestLatest } from "./history.js";
import { isChannel, isMe, state } from "./state.js";
import { switchTo } from "./tabs.js";
import { $, info, membersChanged, renderHeader, renderRoomList, show } from "./view.js";

export function onJoin(msg, context) {
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

export function onPart(msg, context) {
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

export function onKick(msg, context) {
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

export function onQuit(msg) {
  const reason = msg.params[0] ? ` (${msg.params[0]})` : "";
  const key = fold(msg.nick);
  for (const room of state.rooms.values()) {
    if (room.members.delete(key) || (room.kind === "query" && room.key === key)) {
      show(room, { kind: "event", text: `← ${msg.nick} quit${reason}.`, time: lineTime(msg.tags) });
      membersChanged(room);
    }
  }
}

export function onNick(msg) {
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
    if (room.kind === "query" && room.key === key) renameRoom(room, now);
    if (member || room.key === fold(now) || (isMe(now) && room.kind === "server")) {
      show(room, { kind: "event", text, time: lineTime(msg.tags) });
      membersChanged(room);
    }
  }
  renderRoomList();
  renderHeader();
}

// MODE #room +o-v alice bob: walk the letters, taking an argument for the modes that have one.
export function onMode(msg) {
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

export function onAway(msg) {
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
export function onNames(msg) {
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

export function onEndOfNames(msg) {
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
