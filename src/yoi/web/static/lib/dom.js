// Building the page from data: elements are made with `h`, text always goes in as text.
//
// Nothing here parses a string as HTML except `setRenderedHtml`, which takes
// the backend's rendered Markdown (raw HTML escaped, unsafe links dropped on
// the server; the page's Content-Security-Policy forbids inline scripts too)
// and takes out, once more, anything in it that could run.

const SAFE_SCHEMES = new Set(["http", "https", "mailto"]);
const URL_ATTRIBUTES = new Set(["href", "src", "action", "formaction", "xlink:href"]);

/**
 * Make an element. `props` keys:
 * - `class`: a string; `dataset`: an object of data-* values; `style` is not supported;
 * - `on<event>` (`onclick`, `onkeydown`, ...): a listener;
 * - `text`: the text content;
 * - anything else: an attribute (false / null / undefined leave it out, true sets it empty).
 * Children may be nodes, strings (as text), arrays, or null / false (skipped).
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "text") element.textContent = String(value);
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else element.setAttribute(key, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

/** Append children (nodes, strings, arrays; null and false skipped). */
export function append(parent, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace every child of `parent`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/**
 * Place HTML the backend rendered from Markdown (`?render=html`): the one place
 * a string becomes markup. Links open in a new tab with no opener, as rendered.
 * Elements that run or embed, event handler and style attributes, and links
 * whose scheme is not http, https or mailto are removed on the way in.
 */
export function setRenderedHtml(element, html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  for (const node of template.content.querySelectorAll("script, iframe, object, embed, style")) {
    node.remove();
  }
  for (const node of template.content.querySelectorAll("*")) {
    for (const attribute of [...node.attributes]) {
      const name = attribute.name.toLowerCase();
      const runs = name.startsWith("on") || name === "style" || name === "srcdoc";
      const unsafe = URL_ATTRIBUTES.has(name) && !isSafeUrl(attribute.value);
      if (runs || unsafe) node.removeAttribute(attribute.name);
    }
  }
  element.replaceChildren(template.content);
  element.classList.add("markdown");
  return element;
}

/** A link target with no scheme, or an http, https or mailto one (as the backend allows). */
function isSafeUrl(url) {
  // Browsers ignore whitespace and control characters inside a scheme: so does this check.
  const compact = String(url).replace(/[\u0000-\u0020\u007f-\u009f]/g, "").toLowerCase();
  const scheme = compact.match(/^([a-z][a-z0-9+.-]*):/);
  if (scheme) return SAFE_SCHEMES.has(scheme[1]);
  return !compact.split("/", 1)[0].includes(":");
}

/** A short relative or absolute time for people: "12:04", "Mon 12:04", "2026-11-02". */
export function formatTime(iso) {
  if (!iso) return "";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return String(iso);
  const now = new Date();
  const sameDay = when.toDateString() === now.toDateString();
  const time = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (sameDay) return time;
  const days = (now - when) / 86_400_000;
  if (days < 6) return `${when.toLocaleDateString([], { weekday: "short" })} ${time}`;
  return when.toISOString().slice(0, 10);
}

/** An element that shows an error with its stable code, for people and for tests. */
export function errorLine(error) {
  const code = error?.code || "error";
  return h(
    "p",
    { class: "error-line", role: "alert", dataset: { code } },
    h("code", { class: "error-code", text: code }),
    " ",
    h("span", { text: error?.message || String(error) }),
  );
}

/** Show a short message in the corner for a few seconds. */
export function toast(message, { kind = "info" } = {}) {
  const region = document.getElementById("toasts");
  if (!region) return;
  const item = h("div", { class: `toast toast-${kind}`, text: message });
  region.append(item);
  setTimeout(() => item.remove(), 6000);
}
