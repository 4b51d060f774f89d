"use strict";
// The supervisors' analytics page: GET /api/desk/analytics?from=&to=&channel= drawn as SVG made
// node by node (createElementNS; no chart library, no CDN). The CSP allows no inline style, so
// charts set only SVG attributes (x, y, width, height) and classes (colours are in
// analytics.css). Everything anyone wrote (a not-understood message, a name) is set as text.
(function () {
  const T = {
    ru: {
      analytics: "Аналитика", to_desk: "← Рабочее место", to_monitor: "Монитор", to_schedule: "Расписание", logout: "Выйти",
      f_from: "С", f_to: "По", f_channel: "Канал", all_channels: "все каналы", apply: "Показать",
      today: "Сегодня", days7: "7 дней", days30: "30 дней", period: "Период: {from} — {to}",
      loading: "Загрузка…", none: "—", no_data: "Нет данных за период.",
      t_service_level: "Уровень обслуживания",
      d_service_level: "Доля обращений, на которые человек ответил за 3 минуты, против 90% (норма регулятора) и 99% (хороший оператор).",
      per_day: "По дням", per_hour: "По часам",
      t_containment: "Решено ботом", d_containment: "Доля разговоров, которые бот закрыл без передачи сотруднику.",
      by_family: "По темам", by_channel: "По каналам", by_agent: "По сотрудникам",
      t_csat: "Оценки абонентов (CSAT)", distribution: "Распределение оценок",
      t_sentiment: "Настроение входящих",
      d_sentiment: "Сообщения абонентов: негатив / нейтрально / позитив, рядом с ориентиром 7 / 85 / 8.",
      t_repeat: "Повторные обращения",
      d_repeat: "Доля обращений, за которыми в течение 7 дней последовало ещё одно от того же абонента по той же теме.",
      t_reasons: "Причины передачи сотруднику",
      t_not_understood: "Бот не понял",
      d_not_understood: "Самые частые сообщения, которые бот не понял: материал для обучения NLU.",
      t_team: "Команда и навыки",
      d_team: "Обращения с навыком сначала видят сотрудники с этим навыком. Изменения сохраняются сразу.",
      team_unavailable: "Навыки пока недоступны.", saved: "сохранено", agent: "Сотрудник", role: "Роль",
      last_seen: "Был(а)", inactive: "отключён", role_agent: "сотрудник", role_supervisor: "старший",
      // tiles and axes
      h_containment: "решено ботом", h_repeat: "повторные за 7 дней", h_csat: "средняя оценка",
      h_unresolved: "не решено", h_sl: "ответ за 3 мин", h_handoffs: "передач сотруднику",
      h_median: "медиана ожидания", h_p90: "90-й перцентиль", h_abandoned: "брошено",
      of_n: "{a} из {b}", ratings_n: "оценок: {n}", contacts_n: "обращений: {n}",
      csat_avg: "Средняя", unresolved: "Не решено", unresolved_sub: "закрыто без решения или оценка 1–2",
      repeat_share: "Повторные", conversations: "разговоров", ratings: "оценок", messages: "сообщений",
      this_period: "Период", seed: "Ориентир",
      s_negative: "негатив", s_neutral: "нейтрально", s_positive: "позитив",
      sl_share: "ответ за 3 мин", target90: "90% — норма", target99: "99% — хороший оператор",
      c_day: "День", c_hour: "Час", c_handoffs: "Передач", c_within: "За 3 мин", c_share: "Доля",
      c_median: "Медиана", c_p90: "P90", c_abandoned: "Брошено",
      count: "Кол-во", times_n: "×{n}",
      ch_webchat: "Веб-чат", ch_telegram: "Telegram", ch_vk: "ВКонтакте", ch_email: "E-mail",
      r_subscriber_request: "просьба абонента", r_not_understood_twice: "не понял дважды",
      r_nlu_unavailable: "NLU недоступен", r_topic_needs_agent: "тема для сотрудника",
      r_processing_failed: "сбой обработки", r_complaint: "жалоба",
      r_negative_sentiment: "сильный негатив", r_supervisor_joined: "подключился старший",
      fam_unknown: "без темы", csv: "CSV",
      t_goodwill: "Бонус за ожидание",
      d_goodwill: "100 МБ абоненту, который ждал сотрудника дольше нормы, если правила (handoff/data/goodwill.yml) не отказали.",
      gw_refused_by_rule: "Отказы по правилам", gw_granted: "Начислено", gw_pending: "Ждут биллинга",
      gw_refused: "Отказано", gw_used: "Использовано", gw_cost: "Стоимость", gw_mb: "{n} МБ",
      rule_verified_only: "не подтверждён", rule_refuse_when_left: "ушёл, не дождавшись",
      rule_once_per_customer_days: "уже получал за 30 дней",
      rule_own_handoffs_in_queue: "свои обращения в очереди",
      rule_reopened_within_minutes: "повторно через минуты", rule_daily_budget: "дневной лимит",
      rule_billing_failed: "биллинг не подтвердил",
    },
    en: {
      analytics: "Analytics", to_desk: "← Agent desk", to_monitor: "Monitor", to_schedule: "Schedule", logout: "Log out",
      f_from: "From", f_to: "To", f_channel: "Channel", all_channels: "all channels", apply: "Show",
      today: "Today", days7: "7 days", days30: "30 days", period: "Period: {from} — {to}",
      loading: "Loading…", none: "—", no_data: "No data for the period.",
      t_service_level: "Service level",
      d_service_level: "The share of handoffs a person answered within 3 minutes, against 90% (the regulator's) and 99% (a good operator's).",
      per_day: "Per day", per_hour: "Per hour",
      t_containment: "Contained by the bot", d_containment: "The share of conversations the bot resolved without a handoff.",
      by_family: "By topic family", by_channel: "By channel", by_agent: "By agent",
      t_csat: "Subscribers' ratings (CSAT)", distribution: "Distribution of ratings",
      t_sentiment: "Inbound sentiment",
      d_sentiment: "Subscribers' messages: negative / neutral / positive, beside the seed's 7 / 85 / 8.",
      t_repeat: "Repeat contacts",
      d_repeat: "The share of contacts followed within 7 days by another from the same customer on the same topic.",
      t_reasons: "Handoff reasons",
      t_not_understood: "Not understood by the bot",
      d_not_understood: "The commonest messages the bot did not understand: material for the NLU data.",
      t_team: "Team and skills",
      d_team: "Handoffs that need a skill go first to the agents who have it. Changes are saved at once.",
      team_unavailable: "Skills are unavailable for now.", saved: "saved", agent: "Agent", role: "Role",
      last_seen: "Last seen", inactive: "disabled", role_agent: "agent", role_supervisor: "supervisor",
      h_containment: "contained by the bot", h_repeat: "repeat within 7 days", h_csat: "average rating",
      h_unresolved: "unresolved", h_sl: "answered within 3 min", h_handoffs: "handoffs",
      h_median: "median wait", h_p90: "90th percentile", h_abandoned: "abandoned",
      of_n: "{a} of {b}", ratings_n: "ratings: {n}", contacts_n: "contacts: {n}",
      csat_avg: "Average", unresolved: "Unresolved", unresolved_sub: "closed without a resolution, or rated 1–2",
      repeat_share: "Repeat", conversations: "conversations", ratings: "ratings", messages: "messages",
      this_period: "Period", seed: "Seed",
      s_negative: "negative", s_neutral: "neutral", s_positive: "positive",
      sl_share: "answered within 3 min", target90: "90% — the regulator's", target99: "99% — a good operator's",
      c_day: "Day", c_hour: "Hour", c_handoffs: "Handoffs", c_within: "Within 3 min", c_share: "Share",
      c_median: "Median", c_p90: "P90", c_abandoned: "Abandoned",
      count: "Count", times_n: "×{n}",
      ch_webchat: "Web chat", ch_telegram: "Telegram", ch_vk: "VK", ch_email: "E-mail",
      r_subscriber_request: "subscriber's request", r_not_understood_twice: "not understood twice",
      r_nlu_unavailable: "NLU unavailable", r_topic_needs_agent: "topic needs an agent",
      r_processing_failed: "processing failed", r_complaint: "complaint",
      r_negative_sentiment: "strongly negative", r_supervisor_joined: "supervisor joined",
      fam_unknown: "no topic", csv: "CSV",
      t_goodwill: "Goodwill bonus",
      d_goodwill: "100 MB for a subscriber who waited for a person too long, unless a rule (handoff/data/goodwill.yml) refused.",
      gw_refused_by_rule: "Refusals by rule", gw_granted: "Granted", gw_pending: "Awaiting billing",
      gw_refused: "Refused", gw_used: "Used", gw_cost: "Cost", gw_mb: "{n} MB",
      rule_verified_only: "not verified", rule_refuse_when_left: "left before an answer",
      rule_once_per_customer_days: "had one in 30 days",
      rule_own_handoffs_in_queue: "own handoffs in the queue",
      rule_reopened_within_minutes: "reopened within minutes", rule_daily_budget: "daily budget",
      rule_billing_failed: "billing never confirmed",
    },
  };
  const CHANNELS = ["webchat", "telegram", "vk", "email"];
  const SENTIMENTS = ["negative", "neutral", "positive"];
  const SEED = { negative: 0.07, neutral: 0.85, positive: 0.08 };  // the seed operator's mood mix

  let lang = localStorage.getItem("desk_lang") || ((navigator.language || "ru").startsWith("ru") ? "ru" : "en");
  const $ = (id) => document.getElementById(id);
  const t = (key, vars) => (T[lang][key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String((vars || {})[k] ?? ""));
  const { el, clear, api } = DeskCommon;
  const channelName = (name) => T[lang][`ch_${name}`] ?? name;
  const reasonName = (name) => T[lang][`r_${name}`] ?? name;

  const state = { data: null, slView: "day", query: null, skills: null, agents: null, channels: new Set(CHANNELS) };

  // -- numbers as text: the test formats them the same way ------------------------------------
  function pct(share) {
    if (share === null || share === undefined) return t("none");
    return `${Math.round(Number(share) * 1000) / 10}%`;
  }
  function num(value, digits) {
    if (value === null || value === undefined) return t("none");
    const f = 10 ** (digits || 0);
    return String(Math.round(Number(value) * f) / f);
  }
  const dur = (seconds) => DeskCommon.duration(seconds, t("none"));

  // -- SVG helpers ----------------------------------------------------------------------------
  const svg = DeskCommon.svg;
  function frame(width, height, label) {
    const graph = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "chart-svg",
      role: "img", "aria-label": label, preserveAspectRatio: "xMinYMin meet" });
    if (label) graph.appendChild(svg("title", null, label));
    return graph;
  }
  function emptyChart() { return el("div", "empty-chart", t("no_data")); }
  // a label that fits: long ones are cut with "…" (the whole one is the row's tooltip)
  function fit(text, chars) { const s = String(text); return s.length > chars ? s.slice(0, chars - 1) + "…" : s; }

  /* Horizontal bars: one row per item, the label on the left, the bar, its value as text.
     items: [{label, value, text, sub, cls, key}]; value is a share (0..1) unless opts.max. */
  function hbars(items, opts) {
    const o = opts || {};
    if (!items.length) return emptyChart();
    const W = 640, labelW = o.labelWidth || 190, valueW = o.valueWidth || 130, row = 26, top = 4;
    const barW = W - labelW - valueW - 10;
    const max = o.max || 1;
    const H = top + items.length * row + 4;
    const graph = frame(W, H, o.title);
    graph.classList.add("hbar");
    items.forEach((item, i) => {
      const y = top + i * row;
      const g = svg("g", { class: "row", "data-key": item.key ?? item.label });
      const tip = svg("title", null, `${item.label}: ${item.text}${item.sub ? " (" + item.sub + ")" : ""}`);
      g.appendChild(tip);
      g.appendChild(svg("text", { x: labelW - 8, y: y + 17, "text-anchor": "end", class: "label" }, fit(item.label, 28)));
      g.appendChild(svg("rect", { x: labelW, y: y + 4, width: barW, height: row - 8, rx: 3, class: "track" }));
      const w = Math.max(0, Math.min(1, (Number(item.value) || 0) / max)) * barW;
      g.appendChild(svg("rect", { x: labelW, y: y + 4, width: w.toFixed(1), height: row - 8, rx: 3,
        class: "bar " + (item.cls || ""), "data-value": item.value ?? "" }));
      const value = svg("text", { x: labelW + barW + 8, y: y + 17, class: "value" }, item.text);
      g.appendChild(value);
      if (item.sub) {
        const sub = svg("tspan", { class: "tick", dx: 6 }, item.sub);
        value.appendChild(sub);
      }
      graph.appendChild(g);
    });
    return graph;
  }

  /* Vertical bars with a y axis and optional reference lines.
     items: [{label, value, text, cls, title}]; opts: {max, percent, refs: [{value, cls, label}]} */
  function vbars(items, opts) {
    const o = opts || {};
    if (!items.length) return emptyChart();
    // a fixed width: the viewBox scales to the panel, so text keeps one size whatever the count
    const W = o.width || 640;
    const left = 44, right = o.refs && o.refs.length ? 210 : 12, top = 18, bottom = 30;
    const slot = (W - left - right) / items.length;
    const H = o.height || 230;
    const plotH = H - top - bottom;
    const max = o.max || Math.max(1, ...items.map((i) => Number(i.value) || 0));
    const y = (v) => top + plotH - (Math.max(0, Math.min(max, v)) / max) * plotH;
    const graph = frame(W, H, o.title);
    graph.classList.add("vbar");
    // the y axis: 0, ¼, ½, ¾, max, as text
    for (let k = 0; k <= 4; k += 1) {
      const v = (max * k) / 4;
      graph.appendChild(svg("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), class: "grid-line" }));
      const tick = o.percent ? `${Math.round(v * 100)}%` : num(v, max < 8 ? 1 : 0);
      graph.appendChild(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, tick));
    }
    graph.appendChild(svg("line", { x1: left, x2: W - right, y1: y(0), y2: y(0), class: "axis" }));
    const every = Math.ceil(items.length / Math.max(1, Math.floor((W - left - right) / 34)));  // x labels that do not overlap
    items.forEach((item, i) => {
      const x = left + i * slot;
      const g = svg("g", { class: "col", "data-key": item.key ?? item.label });
      g.appendChild(svg("title", null, item.title || `${item.label}: ${item.text}`));
      const has = item.value !== null && item.value !== undefined;
      const bw = Math.min(56, slot * 0.68);
      const top1 = has ? y(Number(item.value)) : y(0) - 2;
      g.appendChild(svg("rect", { x: (x + (slot - bw) / 2).toFixed(1), y: top1.toFixed(1), width: bw.toFixed(1),
        height: Math.max(has ? 0 : 2, y(0) - top1).toFixed(1), rx: 2,
        class: "bar " + (has ? item.cls || "" : "none"), "data-value": has ? item.value : "" }));
      if (has && slot >= 26) {
        g.appendChild(svg("text", { x: x + slot / 2, y: top1 - 4, "text-anchor": "middle",
          class: "value" + (slot < 40 ? " tick" : "") }, item.text));
      }
      if (i % every === 0) {
        g.appendChild(svg("text", { x: x + slot / 2, y: H - bottom + 16, "text-anchor": "middle", class: "axis-label" }, item.label));
      }
      graph.appendChild(g);
    });
    for (const ref of o.refs || []) {
      graph.appendChild(svg("line", { x1: left, x2: W - right + 6, y1: y(ref.value), y2: y(ref.value), class: "ref " + ref.cls }));
      graph.appendChild(svg("text", { x: W - right + 10, y: y(ref.value) + (ref.dy || 4), class: "ref-label " + ref.cls }, ref.label));
    }
    return graph;
  }

  /* 100% stacked horizontal bars (sentiment against the seed): rows [{label, shares: {key: share},
     cls}], segments [{key, label}] */
  function stacked(rows, segments, opts) {
    const o = opts || {};
    const W = 640, labelW = 110, row = 44, top = 6;
    const barW = W - labelW - 10;
    const H = top + rows.length * row + 4;
    const graph = frame(W, H, o.title);
    graph.classList.add("stacked");
    rows.forEach((r, i) => {
      const y = top + i * row;
      const g = svg("g", { class: "row " + (r.cls || ""), "data-key": r.key });
      g.appendChild(svg("text", { x: labelW - 8, y: y + 20, "text-anchor": "end", class: "label" }, r.label));
      if (r.sub) g.appendChild(svg("text", { x: labelW - 8, y: y + 34, "text-anchor": "end", class: "tick" }, r.sub));
      let x = labelW;
      for (const seg of segments) {
        const share = Number(r.shares[seg.key]) || 0;
        const w = share * barW;
        const rect = svg("rect", { x: x.toFixed(1), y: y + 4, width: w.toFixed(1), height: row - 12,
          class: `seg ${seg.key} ${r.cls || ""}`, "data-value": share });
        rect.appendChild(svg("title", null, `${r.label} · ${seg.label}: ${pct(share)}`));
        g.appendChild(rect);
        if (w >= 34) {
          g.appendChild(svg("text", { x: (x + w / 2).toFixed(1), y: y + 4 + (row - 12) / 2 + 4, "text-anchor": "middle",
            class: "value inside seg-text", "data-segment": seg.key }, pct(share)));
        } else if (share > 0) {
          g.appendChild(svg("text", { x: (x + w / 2).toFixed(1), y: y + 1, "text-anchor": "middle",
            class: "value tick seg-text", "data-segment": seg.key }, pct(share)));
        }
        x += w;
      }
      graph.appendChild(g);
    });
    return graph;
  }
  function legend(entries) {
    const box = el("div", "legend");
    for (const [cls, label] of entries) {
      const item = el("span", "legend-item");
      item.appendChild(el("span", "swatch " + cls));
      item.appendChild(document.createTextNode(label));
      box.appendChild(item);
    }
    return box;
  }
  function tile(value, label, sub, cls) {
    const box = el("div", "tile" + (cls ? " " + cls : ""));
    box.appendChild(el("div", "tile-value", value));
    box.appendChild(el("div", "tile-label", label));
    if (sub) box.appendChild(el("div", "tile-sub", sub));
    return box;
  }
  function put(id, node) { const box = $(id); clear(box); box.appendChild(node); }

  // -- filters --------------------------------------------------------------------------------
  function isoDay(d) {
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  }
  function setDays(days) {
    const to = new Date();
    const from = new Date();
    from.setDate(to.getDate() - (days - 1));
    $("f-from").value = isoDay(from);
    $("f-to").value = isoDay(to);
  }
  function queryOf() {
    const params = new URLSearchParams();
    if ($("f-from").value) params.set("from", $("f-from").value);
    if ($("f-to").value) params.set("to", $("f-to").value);
    if ($("f-channel").value) params.set("channel", $("f-channel").value);
    return params.toString();
  }
  function renderChannelOptions() {
    const select = $("f-channel");
    const chosen = select.value;
    while (select.options.length > 1) select.remove(1);
    for (const name of [...state.channels].sort()) {
      const option = el("option", null, channelName(name));
      option.value = name;
      select.appendChild(option);
    }
    select.value = chosen;
  }
  // every figure has its CSV, for the same filters
  function renderCsvLinks() {
    for (const section of document.querySelectorAll("section.fig[data-figure]")) {
      const box = section.querySelector(".links");
      clear(box);
      for (const figure of section.dataset.figure.split(" ")) {
        const link = el("a", "csv", `${t("csv")} · ${figure}`);
        link.href = `/api/desk/analytics/${figure}.csv` + (state.query ? `?${state.query}` : "");
        link.setAttribute("download", `${figure}.csv`);
        link.dataset.figure = figure;
        box.appendChild(link);
      }
    }
  }

  async function load() {
    state.query = queryOf();
    showError(null);
    $("period").textContent = t("loading");
    try {
      state.data = await api("GET", "/api/desk/analytics" + (state.query ? `?${state.query}` : ""));
    } catch (err) {
      showError(err);
      $("period").textContent = "";
      return;
    }
    renderAll();
    document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
  }
  function showError(err) { $("error").textContent = err ? String(err.message || err) : ""; }

  // -- the figures ----------------------------------------------------------------------------
  function renderAll() {
    renderCsvLinks();
    const d = state.data;
    if (!d) return;
    for (const c of channelsIn(d)) state.channels.add(c);
    renderChannelOptions();
    $("period").textContent = t("period", { from: $("f-from").value || "…", to: $("f-to").value || "…" });
    renderHeadline(d);
    renderServiceLevel(d);
    renderContainment(d);
    renderCsat(d);
    renderSentiment(d);
    renderRepeat(d);
    renderReasons(d);
    renderNotUnderstood(d);
    renderGoodwill(d);
  }
  function channelsIn(d) {
    const c = d.containment && d.containment.by_channel ? d.containment.by_channel.map((r) => r.channel) : [];
    return c.filter(Boolean);
  }
  function slTotals(d) { return (d.service_level && d.service_level.total) || {}; }

  function renderHeadline(d) {
    const box = $("headline");
    clear(box);
    const sl = slTotals(d);
    const c = d.containment || {};
    const cs = d.csat || {};
    const rep = d.repeat_contacts || {};
    const slShare = sl.share_answered_within_target;
    box.appendChild(tile(pct(c.share), t("h_containment"), t("of_n", { a: c.contained ?? 0, b: c.conversations ?? 0 })));
    box.appendChild(tile(pct(slShare), t("h_sl"), t("of_n", { a: sl.answered_within_target ?? 0, b: sl.handoffs ?? 0 }),
      slShare === null || slShare === undefined ? "" : slShare >= 0.9 ? "good" : "bad"));
    box.appendChild(tile(dur(sl.median_wait_seconds), t("h_median"), `${t("h_p90")}: ${dur(sl.p90_wait_seconds)}`));
    box.appendChild(tile(num(cs.average, 2), t("h_csat"), t("ratings_n", { n: cs.count ?? 0 })));
    box.appendChild(tile(pct(cs.unresolved_share), t("h_unresolved"), t("unresolved_sub")));
    box.appendChild(tile(pct(rep.share), t("h_repeat"), t("contacts_n", { n: rep.contacts ?? 0 })));
    box.appendChild(tile(String(sl.abandoned ?? 0), t("h_abandoned"), `${t("h_handoffs")}: ${sl.handoffs ?? 0}`));
  }

  function slClass(share) {
    if (share === null || share === undefined) return "none";
    return share >= 0.99 ? "good" : share >= 0.9 ? "ok" : "bad";
  }
  function renderServiceLevel(d) {
    const sl = d.service_level || {};
    const byDay = state.slView === "day";
    const rows = (byDay ? sl.per_day : sl.per_hour) || [];
    $("sl-day").classList.toggle("on", byDay);
    $("sl-hour").classList.toggle("on", !byDay);
    const keyOf = (r) => (byDay ? String(r.day) : String(r.hour));
    const labelOf = (r) => (byDay ? String(r.day).slice(5).split("-").reverse().join(".") : `${String(r.hour).padStart(2, "0")}`);
    const items = rows.map((r) => ({
      key: keyOf(r), label: labelOf(r), value: r.share_answered_within_target,
      text: pct(r.share_answered_within_target), cls: slClass(r.share_answered_within_target),
      title: `${labelOf(r)}: ${pct(r.share_answered_within_target)} · ${t("c_handoffs")} ${r.handoffs} · ${t("c_median")} ${dur(r.median_wait_seconds)} · ${t("c_p90")} ${dur(r.p90_wait_seconds)} · ${t("c_abandoned")} ${r.abandoned}`,
    }));
    const box = $("chart-service_level");
    clear(box);
    box.appendChild(vbars(items, { max: 1, percent: true, title: t("t_service_level"), width: 1300, height: 250,
      refs: [{ value: 0.99, cls: "r99", label: t("target99"), dy: -2 }, { value: 0.9, cls: "r90", label: t("target90"), dy: 12 }] }));
    box.appendChild(legend([["good", "≥ 99%"], ["ok", "90–99%"], ["bad", "< 90%"], ["r90", t("target90")], ["r99", t("target99")]]));
    const table = $("table-service_level");
    clear(table);
    const head = el("tr");
    for (const key of [byDay ? "c_day" : "c_hour", "c_handoffs", "c_within", "c_share", "c_median", "c_p90", "c_abandoned"]) {
      head.appendChild(el("th", key === "c_day" || key === "c_hour" ? null : "num", t(key)));
    }
    const thead = el("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    const body = el("tbody");
    for (const r of rows) {
      if (!byDay && !r.handoffs) continue;  // the hours with nothing say nothing
      const tr = el("tr");
      tr.dataset.key = keyOf(r);
      tr.appendChild(el("td", null, byDay ? r.day : `${labelOf(r)}:00`));
      tr.appendChild(el("td", "num", r.handoffs));
      tr.appendChild(el("td", "num", r.answered_within_target ?? t("none")));
      const share = el("td", "num share", pct(r.share_answered_within_target));
      if (r.share_answered_within_target !== null && r.share_answered_within_target < 0.9) share.classList.add("below");
      tr.appendChild(share);
      tr.appendChild(el("td", "num", dur(r.median_wait_seconds)));
      tr.appendChild(el("td", "num", dur(r.p90_wait_seconds)));
      tr.appendChild(el("td", "num", r.abandoned ?? 0));
      body.appendChild(tr);
    }
    table.appendChild(body);
  }

  function shareItems(rows, labelOf, keyName) {
    return rows.map((r) => ({
      key: r[keyName], label: labelOf(r[keyName]), value: r.share, text: pct(r.share),
      sub: t("of_n", { a: r.contained, b: r.conversations }),
    }));
  }
  function familyName(name) { return name ? name.replace(/_/g, " ") : t("fam_unknown"); }
  function renderContainment(d) {
    const c = d.containment || {};
    put("chart-containment-family", hbars(shareItems(c.by_family || [], familyName, "family"), { title: t("by_family") }));
    put("chart-containment-channel", hbars(shareItems(c.by_channel || [], channelName, "channel"), { title: t("by_channel") }));
  }

  function renderCsat(d) {
    const cs = d.csat || {};
    const big = $("csat-big");
    clear(big);
    big.appendChild(tile(num(cs.average, 2), t("csat_avg"), t("ratings_n", { n: cs.count ?? 0 })));
    big.appendChild(tile(pct(cs.unresolved_share), t("unresolved"),
      `${t("of_n", { a: cs.unresolved ?? 0, b: cs.closed ?? 0 })} · ${t("unresolved_sub")}`));
    const dist = cs.distribution || {};
    const total = [1, 2, 3, 4, 5].reduce((s, k) => s + (Number(dist[k]) || 0), 0);
    put("chart-csat-distribution", total ? vbars([1, 2, 3, 4, 5].map((k) => ({
      key: String(k), label: "★".repeat(k), value: Number(dist[k]) || 0, cls: `r${k}`,
      text: `${Number(dist[k]) || 0} · ${pct(total ? (Number(dist[k]) || 0) / total : null)}`,
    })), { title: t("distribution"), height: 190 }) : emptyChart());
    // only who was rated: a handoff nobody took has no agent and no rating
    const avgItems = (rows, labelOf, keyName) => rows.filter((r) => r.count > 0).map((r) => ({
      key: r[keyName], label: labelOf(r) || t("none"), value: r.average, text: num(r.average, 2),
      sub: t("ratings_n", { n: r.count }), cls: r.average >= 4 ? "good" : r.average >= 3 ? "ok" : "bad",
    }));
    put("chart-csat-agent", hbars(avgItems(cs.by_agent || [], (r) => r.display_name || r.agent, "agent"),
      { max: 5, title: t("by_agent") }));
    put("chart-csat-channel", hbars(avgItems(cs.by_channel || [], (r) => channelName(r.channel), "channel"),
      { max: 5, title: t("by_channel") }));
  }

  function renderSentiment(d) {
    const s = d.sentiment || {};
    const total = Number(s.total) || 0;
    const shares = {};
    for (const key of SENTIMENTS) shares[key] = total ? (Number(s[key]) || 0) / total : 0;
    const seed = s.seed || SEED;
    const segments = SENTIMENTS.map((key) => ({ key, label: t("s_" + key) }));
    const box = $("chart-sentiment");
    clear(box);
    if (!total) { box.appendChild(emptyChart()); }
    box.appendChild(stacked([
      ...(total ? [{ key: "period", label: t("this_period"), sub: `${total} ${t("messages")}`, shares }] : []),
      { key: "seed", label: t("seed"), sub: "7 / 85 / 8", shares: seed, cls: "seed" },
    ], segments, { title: t("t_sentiment") }));
    box.appendChild(legend(SENTIMENTS.map((key) => [key, t("s_" + key)])));
  }

  function renderRepeat(d) {
    const r = d.repeat_contacts || {};
    const big = $("repeat-big");
    clear(big);
    big.appendChild(tile(pct(r.share), t("repeat_share"), t("of_n", { a: r.repeated ?? 0, b: r.contacts ?? 0 })));
    const rows = r.by_family || [];
    put("chart-repeat", rows.length ? hbars(rows.map((x) => ({
      key: x.family, label: familyName(x.family), value: x.share, text: pct(x.share),
      sub: t("of_n", { a: x.repeated, b: x.contacts }), cls: "bad",
    })), { title: t("t_repeat") }) : el("div"));
  }

  function renderReasons(d) {
    const rows = d.handoff_reasons || [];
    const total = rows.reduce((s, r) => s + (Number(r.count) || 0), 0);
    put("chart-reasons", hbars(rows.map((r) => ({
      key: r.reason, label: reasonName(r.reason), value: total ? r.count / total : 0,
      text: String(r.count), sub: pct(total ? r.count / total : null),
    })), { title: t("t_reasons") }));
  }

  // the goodwill bonus: tiles for the counts, a bar per rule for the refusals
  function renderGoodwill(d) {
    const g = d.goodwill || {};
    const big = $("goodwill-big");
    clear(big);
    big.appendChild(tile(String(g.granted ?? 0), t("gw_granted"), t("gw_mb", { n: g.granted_mb ?? 0 })));
    big.appendChild(tile(String(g.pending ?? 0), t("gw_pending")));
    big.appendChild(tile(String(g.refused ?? 0), t("gw_refused")));
    big.appendChild(tile(String(g.used ?? 0), t("gw_used"), pct(g.used_share)));
    big.appendChild(tile(`${g.cost ?? "0.00"} ${g.currency || ""}`.trim(), t("gw_cost")));
    const rows = g.refused_by_rule || [];
    const total = Number(g.refused) || 0;
    put("chart-goodwill", total ? hbars(rows.map((r) => ({
      key: r.rule, label: T[lang][`rule_${r.rule}`] ?? r.rule, value: r.count / total,
      text: String(r.count), sub: pct(r.count / total), cls: "bad",
    })), { title: t("gw_refused_by_rule") }) : emptyChart());
  }

  function renderNotUnderstood(d) {
    const list = $("not-understood");
    clear(list);
    const rows = d.not_understood || [];
    if (!rows.length) { list.appendChild(el("li", "muted", t("no_data"))); return; }
    for (const r of rows) {
      const li = el("li");
      const row = el("div", "nu-row");
      row.appendChild(el("span", "nu-text", r.text));
      row.appendChild(el("span", "nu-count", t("times_n", { n: r.count })));
      li.appendChild(row);
      list.appendChild(li);
    }
  }

  // -- the team and its skills ------------------------------------------------------------------
  async function loadTeam() {
    $("team-error").textContent = "";
    try {
      const [agents, skills] = await Promise.all([api("GET", "/api/desk/agents"), api("GET", "/api/desk/skills")]);
      state.agents = Array.isArray(agents) ? agents : (agents && agents.agents) || [];
      state.skills = (skills && skills.skills) || [];
    } catch (err) {
      // the routes may be missing (404) or failing: the rest of the page still works
      state.agents = null;
      $("team-error").textContent = t("team_unavailable");
    }
    renderTeam();
  }
  // GET /api/desk/skills: [{name, labels: {ru, en}}]; the header shows the label in the page's language
  function skillName(skill) { return typeof skill === "string" ? skill : skill.name; }
  function skillLabel(skill) {
    return typeof skill === "string" ? skill : (skill.labels && (skill.labels[lang] || skill.labels.en)) || skill.name;
  }
  function renderTeam() {
    const table = $("team-table");
    clear(table);
    if (!state.agents) return;
    const skills = state.skills.map(skillName);
    const thead = el("thead");
    const head = el("tr");
    head.appendChild(el("th", null, t("agent")));
    head.appendChild(el("th", null, t("role")));
    for (const skill of state.skills) {
      const th = el("th", "check", skillLabel(skill));
      th.dataset.skill = skillName(skill);
      head.appendChild(th);
    }
    head.appendChild(el("th", null, t("last_seen")));
    head.appendChild(el("th"));
    thead.appendChild(head);
    table.appendChild(thead);
    const body = el("tbody");
    for (const agent of state.agents) {
      const tr = el("tr", agent.active === false ? "inactive" : "");
      tr.dataset.agent = agent.username;
      const who = el("td");
      who.appendChild(el("div", null, agent.display_name || agent.username));
      who.appendChild(el("div", "muted", agent.username + (agent.active === false ? ` · ${t("inactive")}` : "")));
      tr.appendChild(who);
      tr.appendChild(el("td", null, t("role_" + agent.role)));
      const status = el("span", "saved");
      for (const skill of skills) {
        const td = el("td", "check");
        const box = el("input");
        box.type = "checkbox";
        box.dataset.skill = skill;
        box.checked = (agent.skills || []).includes(skill);
        box.setAttribute("aria-label", `${agent.username}: ${skill}`);
        box.addEventListener("change", () => saveSkills(agent, tr, status));
        td.appendChild(box);
        tr.appendChild(td);
      }
      tr.appendChild(el("td", "muted", agent.last_seen_at ? new Date(agent.last_seen_at).toLocaleString(lang) : t("none")));
      const tdStatus = el("td");
      tdStatus.appendChild(status);
      tr.appendChild(tdStatus);
      body.appendChild(tr);
    }
    table.appendChild(body);
  }
  async function saveSkills(agent, tr, status) {
    const chosen = [...tr.querySelectorAll("input[type=checkbox]")].filter((b) => b.checked).map((b) => b.dataset.skill);
    status.textContent = "";
    $("team-error").textContent = "";
    try {
      const saved = await api("PUT", `/api/desk/agents/${encodeURIComponent(agent.username)}/skills`, { skills: chosen });
      agent.skills = (saved && saved.skills) || chosen;
      status.textContent = t("saved");
      tr.dataset.saved = chosen.join(",");
    } catch (err) {
      $("team-error").textContent = String(err.message || err);
      for (const b of tr.querySelectorAll("input[type=checkbox]")) b.checked = (agent.skills || []).includes(b.dataset.skill);
    }
  }

  // -- the language and the controls -----------------------------------------------------------
  function applyLang() {
    document.documentElement.lang = lang;
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    $("lang").textContent = lang === "ru" ? "EN" : "RU";
    renderChannelOptions();
    renderAll();
    renderTeam();
    if (!state.agents && $("team-error").textContent) $("team-error").textContent = t("team_unavailable");
  }
  $("lang").addEventListener("click", () => {
    lang = lang === "ru" ? "en" : "ru";
    localStorage.setItem("desk_lang", lang);
    applyLang();
  });
  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/desk/logout"); } finally { location.assign("/desk/login"); }
  });
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  $("f-channel").addEventListener("change", load);
  for (const button of document.querySelectorAll(".quick button")) {
    button.addEventListener("click", () => { setDays(Number(button.dataset.days)); load(); });
  }
  $("sl-day").addEventListener("click", () => { state.slView = "day"; if (state.data) renderServiceLevel(state.data); });
  $("sl-hour").addEventListener("click", () => { state.slView = "hour"; if (state.data) renderServiceLevel(state.data); });

  async function start() {
    setDays(7);
    applyLang();
    const me = await api("GET", "/api/desk/me");
    $("whoami").textContent = `${me.agent.display_name || me.agent.username} (${me.agent.role})`;
    await Promise.all([load(), loadTeam()]);
  }
  start().catch(showError);
})();
