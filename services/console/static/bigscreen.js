// The big screen's charts: drawn from the panel's embedded figures on load and after every
// swap (the live feed or the poll brings a new panel); old chart instances are disposed.
(function () {
  var COLOURS = {P0: "#ff4d4f", P1: "#fa8c16", P2: "#fadb14", P3: "#40a9ff"};
  var TEXT = {color: "#e6edf7"}, GRID = {lineStyle: {color: "#24304d"}};
  function draw() {
    var node = document.querySelector("#wall .wall-data");
    if (!node || !window.echarts) return;
    var data = JSON.parse(node.textContent), sev = data.chart.severity, l = data.labels;
    var options = {
      severity: {
        animation: false,  // a wall redraws on every change: no replayed growth
        title: {text: l.severity, textStyle: TEXT}, tooltip: {},
        xAxis: {type: "category", data: Object.keys(sev), axisLabel: TEXT},
        yAxis: {type: "value", minInterval: 1, axisLabel: TEXT, splitLine: GRID},
        series: [{id: "severity", type: "bar", label: {show: true, position: "top", color: "#fff"},
                  data: Object.keys(sev).map(function (k) {
                    return {name: k, value: sev[k], itemStyle: {color: COLOURS[k]}};
                  })}]
      },
      region: {
        animation: false,
        title: {text: l.region, textStyle: TEXT}, tooltip: {},
        grid: {left: 110},
        xAxis: {type: "value", minInterval: 1, axisLabel: TEXT, splitLine: GRID},
        yAxis: {type: "category", inverse: true, axisLabel: TEXT,
                data: data.chart.regions.map(function (r) { return r[0] || l.none; })},
        series: [{id: "region", type: "bar", itemStyle: {color: "#36cfc9"},
                  label: {show: true, position: "right", color: "#fff"},
                  data: data.chart.regions.map(function (r) { return r[1]; })}]
      }
    };
    document.querySelectorAll("#wall [data-chart]").forEach(function (el) {
      var chart = echarts.getInstanceByDom(el) || echarts.init(el, null, {renderer: "canvas"});
      chart.setOption(options[el.dataset.chart]);
    });
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    event.detail.target.querySelectorAll("[data-chart]").forEach(function (el) {
      var chart = window.echarts && echarts.getInstanceByDom(el);
      if (chart) chart.dispose();
    });
  });
  document.addEventListener("htmx:afterSettle", draw);
  document.addEventListener("DOMContentLoaded", draw);
  window.addEventListener("resize", function () {
    document.querySelectorAll("#wall [data-chart]").forEach(function (el) {
      var chart = echarts.getInstanceByDom(el);
      if (chart) chart.resize();
    });
  });
})();
