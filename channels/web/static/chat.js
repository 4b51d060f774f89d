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
// The conversation belongs to this browser session: the server keeps its token in an HttpOnly
// cookie (sent with every same-origin fetch), and the user_id lives in sessionStorage, so both
// end with the browser session. user_id never goes into a URL: polls are found by the cookie.
const USER_KEY = "abonent_user_id";
const tabs = "BroadcastChannel" in window ? new BroadcastChannel("abonent_webchat") : null;
let answered = 0;  // messages answered so far: a poll refused (401) waits for the next one
const waitingPolls = [];

function userId() { return sessionStorage.getItem(USER_KEY) || newUserId(); }

function newUserId() {
  const id = "web-" + crypto.randomUUID();
  sessionStorage.setItem(USER_KEY, id);
  return id;
}

// One cookie serves every tab: a tab that opens a session tells the others to write as it,
// or two tabs would keep taking the cookie from each other.
if (tabs) tabs.onmessage = (event) => { if (event.data && event.data.userId) sessionStorage.setItem(USER_KEY, event.data.userId); };

function nextAnswer(since) {
  // an answer that came while the refused poll was on its way already means there is a session
  return since !== answered ? Promise.resolve() : new Promise(r => waitingPolls.push(r));
}

function sessionIsOpen() { answered++; for (const wake of waitingPolls.splice(0)) wake(); }

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
  let restarted = false;
  for (let attempt = 0; attempt < 3; attempt++) {  // the same message_id is answered once
    try {
      const res = await fetch("/api/webchat/messages", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(message),
        credentials: "same-origin",
      });
      const data = await res.json();
      if (res.status === 401 && !restarted) {
        // the session is gone (cookie cleared, browser restarted, another tab): start afresh
        restarted = true; attempt--;
        message.user_id = newUserId(); cursor = "0";
        addBubble("system", "Прежний разговор закрыт, начинаем новый. / Your previous chat ended; starting a new one.");
        continue;
      }
      if (!res.ok) { errorBox.textContent = data.error || "Ошибка / Error " + res.status; return; }
      if (data.session_token && tabs) tabs.postMessage({ userId: message.user_id });
      sessionIsOpen();
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
    const since = answered;
    try {
      const res = await fetch(`/api/webchat/updates?after=${cursor}&wait=25`, { credentials: "same-origin" });
      if (res.ok) { const data = await res.json(); showReplies(data.replies); showState(data.state); }
      else if (res.status === 401) await nextAnswer(since);  // no session yet: nothing to poll
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
