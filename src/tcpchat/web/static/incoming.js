// Lines from the server: each goes to the handler for its command (HANDLERS); messages,
// topics, numerics and batches are handled here, membership in members.js, registration in
// connection.js, history in history.js.
import { escapeRegExp, fold, lineTime } from "./irc.js";
import { findRoom, getRoom, serverRoom } from "./rooms.js";
import {
  endCap, onCap, onError, onNickError, onSaslFailed, onWelcome, send, sendSaslPlain,
} from "./connection.js";
import { receiveHistory, showSearchResults } from "./history.js";
import {
  onAway, onEndOfNames, onJoin, onKick, onMode, onNames, onNick, onPart, onQuit,
} from "./members.js";
import { DEFAULT_ROOM, isChannel, isMe, state } from "./state.js";
import { switchTo } from "./tabs.js";
import { info, renderHeader, show } from "./view.js";

// Lines inside a batch wait for its end (chathistory and search are shown as blocks).
export function handleLine(msg) {
  const ref = msg.tags.batch;
  if (ref && state.batches.has(ref) && msg.command !== "BATCH") {
    state.batches.get(ref).lines.push(msg);
    return;
  }
  dispatch(msg);
}

// context: {history: true, target} for a line replayed from a chathistory batch.
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
  ERROR: onError,
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
  if (state.joinedBefore) info(null, `Reconnected as ${state.nick}; rejoining ${names.join(", ")}.`);
  state.joinedBefore = true;
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

// ---------------------------------------------------------------- messages and topics

// Which room a PRIVMSG/NOTICE belongs to: the channel, or the conversation with the other person.
function roomForMessage(msg, target, context) {
  if (context.target) return getRoom(context.target);
  const bare = target.replace(new RegExp("^[" + escapeRegExp(state.isupport.prefixSymbols) + "]+"), "");
  if (isChannel(bare)) return getRoom(bare);
  if (!msg.nick || !msg.source.includes("!") || target === "*") return null; // the server speaking
  return getRoom(isMe(msg.nick) ? target : msg.nick, "query");
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

// ---------------------------------------------------------------- batches

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
  if (batch.type === "chathistory") receiveHistory(batch, dispatch);
  else if (batch.type === "search") showSearchResults(batch);
  else for (const line of batch.lines) dispatch(line);
}
