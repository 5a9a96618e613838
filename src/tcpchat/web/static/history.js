// Earlier messages (IRCv3 draft/chathistory): the latest page when a room is joined, the page
// before the oldest line shown when the reader scrolls to the top, and search results.
import { fold, lineTime } from "./irc.js";
import { getRoom, serverRoom } from "./rooms.js";
import { el } from "./format.js";
import { send } from "./connection.js";
import { HISTORY_PAGE, SERVER_TAB, isChannel, state } from "./state.js";
import { $, info, nearBottom, show } from "./view.js";

export function requestLatest(room) {
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

// A chathistory batch has ended: its lines go into their room through `replay` (incoming.js's
// dispatch) as history, keeping what the reader was looking at in place.
export function receiveHistory(batch, replay) {
  // Which request a batch answers: a BEFORE we sent for that room (one at a time per room).
  if (state.pendingBefore === fold(batch.params[0] || "")) {
    batch.before = true;
    state.pendingBefore = null;
  }
  const room = getRoom(batch.params[0] || SERVER_TAB);
  const box = $("messages");
  const visible = room === state.current;
  const atBottom = visible && nearBottom(box);
  const heightBefore = box.scrollHeight;
  const topBefore = box.scrollTop;
  for (const line of batch.lines) replay(line, { history: true, target: room.name });
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
export function loadOlder() {
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

// A search batch (draft/search) is shown as a block in the room the reader is in.
export function showSearchResults(batch) {
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
