// What the page knows, shared by every module: the connection, the capabilities the server
// gave us, what it told us in ISUPPORT, and the rooms (rooms.js keeps those).
import { fold } from "./irc.js";

export const WANTED_CAPS = [
  "sasl", "server-time", "message-tags", "echo-message", "batch", "draft/chathistory",
  "multi-prefix", "away-notify", "account-notify", "extended-join",
];
export const DEFAULT_ROOM = "#lobby";
export const HISTORY_PAGE = 50;
export const SERVER_TAB = "*server*";

export const state = {
  ws: null,
  nick: "",
  password: "",
  registered: false,
  everRegistered: false,
  leaving: false, // the person asked to quit: no reconnecting
  farewell: "", // the server's ERROR on this connection: a restart is waited out, a shutdown ends
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
  joinedOnce: null, // the socket the rooms were joined on (once per connection)
  joinedBefore: false, // rooms were joined on an earlier connection: this one is a reconnect
  switchOnJoin: null, // the folded name of the room to show when our JOIN of it comes back
  pendingBefore: null, // the folded name of the room a CHATHISTORY BEFORE is out for
  sentHistory: [],
  historyIndex: 0,
};

export function isChannel(name) {
  return name.length > 0 && state.isupport.chantypes.includes(name[0]);
}

export function isMe(nick) {
  return fold(nick) === fold(state.nick);
}
