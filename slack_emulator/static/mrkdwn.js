// Safe rendering of Slack mrkdwn and Block Kit into DOM nodes.
// Nothing here ever assigns HTML: all text goes through createTextNode/textContent,
// and only http(s)/mailto links become anchors.
"use strict";

const Render = (() => {
  let directory = { users: {}, channels: {}, groups: {} };

  function setDirectory(state) {
    directory = { users: {}, channels: {}, groups: {} };
    for (const u of state.users) directory.users[u.id] = u;
    for (const c of state.channels) directory.channels[c.id] = c;
    for (const g of state.usergroups) directory.groups[g.id] = g;
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function decode(s) {
    return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  // The emoji shortcodes Slack shows as pictures; others stay as typed.
  const EMOJI = {
    large_green_circle: "\u{1F7E2}", large_yellow_circle: "\u{1F7E1}", red_circle: "\u{1F534}",
    white_check_mark: "\u2705", x: "\u274C", warning: "\u26A0\uFE0F", no_entry: "\u26D4",
    no_entry_sign: "\u{1F6AB}", raised_hand: "\u270B", hourglass: "\u231B", hourglass_flowing_sand: "\u23F3",
    lock: "\u{1F512}", double_vertical_bar: "\u23F8\uFE0F", unlock: "\u{1F513}", octagonal_sign: "\u{1F6D1}", rocket: "\u{1F680}",
    mag: "\u{1F50D}", information_source: "\u2139\uFE0F", wrench: "\u{1F527}", arrow_right: "\u27A1\uFE0F",
    arrows_counterclockwise: "\u{1F504}",
  };

  function emoji(s) {
    return s.replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] || all);
  }

  function appendText(parent, s, raw) {
    s.split("\n").forEach((part, i) => {
      if (i) parent.appendChild(el("br"));
      if (part) parent.appendChild(document.createTextNode(emoji(raw ? part : decode(part))));
    });
  }

  function userName(id) {
    const u = directory.users[id];
    return u ? (u.display_name || u.name) : id;
  }

  function angle(inner) {
    const bar = inner.indexOf("|");
    const target = bar >= 0 ? inner.slice(0, bar) : inner;
    const label = bar >= 0 ? decode(inner.slice(bar + 1)) : "";
    if (/^@[UWB]/.test(target)) return el("span", "mention", "@" + userName(target.slice(1)));
    if (/^#C|^#G|^#D/.test(target)) {
      const c = directory.channels[target.slice(1)];
      return el("span", "mention", "#" + (label || (c ? c.name : target.slice(1))));
    }
    if (target.startsWith("!subteam^")) {
      const g = directory.groups[target.slice(9)];
      return el("span", "mention", label || "@" + (g ? g.handle : target.slice(9)));
    }
    if (target.startsWith("!date^")) return el("span", "date", label || target);
    if (target.startsWith("!")) return el("span", "mention", "@" + target.slice(1).split("^")[0]);
    const url = decode(target);
    if (/^(https?:|mailto:)/i.test(url)) {
      const a = el("a", null, label || url);
      a.href = url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      return a;
    }
    return document.createTextNode(label || url);
  }

  const INLINE = /<([^<>\s][^<>]*)>|(?<![\w*])\*([^*\n]+)\*(?![\w*])|(?<![\w_])_([^_\n]+)_(?![\w_])|(?<![\w~])~([^~\n]+)~(?![\w~])/g;

  function inline(parent, s) {
    const re = new RegExp(INLINE.source, "g");
    let last = 0;
    let m;
    while ((m = re.exec(s)) !== null) {
      appendText(parent, s.slice(last, m.index));
      if (m[1] !== undefined) parent.appendChild(angle(m[1]));
      else {
        const tag = m[2] !== undefined ? "b" : m[3] !== undefined ? "i" : "s";
        const node = el(tag);
        inline(node, m[2] ?? m[3] ?? m[4]);
        parent.appendChild(node);
      }
      last = re.lastIndex;
    }
    appendText(parent, s.slice(last));
  }

  function mrkdwn(parent, text) {
    const re = /```([\s\S]*?)```|`([^`\n]+)`/g;
    let last = 0;
    let m;
    while ((m = re.exec(text)) !== null) {
      inline(parent, text.slice(last, m.index));
      if (m[1] !== undefined) parent.appendChild(el("pre", null, decode(m[1])));
      else parent.appendChild(el("code", null, decode(m[2])));
      last = re.lastIndex;
    }
    inline(parent, text.slice(last));
    return parent;
  }

  function textObject(obj, tag) {
    const node = el(tag || "div");
    if (!obj) return node;
    if (obj.type === "mrkdwn") mrkdwn(node, String(obj.text || ""));
    else appendText(node, String(obj.text || ""), true);
    return node;
  }

  function button(element, onClick) {
    const b = el("button", element.style || null, element.text ? String(element.text.text || "") : "button");
    b.type = "button";
    b.dataset.actionId = element.action_id || "";
    b.addEventListener("click", () => {
      if (element.confirm) {
        const c = element.confirm;
        const question = [c.title && c.title.text, c.text && c.text.text].filter(Boolean).join("\n\n");
        if (!window.confirm(question)) return;
      }
      onClick(element);
    });
    return b;
  }

  function element(elem, onClick) {
    if (elem.type === "button") return button(elem, onClick);
    if (elem.type === "mrkdwn" || elem.type === "plain_text") return textObject(elem, "span");
    if (elem.type === "image") return el("span", null, "[image: " + (elem.alt_text || "") + "] ");
    return el("span", "muted", "[" + elem.type + "]");
  }

  function richText(block) {
    const node = el("div", "block-rich-text");
    const walk = (parent, items) => {
      for (const item of items || []) {
        if (item.type === "text") {
          let target = parent;
          const style = item.style || {};
          for (const [flag, tag] of [["bold", "b"], ["italic", "i"], ["strike", "s"], ["code", "code"]]) {
            if (style[flag]) { const w = el(tag); target.appendChild(w); target = w; }
          }
          appendText(target, String(item.text || ""), true);
        } else if (item.type === "user") parent.appendChild(el("span", "mention", "@" + userName(item.user_id)));
        else if (item.type === "link") parent.appendChild(angle(item.url + (item.text ? "|" + item.text : "")));
        else if (item.type === "emoji") parent.appendChild(document.createTextNode(":" + item.name + ":"));
        else if (item.type === "rich_text_preformatted") { const p = el("pre"); walk(p, item.elements); parent.appendChild(p); }
        else if (item.elements) { const d = el("div"); walk(d, item.elements); parent.appendChild(d); }
      }
    };
    walk(node, block.elements);
    return node;
  }

  function block(b, onClick) {
    const node = el("div", "block block-" + b.type);
    switch (b.type) {
      case "header": node.appendChild(textObject(b.text, "div")).className = "block-header"; break;
      case "divider": node.appendChild(el("hr")); break;
      case "section": {
        if (b.text) node.appendChild(textObject(b.text));
        if (b.fields) {
          const grid = el("div", "block-fields");
          for (const f of b.fields) grid.appendChild(textObject(f));
          node.appendChild(grid);
        }
        if (b.accessory) {
          const acc = el("div", "accessory");
          acc.appendChild(element(b.accessory, (e) => onClick(b, e)));
          node.appendChild(acc);
        }
        break;
      }
      case "context": for (const e of b.elements || []) node.appendChild(element(e, () => {})); break;
      case "actions": for (const e of b.elements || []) node.appendChild(element(e, (x) => onClick(b, x))); break;
      case "rich_text": node.appendChild(richText(b)); break;
      case "image": node.appendChild(el("span", "muted", "[image: " + (b.alt_text || "") + "]")); break;
      default: node.appendChild(el("span", "muted", "[" + b.type + " block]"));
    }
    return node;
  }

  function blocks(list, onClick) {
    const node = el("div", "blocks");
    for (const b of list) node.appendChild(block(b, onClick));
    return node;
  }

  return { setDirectory, el, mrkdwn, blocks, userName };
})();
