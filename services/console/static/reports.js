// The reports page's charts: ECharts options built from the figures the server embedded
// (#report-data); each series carries an id (P0…P3, or the KPI's name) tests can read back.
(function () {
  var COLOURS = {P0: "#c0392b", P1: "#e67e22", P2: "#d4ac0d", P3: "#3498db"};
  function line(title, unit, buckets, series, colours, max) {
    return {
      animation: false,  // drawn at once: a screenshot or a reader sees the whole chart
      title: {text: title, textStyle: {fontSize: 14}}, tooltip: {trigger: "axis"},
      legend: {top: 24}, grid: {top: 64, left: 48, right: 16, bottom: 32},
      xAxis: {type: "category", data: buckets},
      yAxis: {type: "value", name: unit, min: 0, max: max},
      series: Object.keys(series).map(function (id) {
        return {id: id, name: series[id].name, type: series[id].type || "line",
                data: series[id].data, connectNulls: false, showSymbol: true,
                symbolSize: 9,
                itemStyle: colours && colours[id] ? {color: colours[id]} : undefined};
      })
    };
  }
  function named(values, labels) {
    var out = {};
    Object.keys(values).forEach(function (id) {
      out[id] = {name: labels[id] || id, data: values[id]};
    });
    return out;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var node = document.getElementById("report-data");
    if (!node || !window.echarts) return;
    var data = JSON.parse(node.textContent), c = data.charts, l = data.labels;
    var options = {
      mtta: line(l.mtta, l.minutes, c.response.buckets, named(c.response.mtta, {}), COLOURS),
      mttr: line(l.mttr, l.hours, c.response.buckets, named(c.response.mttr, {}), COLOURS),
      capa_rates: line(l.capa_rates, "%", c.capa.buckets, named(c.capa.rates, l), null, 100),
      capa_actions: line(l.capa_actions, "", c.capa.buckets, {
        open_actions: {name: l.open_actions, data: c.capa.open_actions, type: "bar"},
        open_actions_overdue: {name: l.open_actions_overdue,
                               data: c.capa.open_actions_overdue, type: "bar"}})
    };
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var chart = echarts.init(el);
      chart.setOption(options[el.dataset.chart]);
      window.addEventListener("resize", function () { chart.resize(); });
    });
  });
})();
