// The statistics pages' charts (ECharts), drawn from the JSON the page carries. Each chart
// sits above its data table, which is the figure itself: without JavaScript, or for a
// screen reader, the table is what is read.
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("statistics-data");
    if (!source || typeof window.echarts === "undefined") return;
    var data = JSON.parse(source.textContent);
    var phone = window.matchMedia("(max-width: 40rem)").matches;
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      var series = data.charts[element.getAttribute("data-chart")];
      if (!series || !data.labels.length) return;
      element.hidden = false;
      var percent = series.every(function (s) { return s.percent; });
      var chart = window.echarts.init(element, null, { renderer: "svg" });
      chart.setOption({
        animation: false,
        tooltip: { trigger: "axis" },
        legend: { top: 0, type: "scroll" },
        grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: data.labels,
                 axisLabel: { interval: 0, rotate: phone || data.labels.length > 6 ? 40 : 0,
                              width: 110, overflow: "truncate" } },
        yAxis: { type: "value", max: percent ? 100 : null },
        series: series.map(function (s) {
          return { name: s.name, type: "bar", data: s.data,
                   stack: element.getAttribute("data-chart") === "cases" ? "cases" : null };
        })
      });
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
