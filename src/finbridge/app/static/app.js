// App behaviour without inline scripts (the CSP forbids them). Charts are declared in the
// markup as data-echarts='<option JSON>' and drawn here, on load and after HTMX swaps; ECharts
// (1 MB) is fetched the first time a page has a chart, also when htmx-boost swapped the page in
// (boosted swaps do not run the new page's <head> scripts). Every page works without this file.
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

  var loading = false;

  function initCharts(root) {
    if (!root || !root.querySelectorAll) return;
    var found = Array.prototype.slice.call(root.querySelectorAll("[data-echarts]"));
    if (root.matches && root.matches("[data-echarts]")) found.push(root);
    if (!found.length) return;
    if (typeof echarts === "undefined") {
      if (loading) return;
      loading = true;
      var s = document.createElement("script");
      s.src = document.body.dataset.echartsSrc;
      s.onload = function () { loading = false; initCharts(document); };
      document.head.appendChild(s);
      return;
    }
    found.forEach(initChart);
  }

  document.addEventListener("DOMContentLoaded", function () { initCharts(document); });
  document.addEventListener("htmx:load", function (e) { initCharts(e.detail.elt); });
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { if (!c.isDisposed()) c.resize(); });
  });
})();
