// IRC lines as text: parsing and building them, message tags, nick case folding, cutting long
// messages. Pure functions, no page and no socket: the rest of the client builds on these.

const TAG_UNESCAPES = { ":": ";", s: " ", "\\": "\\", r: "\r", n: "\n" };

export function unescapeTag(value) {
  // "\:" is ";", "\s" a space...; a backslash before anything else is dropped (IRCv3).
  return value.replace(/\\(.?)/g, (_, c) => (c in TAG_UNESCAPES ? TAG_UNESCAPES[c] : c));
}

export function escapeTag(value) {
  return value.replace(/[\\; \r\n]/g, (c) => ({ "\\": "\\\\", ";": "\\:", " ": "\\s", "\r": "\\r", "\n": "\\n" })[c]);
}

// "@a=b;c :nick!user@host CMD p1 p2 :trailing words" -> {tags, source, nick, command, params}
export function parseLine(line) {
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
export function buildLine(command, ...params) {
  const clean = params.filter((p) => p !== undefined && p !== null).map((p) => String(p).replace(/[\r\n\0]+/g, " "));
  const last = clean.length - 1;
  const parts = clean.map((p, i) => (i === last && (p === "" || p.includes(" ") || p.startsWith(":")) ? ":" + p : p));
  return [command, ...parts].join(" ");
}

// Nicks and channels compare under CASEMAPPING=rfc1459: []\~ are the capitals of {}|^.
export function fold(name) {
  return name.toLowerCase().replace(/[[\]\\~]/g, (c) => ({ "[": "{", "]": "}", "\\": "|", "~": "^" })[c]);
}

// The time a line says it was sent (server-time), or now when it says nothing usable.
export function lineTime(tags) {
  const parsed = tags && tags.time ? Date.parse(tags.time) : NaN;
  return Number.isNaN(parsed) ? Date.now() : parsed;
}

// Cut a long message into pieces of at most `limit` UTF-8 bytes, at a space when there is one.
export function chunkText(text, limit) {
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

export function escapeRegExp(text) {
  return text.replace(/[\\^$.*+?()[\]{}|-]/g, "\\$&");
}
