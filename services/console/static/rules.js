// Charts built on the server: each [data-chart] element gets the ECharts option kept in the
// JSON script it names, also when htmx swaps it in (a backtest that has just finished).
(function () {
  function draw(root) {
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (echarts.getInstanceByDom(el)) return;
      var option = JSON.parse(document.getElementById(el.dataset.chart).textContent);
      var chart = echarts.init(el);
      chart.setOption(option);
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
  htmx.onLoad(draw);
})();
