"use strict";
// The agent desk. Everything a subscriber (or anyone) wrote goes on the page as text nodes
// (textContent), never as markup. Live updates come from server-sent events (/api/desk/events).
(function () {
  const T = {
    ru: {
      desk: "Рабочее место", logout: "Выйти", waiting: "Ожидают", active: "В работе",
      claim: "Взять", return_to_bot: "Вернуть боту", close: "Закрыть", send: "Отправить",
      resolution: "Итог (для отчёта)", reply_placeholder: "Ответ абоненту…",
      card: "Карточка обращения", intents: "Что понял бот", notes: "Внутренние заметки",
      note_placeholder: "Заметка для коллег (абонент её не увидит)", add_note: "Добавить заметку",
      pick: "Выберите обращение в очереди слева.", live_title: "Обновления в реальном времени",
      channel: "Канал", language: "Язык", subscriber: "Абонент", phone: "Подтв. номер",
      reason: "Причина", topic: "Тема", sentiment: "Настроение", entities: "Сущности",
      escalated: "Передан", waited: "Ожидание", agent: "Сотрудник", none: "—",
      st_waiting: "в очереди", st_active: "в работе", st_closed: "закрыт",
      st_cancelled: "отменён абонентом", st_returned: "возвращён боту",
      who_subscriber: "Абонент", who_bot: "Бот", who_agent: "Сотрудник", who_system: "Система",
      r_subscriber_request: "Просьба абонента", r_not_understood_twice: "Бот не понял дважды",
      r_nlu_unavailable: "NLU недоступен", r_topic_needs_agent: "Тема для сотрудника",
      r_complaint: "Жалоба", r_negative_sentiment: "Сильный негатив",
      s_strongly_negative: "сильный негатив", s_negative: "негатив", s_neutral: "нейтрально",
      s_positive: "позитив", today: "Сегодня", week: "7 дней", handoffs: "обращений",
      within: "≤3 мин", median: "медиана", p90: "p90", abandoned: "брошено", csat: "CSAT",
      position: "№{n}", rating: "Оценка", confirm_close: "Закрыть разговор?",
      ch_webchat: "Веб-чат", ch_telegram: "Telegram", ch_vk: "ВКонтакте", ch_email: "E-mail",
      visitor_webchat: "Посетитель веб-чата", not_verified: "не подтверждён",
      verified: "Подтверждён", via_sms_code: "SMS-код", via_contact: "контакт Telegram",
      other_identities: "Другие каналы абонента", recent: "Недавние обращения",
      had_handoff: "был у сотрудника", open: "Открыть",
      cs_bot: "с ботом", cs_waiting_agent: "ждёт сотрудника", cs_with_agent: "у сотрудника",
      cs_closed: "закрыт", whisper: "Шёпот руководителя", supervisor: "Руководитель",
      monitor: "Монитор", schedule: "Расписание", r_supervisor_joined: "Подключился руководитель",
      suggestions: "Подсказки", insert: "Вставить", insert_title: "Вставить текст в ответ (его можно изменить до отправки)",
      no_suggestions: "Подходящих статей нет", assist_failed: "Подсказки недоступны",
      balance: "Баланс", tariff: "Тариф", roaming: "Роуминг", line_status: "Статус линии",
      roaming_on: "включён", roaming_off: "выключен", figures: "Данные биллинга",
      f_billing_failed: "биллинг не ответил", f_billing_unavailable: "биллинг не подключён",
      f_not_a_subscriber: "номер не найден в биллинге",
    },
    en: {
      desk: "Agent desk", logout: "Log out", waiting: "Waiting", active: "Active",
      claim: "Claim", return_to_bot: "Return to bot", close: "Close", send: "Send",
      resolution: "Resolution (for the record)", reply_placeholder: "Reply to the subscriber…",
      card: "Context card", intents: "What the bot understood", notes: "Internal notes",
      note_placeholder: "A note for colleagues (the subscriber never sees it)", add_note: "Add note",
      pick: "Pick a conversation in the queue on the left.", live_title: "Live updates",
      channel: "Channel", language: "Language", subscriber: "Subscriber", phone: "Verified phone",
      reason: "Reason", topic: "Topic", sentiment: "Sentiment", entities: "Entities",
      escalated: "Escalated", waited: "Waited", agent: "Agent", none: "—",
      st_waiting: "waiting", st_active: "active", st_closed: "closed",
      st_cancelled: "cancelled by the subscriber", st_returned: "returned to the bot",
      who_subscriber: "Subscriber", who_bot: "Bot", who_agent: "Agent", who_system: "System",
      r_subscriber_request: "Asked for a person", r_not_understood_twice: "Not understood twice",
      r_nlu_unavailable: "NLU unavailable", r_topic_needs_agent: "Topic needs an agent",
      r_complaint: "Complaint", r_negative_sentiment: "Strongly negative",
      s_strongly_negative: "strongly negative", s_negative: "negative", s_neutral: "neutral",
      s_positive: "positive", today: "Today", week: "7 days", handoffs: "handoffs",
      within: "≤3 min", median: "median", p90: "p90", abandoned: "abandoned", csat: "CSAT",
      position: "#{n}", rating: "Rating", confirm_close: "Close the conversation?",
      ch_webchat: "Web chat", ch_telegram: "Telegram", ch_vk: "VK", ch_email: "E-mail",
      visitor_webchat: "Web visitor", not_verified: "not verified",
      verified: "Verified", via_sms_code: "SMS code", via_contact: "Telegram contact",
      other_identities: "Subscriber's other channels", recent: "Recent conversations",
      had_handoff: "went to an agent", open: "Open",
      cs_bot: "with the bot", cs_waiting_agent: "waiting for an agent", cs_with_agent: "with an agent",
      cs_closed: "closed", whisper: "Supervisor's whisper", supervisor: "Supervisor",
      monitor: "Monitor", schedule: "Schedule", r_supervisor_joined: "A supervisor joined",
      suggestions: "Suggestions", insert: "Insert", insert_title: "Put the text into the reply (editable before sending)",
      no_suggestions: "No matching articles", assist_failed: "Suggestions unavailable",
      balance: "Balance", tariff: "Tariff", roaming: "Roaming", line_status: "Line status",
      roaming_on: "on", roaming_off: "off", figures: "Billing figures",
      f_billing_failed: "the billing did not answer", f_billing_unavailable: "no billing connected",
      f_not_a_subscriber: "the billing does not know the number",
    },
  };
  let lang = localStorage.getItem("desk_lang") || ((navigator.language || "ru").startsWith("ru") ? "ru" : "en");
  const $ = (id) => document.getElementById(id);
  const t = (key, vars) => (T[lang][key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String((vars || {})[k] ?? ""));
  const channelName = (name) => (T[lang][`ch_${name}`] ?? name);
  // the channel's name for its user, e.g. "Web visitor 7f3a": the alias, never the channel's id
  const identityName = (identity, channel) => identity.display_name
    || `${T[lang][`visitor_${channel}`] ?? channelName(channel)} ${identity.alias || ""}`.trim();
  const viaName = (via) => (via ? T[lang][`via_${via}`] ?? via : t("none"));
  // assist: the suggestions of the open conversation ({conversationId, key, data, error}) and
  // the articles inserted into the reply box since the last reply (reported as "sent" with it)
  const state = { me: null, queue: null, selected: null, detail: null, skew: 0, assist: null, inserted: new Set() };

  // -- DOM helpers: text only (common.js) ----------------------------------------------------
  const { el, clear, api } = DeskCommon;
  const duration = (seconds) => DeskCommon.duration(seconds, t("none"));
  function since(iso) { return (Date.now() + state.skew - Date.parse(iso)) / 1000; }
  function timeOf(iso) { return new Date(iso).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" }); }

  function showError(err) { $("error").textContent = err ? String(err.message || err) : ""; }

  // -- the language --------------------------------------------------------------------------
  function applyLang() {
    document.documentElement.lang = lang;
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
    for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
    $("lang").textContent = lang === "ru" ? "EN" : "RU";
    renderQueue(); renderDetail(); loadStats();
  }

  // -- the queue -----------------------------------------------------------------------------
  function renderQueue() {
    const queue = state.queue;
    if (!queue) return;
    for (const [listId, countId, items] of [["waiting", "waiting-count", queue.waiting], ["active", "active-count", queue.active]]) {
      const list = $(listId);
      clear(list);
      $(countId).textContent = String(items.length);
      for (const item of items) list.appendChild(queueItem(item));
    }
  }
  function queueItem(item) {
    const li = el("li", "item" + (item.conversation_id === state.selected ? " selected" : "")
      + (item.matches_skills === false ? " other-skill" : ""));
    li.dataset.conversation = item.conversation_id;
    li.tabIndex = 0;
    const top = el("div", "row");
    const left = el("span");
    if (item.position) left.appendChild(el("span", "badge", t("position", { n: item.position })));
    left.appendChild(document.createTextNode(" "));
    const hot = ["negative_sentiment", "complaint"].includes(item.reason) || item.card.sentiment.score <= -4;
    left.appendChild(el("span", "badge" + (hot ? " hot" : ""), t("r_" + item.reason)));
    if (item.skill) left.appendChild(el("span", "badge skill", item.skill));
    top.appendChild(left);
    const timer = el("span", "timer");
    timer.dataset.since = item.created_at;
    timer.dataset.until = item.claimed_at || "";
    top.appendChild(timer);
    li.appendChild(top);
    li.appendChild(el("div", "sum", item.summary));
    const bottom = el("div", "row");
    bottom.appendChild(el("span", null, `${channelName(item.card.channel)} · ${item.card.lang}`));
    bottom.appendChild(el("span", null, item.agent || ""));
    li.appendChild(bottom);
    li.addEventListener("click", () => select(item.conversation_id));
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") select(item.conversation_id); });
    return li;
  }
  function tick() {
    for (const timer of document.querySelectorAll(".timer")) {
      const waited = timer.dataset.until
        ? (Date.parse(timer.dataset.until) - Date.parse(timer.dataset.since)) / 1000
        : since(timer.dataset.since);
      timer.textContent = duration(waited);
      timer.classList.toggle("late", !timer.dataset.until && waited >= 180);
    }
  }

  // -- one conversation ----------------------------------------------------------------------
  async function select(conversationId) {
    if (conversationId !== state.selected) { state.assist = null; state.inserted.clear(); }
    state.selected = conversationId;
    showError(null);
    renderQueue();
    await loadDetail();
  }
  async function loadDetail() {
    if (!state.selected) return;
    try {
      state.detail = await api("GET", `/api/desk/conversations/${encodeURIComponent(state.selected)}`);
    } catch (err) { state.detail = null; showError(err); }
    renderDetail();
    await loadAssist();
  }
  // suggestions follow the subscriber's latest message (and a verification); not every live
  // update re-reads them, so the billing is asked only when something changed
  function assistKey(d) {
    const last = d.card.transcript.filter((m) => m.sender === "subscriber").pop();
    return [d.conversation_id, d.handoff_id, last ? last.id : "", d.card.identity.verified].join("|");
  }
  async function loadAssist() {
    const d = state.detail;
    if (!d || d.conversation_id !== state.selected) return;
    const key = assistKey(d);
    if (state.assist && state.assist.key === key) return;
    const conversationId = d.conversation_id;
    let data = null;
    let error = null;
    try {
      data = await api("GET", `/api/desk/conversations/${encodeURIComponent(conversationId)}/assist`);
    } catch (err) { error = err; }
    if (state.selected !== conversationId) return;  // another conversation was opened meanwhile
    state.assist = { conversationId, key, data, error };
    renderSuggestions();
    if (state.detail) renderCard(state.detail);
  }
  function currentAssist() {
    return state.assist && state.assist.conversationId === state.selected ? state.assist : null;
  }
  function renderSuggestions() {
    const list = $("suggestions");
    clear(list);
    const assist = currentAssist();
    if (!assist) return;
    if (assist.error) { list.appendChild(el("li", "muted", t("assist_failed"))); return; }
    const canReply = !$("reply").disabled;
    for (const s of assist.data.suggestions) {
      const li = el("li");
      li.dataset.article = s.article;
      const head = el("div", "s-head");
      head.appendChild(el("span", "s-title", s.title));
      const insert = el("button", "ghost insert", t("insert"));
      insert.type = "button";
      insert.title = t("insert_title");
      insert.disabled = !canReply;
      insert.addEventListener("click", () => insertSuggestion(s));
      head.appendChild(insert);
      li.appendChild(head);
      const preview = s.text.length > 160 ? s.text.slice(0, 159) + "…" : s.text;
      li.appendChild(el("div", "s-preview", preview));
      li.appendChild(el("div", "muted", s.reason));
      list.appendChild(li);
    }
    if (!list.firstChild) list.appendChild(el("li", "muted", t("no_suggestions")));
  }
  function insertSuggestion(s) {
    const box = $("reply");
    if (box.disabled) return;
    const before = box.value.replace(/\s+$/, "");
    box.value = before ? `${before}\n\n${s.text}` : s.text;
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
    state.inserted.add(s.article);
    recordUse(state.selected, s.article, "inserted");
  }
  async function recordUse(conversationId, article, action) {
    try {
      await api("POST", `/api/desk/conversations/${encodeURIComponent(conversationId)}/assist/used`, { article, action });
    } catch (err) { /* tracking only: the agent's work goes on */ }
  }
  function renderDetail() {
    const d = state.detail;
    $("conversation").hidden = !d;
    $("empty").hidden = !!d;
    if (!d) return;
    $("conv-summary").textContent = d.summary;
    const status = [t("st_" + d.status)];
    if (d.agent) status.push(`${t("agent")}: ${d.agent}`);
    if (d.supervisor) status.push(`${t("supervisor")}: ${d.supervisor}`);
    if (d.rating) status.push(`${t("rating")}: ${d.rating}/5`);
    $("conv-status").textContent = status.join(" · ");
    const mine = state.me && (d.agent === state.me.username || d.supervisor === state.me.username || state.me.role === "supervisor");
    $("claim").disabled = d.status !== "waiting";
    $("return").disabled = !(d.status === "waiting" || (d.status === "active" && mine));
    $("close").disabled = !(d.status === "active" && mine) && !(d.status === "waiting" && state.me && state.me.role === "supervisor");
    $("send").disabled = !(d.status === "active" && mine);
    $("reply").disabled = $("send").disabled;
    renderTranscript(d.card.transcript);
    renderCard(d);
    renderSuggestions();
    renderNotes(d.notes);
  }
  function renderTranscript(entries) {
    const box = $("transcript");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    clear(box);
    for (const m of entries) {
      const bubble = el("div", "msg " + (m.sender === "subscriber" ? "subscriber" : m.sender === "agent" ? "agent" : "bot"));
      const who = m.sender === "agent" && m.agent ? m.agent : t("who_" + m.sender);
      bubble.appendChild(el("span", "who", `${who} · ${timeOf(m.at)}${m.intent ? " · " + m.intent : ""}`));
      bubble.appendChild(document.createTextNode(m.text));
      box.appendChild(bubble);
    }
    if (atBottom || box.dataset.conversation !== state.selected) box.scrollTop = box.scrollHeight;
    box.dataset.conversation = state.selected;
  }
  function renderCard(d) {
    const card = d.card;
    const rows = [
      ["channel", channelName(card.channel)],
      ["language", card.lang],
      ["subscriber", identityName(card.identity, card.channel)],
      ["phone", card.identity.verified ? card.identity.verified_phone || t("none") : t("not_verified")],
      ...(card.identity.verified
        ? [["verified", `${viaName(card.identity.verified_via)}${card.identity.verified_at ? " · " + new Date(card.identity.verified_at).toLocaleString(lang) : ""}`]]
        : []),
      ["reason", t("r_" + card.reason)],
      ["topic", card.topic || t("none")],
      ["sentiment", `${t("s_" + card.sentiment.label)} (${card.sentiment.score})${card.sentiment.cues.length ? ": " + card.sentiment.cues.join(", ") : ""}`],
      ["entities", Object.entries(card.entities).map(([k, v]) => `${k}: ${v}`).join(", ") || t("none")],
      ["escalated", new Date(card.escalated_at).toLocaleString(lang)],
      ["waited", duration(d.wait_seconds ?? d.waiting_seconds)],
    ];
    const dl = $("card");
    clear(dl);
    for (const [key, value] of rows) { dl.appendChild(el("dt", null, t(key))); dl.appendChild(el("dd", null, value)); }
    renderFigures(dl, card);
    const body = $("intents");
    clear(body);
    for (const seen of card.intents) {
      const tr = el("tr");
      tr.appendChild(el("td", null, seen.text || ""));
      tr.appendChild(el("td", null, seen.intent || ""));
      tr.appendChild(el("td", null, seen.confidence === null || seen.confidence === undefined ? "" : seen.confidence.toFixed(2)));
      body.appendChild(tr);
    }
    renderCustomer(card);
  }
  // a verified subscriber's live figures from the billing (read with the suggestions)
  function renderFigures(dl, card) {
    const assist = currentAssist();
    if (!assist || !assist.data || !card.identity.verified) return;
    const f = assist.data.figures;
    if (!f) {
      const reason = assist.data.figures_reason;
      if (reason && reason !== "not_verified") {
        dl.appendChild(el("dt", null, t("figures")));
        dl.appendChild(el("dd", "muted", t("f_" + reason)));
      }
      return;
    }
    const rows = [
      ["balance", `${f.balance} ${f.currency}`, f.balance.startsWith("-") ? "figure negative" : "figure"],
      ["tariff", f.tariff || t("none"), "figure"],
      ["roaming", t(f.roaming_enabled ? "roaming_on" : "roaming_off"), "figure"],
      ["line_status", f.status, "figure"],
    ];
    for (const [key, value, cls] of rows) {
      const dd = el("dd", cls, value);
      dd.dataset.figure = key;
      dl.appendChild(el("dt", null, t(key)));
      dl.appendChild(dd);
    }
  }
  function renderCustomer(card) {
    const others = $("other-identities");
    clear(others);
    for (const other of card.other_identities || []) {
      const status = other.verified ? `${t("verified")}: ${viaName(other.verified_via)}` : t("not_verified");
      // a name says nothing of the channel, while "Telegram 7f3a" already names it
      const who = other.display_name ? `${channelName(other.channel)} · ${other.display_name}` : identityName(other, other.channel);
      others.appendChild(el("li", null, `${who} · ${status}`));
    }
    if (!others.firstChild) others.appendChild(el("li", "muted", t("none")));
    const recent = $("recent");
    clear(recent);
    for (const c of card.recent_conversations || []) {
      const parts = [channelName(c.channel), new Date(c.started_at).toLocaleString(lang),
        t("cs_" + c.state), c.topic_label || c.topic || t("none")];
      if (c.had_handoff) parts.push(t("had_handoff"));
      const li = el("li", null, parts.join(" · "));
      li.dataset.conversation = c.conversation_id;
      if (c.can_open) {  // the desk opens only conversations with a handoff this agent may see
        const open = el("button", "ghost link", t("open"));
        open.type = "button";
        open.addEventListener("click", () => select(c.conversation_id));
        li.appendChild(document.createTextNode(" "));
        li.appendChild(open);
      }
      recent.appendChild(li);
    }
    if (!recent.firstChild) recent.appendChild(el("li", "muted", t("none")));
  }
  function renderNotes(notes) {
    const list = $("notes");
    clear(list);
    for (const note of notes) {
      const whisper = note.kind === "whisper";
      const li = el("li", whisper ? "whisper" : null);
      li.appendChild(el("span", "muted", `${whisper ? t("whisper") + " · " : ""}${note.agent} · ${timeOf(note.at)}: `));
      li.appendChild(document.createTextNode(note.text));
      list.appendChild(li);
    }
    // the latest whisper also stands above the transcript, where the agent is looking
    const latest = notes.filter((n) => n.kind === "whisper").pop();
    const banner = $("whisper");
    banner.hidden = !latest;
    clear(banner);
    if (latest) {
      banner.appendChild(el("b", null, `${t("whisper")} (${latest.agent}, ${timeOf(latest.at)}): `));
      banner.appendChild(document.createTextNode(latest.text));
    }
  }

  // -- actions -------------------------------------------------------------------------------
  async function act(path, body) {
    showError(null);
    let done = true;
    try {
      await api("POST", `/api/desk/conversations/${encodeURIComponent(state.selected)}/${path}`, body);
    } catch (err) { showError(err); done = false; }
    await loadDetail();
    return done;
  }
  $("claim").addEventListener("click", () => act("claim"));
  $("return").addEventListener("click", () => act("return-to-bot"));
  $("close").addEventListener("click", async () => {
    await act("close", { resolution: $("resolution").value });
    $("resolution").value = "";
  });
  $("reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("reply").value;
    if (!text.trim()) return;
    $("reply").value = "";
    const conversationId = state.selected;
    const inserted = [...state.inserted];
    state.inserted.clear();
    if (await act("messages", { text })) {
      for (const article of inserted) recordUse(conversationId, article, "sent");
    } else {
      $("reply").value = text;  // not sent: keep the text (and what it holds) for another try
      for (const article of inserted) state.inserted.add(article);
    }
  });
  $("reply").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("reply-form").requestSubmit();
  });
  $("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("note").value;
    if (!text.trim()) return;
    $("note").value = "";
    await act("notes", { text });
  });
  $("lang").addEventListener("click", () => {
    lang = lang === "ru" ? "en" : "ru";
    localStorage.setItem("desk_lang", lang);
    applyLang();
  });
  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/desk/logout"); } finally { location.assign("/desk/login"); }
  });

  // -- stats ---------------------------------------------------------------------------------
  let statsAt = 0;
  let statsLater = null;
  async function loadStats(force) {
    const wait = 2000 - (Date.now() - statsAt);
    if (!force && wait > 0) {  // at most one request per 2 s, but never miss the last change
      if (!statsLater) statsLater = setTimeout(() => { statsLater = null; loadStats(true); }, wait);
      return;
    }
    statsAt = Date.now();
    let s;
    try { s = await api("GET", "/api/desk/stats"); } catch (err) { return; }
    const box = $("stats");
    clear(box);
    for (const [key, p] of [["today", s.today], ["week", s.last_7_days]]) {
      const share = p.share_answered_within_target;
      const period = el("div", "period");
      period.appendChild(el("b", null, t(key)));
      const parts = [
        `${t("handoffs")}: ${p.handoffs}`,
        `${t("within")}: ${share === null ? t("none") : Math.round(share * 100) + "%"}`,
        `${t("median")}: ${duration(p.median_wait_seconds)}`,
        `${t("p90")}: ${duration(p.p90_wait_seconds)}`,
        `${t("abandoned")}: ${p.abandoned}`,
        `${t("csat")}: ${p.csat_average === null ? t("none") : p.csat_average.toFixed(1)}`,
      ];
      const line = el("span", share !== null && share < 0.9 ? "bad" : null, parts.join(" · "));
      period.appendChild(line);
      box.appendChild(period);
    }
  }

  // -- live updates --------------------------------------------------------------------------
  function connect() {
    const source = new EventSource("/api/desk/events");
    source.addEventListener("open", () => $("live").classList.add("on"));
    source.addEventListener("error", () => $("live").classList.remove("on"));
    source.addEventListener("queue", (event) => {
      const queue = JSON.parse(event.data);
      state.skew = Date.parse(queue.generated_at) - Date.now();
      state.queue = queue;
      renderQueue();
      tick();
      if (state.selected) loadDetail();
      loadStats();
    });
  }

  async function start() {
    const me = await api("GET", "/api/desk/me");
    state.me = me.agent;
    $("whoami").textContent = `${me.agent.display_name || me.agent.username} (${me.agent.role})`;
    $("monitor-link").hidden = me.agent.role !== "supervisor";
    applyLang();
    connect();
    setInterval(tick, 1000);
    setInterval(() => loadStats(true), 30000);
  }
  start().catch(showError);
})();
