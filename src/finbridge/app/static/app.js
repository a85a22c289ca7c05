// App behaviour without inline scripts (the CSP forbids them). Charts are declared in the
// markup as data-echarts='<option JSON>' and drawn here, on load and after HTMX swaps; every
// page also works without this file.
(function () {
  "use strict";
  var charts = [];

  function initChart(el) {
    if (el.dataset.rendered === "true" || typeof echarts === "undefined") return;
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption(JSON.parse(el.dataset.echarts));
    el.dataset.rendered = "true";
    charts.push(chart);
  }

  function initCharts(root) {
    if (!root || !root.querySelectorAll) return;
    if (root.matches && root.matches("[data-echarts]")) initChart(root);
    root.querySelectorAll("[data-echarts]").forEach(initChart);
  }

  document.addEventListener("DOMContentLoaded", function () { initCharts(document); });
  document.addEventListener("htmx:load", function (e) { initCharts(e.detail.elt); });
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { if (!c.isDisposed()) c.resize(); });
  });
})();
