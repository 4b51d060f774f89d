"use strict";
// The schedule page (/desk/schedule), one page with two views by role (GET /api/desk/me):
// supervisors build a week and see coverage against the requirement, the forecast against the
// actuals, the shifts, the swaps and the time off waiting for them; agents see their shifts,
// offer one, accept a colleague's and ask for time off. Everything comes from
// /api/desk/workforce/... and goes on the page as text (textContent); charts are SVG made node
// by node with classes only (the CSP allows no inline style; colours are in schedule.css).
(function () {
  const T = {
    ru: {
      schedule: "Расписание", to_desk: "← Рабочее место", to_monitor: "Монитор", to_analytics: "Аналитика",
      logout: "Выйти", week_prev: "← Прошлая", week_this: "Эта неделя", week_next: "Следующая →",
      week_of: "Неделя {from} — {to}", build: "Построить расписание", rebuild: "Перестроить расписание",
      building: "Строю расписание… {s} с", built: "Готово: смен {n}, нехватка {short} интервалов.",
      loading: "Загрузка…", none: "—",
      no_schedule: "На эту неделю расписания ещё нет — постройте его.",
      no_schedule_agent: "На эту неделю у вас нет смен.",
      t_coverage: "Покрытие и потребность",
      d_coverage: "Сотрудников на смене (без перерывов) против потребности по Эрлангу C, по 30-минутным интервалам недели. Красным — нехватка.",
      t_forecast: "Прогноз и факт обращений",
      d_forecast: "Ожидаемые передачи сотрудникам за интервал (линия) и сколько их было на деле (столбцы).",
      t_shifts: "Смены по сотрудникам", t_swaps: "Обмены сменами",
      d_swaps: "Обмены, после которых потребность не покрыта, ждут решения старшего.",
      t_timeoff: "Отгулы", t_mine: "Мои смены", t_offers: "Смены, которые отдают коллеги",
      t_my_offers: "Мои предложения", t_request: "Отгул", t_my_requests: "Мои просьбы",
      f_from: "С", f_to: "По", f_reason: "Причина", request: "Попросить",
      required: "потребность", scheduled: "на смене", short: "нехватка", forecast: "прогноз", actual: "факт",
      h_agent_hours: "человеко-часов в сменах", h_required_hours: "человеко-часов нужно",
      h_short: "интервалов с нехваткой", h_short_sub: "человеко-интервалов ниже потребности: {n}",
      h_coverage: "потребности покрыто", h_shifts: "смен", h_agents: "сотрудников: {n}",
      h_published: "опубликовано", not_published: "не построено",
      h_forecast: "обращений по прогнозу", h_actual: "обращений на деле",
      h_actual_sub: "прогноз на прошедшие интервалы: {n}",
      agent: "Сотрудник", st_scheduled: "по плану", st_swapped: "после обмена", st_off: "отгул",
      sw_offered: "предложена", sw_accepted: "ждёт старшего", sw_approved: "одобрена",
      sw_refused: "отклонена", sw_cancelled: "отменена",
      to_requested: "ждёт решения", to_approved: "одобрен", to_refused: "отклонён",
      approve: "Одобрить", refuse: "Отклонить", offer: "Отдать", cancel: "Отменить", accept: "Взять",
      offered_by: "{who} отдаёт", accepted_by: "берёт {who}", in_return: "взамен: {shift}",
      nothing_in_return: "ничего взамен", give_in_return: "Взамен",
      decided_auto: "одобрено автоматически: покрытие не страдает",
      decided_by: "решение: {who}", coverage_ok: "покрытие не страдает",
      impact_n: "после обмена нехватка в интервалах: {n}",
      impact_line: "{at}: нужно {required}, останется {after}",
      more_n: "и ещё {n}",
      touches_n: "затрагивает смен: {n}", short_after_n: "нехватка после отгула в интервалах: {n}",
      no_short_after: "покрытие не страдает", reason: "Причина: {text}",
      no_swaps: "Обменов нет.", no_pending_swaps: "Нет обменов, ждущих решения.",
      no_timeoff: "Просьб об отгуле нет.", no_offers: "Сейчас никто не отдаёт смены.",
      no_my_offers: "Вы не предлагали смен.", no_my_timeoff: "Вы не просили отгулов.",
      offered: "вы отдаёте эту смену", accepted_auto: "Смена ваша: обмен одобрен автоматически.",
      accepted_wait: "Обмен ждёт решения старшего: без вас останется нехватка.",
      requested: "Просьба отправлена.", breaks: "перерывы: {list}",
      recent: "Недавние", pending: "Ждут решения",
      special: "особый день: {name}",
    },
    en: {
      schedule: "Schedule", to_desk: "← Agent desk", to_monitor: "Monitor", to_analytics: "Analytics",
      logout: "Log out", week_prev: "← Previous", week_this: "This week", week_next: "Next →",
      week_of: "Week {from} — {to}", build: "Build schedule", rebuild: "Rebuild schedule",
      building: "Building the schedule… {s} s", built: "Done: {n} shifts, {short} short intervals.",
      loading: "Loading…", none: "—",
      no_schedule: "No schedule for this week yet — build one.",
      no_schedule_agent: "You have no shifts this week.",
      t_coverage: "Coverage against requirement",
      d_coverage: "Agents on a shift (breaks excluded) against the Erlang C requirement, per 30-minute interval of the week. Red is a shortfall.",
      t_forecast: "Forecast against actual contacts",
      d_forecast: "Handoffs expected per interval (the line) and how many there were (the bars).",
      t_shifts: "Shifts per agent", t_swaps: "Shift swaps",
      d_swaps: "Swaps that would leave the requirement uncovered wait for a supervisor.",
      t_timeoff: "Time off", t_mine: "My shifts", t_offers: "Shifts colleagues offer",
      t_my_offers: "My offers", t_request: "Time off", t_my_requests: "My requests",
      f_from: "From", f_to: "To", f_reason: "Reason", request: "Request",
      required: "required", scheduled: "scheduled", short: "short", forecast: "forecast", actual: "actual",
      h_agent_hours: "agent-hours on shifts", h_required_hours: "agent-hours required",
      h_short: "intervals short", h_short_sub: "agent-intervals below requirement: {n}",
      h_coverage: "of the requirement covered", h_shifts: "shifts", h_agents: "agents: {n}",
      h_published: "published", not_published: "not built",
      h_forecast: "contacts forecast", h_actual: "actual contacts",
      h_actual_sub: "forecast for the intervals over: {n}",
      agent: "Agent", st_scheduled: "scheduled", st_swapped: "swapped", st_off: "time off",
      sw_offered: "offered", sw_accepted: "awaiting a supervisor", sw_approved: "approved",
      sw_refused: "refused", sw_cancelled: "cancelled",
      to_requested: "awaiting a decision", to_approved: "approved", to_refused: "refused",
      approve: "Approve", refuse: "Refuse", offer: "Offer", cancel: "Cancel", accept: "Accept",
      offered_by: "{who} offers", accepted_by: "{who} takes it", in_return: "in return: {shift}",
      nothing_in_return: "nothing in return", give_in_return: "In return",
      decided_auto: "approved automatically: coverage holds",
      decided_by: "decided by {who}", coverage_ok: "coverage holds",
      impact_n: "short after the swap in {n} intervals",
      impact_line: "{at}: {required} required, {after} left",
      more_n: "and {n} more",
      touches_n: "touches {n} shifts", short_after_n: "short after the time off in {n} intervals",
      no_short_after: "coverage holds", reason: "Reason: {text}",
      no_swaps: "No swaps.", no_pending_swaps: "No swaps waiting for a decision.",
      no_timeoff: "No time-off requests.", no_offers: "Nobody is offering a shift now.",
      no_my_offers: "You have offered no shifts.", no_my_timeoff: "You have asked for no time off.",
      offered: "you are offering this shift", accepted_auto: "The shift is yours: approved automatically.",
      accepted_wait: "The swap waits for a supervisor: coverage would fall short.",
      requested: "Request sent.", breaks: "breaks: {list}",
      recent: "Recent", pending: "Waiting for a decision",
      special: "special day: {name}",
    },
  };
  const DAY_MS = 86400000;
  const API = "/api/desk/workforce";

  let lang = localStorage.getItem("desk_lang") || ((navigator.language || "ru").startsWith("ru") ? "ru" : "en");
  const $ = (id) => document.getElementById(id);
  const t = (key, vars) => (T[lang][key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String((vars || {})[k] ?? ""));
  const { el, clear, api } = DeskCommon;

  const state = {
    me: null, supervisor: false, weekParam: null, week: null, tz: null,
    schedule: null, forecast: null, swaps: [], timeoff: [], mine: [], message: "", seq: 0,
  };

  // -- dates and times ------------------------------------------------------------------------
  function isoDate(d) { return d.toISOString().slice(0, 10); }
  function localToday() {
    const now = new Date();
    return isoDate(new Date(Date.UTC(now.getFullYear(), now.getMonth(), now.getDate())));
  }
  function addDays(day, n) { return isoDate(new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS)); }
  // times in the desk's zone when the API named it (supervisors), else the browser's
  function fmt(iso, options) {
    const opts = Object.assign({}, options);
    if (state.tz) opts.timeZone = state.tz;
    try { return new Intl.DateTimeFormat(lang, opts).format(new Date(iso)); }
    catch (err) { delete opts.timeZone; return new Intl.DateTimeFormat(lang, opts).format(new Date(iso)); }
  }
  const hm = (iso) => fmt(iso, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const dayName = (iso) => fmt(iso, { weekday: "short", day: "2-digit", month: "2-digit" });
  const when = (iso) => `${dayName(iso)} ${hm(iso)}`;
  const dayMonth = (day) => day.slice(5).split("-").reverse().join(".");
  const num = (value, digits) => (value === null || value === undefined ? t("none")
    : String(Math.round(Number(value) * 10 ** (digits || 0)) / 10 ** (digits || 0)));
  const pct = (share) => (share === null || share === undefined ? t("none") : `${Math.round(share * 1000) / 10}%`);

  function shiftText(shift) {
    return `${dayName(shift.starts_at)} · ${shift.shift} · ${hm(shift.starts_at)}–${hm(shift.ends_at)}`;
  }
  function nameOf(username) {
    const shifts = (state.schedule && state.schedule.shifts) || [];
    const found = shifts.find((s) => s.agent === username);
    return found && found.agent_name ? found.agent_name : username;
  }

  // -- SVG ------------------------------------------------------------------------------------
  const svg = DeskCommon.svg;

  /* A week of 30-minute intervals: bars (one per interval), an optional step line, optional
     red gaps (from a bar up to the line where the bar falls short), day separators and labels.
     o: {starts, bars: [{value, cls, title}], line: [number|null], gaps: bool, max, title, lineCls,
         dayNotes: {index: text}} */
  function weekChart(o) {
    const n = o.starts.length;
    const W = 1300, H = 250, left = 40, right = 10, top = 12, bottom = 40;
    const plotW = W - left - right, plotH = H - top - bottom;
    const slot = plotW / Math.max(1, n);
    const values = [...o.bars.map((b) => Number(b.value) || 0), ...(o.line || []).map((v) => Number(v) || 0)];
    const max = Math.max(1, Math.ceil(o.max || Math.max(...values, 0)));
    const y = (v) => top + plotH - (Math.max(0, Math.min(max, v)) / max) * plotH;
    const graph = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "chart-svg week-chart",
      role: "img", "aria-label": o.title, preserveAspectRatio: "xMinYMin meet" });
    graph.appendChild(svg("title", null, o.title));
    // the y axis: whole numbers that do not crowd
    const step = Math.max(1, Math.ceil(max / 5));
    for (let v = 0; v <= max; v += step) {
      graph.appendChild(svg("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), class: "grid-line" }));
      graph.appendChild(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, v));
    }
    const bars = svg("g", { class: "bars" });
    o.bars.forEach((b, i) => {
      if (b.value === null || b.value === undefined) return;
      const x = left + i * slot;
      const top1 = y(Number(b.value));
      const rect = svg("rect", { x: x.toFixed(2), y: top1.toFixed(2), width: Math.max(0.5, slot - 0.6).toFixed(2),
        height: Math.max(0, y(0) - top1).toFixed(2), class: `bar ${b.cls || ""}`, "data-index": i,
        "data-value": b.value });
      if (b.title) rect.appendChild(svg("title", null, b.title));
      bars.appendChild(rect);
      if (o.gaps && o.line && Number(o.line[i]) > Number(b.value)) {
        const gap = svg("rect", { x: x.toFixed(2), y: y(Number(o.line[i])).toFixed(2),
          width: Math.max(0.5, slot - 0.6).toFixed(2), height: (top1 - y(Number(o.line[i]))).toFixed(2),
          class: "gap", "data-index": i });
        if (b.title) gap.appendChild(svg("title", null, b.title));
        bars.appendChild(gap);
      }
    });
    graph.appendChild(bars);
    if (o.line) {  // a step line: flat across each interval
      let d = "";
      o.line.forEach((v, i) => {
        if (v === null || v === undefined) return;
        const x0 = left + i * slot, yy = y(Number(v)).toFixed(2);
        d += `${d ? "L" : "M"}${x0.toFixed(2)} ${yy} H${(x0 + slot).toFixed(2)} `;
      });
      if (d) graph.appendChild(svg("path", { d: d.trim(), class: `line ${o.lineCls || ""}` }));
    }
    graph.appendChild(svg("line", { x1: left, x2: W - right, y1: y(0), y2: y(0), class: "axis" }));
    // days: a separator, the day's name, and 06 / 12 / 18 ticks
    for (let i = 0; i < n; i += 48) {
      const x = left + i * slot;
      graph.appendChild(svg("line", { x1: x, x2: x, y1: top, y2: H - bottom + 6, class: "day-line" }));
      const label = svg("text", { x: x + 24 * slot, y: H - bottom + 30, "text-anchor": "middle",
        class: "axis-label day-label", "data-day": i / 48 }, dayName(o.starts[i]));
      graph.appendChild(label);
      for (const h of [6, 12, 18]) {
        if (i + h * 2 < n) {
          graph.appendChild(svg("text", { x: x + h * 2 * slot, y: H - bottom + 14, "text-anchor": "middle",
            class: "tick hour" }, String(h).padStart(2, "0")));
        }
      }
      const note = o.dayNotes && o.dayNotes[i / 48];
      if (note) {
        graph.appendChild(svg("text", { x: x + 4, y: top + 10, class: "tick day-note" }, note));
      }
    }
    return graph;
  }
  function legend(items) {
    const box = el("div", "legend");
    for (const [cls, label] of items) {
      const item = el("span");
      item.appendChild(el("span", `swatch ${cls}`));
      item.appendChild(document.createTextNode(label));
      box.appendChild(item);
    }
    return box;
  }
  function tile(value, label, sub, cls) {
    const node = el("div", `tile ${cls || ""}`);
    node.appendChild(el("div", "tile-value", value));
    node.appendChild(el("div", "tile-label", label));
    if (sub) node.appendChild(el("div", "tile-sub", sub));
    return node;
  }

  // -- loading ----------------------------------------------------------------------------------
  function weekQuery() { return `week=${encodeURIComponent(state.weekParam)}`; }
  function showError(err) { $("error").textContent = err ? String(err.message || err) : ""; }
  function markLoaded() { document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1); }

  // each load has a number: a slower answer for a week no longer shown is dropped
  async function load() {
    const seq = ++state.seq;
    showError(null);
    $("week-label").textContent = t("loading");
    try {
      const apply = state.supervisor ? await loadSupervisor() : await loadAgent();
      if (seq !== state.seq) return;
      apply();
    } catch (err) {
      if (seq !== state.seq) return;
      showError(err);
    }
    renderWeekLabel();
    markLoaded();
  }
  function renderWeekLabel() {
    const monday = state.week || state.weekParam;
    $("week-label").textContent = monday
      ? t("week_of", { from: dayMonth(monday), to: dayMonth(addDays(monday, 6)) }) : "";
  }

  async function loadSupervisor() {
    const [schedule, swaps, timeoff] = await Promise.all([
      api("GET", `${API}/schedule?${weekQuery()}`),
      api("GET", `${API}/swaps`),
      api("GET", `${API}/time-off`),
    ]);
    // the forecast is a figure apart: the rest of the page stands if it fails
    let forecast = null, failed = null;
    try {
      forecast = await api("GET", `${API}/forecast?from=${encodeURIComponent(schedule.week)}&weeks=1`);
    } catch (err) {
      failed = err;
    }
    return () => {
      state.schedule = schedule;
      state.week = schedule.week;
      state.tz = schedule.timezone || state.tz;
      state.swaps = (swaps && swaps.items) || [];
      state.timeoff = (timeoff && timeoff.items) || [];
      state.forecast = forecast;
      renderSupervisor();
      if (failed) showError(failed);
    };
  }

  async function loadAgent() {
    const [mine, swaps, timeoff] = await Promise.all([
      api("GET", `${API}/shifts/mine?${weekQuery()}`),
      api("GET", `${API}/swaps`),
      api("GET", `${API}/time-off`),
    ]);
    return () => {
      state.mine = (mine && mine.shifts) || [];
      state.week = mine.week;
      state.swaps = (swaps && swaps.items) || [];
      state.timeoff = (timeoff && timeoff.items) || [];
      renderAgent();
    };
  }

  // -- the supervisor's view ------------------------------------------------------------------
  function renderSupervisor() {
    const s = state.schedule;
    if (!s) return;
    const built = Boolean(s.published_at);
    $("build").textContent = t(built ? "rebuild" : "build");
    const empty = $("sv-empty");
    empty.hidden = built;
    empty.textContent = built ? "" : t("no_schedule");
    $("notes").textContent = (s.notes || []).join(" ");
    renderTotals(s);
    renderCoverage(s);
    renderForecast(state.forecast);
    renderShiftGrid(s);
    renderSwaps();
    renderTimeOff();
  }

  function renderTotals(s) {
    const box = $("totals");
    clear(box);
    const intervals = s.intervals || [];
    const required = intervals.reduce((sum, i) => sum + (Number(i.required) || 0), 0);
    const covered = intervals.reduce((sum, i) => sum + Math.min(Number(i.required) || 0, Number(i.scheduled) || 0), 0);
    const shortIntervals = intervals.filter((i) => Number(i.scheduled) < Number(i.required)).length;
    const agents = new Set((s.shifts || []).map((x) => x.agent)).size;
    box.appendChild(tile(num(s.agent_hours, 1), t("h_agent_hours"), null, "hours"));
    box.appendChild(tile(num(required / 2, 1), t("h_required_hours")));
    box.appendChild(tile(String(shortIntervals), t("h_short"), t("h_short_sub", { n: s.short ?? 0 }),
      shortIntervals ? "bad short" : "good short"));
    box.appendChild(tile(pct(required ? covered / required : null), t("h_coverage")));
    box.appendChild(tile(String((s.shifts || []).length), t("h_shifts"), t("h_agents", { n: agents })));
    box.appendChild(tile(s.published_at ? `${dayName(s.published_at)} ${hm(s.published_at)}` : t("not_published"),
      t("h_published")));
  }

  function renderCoverage(s) {
    const box = $("chart-coverage");
    clear(box);
    const intervals = s.intervals || [];
    if (!intervals.length) { box.appendChild(el("div", "empty-chart", t("none"))); return; }
    const bars = intervals.map((i) => {
      const isShort = Number(i.scheduled) < Number(i.required);
      return { value: Number(i.scheduled) || 0, cls: isShort ? "scheduled under" : "scheduled",
        title: `${when(i.start)} · ${t("required")} ${i.required} · ${t("scheduled")} ${i.scheduled}` };
    });
    box.appendChild(weekChart({ starts: intervals.map((i) => i.start), bars, gaps: true,
      line: intervals.map((i) => Number(i.required) || 0), lineCls: "required", title: t("t_coverage") }));
    box.appendChild(legend([["scheduled", t("scheduled")], ["required", t("required")], ["gap", t("short")]]));
  }

  function renderForecast(f) {
    const box = $("chart-forecast");
    clear(box);
    const points = (f && f.points) || [];
    if (!points.length) { box.appendChild(el("div", "empty-chart", t("none"))); return; }
    const dayNotes = {};
    points.forEach((p, i) => { if (p.special && dayNotes[Math.floor(i / 48)] === undefined) dayNotes[Math.floor(i / 48)] = p.special; });
    const bars = points.map((p) => ({ value: p.actual, cls: "actual",
      title: `${when(p.start)} · ${t("forecast")} ${num(p.forecast, 1)} · ${t("actual")} ${p.actual ?? t("none")}` }));
    box.appendChild(weekChart({ starts: points.map((p) => p.start), bars, line: points.map((p) => p.forecast),
      lineCls: "forecast", title: t("t_forecast"), dayNotes }));
    box.appendChild(legend([["actual", t("actual")], ["forecast", t("forecast")]]));
    const figures = el("div", "big-row");
    figures.id = "forecast-totals";
    const over = points.filter((p) => p.actual !== null && p.actual !== undefined);
    const forecastAll = points.reduce((sum, p) => sum + (Number(p.forecast) || 0), 0);
    const forecastOver = over.reduce((sum, p) => sum + (Number(p.forecast) || 0), 0);
    const actual = over.reduce((sum, p) => sum + (Number(p.actual) || 0), 0);
    figures.appendChild(tile(num(forecastAll, 0), t("h_forecast")));
    figures.appendChild(tile(over.length ? String(actual) : t("none"), t("h_actual"),
      over.length ? t("h_actual_sub", { n: num(forecastOver, 0) }) : null));
    box.appendChild(figures);
  }

  function dayIndex(iso) {
    const start = state.schedule && state.schedule.intervals && state.schedule.intervals[0];
    if (!start) return null;
    return Math.floor((Date.parse(iso) - Date.parse(start.start)) / DAY_MS);
  }
  function renderShiftGrid(s) {
    const table = $("shift-grid");
    clear(table);
    const shifts = s.shifts || [];
    const intervals = s.intervals || [];
    const head = el("tr");
    head.appendChild(el("th", null, t("agent")));
    for (let d = 0; d < 7; d += 1) head.appendChild(el("th", null, intervals[d * 48] ? dayName(intervals[d * 48].start) : ""));
    const thead = el("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    const body = el("tbody");
    if (!shifts.length) {
      const tr = el("tr");
      const td = el("td", "empty-rows", t("no_schedule"));
      td.colSpan = 8;
      tr.appendChild(td);
      body.appendChild(tr);
      table.appendChild(body);
      return;
    }
    const byAgent = new Map();
    for (const shift of shifts) {
      if (!byAgent.has(shift.agent)) byAgent.set(shift.agent, { name: shift.agent_name || shift.agent, shifts: [] });
      byAgent.get(shift.agent).shifts.push(shift);
    }
    const agents = [...byAgent.entries()].sort((a, b) => a[1].name.localeCompare(b[1].name, lang));
    for (const [username, info] of agents) {
      const tr = el("tr");
      tr.dataset.agent = username;
      const who = el("td", "who");
      who.appendChild(el("div", "agent-name", info.name));
      who.appendChild(el("div", "muted", username));
      tr.appendChild(who);
      for (let d = 0; d < 7; d += 1) {
        const td = el("td", "day");
        for (const shift of info.shifts.filter((x) => dayIndex(x.starts_at) === d)) {
          const cell = el("div", `shift st-${shift.status}`);
          cell.dataset.shift = String(shift.id);
          cell.appendChild(el("div", "shift-name", shift.shift));
          cell.appendChild(el("div", "shift-time", `${hm(shift.starts_at)}–${hm(shift.ends_at)}`));
          if (shift.status !== "scheduled") cell.appendChild(el("div", "shift-status", t(`st_${shift.status}`)));
          cell.title = breaksText(shift);
          td.appendChild(cell);
        }
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    table.appendChild(body);
  }
  function breaksText(shift) {
    const list = (shift.breaks || []).map(([a, b]) => `${hm(a)}–${hm(b)}`).join(", ");
    return list ? t("breaks", { list }) : "";
  }

  // the intervals a change would leave short, a few by name
  function impactList(lines) {
    const list = el("ul", "impact");
    (lines || []).slice(0, 4).forEach((line) => {
      list.appendChild(el("li", null, t("impact_line", { at: when(line.start), required: line.required, after: line.scheduled_after })));
    });
    if ((lines || []).length > 4) list.appendChild(el("li", "muted", t("more_n", { n: lines.length - 4 })));
    return list;
  }
  function actionButton(label, cls, handler) {
    const button = el("button", cls, label);
    button.type = "button";
    button.addEventListener("click", async () => {
      button.disabled = true;
      showError(null);
      try { await handler(); } catch (err) { showError(err); button.disabled = false; return; }
      await load();
    });
    return button;
  }

  function swapCard(swap, actions) {
    const li = el("li", `sc-card swap sw-${swap.status}`);
    li.dataset.swap = String(swap.id);
    li.dataset.status = swap.status;
    const head = el("div", "card-head");
    head.appendChild(el("span", "card-title", t("offered_by", { who: nameOf(swap.offered_by) })));
    head.appendChild(el("span", `badge sw-${swap.status}`, t(`sw_${swap.status}`)));
    li.appendChild(head);
    li.appendChild(el("div", null, shiftText(swap.shift)));
    if (swap.accepted_by) {
      const taker = t("accepted_by", { who: nameOf(swap.accepted_by) });
      const back = swap.give_shift ? t("in_return", { shift: shiftText(swap.give_shift) }) : t("nothing_in_return");
      li.appendChild(el("div", "muted", `${taker} · ${back}`));
    }
    if (swap.status === "accepted" && swap.coverage_ok === false) {
      li.appendChild(el("div", "impact-head", t("impact_n", { n: (swap.impact || []).length })));
      li.appendChild(impactList(swap.impact));
    } else if (swap.coverage_ok === true && swap.status === "accepted") {
      li.appendChild(el("div", "ok-line", t("coverage_ok")));
    }
    if (swap.decided_by === "automatic") li.appendChild(el("div", "ok-line decided", t("decided_auto")));
    else if (swap.decided_by) li.appendChild(el("div", "muted decided", t("decided_by", { who: nameOf(swap.decided_by) })));
    if (actions && actions.length) {
      const row = el("div", "card-actions");
      for (const a of actions) row.appendChild(a);
      li.appendChild(row);
    }
    return li;
  }

  function renderSwaps() {
    const list = $("swaps");
    clear(list);
    const pending = state.swaps.filter((s) => s.status === "accepted");
    const rest = state.swaps.filter((s) => s.status !== "accepted").slice(0, 8);
    list.appendChild(el("li", "list-head", t("pending")));
    if (!pending.length) list.appendChild(el("li", "empty-note", t("no_pending_swaps")));
    for (const swap of pending) {
      list.appendChild(swapCard(swap, [
        actionButton(t("approve"), "approve", () => api("POST", `${API}/swaps/${swap.id}/approve`)),
        actionButton(t("refuse"), "ghost refuse", () => api("POST", `${API}/swaps/${swap.id}/refuse`)),
      ]));
    }
    if (rest.length) {
      list.appendChild(el("li", "list-head", t("recent")));
      for (const swap of rest) list.appendChild(swapCard(swap, []));
    }
  }

  function timeOffCard(item, actions, showWho) {
    const li = el("li", `sc-card timeoff to-${item.status}`);
    li.dataset.timeoff = String(item.id);
    li.dataset.status = item.status;
    const head = el("div", "card-head");
    head.appendChild(el("span", "card-title", showWho ? nameOf(item.agent) : `${when(item.from)} — ${when(item.to)}`));
    head.appendChild(el("span", `badge to-${item.status}`, t(`to_${item.status}`)));
    li.appendChild(head);
    if (showWho) li.appendChild(el("div", null, `${when(item.from)} — ${when(item.to)}`));
    if (item.reason) li.appendChild(el("div", "reason", t("reason", { text: item.reason })));
    const impact = item.impact || {};
    if (item.status === "requested") {  // what approving it would do
      const short = impact.short || [];
      const line = el("div", "impact-head" + (short.length ? "" : " ok-line"),
        `${t("touches_n", { n: impact.shifts ?? 0 })} · ${short.length ? t("short_after_n", { n: short.length }) : t("no_short_after")}`);
      li.appendChild(line);
      if (short.length) li.appendChild(impactList(short));
    } else if (impact.shifts !== undefined) {
      li.appendChild(el("div", "muted", t("touches_n", { n: impact.shifts })));
    }
    if (item.decided_by) li.appendChild(el("div", "muted decided", t("decided_by", { who: nameOf(item.decided_by) })));
    if (actions && actions.length) {
      const row = el("div", "card-actions");
      for (const a of actions) row.appendChild(a);
      li.appendChild(row);
    }
    return li;
  }

  function renderTimeOff() {
    const list = $("timeoff");
    clear(list);
    if (!state.timeoff.length) { list.appendChild(el("li", "empty-note", t("no_timeoff"))); return; }
    const pending = state.timeoff.filter((x) => x.status === "requested");
    const rest = state.timeoff.filter((x) => x.status !== "requested").slice(0, 8);
    for (const item of pending) {
      list.appendChild(timeOffCard(item, [
        actionButton(t("approve"), "approve", () => api("POST", `${API}/time-off/${item.id}/approve`)),
        actionButton(t("refuse"), "ghost refuse", () => api("POST", `${API}/time-off/${item.id}/refuse`)),
      ], true));
    }
    if (rest.length) {
      list.appendChild(el("li", "list-head", t("recent")));
      for (const item of rest) list.appendChild(timeOffCard(item, [], true));
    }
  }

  async function build() {
    const button = $("build");
    button.disabled = true;
    showError(null);
    const started = Date.now();
    const progress = $("progress");
    const tick = () => { progress.textContent = t("building", { s: Math.round((Date.now() - started) / 1000) }); };
    tick();
    const timer = setInterval(tick, 1000);
    try {
      const schedule = await api("POST", `${API}/schedule?${weekQuery()}`);
      clearInterval(timer);
      progress.textContent = t("built", { n: (schedule.shifts || []).length, short: (schedule.intervals || []).filter((i) => i.scheduled < i.required).length });
      document.body.dataset.built = String(Number(document.body.dataset.built || 0) + 1);
      await load();
    } catch (err) {
      clearInterval(timer);
      progress.textContent = "";
      showError(err);
    } finally {
      button.disabled = false;
    }
  }

  // -- the agent's view -------------------------------------------------------------------------
  function openSwapOf(shiftId) {
    return state.swaps.find((s) => s.shift && s.shift.id === shiftId && s.offered_by === state.me.username
      && (s.status === "offered" || s.status === "accepted"));
  }
  function renderAgent() {
    renderMyShifts();
    renderOffers();
    renderMyTimeOff();
  }
  function renderMyShifts() {
    const list = $("my-shifts");
    clear(list);
    if (!state.mine.length) { list.appendChild(el("li", "empty-note", t("no_schedule_agent"))); return; }
    for (const shift of [...state.mine].sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at))) {
      const li = el("li", `sc-card my-shift st-${shift.status}`);
      li.dataset.shift = String(shift.id);
      const head = el("div", "card-head");
      head.appendChild(el("span", "card-title", shiftText(shift)));
      head.appendChild(el("span", `badge st-${shift.status}`, t(`st_${shift.status}`)));
      li.appendChild(head);
      const breaks = breaksText(shift);
      if (breaks) li.appendChild(el("div", "muted", breaks));
      const open = openSwapOf(shift.id);
      const row = el("div", "card-actions");
      if (open) {
        row.appendChild(el("span", "muted offered", `${t("offered")} · ${t(`sw_${open.status}`)}`));
        row.appendChild(actionButton(t("cancel"), "ghost small cancel", () => api("POST", `${API}/swaps/${open.id}/cancel`)));
      } else if (shift.status !== "off" && Date.parse(shift.starts_at) > Date.now()) {
        row.appendChild(actionButton(t("offer"), "small offer", () => api("POST", `${API}/swaps`, { shift_id: shift.id })));
      }
      li.appendChild(row);
      list.appendChild(li);
    }
  }
  function renderOffers() {
    const list = $("offers");
    clear(list);
    const me = state.me.username;
    const offers = state.swaps.filter((s) => s.status === "offered" && s.offered_by !== me);
    if (!offers.length) list.appendChild(el("li", "empty-note", t("no_offers")));
    const mine = state.mine.filter((s) => s.status !== "off" && Date.parse(s.starts_at) > Date.now());
    for (const swap of offers) {
      const li = el("li", "sc-card offer");
      li.dataset.swap = String(swap.id);
      li.appendChild(el("div", "card-title", t("offered_by", { who: swap.shift.agent_name || swap.offered_by })));
      li.appendChild(el("div", null, shiftText(swap.shift)));
      const row = el("div", "card-actions");
      const label = el("label", "give");
      label.appendChild(el("span", "muted", t("give_in_return")));
      const select = el("select", "give-shift");
      const none = el("option", null, t("nothing_in_return"));
      none.value = "";
      select.appendChild(none);
      for (const shift of mine) {
        const option = el("option", null, shiftText(shift));
        option.value = String(shift.id);
        select.appendChild(option);
      }
      label.appendChild(select);
      row.appendChild(label);
      row.appendChild(actionButton(t("accept"), "small accept", async () => {
        const give = select.value ? Number(select.value) : null;
        const done = await api("POST", `${API}/swaps/${swap.id}/accept`, { give_shift_id: give });
        state.message = done.status === "approved" ? t("accepted_auto") : t("accepted_wait");
      }));
      li.appendChild(row);
      list.appendChild(li);
    }
    if (state.message) list.appendChild(el("li", "note-line", state.message));
    const own = $("my-offers");
    clear(own);
    const mineSwaps = state.swaps.filter((s) => s.offered_by === me || s.accepted_by === me);
    if (!mineSwaps.length) own.appendChild(el("li", "empty-note", t("no_my_offers")));
    for (const swap of mineSwaps.slice(0, 10)) {
      const actions = swap.offered_by === me && (swap.status === "offered" || swap.status === "accepted")
        ? [actionButton(t("cancel"), "ghost small cancel", () => api("POST", `${API}/swaps/${swap.id}/cancel`))] : [];
      own.appendChild(swapCard(swap, actions));
    }
  }
  function renderMyTimeOff() {
    const list = $("my-timeoff");
    clear(list);
    if (!state.timeoff.length) { list.appendChild(el("li", "empty-note", t("no_my_timeoff"))); return; }
    for (const item of state.timeoff) list.appendChild(timeOffCard(item, [], false));
  }
  async function requestTimeOff(event) {
    event.preventDefault();
    $("timeoff-error").textContent = "";
    const from = $("to-from").value, to = $("to-to").value;
    // datetime-local is the browser's wall clock: as an instant with its offset
    const body = { from: new Date(from).toISOString(), to: new Date(to).toISOString(), reason: $("to-reason").value };
    $("to-submit").disabled = true;
    try {
      await api("POST", `${API}/time-off`, body);
      $("to-reason").value = "";
      state.message = "";
      $("timeoff-error").textContent = "";
      await load();
    } catch (err) {
      $("timeoff-error").textContent = String(err.message || err);
    } finally {
      $("to-submit").disabled = false;
    }
  }

  // -- the language and the controls ----------------------------------------------------------
  function render() {
    renderWeekLabel();
    if (!state.me) return;
    if (state.supervisor) renderSupervisor(); else renderAgent();
  }
  function applyLang() {
    document.documentElement.lang = lang;
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    $("lang").textContent = lang === "ru" ? "EN" : "RU";
    render();
  }
  $("lang").addEventListener("click", () => {
    lang = lang === "ru" ? "en" : "ru";
    localStorage.setItem("desk_lang", lang);
    applyLang();
  });
  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/desk/logout"); } finally { location.assign("/desk/login"); }
  });
  const move = (days) => () => {
    // from the week asked last, not the one shown: two quick clicks move two weeks
    state.weekParam = days === null ? localToday() : addDays(state.weekParam, days);
    state.message = "";
    $("progress").textContent = "";
    load();
  };
  $("week-prev").addEventListener("click", move(-7));
  $("week-this").addEventListener("click", move(null));
  $("week-next").addEventListener("click", move(7));
  $("build").addEventListener("click", build);
  $("timeoff-form").addEventListener("submit", requestTimeOff);

  async function start() {
    applyLang();
    const me = await api("GET", "/api/desk/me");
    state.me = me.agent;
    state.supervisor = me.agent.role === "supervisor";
    document.body.dataset.role = state.supervisor ? "supervisor" : "agent";
    $("whoami").textContent = `${me.agent.display_name || me.agent.username} (${me.agent.role})`;
    $("supervisor").hidden = !state.supervisor;
    $("build-box").hidden = !state.supervisor;
    $("agent").hidden = state.supervisor;
    $("to-monitor").hidden = !state.supervisor;
    $("to-analytics").hidden = !state.supervisor;
    state.weekParam = localToday();
    await load();
  }
  start().catch((err) => { showError(err); markLoaded(); });
})();
