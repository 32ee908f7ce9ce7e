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
      var values = { type: "value", max: percent ? 100 : null };
      var categories = { type: "category", data: data.labels,
                         axisLabel: { interval: 0, width: phone ? 96 : 110, overflow: "truncate",
                                      rotate: !phone && data.labels.length > 6 ? 40 : 0 } };
      if (phone) {
        // On a phone the bars lie down: a department's or a matter's name reads across the
        // screen, in the table's order from the top, instead of slanting off its left edge.
        categories.inverse = true;
        var bars = element.getAttribute("data-chart") === "cases" ? 1 : series.length;
        element.style.height = Math.max(288, data.labels.length * (bars * 10 + 16) + 80) + "px";
      }
      var chart = window.echarts.init(element, null, { renderer: "svg" });
      chart.setOption({
        animation: false,
        tooltip: { trigger: "axis" },
        legend: { top: 0, type: "scroll" },
        grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
        xAxis: phone ? values : categories,
        yAxis: phone ? categories : values,
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
