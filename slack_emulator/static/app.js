// The emulator's web page: act as a user, read and write channels through the control API.
"use strict";

const App = (() => {
  const params = new URLSearchParams(location.search);
  const state = { dir: null, user: null, channel: null, cursor: -1, rendered: "", open: new Set(), gen: 0 };
  const $ = (id) => document.getElementById(id);
  const el = Render.el;

  async function api(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await res.json();
    if (!data.ok) throw new Error(data.error || "request failed");
    return data;
  }

  function status(text) { $("status").textContent = text || ""; }

  function pickUser(ref) {
    const humans = state.dir.users.filter((u) => !u.is_bot);
    return humans.find((u) => u.id === ref || u.name === ref) || humans[0];
  }

  function pickChannel(ref) {
    const name = (ref || "").replace(/^#/, "");
    const chans = state.dir.channels;
    return chans.find((c) => c.id === ref || (!c.is_im && c.name === name))
      || chans.find((c) => c.name === "deploys") || chans.find((c) => !c.is_im);
  }

  function channelLabel(c) {
    return c.is_im ? Render.userName(c.user) + " ↔ " + state.dir.bot.name : "#" + c.name;
  }

  function renderSidebar() {
    $("team-name").textContent = state.dir.team.name;
    const select = $("user-select");
    select.replaceChildren();
    for (const u of state.dir.users.filter((x) => !x.is_bot)) {
      const o = el("option", null, u.real_name ? `${u.name} (${u.real_name})` : u.name);
      o.value = u.id;
      o.selected = u.id === state.user.id;
      select.appendChild(o);
    }
    const fill = (list, chans) => {
      list.replaceChildren();
      for (const c of chans) {
        const li = el("li", c.id === state.channel.id ? "active" : null, channelLabel(c));
        li.dataset.channel = c.id;
        li.addEventListener("click", () => switchTo(state.user, c));
        list.appendChild(li);
      }
    };
    fill($("channel-list"), state.dir.channels.filter((c) => !c.is_im));
    fill($("dm-list"), state.dir.channels.filter((c) => c.is_im && c.user === state.user.id));
    $("channel-title").textContent = channelLabel(state.channel);
  }

  function authorOf(m) {
    if (m.bot_id) return { name: state.dir.bot.name, app: true };
    if (m.user === "USLACKBOT") return { name: "Slackbot", app: true };
    return { name: Render.userName(m.user), app: false };
  }

  async function click(message, block, element) {
    try {
      await api("POST", "/control/click", {
        user: state.user.id, channel: state.channel.id, ts: message.ts,
        action_id: element.action_id, block_id: block.block_id,
      });
      status(`clicked “${element.text ? element.text.text : element.action_id}”`);
    } catch (e) { status("click failed: " + e.message); }
  }

  function renderMessage(m, isReply) {
    const node = el("div", "message" + (m.ephemeral_to ? " ephemeral" : ""));
    node.dataset.ts = m.ts;
    const meta = el("div", "meta");
    const who = authorOf(m);
    meta.appendChild(el("span", "author", who.name));
    if (who.app) meta.appendChild(el("span", "badge", "APP"));
    meta.appendChild(el("span", "time", new Date(parseFloat(m.ts) * 1000).toLocaleTimeString()));
    if (m.update_count) meta.appendChild(el("span", "edited", `(edited${m.update_count > 1 ? " ×" + m.update_count : ""})`));
    if (m.ephemeral_to) meta.appendChild(el("span", "only-you", "Only visible to you"));
    node.appendChild(meta);
    const body = el("div", "body");
    if (m.blocks && m.blocks.length) body.appendChild(Render.blocks(m.blocks, (b, e) => click(m, b, e)));
    else Render.mrkdwn(body, m.text || "");
    for (const f of m.files || []) body.appendChild(el("div", "file", "📎 " + (f.title || f.name)));
    node.appendChild(body);
    if (!isReply) node.appendChild(renderThread(m));
    return node;
  }

  function renderThread(m) {
    const wrap = el("div");
    const count = (m.replies || []).length;
    const toggle = el("button", "thread-toggle", count ? `${count} repl${count === 1 ? "y" : "ies"}` : "Reply in thread");
    toggle.type = "button";
    toggle.addEventListener("click", () => {
      if (state.open.has(m.ts)) state.open.delete(m.ts); else state.open.add(m.ts);
      state.rendered = "";
      renderMessages(state.lastMessages);
    });
    wrap.appendChild(toggle);
    if (state.open.has(m.ts)) {
      const thread = el("div", "thread");
      for (const r of m.replies || []) thread.appendChild(renderMessage(r, true));
      const form = el("form", "reply-form");
      const input = el("input");
      input.placeholder = "Reply…";
      form.appendChild(input);
      form.addEventListener("submit", (ev) => { ev.preventDefault(); send(input.value, m.ts); input.value = ""; });
      thread.appendChild(form);
      wrap.appendChild(thread);
    }
    return wrap;
  }

  function renderMessages(messages) {
    state.lastMessages = messages;
    const key = JSON.stringify([messages, [...state.open]]);
    if (key === state.rendered) return;
    state.rendered = key;
    const box = $("messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    box.replaceChildren(...messages.map((m) => renderMessage(m, false)));
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  async function poll(gen) {
    while (gen === state.gen) {
      try {
        const q = new URLSearchParams({ channel: state.channel.id, as_user: state.user.id, since: state.cursor, wait: 20 });
        const data = await api("GET", "/control/messages?" + q);
        if (gen !== state.gen) return;
        state.cursor = data.cursor;
        renderMessages(data.messages);
        $("connection-status").textContent = "";
      } catch (e) {
        $("connection-status").textContent = "emulator unreachable: " + e.message;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  function switchTo(user, channel) {
    state.user = user;
    state.channel = channel;
    state.cursor = -1;
    state.rendered = "";
    state.gen += 1;
    const q = new URLSearchParams({ user: user.name, channel: channel.is_im ? channel.id : channel.name });
    history.replaceState(null, "", "?" + q);
    renderSidebar();
    poll(state.gen);
  }

  // What the Slack client does to typed text: escape &, <, > and turn @name into a mention.
  function encodeTyped(text) {
    const escaped = text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    return escaped.replace(/(^|\s)@([\w.-]+)/g, (all, pre, name) => {
      const u = state.dir.users.find((x) => x.name === name || x.display_name === name);
      if (u) return `${pre}<@${u.id}>`;
      const g = state.dir.usergroups.find((x) => x.handle === name);
      if (g) return `${pre}<!subteam^${g.id}|@${g.handle}>`;
      if (["here", "channel", "everyone"].includes(name)) return `${pre}<!${name}>`;
      return all;
    });
  }

  async function send(text, threadTs) {
    text = text.trim();
    if (!text) return;
    try {
      if (text.startsWith("/") && !threadTs) {
        await api("POST", "/control/commands", { user: state.user.id, channel: state.channel.id, command: text });
        status("ran " + text.split(" ")[0]);
      } else {
        await api("POST", "/control/messages", {
          user: state.user.id, channel: state.channel.id, text: encodeTyped(text), thread_ts: threadTs,
        });
        status("");
      }
    } catch (e) { status("failed: " + e.message); }
  }

  async function start() {
    state.dir = await api("GET", "/control/state");
    Render.setDirectory(state.dir);
    $("user-select").addEventListener("change", (ev) => {
      const user = pickUser(ev.target.value);
      const channel = state.channel.is_im ? pickChannel() : state.channel;
      switchTo(user, channel);
    });
    $("composer").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = $("composer-input");
      send(input.value);
      input.value = "";
    });
    switchTo(pickUser(params.get("user")), pickChannel(params.get("channel")));
  }

  start().catch((e) => status("could not load: " + e.message));
  return { state, send };
})();
