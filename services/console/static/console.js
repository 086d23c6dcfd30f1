// SLA clocks counting down: each [data-deadline] shows the time left (or overdue) every second.
(function () {
  function span(ms) {
    var s = Math.floor(Math.abs(ms) / 1000), d = Math.floor(s / 86400),
        h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + (s % 60) + "s";
  }
  function tick() {
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Date.parse(el.dataset.deadline) - Date.now();
      el.textContent = left >= 0 ? el.dataset.left.replace("{}", span(left))
                                 : el.dataset.late.replace("{}", span(left));
      el.classList.toggle("late", left < 0);
    });
  }
  // The live board: a change on the server's feed re-fetches the columns (a burst of changes,
  // once); polling every 10 s stays as the fallback while the feed is away.
  function live() {
    var board = document.querySelector("[data-live]"), pending = false;
    if (!board || !window.EventSource) return;
    new EventSource(board.dataset.live).addEventListener("changed", function () {
      if (pending) return;
      pending = true;
      setTimeout(function () { pending = false; htmx.trigger(board, "refresh"); }, 200);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick(); setInterval(tick, 1000); live();
  });
})();
