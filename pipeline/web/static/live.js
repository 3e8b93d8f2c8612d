// Live status on the dashboard and intake pages: re-reads /live.json every few seconds and fills
// the elements marked data-live="key". Without script the pages still work (reload them).
(function () {
  const els = document.querySelectorAll("[data-live]");
  if (!els.length) return;
  async function tick() {
    try {
      const r = await fetch("/live.json", { credentials: "same-origin", cache: "no-store" });
      if (r.status === 200) {
        const data = await r.json();
        els.forEach(function (el) {
          const v = data[el.dataset.live];
          if (v === undefined) return;
          if (el.tagName === "PROGRESS") { el.value = v; } else { el.textContent = String(v); }
        });
      }
    } catch (e) { /* the server is restarting: try again */ }
    setTimeout(tick, 3000);
  }
  setTimeout(tick, 3000);
})();
