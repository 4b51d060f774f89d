"use strict";
// The supervisors' live monitor. Everything a subscriber (or anyone) wrote goes on the page as
// text nodes (textContent), never as markup; the CSP allows no inline script or style, so the
// page only ever sets classes, never element.style. Live data comes from server-sent events
// (/api/desk/monitor/events, event `monitor`), the same body as GET /api/desk/monitor.
(function () {
  const T = {
    ru: {
      monitor: "Монитор", to_desk: "← Рабочее место", to_analytics: "Аналитика", to_schedule: "Расписание", logout: "Выйти",
      live_title: "Обновления в реальном времени", sound_title: "Звук при новой тревоге",
      sound_on: "звук", sound_off: "без звука",
      f_state: "Состояние", f_channel: "Канал", f_agent: "Сотрудник", all: "все", anyone: "любой",
      any_channel: "любой канал", state_bot: "с ботом", state_waiting: "ждёт сотрудника",
      state_with_agent: "у сотрудника",
      search_placeholder: "Поиск по перепискам…", silence_over: "тишина дольше, с", search: "Найти",
      results: "Результаты поиска", hide: "Скрыть", nothing_found: "Ничего не найдено.", more: "Ещё",
      need_query: "Введите слово для поиска или выберите фильтр.",
      bad_agent: "Логин сотрудника: латинские буквы, цифры и _ . @ -",
      channel: "Канал", state: "Состояние", agent: "Сотрудник", waiting_time: "Ожидание / цель",
      sentiment: "Настроение", silence: "Без ответа", unanswered: "Сообщ.", last_lines: "Последние реплики",
      no_rows: "Нет открытых разговоров.", alerts: "Тревоги", no_alerts: "Тревог нет.",
      join: "Подключиться", take_over: "Забрать себе", tab_live: "Разговор", tab_replay: "Разбор",
      whisper: "Шепнуть", whisper_placeholder: "Подсказка сотруднику (абонент её не увидит)",
      reply_placeholder: "Ответ абоненту…", send: "Отправить",
      pick: "Откройте разговор в таблице, тревогу или результат поиска.", none: "—",
      a_silence: "Долгая тишина", a_sla: "Ожидание дольше цели", a_unanswered_messages: "Пишет без ответа",
      al_silence: "тишина", al_sla: "SLA", al_unanswered_messages: "без ответа",
      messages_n: "{n} сообщ.", supervisor: "старший", joined_by: "+ {name}",
      who_subscriber: "Абонент", who_bot: "Бот", who_agent: "Сотрудник", who_system: "Система",
      note: "заметка", whisper_kind: "шёпот",
      cs_bot: "с ботом", cs_waiting_agent: "ждёт сотрудника", cs_with_agent: "у сотрудника", cs_closed: "закрыт",
      st_waiting: "в очереди", st_active: "в работе", st_closed: "закрыт",
      st_cancelled: "отменён абонентом", st_returned: "возвращён боту",
      ch_webchat: "Веб-чат", ch_telegram: "Telegram", ch_vk: "ВКонтакте", ch_email: "E-mail",
      visitor_webchat: "Посетитель веб-чата", verified: "подтверждён", not_verified: "не подтверждён",
      s_strongly_negative: "сильный негатив", s_negative: "негатив", s_neutral: "нейтрально",
      s_positive: "позитив", d_falling: "ухудшается", d_rising: "улучшается", d_steady: "ровно",
      silence_line: "Тишина {d}", silence_msgs: "{n} сообщ. без ответа", ongoing: "продолжается",
      action: "действие", replay_empty: "Событий нет.",
      act_open: "открыл", act_view_personal_data: "посмотрел номер", act_claim: "взял",
      act_reply: "ответил", act_note: "заметка", act_close: "закрыл", act_return_to_bot: "вернул боту",
      act_join: "подключился", act_whisper: "шепнул", act_take_over: "забрал себе", act_search: "искал",
    },
    en: {
      monitor: "Monitor", to_desk: "← Agent desk", to_analytics: "Analytics", to_schedule: "Schedule", logout: "Log out",
      live_title: "Live updates", sound_title: "Sound on a new alert",
      sound_on: "sound", sound_off: "muted",
      f_state: "State", f_channel: "Channel", f_agent: "Agent", all: "all", anyone: "anyone",
      any_channel: "any channel", state_bot: "with the bot", state_waiting: "waiting for an agent",
      state_with_agent: "with an agent",
      search_placeholder: "Search the transcripts…", silence_over: "silence over, s", search: "Search",
      results: "Search results", hide: "Hide", nothing_found: "Nothing found.", more: "More",
      need_query: "Type a word to search for or pick a filter.",
      bad_agent: "An agent's username: Latin letters, digits and _ . @ -",
      channel: "Channel", state: "State", agent: "Agent", waiting_time: "Waiting / target",
      sentiment: "Sentiment", silence: "Unanswered for", unanswered: "Msgs", last_lines: "Last lines",
      no_rows: "No open conversations.", alerts: "Alerts", no_alerts: "No alerts.",
      join: "Join", take_over: "Take over", tab_live: "Conversation", tab_replay: "Replay",
      whisper: "Whisper", whisper_placeholder: "A hint for the agent (the subscriber never sees it)",
      reply_placeholder: "Reply to the subscriber…", send: "Send",
      pick: "Open a conversation from the table, an alert or a search result.", none: "—",
      a_silence: "Long silence", a_sla: "Waiting past the target", a_unanswered_messages: "Writing unanswered",
      al_silence: "silence", al_sla: "SLA", al_unanswered_messages: "unanswered",
      messages_n: "{n} msgs", supervisor: "supervisor", joined_by: "+ {name}",
      who_subscriber: "Subscriber", who_bot: "Bot", who_agent: "Agent", who_system: "System",
      note: "note", whisper_kind: "whisper",
      cs_bot: "with the bot", cs_waiting_agent: "waiting for an agent", cs_with_agent: "with an agent", cs_closed: "closed",
      st_waiting: "waiting", st_active: "active", st_closed: "closed",
      st_cancelled: "cancelled by the subscriber", st_returned: "returned to the bot",
      ch_webchat: "Web chat", ch_telegram: "Telegram", ch_vk: "VK", ch_email: "E-mail",
      visitor_webchat: "Web visitor", verified: "verified", not_verified: "not verified",
      s_strongly_negative: "strongly negative", s_negative: "negative", s_neutral: "neutral",
      s_positive: "positive", d_falling: "falling", d_rising: "rising", d_steady: "steady",
      silence_line: "Silence {d}", silence_msgs: "{n} msgs unanswered", ongoing: "ongoing",
      action: "action", replay_empty: "No events.",
      act_open: "opened", act_view_personal_data: "viewed the number", act_claim: "claimed",
      act_reply: "replied", act_note: "note", act_close: "closed", act_return_to_bot: "returned to the bot",
      act_join: "joined", act_whisper: "whispered", act_take_over: "took over", act_search: "searched",
    },
  };
  const CHANNELS = ["webchat", "telegram", "vk", "email"];
  const DIRECTION_ARROW = { falling: "↘", rising: "↗", steady: "→" };
  const SOUND_KEY = "desk_monitor_sound";
  const USERNAME = /^[A-Za-z0-9_.@-]{1,64}$/;  // what the monitor's agent filter accepts

  let lang = localStorage.getItem("desk_lang") || ((navigator.language || "ru").startsWith("ru") ? "ru" : "en");
  const $ = (id) => document.getElementById(id);
  const t = (key, vars) => (T[lang][key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String((vars || {})[k] ?? ""));
  const channelName = (name) => (T[lang][`ch_${name}`] ?? name);
  const identityName = (identity, channel) => (identity && identity.display_name)
    || `${T[lang][`visitor_${channel}`] ?? channelName(channel)} ${(identity && identity.alias) || ""}`.trim();

  const state = {
    me: null,
    snapshot: null,       // the latest monitor body
    receivedAt: 0,        // Date.now() when it arrived: the page counts silences up from there
    shownKey: null,       // what of it the table shows (see shownKey())
    source: null,         // the EventSource
    primed: false,        // the first snapshot of a stream only learns the alerts (no beep)
    seenAlerts: new Set(),
    agentsSeen: new Set(),
    channelsSeen: new Set(CHANNELS),
    selected: null,       // the open conversation
    view: null,           // its read-only view
    rowSignature: null,   // what of its monitor row we saw last: a change reloads the view
    loadingView: null,
    reloadView: false,
    tab: "live",
    replay: null,
    focusMessage: null,   // the message a search result opened the replay at
    search: null,         // {params, page, has_more, results}
    sound: localStorage.getItem(SOUND_KEY) === "on",
    audio: null,
  };

  // -- DOM helpers: text only (common.js) ----------------------------------------------------
  const { el, clear, api } = DeskCommon;
  const svg = DeskCommon.svg;
  const duration = (seconds) => DeskCommon.duration(seconds, t("none"));
  function timeOf(iso) { return new Date(iso).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" }); }
  function dateTimeOf(iso) { return new Date(iso).toLocaleString(lang, { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" }); }
  function whoOf(entry) {
    return entry.sender === "agent" && entry.agent ? entry.agent : t("who_" + entry.sender);
  }

  function showError(err) { $("error").textContent = err ? String(err.message || err) : ""; }
  function paneError(err) { $("pane-error").textContent = err ? String(err.message || err) : ""; }

  // -- the language --------------------------------------------------------------------------
  function applyLang() {
    document.documentElement.lang = lang;
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
    for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
    $("lang").textContent = lang === "ru" ? "EN" : "RU";
    renderChannelOptions();
    renderSound();
    renderAll();
  }
  function renderAll() {
    renderRows(); renderAlerts(); renderView(); renderReplay(); renderResults(); tick();
  }
  function renderChannelOptions() {
    for (const select of document.querySelectorAll(".channel-select")) {
      const chosen = select.value;
      while (select.options.length > 1) select.remove(1);
      for (const name of [...state.channelsSeen].sort()) {
        const option = el("option", null, channelName(name));
        option.value = name;
        select.appendChild(option);
      }
      select.value = chosen;
    }
  }

  // -- sound: a short beep made by Web Audio (no audio files) --------------------------------
  // a bell drawn as SVG (no emoji font is needed), struck through while the sound is off
  const BELL = "M12 22a2 2 0 0 0 2-2h-4a2 2 0 0 0 2 2zm6-6v-5c0-3.07-1.64-5.64-4.5-6.32V4a1.5 1.5 0 0 0-3 0v.68"
    + "C7.63 5.36 6 7.92 6 11v5l-2 2v1h16v-1l-2-2z";
  function renderSound() {
    const button = $("sound");
    clear(button);
    const icon = svg("svg", { width: 16, height: 16, viewBox: "0 0 24 24", class: "bell", "aria-hidden": "true" });
    icon.appendChild(svg("path", { d: BELL }));
    if (!state.sound) icon.appendChild(svg("line", { x1: 3, y1: 3, x2: 21, y2: 21, class: "bell-off" }));
    button.appendChild(icon);
    button.appendChild(el("span", null, t(state.sound ? "sound_on" : "sound_off")));
    button.setAttribute("aria-pressed", state.sound ? "true" : "false");
    button.classList.toggle("on", state.sound);
  }
  // browsers start audio only after a user gesture, so the context is made in one
  function unlockAudio() {
    if (!state.sound) return;
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    if (!state.audio) state.audio = new Context();
    if (state.audio.state === "suspended") state.audio.resume().catch(() => {});
  }
  function beep() {
    const ctx = state.audio;
    if (!state.sound || !ctx || ctx.state !== "running") return;
    const now = ctx.currentTime;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "sine";
    osc.frequency.setValueAtTime(880, now);
    osc.frequency.setValueAtTime(660, now + 0.12);
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.2, now + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.3);
    osc.connect(gain).connect(ctx.destination);
    osc.start(now);
    osc.stop(now + 0.32);
  }
  $("sound").addEventListener("click", () => {
    state.sound = !state.sound;
    localStorage.setItem(SOUND_KEY, state.sound ? "on" : "off");
    renderSound();
    unlockAudio();
    if (state.sound && state.audio) state.audio.resume().then(beep).catch(() => {});
  });
  document.addEventListener("pointerdown", unlockAudio);
  document.addEventListener("keydown", unlockAudio);

  // -- the table -----------------------------------------------------------------------------
  function renderRows() {
    const body = $("rows");
    clear(body);
    const snapshot = state.snapshot;
    const rows = snapshot ? snapshot.conversations : [];
    $("no-rows").hidden = rows.length > 0 || !snapshot;
    for (const row of rows) body.appendChild(rowOf(row, snapshot));
  }
  function countUp(node, base, limit, counting) {
    // the value grows each second from the snapshot (tick()); red past the limit
    node.classList.add("count-up");
    node.dataset.base = String(base);
    node.dataset.limit = limit === null || limit === undefined ? "" : String(limit);
    node.dataset.counting = counting ? "1" : "";
    node.dataset.from = String(state.receivedAt);
  }
  function rowOf(row, snapshot) {
    const tr = el("tr", "mon-row state-" + row.state);
    if (row.alerts && row.alerts.length) tr.classList.add("alerted");
    if (row.conversation_id === state.selected) tr.classList.add("selected");
    tr.dataset.conversation = row.conversation_id;
    tr.tabIndex = 0;

    const channel = el("td", "c-channel");
    channel.appendChild(el("div", null, channelName(row.channel)));
    channel.appendChild(el("div", "muted", row.lang || t("none")));
    tr.appendChild(channel);

    const st = el("td", "c-state");
    st.appendChild(el("span", "badge st-" + row.state, t("state_" + row.state)));
    for (const kind of row.alerts || []) st.appendChild(el("span", "badge hot alert-badge", t("al_" + kind)));
    tr.appendChild(st);

    const agent = el("td", "c-agent");
    agent.appendChild(el("div", null, row.agent || t("none")));
    if (row.supervisor) agent.appendChild(el("div", "muted supervisor", t("joined_by", { name: row.supervisor })));
    tr.appendChild(agent);

    const wait = el("td", "c-wait");
    if (row.waiting_seconds === null || row.waiting_seconds === undefined) {
      wait.textContent = t("none");
    } else {
      const value = el("span", "wait-value");
      countUp(value, row.waiting_seconds, snapshot.target_seconds, row.state === "waiting");
      if (row.sla_breached) value.classList.add("late");
      wait.appendChild(value);
      wait.appendChild(el("span", "muted", ` / ${duration(snapshot.target_seconds)}`));
    }
    tr.appendChild(wait);

    const mood = el("td", "c-sentiment");
    mood.appendChild(sparkline(row.sentiment));
    tr.appendChild(mood);

    const silence = el("td", "c-silence");
    if (row.unanswered_seconds === null || row.unanswered_seconds === undefined) {
      silence.textContent = t("none");
    } else {
      const value = el("span", "silence-value");
      countUp(value, row.unanswered_seconds, snapshot.silence_alert_seconds, true);
      silence.appendChild(value);
    }
    tr.appendChild(silence);

    const unanswered = el("td", "c-unanswered" + (row.unanswered_messages >= 3 ? " late" : ""),
      row.unanswered_messages ? String(row.unanswered_messages) : "0");
    tr.appendChild(unanswered);

    const lines = el("td", "c-lines");
    for (const line of row.last_lines || []) {
      const div = el("div", "line " + line.sender);
      div.appendChild(el("span", "who", whoOf(line) + ": "));
      div.appendChild(document.createTextNode(line.text));
      lines.appendChild(div);
    }
    tr.appendChild(lines);

    tr.addEventListener("click", () => openConversation(row.conversation_id));
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter") openConversation(row.conversation_id); });
    return tr;
  }
  // the subscriber's latest scores, oldest first, as a tiny line (SVG made node by node)
  function sparkline(sentiment) {
    const box = el("span", "spark dir-" + ((sentiment && sentiment.direction) || "steady"));
    const trend = (sentiment && sentiment.trend) || [];
    const width = 64;
    const height = 20;
    const graph = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "spark-svg", role: "img" });
    const label = sentiment ? `${t("s_" + sentiment.label)} · ${t("d_" + sentiment.direction)}` : t("none");
    const title = svg("title");
    title.textContent = label;
    graph.appendChild(title);
    graph.appendChild(svg("line", { x1: 0, y1: height / 2, x2: width, y2: height / 2, class: "spark-zero" }));
    const y = (score) => (height / 2 - Math.max(-5, Math.min(5, Number(score) || 0)) * ((height / 2 - 2) / 5)).toFixed(1);
    const x = (i) => (trend.length < 2 ? width / 2 : 3 + i * ((width - 6) / (trend.length - 1))).toFixed(1);
    if (trend.length > 1) {
      graph.appendChild(svg("polyline", { points: trend.map((v, i) => `${x(i)},${y(v)}`).join(" "), class: "spark-line" }));
    }
    if (trend.length) {
      const last = trend.length - 1;
      graph.appendChild(svg("circle", { cx: x(last), cy: y(trend[last]), r: 2.2, class: "spark-dot" }));
    }
    box.appendChild(graph);
    box.appendChild(el("span", "arrow", DIRECTION_ARROW[(sentiment && sentiment.direction) || "steady"] || ""));
    box.title = label;
    return box;
  }
  function tick() {
    const now = Date.now();
    for (const node of document.querySelectorAll(".count-up")) {
      const gone = Math.max(0, (now - Number(node.dataset.from)) / 1000);
      const value = Number(node.dataset.base) + (node.dataset.counting ? gone : 0);
      node.textContent = duration(value);
      if (node.dataset.limit !== "" && node.dataset.counting) {
        node.classList.toggle("over", value > Number(node.dataset.limit));
      }
    }
  }

  // -- alerts --------------------------------------------------------------------------------
  function renderAlerts() {
    const list = $("alerts");
    clear(list);
    const alerts = state.snapshot ? state.snapshot.alerts : [];
    $("alert-count").textContent = String(alerts.length);
    $("alert-count").classList.toggle("hot", alerts.length > 0);
    if (!alerts.length) { list.appendChild(el("li", "muted no-alerts", t("no_alerts"))); return; }
    for (const alert of alerts) {
      const li = el("li", "alert kind-" + alert.kind);
      li.dataset.alert = alert.id;
      li.dataset.conversation = alert.conversation_id;
      li.tabIndex = 0;
      if (alert.conversation_id === state.selected) li.classList.add("selected");
      const top = el("div", "row");
      top.appendChild(el("b", null, t("a_" + alert.kind)));
      const age = el("span", "age");
      countUp(age, alert.seconds, null, true);
      top.appendChild(age);
      li.appendChild(top);
      const parts = [channelName(alert.channel), alert.agent || t("none")];
      if (alert.messages) parts.push(t("messages_n", { n: alert.messages }));
      parts.push(`#${String(alert.conversation_id).slice(0, 8)}`);
      li.appendChild(el("div", "muted", parts.join(" · ")));
      li.addEventListener("click", () => openConversation(alert.conversation_id));
      li.addEventListener("keydown", (e) => { if (e.key === "Enter") openConversation(alert.conversation_id); });
      list.appendChild(li);
    }
  }
  function learnAlerts(alerts) {
    let fresh = false;
    for (const alert of alerts) {
      if (!state.seenAlerts.has(alert.id)) { state.seenAlerts.add(alert.id); fresh = true; }
    }
    if (fresh && state.primed) beep();
    state.primed = true;
  }

  // -- the live stream -----------------------------------------------------------------------
  function filterParams() {
    const params = new URLSearchParams();
    const st = $("f-state").value;
    const channel = $("f-channel").value;
    const agent = $("f-agent").value.trim();
    if (st) params.set("state", st);
    if (channel) params.set("channel", channel);
    if (agent) params.set("agent", agent);
    return params;
  }
  let reconnectLater = null;
  function connect() {
    if (state.source) state.source.close();
    clearTimeout(reconnectLater);
    const query = filterParams().toString();
    const source = new EventSource("/api/desk/monitor/events" + (query ? "?" + query : ""));
    state.source = source;
    source.addEventListener("open", () => { if (source === state.source) $("live").classList.add("on"); });
    source.addEventListener("error", () => {
      if (source !== state.source) return;
      $("live").classList.remove("on");
      // the browser retries a stream that ended by itself; one refused (logged out: api()
      // goes to the login page; a bad filter: its message) it gives up on, so ask the plain
      // monitor why, and try again only if that works
      if (source.readyState === EventSource.CLOSED) {
        reconnectLater = setTimeout(() => {
          api("GET", "/api/desk/monitor" + (query ? "?" + query : ""))
            .then(() => { if (source === state.source) connect(); }, showError);
        }, 2000);
      }
    });
    source.addEventListener("monitor", (event) => {
      if (source !== state.source) return;
      onSnapshot(JSON.parse(event.data));
    });
  }
  function restart() {
    state.primed = false;  // a wider filter shows old alerts: they are not new
    showError(null);
    state.snapshot = null;
    state.shownKey = null;
    renderRows(); renderAlerts();
    connect();
  }
  // what the table and the alerts show, but for the seconds (the page counts those up itself):
  // a snapshot that changes nothing else leaves the DOM alone, so focus and hover stay put
  function shownKey(snapshot) {
    return JSON.stringify([
      snapshot.conversations.map((r) => ({ ...r, waiting_seconds: r.waiting_seconds === null, unanswered_seconds: r.unanswered_seconds === null, risk: 0 })),
      snapshot.alerts.map((a) => [a.id, a.kind, a.conversation_id, a.channel, a.agent, a.messages]),
      snapshot.target_seconds, snapshot.silence_alert_seconds,
    ]);
  }
  function onSnapshot(snapshot) {
    const key = shownKey(snapshot);
    const changed = key !== state.shownKey;
    state.shownKey = key;
    state.snapshot = snapshot;
    state.receivedAt = Date.now();
    learnAlerts(snapshot.alerts);
    let newNames = false;
    for (const row of snapshot.conversations) {
      for (const name of [row.agent, row.supervisor]) {
        if (name && !state.agentsSeen.has(name)) { state.agentsSeen.add(name); newNames = true; }
      }
      if (row.channel && !state.channelsSeen.has(row.channel)) {
        state.channelsSeen.add(row.channel);
        renderChannelOptions();
      }
    }
    if (newNames) {
      const list = $("agents-seen");
      clear(list);
      for (const name of [...state.agentsSeen].sort()) {
        const option = document.createElement("option");
        option.value = name;
        list.appendChild(option);
      }
    }
    if (changed) { renderRows(); renderAlerts(); }
    tick();
    if (state.selected) {
      const signature = rowSignature(state.selected);
      // the read-only view is opened again (and audited) only when its conversation changed
      if (signature !== state.rowSignature) {
        state.rowSignature = signature;
        loadView();
      }
    }
  }
  function rowSignature(conversationId) {
    const row = state.snapshot && state.snapshot.conversations.find((r) => r.conversation_id === conversationId);
    if (!row) return "absent";
    return JSON.stringify([row.state, row.handoff_id, row.agent, row.supervisor, row.last_message_at,
      (row.last_lines || []).map((l) => l.id), row.unanswered_messages]);
  }

  for (const id of ["f-state", "f-channel"]) $(id).addEventListener("change", restart);
  let agentLater = null;
  let agentFilter = "";
  function agentChanged() {
    clearTimeout(agentLater);
    const value = $("f-agent").value.trim();
    if (value === agentFilter) return;
    if (value && !USERNAME.test(value)) { showError(t("bad_agent")); return; }
    agentFilter = value;
    restart();
  }
  $("f-agent").addEventListener("input", () => { clearTimeout(agentLater); agentLater = setTimeout(agentChanged, 500); });
  $("f-agent").addEventListener("change", agentChanged);
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); agentChanged(); });

  // -- search --------------------------------------------------------------------------------
  async function runSearch(page) {
    const params = page === 1 ? searchParams() : state.search && state.search.params;
    if (!params) { showError(t("need_query")); return; }
    const query = new URLSearchParams(params);
    query.set("page", String(page));
    query.set("page_size", "20");
    showError(null);
    $("search-go").disabled = true;
    $("more").disabled = true;
    try {
      const data = await api("GET", "/api/desk/search?" + query.toString());
      if (page === 1) state.search = { params, results: [] };
      state.search.page = data.page;
      state.search.has_more = data.has_more;
      state.search.results.push(...data.results);
      renderResults();
    } catch (err) {
      showError(err);
    } finally {
      $("search-go").disabled = false;
      $("more").disabled = false;
    }
  }
  function searchParams() {
    const params = {};
    const q = $("q").value.trim();
    const channel = $("s-channel").value;
    const silence = $("s-silence").value.trim();
    if (q) params.q = q;
    if (channel) params.channel = channel;
    if (silence) params.silence_over = silence;
    return Object.keys(params).length ? params : null;
  }
  function renderResults() {
    const box = $("search-results");
    const search = state.search;
    box.hidden = !search;
    if (!search) return;
    const list = $("results");
    clear(list);
    for (const r of search.results) {
      const li = el("li", "result");
      li.dataset.conversation = r.conversation_id;
      li.dataset.message = String(r.message_id);
      li.tabIndex = 0;
      const meta = [dateTimeOf(r.at), channelName(r.channel), whoOf(r)];
      if (r.intent) meta.push(r.intent);
      li.appendChild(el("div", "muted", meta.join(" · ")));
      const snippet = el("div", "snippet");
      for (const segment of r.snippet || []) {
        if (segment.hit) snippet.appendChild(el("mark", null, segment.text));
        else snippet.appendChild(document.createTextNode(segment.text));
      }
      li.appendChild(snippet);
      const open = () => openConversation(r.conversation_id, { tab: "replay", message: r.message_id });
      li.addEventListener("click", open);
      li.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
      list.appendChild(li);
    }
    $("results-empty").hidden = search.results.length > 0;
    $("more").hidden = !search.has_more;
  }
  $("search-form").addEventListener("submit", (event) => { event.preventDefault(); runSearch(1); });
  $("more").addEventListener("click", () => runSearch((state.search ? state.search.page : 0) + 1));
  $("search-close").addEventListener("click", () => { state.search = null; renderResults(); });

  // -- one conversation ----------------------------------------------------------------------
  async function openConversation(conversationId, options) {
    const opts = options || {};
    const same = conversationId === state.selected;
    state.selected = conversationId;
    state.focusMessage = opts.message ?? null;
    state.tab = opts.tab || (same ? state.tab : "live");
    if (!same) { state.view = null; state.replay = null; }
    state.rowSignature = rowSignature(conversationId);
    paneError(null);
    $("whisper").value = same ? $("whisper").value : "";
    $("reply").value = same ? $("reply").value : "";
    renderRows(); renderAlerts(); renderTabs(); tick();
    await loadView();
    if (state.tab === "replay") await loadReplay();
  }
  // one request at a time; a change seen meanwhile asks for one more round, and every caller
  // waits for the last round
  function loadView() {
    if (state.loadingView) { state.reloadView = true; return state.loadingView; }
    state.loadingView = (async () => {
      do {
        state.reloadView = false;
        const id = state.selected;
        if (!id) break;
        try {
          const view = await api("GET", `/api/desk/monitor/conversations/${encodeURIComponent(id)}`);
          if (id === state.selected) state.view = view;
        } catch (err) {
          if (id === state.selected) paneError(err);
        }
        renderView();
      } while (state.reloadView);
      state.loadingView = null;
    })();
    return state.loadingView;
  }
  function renderView() {
    const v = state.selected === null ? null : state.view;
    $("pane").hidden = state.selected === null;
    $("pane-empty").hidden = state.selected !== null;
    if (state.selected === null) return;
    if (!v || v.conversation_id !== state.selected) {
      $("pane-title").textContent = `#${String(state.selected).slice(0, 8)}`;
      $("pane-status").textContent = "";
      for (const id of ["join", "take-over", "whisper-send"]) $(id).disabled = true;
      $("reply-form").hidden = true;
      clear($("transcript")); clear($("notes"));
      return;
    }
    const me = state.me ? state.me.username : null;
    $("pane-title").textContent = `${identityName(v.identity, v.channel)} · ${channelName(v.channel)}${v.lang ? " · " + v.lang : ""}`;
    const status = [t("cs_" + v.state)];
    if (v.status) status.push(t("st_" + v.status));
    if (v.identity) status.push(v.identity.verified ? t("verified") : t("not_verified"));
    if (v.agent) status.push(`${t("agent")}: ${v.agent}`);
    if (v.supervisor) status.push(`${t("supervisor")}: ${v.supervisor}`);
    $("pane-status").textContent = status.join(" · ");
    const closed = v.state === "closed";
    const mine = me !== null && (v.supervisor === me || v.agent === me);
    $("join").disabled = closed || mine;
    $("take-over").disabled = closed || v.agent === me;
    $("whisper-send").disabled = closed || v.handoff_id === null || v.handoff_id === undefined;
    $("whisper").disabled = $("whisper-send").disabled;
    $("reply-form").hidden = closed || !mine;
    renderTranscript(v.transcript || []);
    renderNotes(v.notes || []);
  }
  function renderTranscript(entries) {
    const box = $("transcript");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    clear(box);
    for (const m of entries) box.appendChild(bubble(m, "div"));
    if (atBottom || box.dataset.conversation !== state.selected) box.scrollTop = box.scrollHeight;
    box.dataset.conversation = state.selected;
  }
  function bubble(m, tag) {
    const cls = m.sender === "subscriber" ? "subscriber" : m.sender === "agent" ? "agent" : "bot";
    const node = el(tag, "msg " + cls);
    node.dataset.message = String(m.id);
    node.appendChild(el("span", "who", `${whoOf(m)} · ${timeOf(m.at)}${m.intent ? " · " + m.intent : ""}`));
    node.appendChild(document.createTextNode(m.text));
    return node;
  }
  function renderNotes(notes) {
    const list = $("notes");
    clear(list);
    for (const note of notes) {
      const li = el("li", note.kind === "whisper" ? "whisper" : "note");
      li.appendChild(el("span", "muted", `${note.kind === "whisper" ? t("whisper_kind") : t("note")} · ${note.agent} · ${timeOf(note.at)}: `));
      li.appendChild(document.createTextNode(note.text));
      list.appendChild(li);
    }
    list.hidden = notes.length === 0;
  }

  // -- the replay: messages, actions and silences in time order ------------------------------
  async function loadReplay() {
    const id = state.selected;
    if (!id) return;
    try {
      const replay = await api("GET", `/api/desk/conversations/${encodeURIComponent(id)}/replay`);
      if (id !== state.selected) return;
      state.replay = replay;
    } catch (err) {
      if (id === state.selected) paneError(err);
    }
    renderReplay(true);
  }
  function renderReplay(scroll) {
    const list = $("replay");
    clear(list);
    const replay = state.replay;
    if (!replay || replay.conversation_id !== state.selected) return;
    let focus = null;
    for (const e of replay.events) {
      let li;
      if (e.kind === "message") {
        li = bubble(e, "li");
        li.classList.add("ev");
        if (state.focusMessage !== null && String(e.id) === String(state.focusMessage)) {
          li.classList.add("hit");
          focus = li;
        }
      } else if (e.kind === "action") {
        li = el("li", "ev action act-" + String(e.action).replace(/[^a-z_]/g, ""));
        li.appendChild(el("span", "who", `${timeOf(e.at)} · ${e.agent || t("who_system")}`));
        li.appendChild(el("b", null, T[lang]["act_" + e.action] ?? e.action));
        const details = detailsText(e.details);
        if (details) li.appendChild(el("span", "details", details));
      } else if (e.kind === "silence") {
        li = el("li", "ev silence" + (e.long ? " long" : "") + (e.ongoing ? " ongoing" : ""));
        const parts = [t("silence_line", { d: duration(e.seconds) })];
        if (e.messages) parts.push(t("silence_msgs", { n: e.messages }));
        if (e.ongoing) parts.push(t("ongoing"));
        li.appendChild(el("span", "who", timeOf(e.at)));
        li.appendChild(document.createTextNode(parts.join(" · ")));
      } else {
        continue;
      }
      list.appendChild(li);
    }
    if (!list.firstChild) list.appendChild(el("li", "muted", t("replay_empty")));
    if (scroll) {
      if (focus) focus.scrollIntoView({ block: "center" });
      else list.scrollTop = list.scrollHeight;
    }
  }
  function detailsText(details) {
    if (!details || typeof details !== "object") return details ? String(details) : "";
    return Object.entries(details)
      .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join(", ");
  }
  function renderTabs() {
    const replay = state.tab === "replay";
    $("tab-live").classList.toggle("on", !replay);
    $("tab-replay").classList.toggle("on", replay);
    $("tab-live").setAttribute("aria-selected", String(!replay));
    $("tab-replay").setAttribute("aria-selected", String(replay));
    $("view-live").hidden = replay;
    $("view-replay").hidden = !replay;
  }
  $("tab-live").addEventListener("click", () => { state.tab = "live"; renderTabs(); loadView(); });
  $("tab-replay").addEventListener("click", () => { state.tab = "replay"; renderTabs(); loadReplay(); });
  $("pane-close").addEventListener("click", () => {
    state.selected = null; state.view = null; state.replay = null; state.focusMessage = null;
    renderAll();
  });

  // -- actions -------------------------------------------------------------------------------
  async function act(path, body) {
    const id = state.selected;
    paneError(null);
    let ok = true;
    try {
      await api("POST", `/api/desk/conversations/${encodeURIComponent(id)}/${path}`, body);
    } catch (err) { paneError(err); ok = false; }
    await loadView();
    if (state.tab === "replay") await loadReplay();
    return ok;
  }
  $("join").addEventListener("click", () => act("join"));
  $("take-over").addEventListener("click", () => act("take-over"));
  $("whisper-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("whisper").value;
    if (!text.trim()) return;
    if (await act("whisper", { text })) $("whisper").value = "";
  });
  $("reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("reply").value;
    if (!text.trim()) return;
    if (await act("messages", { text })) $("reply").value = "";
  });
  for (const [area, form] of [["reply", "reply-form"], ["whisper", "whisper-form"]]) {
    $(area).addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $(form).requestSubmit();
    });
  }
  $("lang").addEventListener("click", () => {
    lang = lang === "ru" ? "en" : "ru";
    localStorage.setItem("desk_lang", lang);
    applyLang();
  });
  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/desk/logout"); } finally { location.assign("/desk/login"); }
  });

  async function start() {
    applyLang();
    const me = await api("GET", "/api/desk/me");
    state.me = me.agent;
    $("whoami").textContent = `${me.agent.display_name || me.agent.username} (${me.agent.role})`;
    connect();
    setInterval(tick, 1000);
  }
  start().catch(showError);
})();
