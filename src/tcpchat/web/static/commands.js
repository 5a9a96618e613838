// What the person types: words said in the current room, or a /command (the terminal client's
// set; /help lists them). Unknown /commands go to the server as they are.
import { chunkText, escapeTag, fold } from "./irc.js";
import { findRoom, getRoom } from "./rooms.js";
import { clearTimers, send, sendRaw } from "./connection.js";
import { HISTORY_PAGE, isChannel, state } from "./state.js";
import { closeRoom, switchTo } from "./tabs.js";
import { info, show, showLogin } from "./view.js";

// ---------------------------------------------------------------- sending messages

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

export const COMMANDS = {
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
export function handleTyped(line) {
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
