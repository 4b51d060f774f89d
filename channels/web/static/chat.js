"use strict";
// Everything a person wrote goes on the page as text nodes (textContent), never as markup.
const STATE_LABELS = { bot: "бот", waiting_agent: "ждём оператора", with_agent: "оператор в чате", closed: "закрыт" };
const log = document.getElementById("log");
const form = document.getElementById("form");
const input = document.getElementById("text");
const errorBox = document.getElementById("error");
const stateBox = document.getElementById("state");
const seen = new Set();
let cursor = "0";

function userId() {
  let id = localStorage.getItem("abonent_user_id");
  if (!id) { id = "web-" + crypto.randomUUID(); localStorage.setItem("abonent_user_id", id); }
  return id;
}

function showState(state) { if (state) stateBox.textContent = STATE_LABELS[state] || state; }

function addBubble(kind, text, buttons) {
  const div = document.createElement("div");
  div.className = "msg " + kind;
  if (kind === "agent") {
    const who = document.createElement("span");
    who.className = "who"; who.textContent = "Оператор / Agent";
    div.appendChild(who);
  }
  div.appendChild(document.createTextNode(text));
  if (buttons && buttons.length) {
    const row = document.createElement("div");
    row.className = "buttons";
    for (const b of buttons) {
      const btn = document.createElement("button");
      btn.type = "button"; btn.textContent = b.title;
      btn.addEventListener("click", () => send({ payload: b.payload }, b.title));
      row.appendChild(btn);
    }
    div.appendChild(row);
  }
  log.appendChild(div);
  log.scrollTop = log.scrollHeight;
}

function showReplies(replies) {
  for (const r of replies) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    addBubble(r.sender === "agent" ? "agent" : "bot", r.text, r.buttons);
    if (Number(r.id) > Number(cursor)) cursor = r.id;
  }
}

async function send(body, shown) {
  errorBox.textContent = "";
  addBubble("me", shown);
  const message = { user_id: userId(), message_id: crypto.randomUUID(), ...body };
  for (let attempt = 0; attempt < 3; attempt++) {  // the same message_id is answered once
    try {
      const res = await fetch("/api/webchat/messages", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(message),
      });
      const data = await res.json();
      if (!res.ok) { errorBox.textContent = data.error || "Ошибка / Error " + res.status; return; }
      showReplies(data.replies); showState(data.state);
      return;
    } catch (e) {
      await new Promise(r => setTimeout(r, 1000 * (attempt + 1)));
    }
  }
  errorBox.textContent = "Нет связи с сервером, попробуйте ещё раз / No connection, please retry";
}

async function poll() {
  for (;;) {
    try {
      const res = await fetch(`/api/webchat/updates?user_id=${encodeURIComponent(userId())}&after=${cursor}&wait=25`);
      if (res.ok) { const data = await res.json(); showReplies(data.replies); showState(data.state); }
      else await new Promise(r => setTimeout(r, 3000));
    } catch (e) { await new Promise(r => setTimeout(r, 3000)); }
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  send({ text }, text);
});

addBubble("bot", "Здравствуйте! Я помогу с балансом, номером, роумингом и контактами поддержки. / Hello! Ask me about balance, your number, roaming or support contacts.");
poll();
input.focus();
