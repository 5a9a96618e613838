// Text from the server as page nodes: IRC formatting codes become classed spans, links become
// <a> elements, nicks get a colour. Text only ever reaches the page through textContent (or an
// <a> whose href we checked is http/https), never as HTML.
import { fold } from "./irc.js";

// An element with a class and text; the one way the client makes elements.
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Nick colours: a small hash of the nick picks one of twelve classes (themed in style.css).
export function nickClass(nick) {
  let h = 0;
  for (const c of fold(nick)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return "n" + (h % 12);
}

const FORMAT_RE = /\x02|\x1d|\x1f|\x1e|\x11|\x16|\x0f|\x03(\d{1,2})?(?:,(\d{1,2}))?|\x04(?:[0-9a-fA-F]{6})?(?:,[0-9a-fA-F]{6})?/g;

export function stripFormatting(text) {
  return (text || "").replace(FORMAT_RE, "");
}

// IRC text -> DOM nodes: formatting codes become classed spans, links become <a>, the rest text.
export function formatText(text) {
  const out = document.createDocumentFragment();
  const style = { b: false, i: false, u: false, s: false, m: false, fg: null, bg: null };
  let last = 0;
  const flush = (end) => {
    if (end > last) out.append(styled(text.slice(last, end), style));
  };
  for (const match of text.matchAll(FORMAT_RE)) {
    flush(match.index);
    last = match.index + match[0].length;
    const code = match[0][0];
    if (code === "\x02") style.b = !style.b;
    else if (code === "\x1d") style.i = !style.i;
    else if (code === "\x1f") style.u = !style.u;
    else if (code === "\x1e") style.s = !style.s;
    else if (code === "\x11") style.m = !style.m;
    else if (code === "\x0f") Object.assign(style, { b: false, i: false, u: false, s: false, m: false, fg: null, bg: null });
    else if (code === "\x03") {
      // \x03 alone resets colours; 99 means "default"; 16-98 are extended colours we leave out.
      if (match[1] === undefined) style.fg = style.bg = null;
      else {
        style.fg = colourIndex(match[1]);
        if (match[2] !== undefined) style.bg = colourIndex(match[2]);
      }
    }
    // \x16 (reverse) and \x04 (hex colours) are dropped.
  }
  flush(text.length);
  return out;
}

function colourIndex(digits) {
  const n = parseInt(digits, 10);
  return n >= 0 && n < 16 ? n : null;
}

function styled(text, style) {
  const classes = [];
  for (const flag of ["b", "i", "u", "s", "m"]) if (style[flag]) classes.push("f-" + flag);
  if (style.fg !== null) classes.push("fg" + style.fg);
  if (style.bg !== null) classes.push("bg" + style.bg);
  const nodes = linkify(text);
  if (!classes.length) return nodes;
  const span = el("span", classes.join(" "));
  span.append(nodes);
  return span;
}

const URL_RE = /\bhttps?:\/\/[^\s<>"'`\x00-\x1f]+/gi;

function linkify(text) {
  const out = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let url = match[0];
    // Leave out punctuation that ends a sentence, and a ")" closing a parenthesis around the link.
    url = url.replace(/[.,;:!?]+$/, "");
    if (url.endsWith(")") && !url.includes("(")) url = url.slice(0, -1);
    if (match.index > last) out.append(document.createTextNode(text.slice(last, match.index)));
    const a = el("a", "", url);
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    out.append(a);
    last = match.index + url.length;
  }
  if (last < text.length) out.append(document.createTextNode(text.slice(last)));
  return out;
}
