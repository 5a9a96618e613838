// Moving between rooms and conversations: switching shows one (and asks for older lines when it
// starts near its top, as scrolling there would), closing one leaves the room.
import { findRoom, forgetRoom, serverRoom } from "./rooms.js";
import { loadOlder } from "./history.js";
import { send } from "./connection.js";
import { DEFAULT_ROOM, state } from "./state.js";
import { showRoom } from "./view.js";

export function switchTo(room) {
  showRoom(room);
  loadOlder();
}

export function closeRoom(room) {
  if (room.kind === "channel" && room.joined) send("PART", room.name);
  forgetRoom(room);
  if (state.current === room) {
    const next = findRoom(DEFAULT_ROOM) || [...state.rooms.values()][0] || serverRoom();
    switchTo(next);
  }
}
