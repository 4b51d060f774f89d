"use strict";
// The desk login: POST /desk/session sets an HttpOnly cookie; JavaScript never sees a token.
(function () {
  const T = {
    ru: { title: "Вход для сотрудников", username: "Логин", password: "Пароль", submit: "Войти",
          wrong: "Неверный логин или пароль.", limited: "Слишком много попыток. Повторите через {s} с.",
          offline: "Нет связи с сервером." },
    en: { title: "Agent sign-in", username: "Username", password: "Password", submit: "Sign in",
          wrong: "Wrong username or password.", limited: "Too many attempts. Try again in {s} s.",
          offline: "No connection to the server." },
  };
  let lang = localStorage.getItem("desk_lang") || ((navigator.language || "ru").startsWith("ru") ? "ru" : "en");
  const $ = (id) => document.getElementById(id);
  const t = (key, vars) => (T[lang][key] || key).replace(/\{(\w+)\}/g, (_, k) => String((vars || {})[k] ?? ""));

  function applyLang() {
    document.documentElement.lang = lang;
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    $("lang").textContent = lang === "ru" ? "EN" : "RU";
  }

  $("lang").addEventListener("click", () => {
    lang = lang === "ru" ? "en" : "ru";
    localStorage.setItem("desk_lang", lang);
    applyLang();
  });

  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("error").textContent = "";
    $("submit").disabled = true;
    try {
      const res = await fetch("/desk/session", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-Desk-Request": "1" },
        body: JSON.stringify({ username: $("username").value, password: $("password").value }),
      });
      if (res.ok) {
        // back to the page that sent us here (only a desk page: never an open redirect)
        const next = new URLSearchParams(location.search).get("next");
        location.assign(next && /^\/desk(\/[a-z]+)?$/.test(next) ? next : "/desk");
        return;
      }
      if (res.status === 429) {
        $("error").textContent = t("limited", { s: res.headers.get("Retry-After") || "60" });
      } else {
        $("error").textContent = t("wrong");
      }
    } catch (err) {
      $("error").textContent = t("offline");
    } finally {
      $("submit").disabled = false;
    }
  });

  applyLang();
})();
