"use strict";
// Shared by the desk and the monitor: text-only DOM helpers and the API call. Everything a
// subscriber (or anyone) wrote goes on a page as text nodes (textContent), never as markup.
window.DeskCommon = (function () {
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  // "m:ss" (or "Hh Mm"); `none` for a missing value
  function duration(seconds, none) {
    if (seconds === null || seconds === undefined) return none;
    const s = Math.max(0, Math.round(seconds));
    const m = Math.floor(s / 60);
    return m >= 60 ? `${Math.floor(m / 60)}h ${m % 60}m` : `${m}:${String(s % 60).padStart(2, "0")}`;
  }
  // an error body as one line: FastAPI's detail is a string, or a list of field errors
  function errorText(data) {
    if (!data) return "";
    const detail = data.detail ?? data.error;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((d) => (d && d.msg) || JSON.stringify(d)).join("; ");
    return detail ? JSON.stringify(detail) : "";
  }
  // the desk API with the page's cookie; X-Desk-Request marks it as the page's own request
  async function api(method, path, body) {
    const res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Desk-Request": "1" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401) { location.assign("/desk/login"); throw new Error("not logged in"); }
    const data = res.status === 204 ? null : await res.json().catch(() => null);
    if (!res.ok) throw new Error(errorText(data) || `HTTP ${res.status}`);
    return data;
  }
  // an SVG element with attributes (null / undefined ones left out) and optional text: charts
  // are built from these, never from markup strings
  const SVG_NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== undefined && value !== null) node.setAttribute(name, String(value));
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  return Object.freeze({ el, clear, duration, errorText, api, svg });
})();
